// The soft token's fingerprint binding in the token metadata (see fp_binding.h; issue 5, items 2 and 3).
// Nothing here logs or returns a factor value; only factor ids leave this file.
#include "softtoken/fp_binding.h"

#include <algorithm>

#include "common/error.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/random.h"
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

// A new TPM share for this machine: T and its sealed record. Only an explicit bind (or a recovery of a token
// that had one) asks for it, so a TPM that does not seal is the caller's error to report.
struct NewShare {
  SecureBytes secret, record;
};
NewShare new_tpm_share(const Machine& machine) {
  require(machine.tpm != nullptr, CKR_DEVICE_ERROR, "no TPM is configured here");
  NewShare s{crypto::random_bytes(fingerprint::kSecretLen), {}};
  s.record = machine.tpm->seal(view(s.secret));
  return s;
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

// Role bits of fp.transit: which roles' records still need it.
constexpr uint8_t kRoleSo = 1, kRoleUser = 2;
uint8_t role_bit(CK_USER_TYPE who) { return who == CKU_SO ? kRoleSo : kRoleUser; }

// fp.transit: roles(1) | a version-1 fingerprint record with k = n.
struct Transit {
  uint8_t roles = 0;
  fingerprint::Record record;
};

std::optional<fingerprint::Record> parse_binding(ByteView bytes) {
  try {
    return fingerprint::parse_record(bytes);
  } catch (const Error& e) {
    fail(CKR_DEVICE_ERROR, "the token's fingerprint binding record is unreadable: " + e.detail);
  }
}
std::optional<fingerprint::Record> parse_binding(const std::optional<SecureBytes>& bytes) {
  if (!bytes) return std::nullopt;
  return parse_binding(view(*bytes));
}

std::optional<Transit> parse_transit(const std::optional<SecureBytes>& bytes) {
  if (!bytes) return std::nullopt;
  require(bytes->size() > 1 && (*bytes)[0] != 0 && (*bytes)[0] <= (kRoleSo | kRoleUser), CKR_DEVICE_ERROR,
          "the token's transitional fingerprint binding is malformed");
  Transit t{(*bytes)[0], *parse_binding(view(*bytes).subspan(1))};
  require(t.record.version == fingerprint::kFactorOnlyVersion && t.record.k == t.record.n, CKR_DEVICE_ERROR,
          "the token's transitional fingerprint binding is not an n-of-n split");
  return t;
}

SecureBytes transit_bytes(uint8_t roles, const fingerprint::Record& r) {
  SecureBytes b{roles};
  const auto rec = fingerprint::serialize(r);
  b.insert(b.end(), rec.begin(), rec.end());
  return b;
}

// Everything the binding of a login depends on, read in one store transaction so that a concurrent
// re-enrolment, bind or recovery is never seen half done.
struct BindingState {
  std::optional<SecureBytes> legacy, transit, share, so, user;
  const std::optional<SecureBytes>& record(CK_USER_TYPE who) const { return who == CKU_SO ? so : user; }
};
BindingState read_binding_state(store::TokenDb& db) {
  BindingState st;
  db.transaction([&] {
    st.legacy = db.get_meta(kLegacyBindingKey);
    st.transit = db.get_meta(kTransitKey);
    st.share = db.get_meta(kTpmShareKey);
    st.so = db.get_meta(pin_meta_key(CKU_SO));
    st.user = db.get_meta(pin_meta_key(CKU_USER));
  });
  return st;
}

bool same_bytes(const std::optional<SecureBytes>& a, const std::optional<SecureBytes>& b) {
  return a.has_value() == b.has_value() && (!a || equal_bytes(view(*a), view(*b)));
}

// Inside a transaction: nothing the caller read in `st` has changed since.
bool unchanged(store::TokenDb& db, const BindingState& st) {
  return same_bytes(db.get_meta(kLegacyBindingKey), st.legacy) && same_bytes(db.get_meta(kTransitKey), st.transit) &&
         same_bytes(db.get_meta(kTpmShareKey), st.share) && same_bytes(db.get_meta(pin_meta_key(CKU_SO)), st.so) &&
         same_bytes(db.get_meta(pin_meta_key(CKU_USER)), st.user);
}

bool present(const std::vector<fingerprint::Factor>& current, std::string_view id) {
  for (const auto& f : current)
    if (f.id == id && f.present()) return true;
  return false;
}

// A scheme-3 record of `who` over F for the present factors: Argon2id of the PIN with a fresh salt (outside
// any transaction), the split masked under the stretched PIN, the master key sealed under PIN and S.
SecureBytes seal_v3(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin, ByteView secret,
                    ByteView f, const std::vector<fingerprint::Factor>& current, const crypto::Argon2Params& params) {
  const std::string ctx = pin_context(db, who);
  const SecureBytes salt = crypto::random_bytes(kPinSaltLen);
  const SecureBytes stretched = stretch_pin(pin, view(salt), params);
  const auto binding =
      fingerprint::enrol_secret(f, current, view(mask_key_v3(view(stretched), ctx)), kToleratedChanges);
  const auto bytes = fingerprint::serialize(binding);
  return seal_master_key_v3(master_key, view(stretched), view(salt), params, ByteView(bytes.data(), bytes.size()),
                            secret, ctx);
}

// Inside a transaction, after `who`'s record was written as scheme 3: the legacy shared split goes, and
// fp.transit stays only for the other role if its record still needs one (a scheme-2 record, or one not yet
// caught up after a recovery). `f` and `current` write a fresh fp.transit where there was none or `rewrite`.
// Returns whether the legacy split was removed.
bool settle_factor_only(store::TokenDb& db, CK_USER_TYPE who, ByteView f,
                        const std::vector<fingerprint::Factor>& current, bool rewrite) {
  const CK_USER_TYPE other = who == CKU_SO ? CKU_USER : CKU_SO;
  const auto other_rec = db.get_meta(pin_meta_key(other));
  const auto transit = parse_transit(db.get_meta(kTransitKey));
  const bool legacy = db.get_meta(kLegacyBindingKey).has_value();
  uint8_t roles = 0;
  if (other_rec && record_scheme(view(*other_rec)) != PinScheme::argon2id_v1 &&
      (record_scheme(view(*other_rec)) == PinScheme::argon2id_fingerprint_v2 ||
       (transit && (transit->roles & role_bit(other)))))
    roles = role_bit(other);
  if (legacy) db.delete_meta(kLegacyBindingKey);
  if (roles == 0) {
    db.delete_meta(kTransitKey);
  } else if (!transit || legacy || rewrite) {
    // n-of-n: no redundant share, so a guess of the factors has nothing in the file to be checked against.
    db.set_meta(kTransitKey, view(transit_bytes(roles, fingerprint::enrol_secret(f, current, ByteView(), 0))));
  } else if (transit->roles != roles) {
    db.set_meta(kTransitKey, view(transit_bytes(roles, transit->record)));  // same split, fewer roles
  }
  return legacy;
}

}  // namespace

std::string pin_meta_key(CK_USER_TYPE who) {
  return who == CKU_SO ? "pin.so" : "pin.user";
}

std::string pin_context(store::TokenDb& db, CK_USER_TYPE who) {
  return meta_string(db, "uid") + (who == CKU_SO ? "/so" : "/user");
}

std::optional<fingerprint::Record> load_binding(store::TokenDb& db) {
  BindingState st = read_binding_state(db);
  const auto transit = parse_transit(st.transit);
  for (const CK_USER_TYPE who : {CKU_USER, CKU_SO}) {
    const auto& rec = st.record(who);
    if (!rec || record_scheme(view(*rec)) != PinScheme::argon2id_fingerprint_v3) continue;
    if (transit && (transit->roles & role_bit(who))) continue;  // not caught up: its split is out of date
    return parse_binding(record_binding(view(*rec)));
  }
  if (transit) return transit->record;
  return parse_binding(st.legacy);
}

bool has_tpm_share(store::TokenDb& db) {
  return db.get_meta(kTpmShareKey).has_value();
}

std::optional<SecureBytes> ensure_fingerprint_secret(store::TokenDb& db, ByteView master_key, const Machine& machine) {
  if (auto sealed = db.get_meta(kSealedSecretKey)) return open_sealed_secret(db, master_key, view(*sealed));
  if (!any_present(machine.factors(store_dir(db)))) return std::nullopt;
  SecureBytes secret = crypto::random_bytes(fingerprint::kSecretLen);
  std::optional<SecureBytes> out;
  db.transaction([&] {
    if (auto sealed = db.get_meta(kSealedSecretKey)) {  // another process bound it meanwhile
      out = open_sealed_secret(db, master_key, view(*sealed));
      return;
    }
    // A split without its sealed secret would leave records nobody can re-seal: never start over beside one.
    require(!db.get_meta(kLegacyBindingKey).has_value() && !db.get_meta(kTransitKey).has_value() &&
                !db.get_meta(kTpmShareKey).has_value(),
            CKR_DEVICE_ERROR, "the token has a fingerprint binding but no sealed fingerprint secret");
    db.set_meta(kSealedSecretKey,
                view(crypto::seal_aes256gcm(view(secret_key(master_key)), view(secret_aad(db)), view(secret))));
    out = std::move(secret);
  });
  return out;
}

Unlocked unlock_master_key(store::TokenDb& db, CK_USER_TYPE who, ByteView pin, const Machine& machine) {
  BindingState st = read_binding_state(db);
  const auto& rec = st.record(who);
  require(rec.has_value(), CKR_USER_PIN_NOT_INITIALIZED, "no PIN is set");
  Unlocked u;
  u.scheme = record_scheme(view(*rec));
  const std::string ctx = pin_context(db, who);
  if (u.scheme == PinScheme::argon2id_v1) {
    u.master_key = open_master_key(view(*rec), pin, ctx);
    return u;
  }
  const bool v3 = u.scheme == PinScheme::argon2id_fingerprint_v3;
  const auto legacy = v3 ? std::nullopt : parse_binding(st.legacy);
  const auto transit = parse_transit(st.transit);
  require(v3 || legacy || transit, CKR_DEVICE_ERROR,
          "the PIN record needs the token's fingerprint binding, and the token has none");
  std::optional<SecureBytes> t;
  // Another TPM (or this one cleared): T stays unknown, and a random stand-in makes every candidate fail
  // exactly as a wrong PIN does, so the refusal tells nothing about which input was wrong.
  if (open_tpm_share(st.share, machine, t) == Share::not_here) t = crypto::random_bytes(fingerprint::kSecretLen);
  const auto current = machine.factors(store_dir(db));
  u.master_key = open_master_key_bound(view(*rec), pin, ctx, [&](ByteView mask_key, ByteView own, const SecretCheckFn& check) {
    const auto offer = [&](ByteView f) { return check(view(mix(f, t))); };
    if (v3) u.recovery = fingerprint::recover(*parse_binding(own), current, mask_key, offer);
    else if (legacy) u.recovery = fingerprint::recover(*legacy, current, ByteView(), offer);
    if (u.recovery) return true;
    // After a recovery (or the upgrade, for a scheme-2 record) the current split of F is fp.transit's.
    if (transit && (!v3 || (transit->roles & role_bit(who)))) {
      u.recovery = fingerprint::recover(transit->record, current, ByteView(), offer);
      u.via_transit = u.recovery.has_value();
    }
    return u.recovery.has_value();
  });
  return u;
}

void seal_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
              const crypto::Argon2Params& params, const Machine& machine) {
  const auto secret = ensure_fingerprint_secret(db, master_key, machine);
  if (!secret) {
    db.set_meta(pin_meta_key(who), view(seal_master_key(master_key, pin, pin_context(db, who), params)));
    return;
  }
  std::optional<SecureBytes> t;
  require(open_tpm_share(db.get_meta(kTpmShareKey), machine, t) != Share::not_here, CKR_DEVICE_ERROR,
          "the token's TPM share does not open with this machine's TPM, so no PIN record can be made for it");
  const auto current = machine.factors(store_dir(db));
  require(any_present(current), CKR_DEVICE_ERROR,
          "the token is bound to this machine's hardware, and no hardware factor is readable now");
  const SecureBytes f = mix(view(*secret), t);
  const SecureBytes rec = seal_v3(db, who, master_key, pin, view(*secret), view(f), current, params);
  db.transaction([&] {
    db.set_meta(pin_meta_key(who), view(rec));
    settle_factor_only(db, who, view(f), current, false);
  });
}

Refresh refresh_binding(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
                        const Machine& machine, const Unlocked& u) {
  Refresh r;
  const bool had_secret = db.get_meta(kSealedSecretKey).has_value();
  const auto secret = ensure_fingerprint_secret(db, master_key, machine);
  if (!secret) return r;  // nothing to bind to on this machine: the token stays PIN-only
  r.bound = !had_secret;
  if (!u.needs_reseal()) return r;

  const BindingState st = read_binding_state(db);
  const auto& rec = st.record(who);
  if (!rec) return r;
  // A token whose TPM share does not open here is left exactly as it is, so no working record is turned into
  // one that needs a share this machine cannot give.
  std::optional<SecureBytes> t;
  if (st.share && (!machine.tpm || open_tpm_share(st.share, machine, t) != Share::opened)) return r;
  const auto current = machine.factors(store_dir(db));
  if (!any_present(current)) return r;  // keep the old split rather than none
  // The TPM answers, but its EK factor is missing now: a passing failure, not a change to enrol (re-enrolling
  // would drop tpm-ek from the binding for good).
  if (machine.tpm && u.recovery && !present(current, fingerprint::kTpmEkFactorId) &&
      std::find(u.recovery->changed.begin(), u.recovery->changed.end(), fingerprint::kTpmEkFactorId) !=
          u.recovery->changed.end())
    return r;
  if (u.recovery) r.changed = u.recovery->changed;
  const SecureBytes f = mix(view(*secret), t);
  // Argon2id outside the transaction; written only if nothing changed meanwhile.
  const SecureBytes fresh = seal_v3(db, who, master_key, pin, view(*secret), view(f), current, record_params(view(*rec)));
  db.transaction([&] {
    if (!unchanged(db, st)) return;  // another process re-enrolled, bound or recovered meanwhile: its state stands
    db.set_meta(pin_meta_key(who), view(fresh));
    r.legacy_removed = settle_factor_only(db, who, view(f), current, !r.changed.empty());
    r.resealed = true;
    r.upgraded = u.scheme != PinScheme::argon2id_fingerprint_v3;
    r.reenrolled = !r.changed.empty();
  });
  return r;
}

void bind_tpm(store::TokenDb& db, ByteView so_pin, ByteView user_pin, const Machine& machine) {
  require(machine.tpm != nullptr, CKR_DEVICE_ERROR, "no TPM is configured here");
  const BindingState st = read_binding_state(db);
  require(!st.share, CKR_FUNCTION_FAILED, "the token is already bound to a TPM");
  require(st.so || st.user, CKR_USER_PIN_NOT_INITIALIZED, "the token has no PIN");
  // Every record must open (with its PIN, on this machine) before anything changes.
  std::optional<SecureBytes> master_key;
  for (const auto& [who, pin] : {std::pair{CKU_SO, so_pin}, std::pair{CKU_USER, user_pin}}) {
    if (!st.record(who)) continue;
    require(!pin.empty(), CKR_ARGUMENTS_BAD, std::string("binding to the TPM needs the ") +
                                                 (who == CKU_SO ? "SO" : "user") + " PIN");
    SecureBytes mk = unlock_master_key(db, who, pin, machine).master_key;
    require(!master_key || equal_constant_time(view(*master_key), view(mk)), CKR_DEVICE_ERROR,
            "the token's PIN records open different master keys");
    master_key = std::move(mk);
  }
  const auto secret = ensure_fingerprint_secret(db, view(*master_key), machine);
  require(secret.has_value(), CKR_FUNCTION_FAILED,
          "no hardware factor was found here, so the token has no fingerprint binding to add a TPM share to");
  const auto current = machine.factors(store_dir(db));
  const NewShare share = new_tpm_share(machine);  // TPM and Argon2id work outside the store transaction
  const SecureBytes f = mix(view(*secret), share.secret);
  std::optional<SecureBytes> so, user;
  if (st.so) so = seal_v3(db, CKU_SO, view(*master_key), so_pin, view(*secret), view(f), current, record_params(view(*st.so)));
  if (st.user)
    user = seal_v3(db, CKU_USER, view(*master_key), user_pin, view(*secret), view(f), current,
                   record_params(view(*st.user)));
  db.transaction([&] {
    require(unchanged(db, st), CKR_FUNCTION_FAILED, "the token changed while it was being bound; try again");
    db.set_meta(kTpmShareKey, view(share.record));
    if (so) db.set_meta(pin_meta_key(CKU_SO), view(*so));
    if (user) db.set_meta(pin_meta_key(CKU_USER), view(*user));
    db.delete_meta(kLegacyBindingKey);  // every record now carries its own split
    db.delete_meta(kTransitKey);
  });
}

void rebind(store::TokenDb& db, ByteView secret, const std::vector<fingerprint::Factor>& current,
            const Machine& machine) {
  require(any_present(current), CKR_FUNCTION_FAILED, "fingerprint: no factor present to bind to");
  const BindingState st = read_binding_state(db);
  // A token that was TPM-bound stays so where this machine's TPM seals (its owner chose it); one that was not
  // is not bound to a TPM by recovering it.
  std::optional<NewShare> share;
  if (st.share && machine.tpm) {
    try {
      share = new_tpm_share(machine);
    } catch (const Error& e) {
      log::warn("the TPM does not seal the soft token's TPM share now (" + e.detail +
                "); the recovered token is bound to the fingerprint only");
    }
  }
  const SecureBytes f = mix(secret, share ? std::optional(share->secret) : std::nullopt);
  db.transaction([&] {
    uint8_t roles = 0;
    for (const CK_USER_TYPE who : {CKU_SO, CKU_USER})
      if (auto rec = db.get_meta(pin_meta_key(who)); rec && record_scheme(view(*rec)) != PinScheme::argon2id_v1)
        roles |= role_bit(who);
    if (share) db.set_meta(kTpmShareKey, view(share->record));
    else db.delete_meta(kTpmShareKey);
    db.delete_meta(kLegacyBindingKey);
    if (roles) db.set_meta(kTransitKey, view(transit_bytes(roles, fingerprint::enrol_secret(f, current, ByteView(), 0))));
    else db.delete_meta(kTransitKey);
  });
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
