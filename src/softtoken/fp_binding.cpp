// The soft token's fingerprint binding in the token metadata (see fp_binding.h; issue 5, items 2 and 3).
// Nothing here logs or returns a factor value; only factor ids leave this file.
#include "softtoken/fp_binding.h"

#include "common/error.h"
#include "crypto/aead.h"
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
  auto bytes = db.get_meta(kBindingKey);
  if (!bytes) return std::nullopt;
  try {
    return fingerprint::parse_record(view(*bytes));
  } catch (const Error& e) {
    fail(CKR_DEVICE_ERROR, "the token's fingerprint binding record is unreadable: " + e.detail);
  }
}

std::optional<SecureBytes> ensure_fingerprint_secret(store::TokenDb& db, ByteView master_key,
                                                     const FactorProvider& factors) {
  if (auto sealed = db.get_meta(kSealedSecretKey)) return open_sealed_secret(db, master_key, view(*sealed));
  const auto current = factors(store_dir(db));
  std::optional<SecureBytes> out;
  db.transaction([&] {
    if (auto sealed = db.get_meta(kSealedSecretKey)) {  // another process bound it meanwhile
      out = open_sealed_secret(db, master_key, view(*sealed));
      return;
    }
    // A binding without its sealed secret would leave scheme-2 records nobody can re-seal: never overwrite it.
    require(!db.get_meta(kBindingKey).has_value(), CKR_DEVICE_ERROR,
            "the token has a fingerprint binding but no sealed fingerprint secret");
    if (!any_present(current)) return;
    fingerprint::Enrollment e = fingerprint::enrol(current, kToleratedChanges);
    db.set_meta(kBindingKey, fingerprint::serialize(e.record));
    db.set_meta(kSealedSecretKey,
                view(crypto::seal_aes256gcm(view(secret_key(master_key)), view(secret_aad(db)), view(e.secret))));
    out = std::move(e.secret);
  });
  return out;
}

Unlocked unlock_master_key(store::TokenDb& db, CK_USER_TYPE who, ByteView pin, const FactorProvider& factors) {
  auto rec = db.get_meta(pin_meta_key(who));
  require(rec.has_value(), CKR_USER_PIN_NOT_INITIALIZED, "no PIN is set");
  Unlocked u;
  u.scheme = record_scheme(view(*rec));
  const std::string ctx = pin_context(db, who);
  if (u.scheme == PinScheme::argon2id_v1) {
    u.master_key = open_master_key(view(*rec), pin, ctx);
    return u;
  }
  const auto binding = load_binding(db);
  require(binding.has_value(), CKR_DEVICE_ERROR,
          "the PIN record needs the token's fingerprint binding, and the token has none");
  const auto current = factors(store_dir(db));
  u.master_key = open_master_key(view(*rec), pin, ctx, [&](const SecretCheckFn& check) {
    u.recovery = fingerprint::recover(*binding, current, check);
    return u.recovery.has_value();
  });
  return u;
}

void seal_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
              const crypto::Argon2Params& params, const FactorProvider& factors) {
  const auto secret = ensure_fingerprint_secret(db, master_key, factors);
  const std::string ctx = pin_context(db, who);
  const SecureBytes rec = secret ? seal_master_key_v2(master_key, pin, view(*secret), ctx, params)
                                 : seal_master_key(master_key, pin, ctx, params);
  db.set_meta(pin_meta_key(who), view(rec));
}

void reenrol(store::TokenDb& db, ByteView secret, const std::vector<fingerprint::Factor>& current) {
  const auto record = fingerprint::enrol_secret(secret, current, kToleratedChanges);
  db.set_meta(kBindingKey, fingerprint::serialize(record));
}

Refresh refresh_binding(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
                        const FactorProvider& factors) {
  Refresh r;
  const bool had_secret = db.get_meta(kSealedSecretKey).has_value();
  const auto secret = ensure_fingerprint_secret(db, master_key, factors);
  if (!secret) return r;  // nothing to bind to on this machine: the token stays PIN-only
  r.bound = !had_secret;

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

  const auto binding = load_binding(db);
  if (!binding) return r;
  const auto current = factors(store_dir(db));
  const auto found = fingerprint::recover(
      *binding, current, [&](ByteView candidate) { return equal_constant_time(candidate, view(*secret)); });
  if (found && !found->needs_reenrol()) return r;
  r.changed = found ? found->changed : binding->factor_ids;
  if (!any_present(current)) return r;  // keep the old binding rather than none
  const std::vector<uint8_t> seen = fingerprint::serialize(*binding);
  db.transaction([&] {
    auto now = db.get_meta(kBindingKey);
    if (!now || !equal_bytes(view(*now), ByteView(seen))) return;  // another process re-enrolled meanwhile
    reenrol(db, view(*secret), current);
    r.reenrolled = true;
  });
  return r;
}

fingerprint::Strength binding_strength(const fingerprint::Record& r, const std::vector<fingerprint::Factor>& current) {
  std::vector<double> bits;
  for (const auto& id : r.factor_ids) {
    double b = 0;
    for (const auto& f : current)
      if (f.id == id) b = f.strength_bits;
    bits.push_back(b);
  }
  return fingerprint::strength_of(std::move(bits), r.k);
}

std::string binding_summary(store::TokenDb& db, const FactorProvider& factors) {
  const auto binding = load_binding(db);
  const auto current = factors(store_dir(db));
  if (binding) return binding_strength(*binding, current).summary();
  return any_present(current) ? "binding: none yet (made at the next login)"
                              : "binding: none (PIN only: no hardware factor found)";
}

std::string binding_summary(const std::filesystem::path& token_file) {
  auto db = store::TokenDb::open(token_file, store::OpenMode::existing);
  return binding_summary(*db);
}

}  // namespace keyseal::softtoken
