// The soft token's fingerprint binding in the token metadata (see fp_binding.h; issue 5, items 2 and 3).
// Nothing here logs or returns a factor value; only factor ids leave this file.
#include "softtoken/fp_binding.h"

#include <algorithm>

#include "common/error.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/random.h"
#include "fingerprint/linux_sources.h"
#include "store/token_db.h"

namespace keyseal::softtoken {
namespace {

std::string meta_string(store::TokenDb& db, std::string_view key) {
  auto v = db.get_meta(key);
  return v ? std::string(v->begin(), v->end()) : std::string();
}

std::filesystem::path store_dir(store::TokenDb& db) {
  return db.path().parent_path();
}

std::string plural(size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

bool any_present(const std::vector<fingerprint::Factor>& f) {
  for (const auto& x : f)
    if (x.present()) return true;
  return false;
}

// fp.secret: S sealed under a key derived from the master key, bound to the token id.
SecureBytes secret_key(ByteView master_key) {
  return crypto::hkdf_sha256(master_key, ByteView(), view(std::string_view("keyseal/fp-secret/v1")), 32);
}
SecureBytes secret_aad(store::TokenDb& db) {
  return to_bytes(view("keyseal/fp-secret/v1/" + meta_string(db, "uid")));
}

SecureBytes open_sealed_secret(store::TokenDb& db, ByteView master_key, ByteView sealed) {
  try {
    SecureBytes s = crypto::open_aes256gcm(view(secret_key(master_key)), view(secret_aad(db)), sealed);
    require(s.size() == fingerprint::kSecretLen, CKR_DEVICE_ERROR,
            "the token's sealed fingerprint secret is malformed");
    return s;
  } catch (const Error& e) {
    if (e.rv == CKR_ENCRYPTED_DATA_INVALID)
      fail(CKR_DEVICE_ERROR, "the token's sealed fingerprint secret does not open with its master key");
    throw;
  }
}

// F = S xor T: the value the fingerprint shares carry (F = S when the token has no TPM share).
SecureBytes mix(ByteView secret, const std::optional<SecureBytes>& tpm_secret) {
  SecureBytes f = to_bytes(secret);
  if (tpm_secret)
    for (size_t i = 0; i < f.size() && i < tpm_secret->size(); ++i) f[i] ^= (*tpm_secret)[i];
  return f;
}

// A new TPM share for this machine: T and its sealed record, or nullopt when there is no TPM or it does not
// seal now (the token is then bound to the fingerprint alone, and gains the share at a later login).
struct NewShare {
  SecureBytes secret, record;
};
std::optional<NewShare> new_tpm_share(const Machine& machine) {
  if (!machine.tpm) return std::nullopt;
  try {
    NewShare s{crypto::random_bytes(fingerprint::kSecretLen), {}};
    s.record = machine.tpm->seal(view(s.secret));
    return s;
  } catch (const Error& e) {
    log::warn("the TPM does not seal the soft token's TPM share now (" + e.detail + "); bound to the fingerprint only");
    return std::nullopt;
  }
}

enum class Share { none, opened, not_here };
// The token's TPM share T from its record (`record` as read from fp.tpm): none without one; not_here when this
// machine's TPM cannot open it. CKR_DEVICE_ERROR when the token has one and no TPM is configured or answering
// here, or the share is malformed.
Share open_tpm_share(const std::optional<SecureBytes>& record, const Machine& machine, std::optional<SecureBytes>& out) {
  out.reset();
  if (!record) return Share::none;
  require(machine.tpm != nullptr, CKR_DEVICE_ERROR,
          "the token's binding includes a secret sealed by a TPM, and no TPM is configured here");
  out = machine.tpm->unseal(view(*record));
  require(!out || out->size() == fingerprint::kSecretLen, CKR_DEVICE_ERROR, "the token's TPM share is malformed");
  return out ? Share::opened : Share::not_here;
}

// The binding record and the TPM share record, read in one store transaction so that a concurrent re-enrolment
// or recovery is never seen half done.
struct BindingState {
  std::optional<SecureBytes> binding, share;
};
BindingState read_binding_state(store::TokenDb& db) {
  BindingState st;
  db.transaction([&] {
    st.binding = db.get_meta(kBindingKey);
    st.share = db.get_meta(kTpmShareKey);
  });
  return st;
}

std::optional<fingerprint::Record> parse_binding(const std::optional<SecureBytes>& bytes) {
  if (!bytes) return std::nullopt;
  try {
    return fingerprint::parse_record(view(*bytes));
  } catch (const Error& e) {
    fail(CKR_DEVICE_ERROR, "the token's fingerprint binding record is unreadable: " + e.detail);
  }
}

bool same_bytes(const std::optional<SecureBytes>& a, const std::optional<SecureBytes>& b) {
  return a.has_value() == b.has_value() && (!a || equal_bytes(view(*a), view(*b)));
}

bool present(const std::vector<fingerprint::Factor>& current, std::string_view id) {
  for (const auto& f : current)
    if (f.id == id && f.present()) return true;
  return false;
}

}  // namespace

FactorProvider linux_factor_provider() {
  return [](const std::filesystem::path& dir) { return fingerprint::read_factors(fingerprint::linux_sources(dir)); };
}

std::string pin_meta_key(CK_USER_TYPE who) {
  return who == CKU_SO ? "pin.so" : "pin.user";
}

std::string pin_context(store::TokenDb& db, CK_USER_TYPE who) {
  return meta_string(db, "uid") + (who == CKU_SO ? "/so" : "/user");
}

std::optional<fingerprint::Record> load_binding(store::TokenDb& db) {
  return parse_binding(db.get_meta(kBindingKey));
}

bool has_tpm_share(store::TokenDb& db) {
  return db.get_meta(kTpmShareKey).has_value();
}

std::optional<SecureBytes> ensure_fingerprint_secret(store::TokenDb& db, ByteView master_key, const Machine& machine) {
  if (auto sealed = db.get_meta(kSealedSecretKey)) return open_sealed_secret(db, master_key, view(*sealed));
  const auto current = machine.factors(store_dir(db));
  if (!any_present(current)) return std::nullopt;
  const auto share = new_tpm_share(machine);  // TPM work outside the store transaction
  SecureBytes secret = crypto::random_bytes(fingerprint::kSecretLen);
  const auto record = fingerprint::enrol_secret(view(mix(view(secret), share ? std::optional(share->secret) : std::nullopt)),
                                                current, kToleratedChanges);
  std::optional<SecureBytes> out;
  db.transaction([&] {
    if (auto sealed = db.get_meta(kSealedSecretKey)) {  // another process bound it meanwhile
      out = open_sealed_secret(db, master_key, view(*sealed));
      return;
    }
    // A binding without its sealed secret would leave scheme-2 records nobody can re-seal: never overwrite it.
    require(!db.get_meta(kBindingKey).has_value(), CKR_DEVICE_ERROR,
            "the token has a fingerprint binding but no sealed fingerprint secret");
    db.set_meta(kBindingKey, fingerprint::serialize(record));
    if (share) db.set_meta(kTpmShareKey, view(share->record));
    else db.delete_meta(kTpmShareKey);
    db.set_meta(kSealedSecretKey,
                view(crypto::seal_aes256gcm(view(secret_key(master_key)), view(secret_aad(db)), view(secret))));
    out = std::move(secret);
  });
  return out;
}

Unlocked unlock_master_key(store::TokenDb& db, CK_USER_TYPE who, ByteView pin, const Machine& machine) {
  auto rec = db.get_meta(pin_meta_key(who));
  require(rec.has_value(), CKR_USER_PIN_NOT_INITIALIZED, "no PIN is set");
  Unlocked u;
  u.scheme = record_scheme(view(*rec));
  const std::string ctx = pin_context(db, who);
  if (u.scheme == PinScheme::argon2id_v1) {
    u.master_key = open_master_key(view(*rec), pin, ctx);
    return u;
  }
  const BindingState st = read_binding_state(db);
  const auto binding = parse_binding(st.binding);
  require(binding.has_value(), CKR_DEVICE_ERROR,
          "the PIN record needs the token's fingerprint binding, and the token has none");
  std::optional<SecureBytes> t;
  // Another TPM (or this one cleared): T stays unknown, and a random stand-in makes every candidate fail
  // exactly as a wrong PIN does, so the refusal tells nothing about which input was wrong.
  if (open_tpm_share(st.share, machine, t) == Share::not_here) t = crypto::random_bytes(fingerprint::kSecretLen);
  const auto current = machine.factors(store_dir(db));
  u.master_key = open_master_key(view(*rec), pin, ctx, [&](const SecretCheckFn& check) {
    u.recovery = fingerprint::recover(*binding, current, [&](ByteView f) { return check(view(mix(f, t))); });
    return u.recovery.has_value();
  });
  return u;
}

void seal_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
              const crypto::Argon2Params& params, const Machine& machine) {
  const auto secret = ensure_fingerprint_secret(db, master_key, machine);
  const std::string ctx = pin_context(db, who);
  const SecureBytes rec = secret ? seal_master_key_v2(master_key, pin, view(*secret), ctx, params)
                                 : seal_master_key(master_key, pin, ctx, params);
  db.set_meta(pin_meta_key(who), view(rec));
}

namespace {

void write_binding(store::TokenDb& db, ByteView secret, const std::vector<fingerprint::Factor>& current,
                   const std::optional<NewShare>& share) {
  const auto record = fingerprint::enrol_secret(
      view(mix(secret, share ? std::optional(share->secret) : std::nullopt)), current, kToleratedChanges);
  db.set_meta(kBindingKey, fingerprint::serialize(record));
  if (share) db.set_meta(kTpmShareKey, view(share->record));
  else db.delete_meta(kTpmShareKey);
}

}  // namespace

void rebind(store::TokenDb& db, ByteView secret, const std::vector<fingerprint::Factor>& current,
            const Machine& machine) {
  const auto share = new_tpm_share(machine);  // TPM work outside the store transaction
  db.transaction([&] { write_binding(db, secret, current, share); });
}

Refresh refresh_binding(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
                        const Machine& machine) {
  Refresh r;
  const bool had_secret = db.get_meta(kSealedSecretKey).has_value();
  const auto secret = ensure_fingerprint_secret(db, master_key, machine);
  if (!secret) return r;  // nothing to bind to on this machine: the token stays PIN-only
  r.bound = !had_secret;
  r.tpm_added = r.bound && has_tpm_share(db);

  // Before anything is re-sealed: a token whose TPM share does not open here (a login with a scheme-1 record,
  // on another machine or with the TPM gone) is left exactly as it is, so no working PIN record is turned
  // into one that needs a share this machine cannot give.
  const BindingState st = read_binding_state(db);
  std::optional<SecureBytes> t;
  if (!r.bound && st.share && (!machine.tpm || open_tpm_share(st.share, machine, t) != Share::opened)) return r;

  const std::string key = pin_meta_key(who);
  if (auto rec = db.get_meta(key); rec && record_scheme(view(*rec)) == PinScheme::argon2id_v1) {
    // Argon2id outside the transaction; written only if nobody changed the record meanwhile.
    const SecureBytes fresh =
        seal_master_key_v2(master_key, pin, view(*secret), pin_context(db, who), record_params(view(*rec)));
    db.transaction([&] {
      auto now = db.get_meta(key);
      if (!now || !equal_bytes(view(*now), view(*rec))) return;
      db.set_meta(key, view(fresh));
      r.resealed = true;
    });
  }
  if (r.bound) return r;  // just enrolled with the current values

  const auto binding = parse_binding(st.binding);
  if (!binding) return r;
  const auto current = machine.factors(store_dir(db));
  // The TPM answers, but its EK factor is missing now: a passing failure, not a change to enrol (re-enrolling
  // would drop tpm-ek from the binding for good).
  const auto& ids = binding->factor_ids;
  if (machine.tpm && std::find(ids.begin(), ids.end(), fingerprint::kTpmEkFactorId) != ids.end() &&
      !present(current, fingerprint::kTpmEkFactorId))
    return r;
  const SecureBytes f = mix(view(*secret), t);
  const auto found = fingerprint::recover(
      *binding, current, [&](ByteView candidate) { return equal_constant_time(candidate, view(f)); });
  const bool add_tpm = !t && machine.tpm;
  if (found && !found->needs_reenrol() && !add_tpm) return r;
  if (!found || found->needs_reenrol()) r.changed = found ? found->changed : binding->factor_ids;
  if (!any_present(current)) return r;  // keep the old binding rather than none
  // A new TPM share only where there was none; an existing one is kept with the fresh fingerprint shares.
  std::optional<NewShare> share;
  if (add_tpm) share = new_tpm_share(machine);
  else if (t) share = NewShare{*t, *st.share};
  if (r.changed.empty() && !(add_tpm && share)) return r;  // the TPM did not seal: nothing to do after all
  db.transaction([&] {
    // Another process re-enrolled or recovered meanwhile: its binding stands.
    if (!same_bytes(db.get_meta(kBindingKey), st.binding) || !same_bytes(db.get_meta(kTpmShareKey), st.share)) return;
    write_binding(db, view(*secret), current, share);
    r.reenrolled = !r.changed.empty();
    r.tpm_added = add_tpm && share.has_value();
  });
  return r;
}

namespace {

// "binding: strong, TPM-sealed secret + 4 factors (without the TPM: weak, 3 factors)". `ids`/`bits` are the
// factors of the binding and k its threshold. A copy with the TPM's state (a cloned VM and its virtual TPM)
// has T and the EK factor: what is left to tell it apart is k - 1 of the other factors.
std::string tpm_summary(const std::vector<std::string>& ids, const std::vector<double>& bits, size_t k) {
  std::vector<double> rest;
  for (size_t i = 0; i < ids.size(); ++i)
    if (ids[i] != fingerprint::kTpmEkFactorId) rest.push_back(bits[i]);
  const size_t k_rest = rest.size() < ids.size() && k > 1 ? k - 1 : k;
  const fingerprint::Strength without = fingerprint::strength_of(rest, k_rest);
  return "binding: strong, TPM-sealed secret + " + plural(ids.size(), "factor") + " (without the TPM: " +
         without.level + ", " + plural(without.factors, "factor") + ")";
}

std::vector<double> recorded_bits(const fingerprint::Record& r, const std::vector<fingerprint::Factor>& current) {
  std::vector<double> bits;
  for (const auto& id : r.factor_ids) {
    double b = 0;
    for (const auto& f : current)
      if (f.id == id) b = f.strength_bits;
    bits.push_back(b);
  }
  return bits;
}

}  // namespace

fingerprint::Strength binding_strength(const fingerprint::Record& r, const std::vector<fingerprint::Factor>& current) {
  return fingerprint::strength_of(recorded_bits(r, current), r.k);
}

std::string binding_summary(store::TokenDb& db, const Machine& machine) {
  const auto binding = load_binding(db);
  const auto current = machine.factors(store_dir(db));
  if (binding) {
    if (has_tpm_share(db)) return tpm_summary(binding->factor_ids, recorded_bits(*binding, current), binding->k);
    return binding_strength(*binding, current).summary();
  }
  return any_present(current) ? "binding: none yet (made at the next login)"
                              : "binding: none (PIN only: no hardware factor found)";
}

std::string machine_summary(const std::vector<fingerprint::Factor>& current, bool with_tpm) {
  if (!with_tpm || !any_present(current)) return fingerprint::describe(current, kToleratedChanges).summary();
  std::vector<std::string> ids;
  std::vector<double> bits;
  for (const auto& f : current)
    if (f.present()) ids.push_back(f.id), bits.push_back(f.strength_bits);
  return tpm_summary(ids, bits, fingerprint::threshold(bits, kToleratedChanges));
}

std::string binding_summary(const std::filesystem::path& token_file, const Machine& machine) {
  auto db = store::TokenDb::open(token_file, store::OpenMode::existing);
  return binding_summary(*db, machine);
}

}  // namespace keyseal::softtoken
