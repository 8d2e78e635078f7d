// SoftBackend: PINs and master key, key generation and import, and the private/secret-key operations of the
// soft token (PKCS#11 3.0 sections 5.6, 5.8-5.14).
#include "softtoken/soft_backend.h"

#include "common/log.h"
#include "core/mechanisms.h"
#include "core/padded.h"
#include "crypto/asym.h"
#include "crypto/kdf.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "crypto/symmetric.h"
#include "softtoken/fp_binding.h"
#include "softtoken/pin_wrap.h"
#include "store/token_db.h"

namespace keyseal::softtoken {
namespace {

using core::AttributeMap;
using core::get_bytes;

ByteView attr(const AttributeMap& a, CK_ATTRIBUTE_TYPE t) {
  const SecureBytes* v = get_bytes(a, t);
  return v ? view(*v) : ByteView();
}

const SecureBytes& secret_value(const core::Object& key) {
  const SecureBytes* v = get_bytes(key.attrs, CKA_VALUE);
  require(v != nullptr, CKR_KEY_HANDLE_INVALID, "secret key has no value");
  return *v;
}

// The private key of an object, loaded once and kept with the object.
const crypto::PKey& private_pkey(const core::Object& key) {
  auto p = key.cached<crypto::PKey>(core::Object::backend_slot, [&]() -> std::shared_ptr<const void> {
    const AttributeMap& a = key.attrs;
    switch (key.key_type()) {
      case CKK_RSA:
        return std::make_shared<crypto::PKey>(crypto::rsa_private_key(
            attr(a, CKA_MODULUS), attr(a, CKA_PUBLIC_EXPONENT), attr(a, CKA_PRIVATE_EXPONENT), attr(a, CKA_PRIME_1),
            attr(a, CKA_PRIME_2), attr(a, CKA_EXPONENT_1), attr(a, CKA_EXPONENT_2), attr(a, CKA_COEFFICIENT)));
      case CKK_EC:
      case CKK_EC_EDWARDS:
        return std::make_shared<crypto::PKey>(crypto::ec_private_key(attr(a, CKA_EC_PARAMS), attr(a, CKA_VALUE)));
      default:
        fail(CKR_KEY_TYPE_INCONSISTENT, "not an asymmetric private key");
    }
  });
  return *p;
}

// The AES key of a secret key object, prepared once (keyed cipher contexts) and kept with the object.
const crypto::AesKey& aes_key(const core::Object& key) {
  auto k = key.cached<crypto::AesKey>(core::Object::backend_slot, [&]() -> std::shared_ptr<const void> {
    return std::make_shared<const crypto::AesKey>(view(secret_value(key)));
  });
  return *k;
}

bool is_key_wrap(CK_MECHANISM_TYPE t) { return t == CKM_AES_KEY_WRAP || t == CKM_AES_KEY_WRAP_PAD; }

// AES key wrap used through C_Encrypt/C_Decrypt: single-part only.
class KeyWrapOperation final : public Operation {
 public:
  KeyWrapOperation(SecureBytes kek, bool pad, bool wrap) : kek_(std::move(kek)), pad_(pad), wrap_(wrap) {}
  size_t output_size(size_t in) const override { return wrap_ ? in + 16 : in; }
  SecureBytes run(ByteView in) override {
    return wrap_ ? crypto::aes_key_wrap(view(kek_), in, pad_) : crypto::aes_key_unwrap(view(kek_), in, pad_);
  }
  bool multipart() const override { return false; }
  size_t finish_size() const override { return 0; }
  SecureBytes finish() override { fail(CKR_FUNCTION_NOT_SUPPORTED, "AES key wrap is single-part only"); }

 private:
  SecureBytes kek_;
  bool pad_, wrap_;
};

std::unique_ptr<Operation> aes_operation(const core::Object& key, const MechanismParams& m, bool encrypt) {
  require(key.key_type() == CKK_AES, CKR_KEY_TYPE_INCONSISTENT, "not an AES key");
  if (is_key_wrap(m.type))
    return std::make_unique<KeyWrapOperation>(secret_value(key), m.type == CKM_AES_KEY_WRAP_PAD, encrypt);
  return crypto::make_aes_cipher(encrypt, aes_key(key), m);
}

}  // namespace

bool SoftBackend::supports(CK_MECHANISM_TYPE mechanism) const { return core::find_mechanism(mechanism) != nullptr; }

SecureBytes SoftBackend::create_master_key(store::TokenDb& db, ByteView so_pin, uint32_t /*pin_limit: core counts*/) {
  SecureBytes mk = crypto::random_bytes(32);
  set_pin(db, CKU_SO, view(mk), so_pin);  // enrols the fingerprint binding: the token starts on scheme 2
  return mk;
}

SecureBytes SoftBackend::unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView pin) {
  Unlocked u = unlock_master_key(db, who, pin, machine_);
  SecureBytes mk = u.master_key;
  std::lock_guard g(notes_mu_);
  notes_.insert_or_assign(std::make_pair(db.path(), who), std::move(u));
  return mk;
}

void SoftBackend::set_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) {
  seal_pin(db, who, master_key, pin, params_, machine_);
}

bool SoftBackend::has_pin(store::TokenDb& db, CK_USER_TYPE who) { return db.get_meta(pin_meta_key(who)).has_value(); }

void SoftBackend::remove_pin(store::TokenDb& db, CK_USER_TYPE who) { db.delete_meta(pin_meta_key(who)); }

void SoftBackend::after_unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) {
  Unlocked u;
  {
    std::lock_guard g(notes_mu_);
    auto it = notes_.find(std::make_pair(db.path(), who));
    if (it != notes_.end() && equal_constant_time(view(it->second.master_key), master_key)) {
      u = std::move(it->second);
      notes_.erase(it);
    } else {
      // No note of this login: only what the record itself shows (its scheme) can ask for a re-seal.
      auto rec = db.get_meta(pin_meta_key(who));
      u.scheme = rec ? record_scheme(view(*rec)) : PinScheme::argon2id_fingerprint_v3;
    }
  }
  const Refresh r = refresh_binding(db, who, master_key, pin, machine_, u);
  const std::string token = db.path().filename().string();
  if (r.bound) log::info(token + ": bound to this machine's hardware fingerprint");
  if (r.upgraded) log::info(token + ": PIN record upgraded to the fingerprint scheme (3)");
  if (r.legacy_removed) log::info(token + ": the shared fingerprint split (an offline check of factor guesses) removed");
  if (r.reenrolled) {
    std::string ids;
    for (const auto& id : r.changed) ids += (ids.empty() ? "" : ", ") + id;
    log::info(token + ": hardware factor(s) changed (" + ids + "); binding re-enrolled with the current values");
  }
}

std::vector<fingerprint::Factor> SoftBackend::factor_estimates(const std::filesystem::path& dir) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard g(estimates_mu_);
  auto it = estimates_.find(dir);
  if (it == estimates_.end() || now - it->second.first > std::chrono::minutes(1)) {
    std::vector<fingerprint::Factor> f = machine_.factors(dir);
    for (auto& x : f) x.value.reset();  // only ids and bit estimates are kept
    it = estimates_.insert_or_assign(dir, std::make_pair(now, std::move(f))).first;
  }
  return it->second.second;
}

void SoftBackend::fill_token_info(store::TokenDb& db, CK_TOKEN_INFO& info) {
  std::string model = "soft unbound";
  try {
    if (auto binding = load_binding(db)) {
      const fingerprint::Strength s = binding_strength(*binding, factor_estimates(db.path().parent_path()));
      model = "soft " + (has_tpm_share(db) ? std::string("tpm") : s.level) + " " + std::to_string(s.factors) + "f";
    }
  } catch (const Error& e) {
    model = "soft bad binding";
    log::warn(db.path().filename().string() + ": " + e.detail);
  }
  core::put_padded(info.model, model);
}

void SoftBackend::generate_key_pair(const MechanismParams& m, AttributeMap& pub, AttributeMap& priv) {
  if (m.type == CKM_RSA_PKCS_KEY_PAIR_GEN) {
    const CK_ULONG bits = core::get_ulong(pub, CKA_MODULUS_BITS).value_or(0);
    static const uint8_t f4[] = {0x01, 0x00, 0x01};
    const SecureBytes* e = get_bytes(pub, CKA_PUBLIC_EXPONENT);
    crypto::RsaKeyPair k = crypto::generate_rsa(bits, e && !e->empty() ? view(*e) : ByteView(f4));
    for (AttributeMap* a : {&pub, &priv}) {
      core::set_bytes(*a, CKA_MODULUS, view(k.n));
      core::set_bytes(*a, CKA_PUBLIC_EXPONENT, view(k.e));
    }
    core::set_bytes(priv, CKA_PRIVATE_EXPONENT, view(k.d));
    core::set_bytes(priv, CKA_PRIME_1, view(k.p));
    core::set_bytes(priv, CKA_PRIME_2, view(k.q));
    core::set_bytes(priv, CKA_EXPONENT_1, view(k.dp));
    core::set_bytes(priv, CKA_EXPONENT_2, view(k.dq));
    core::set_bytes(priv, CKA_COEFFICIENT, view(k.qinv));
    core::set_bytes(pub, CKA_PUBLIC_KEY_INFO,
                    view(crypto::public_key_info(crypto::rsa_public_key(view(k.n), view(k.e)))));
    return;
  }
  require(m.type == CKM_EC_KEY_PAIR_GEN || m.type == CKM_EC_EDWARDS_KEY_PAIR_GEN, CKR_MECHANISM_INVALID,
          "not a key pair mechanism");
  const SecureBytes params = *get_bytes(pub, CKA_EC_PARAMS);
  crypto::EcKeyPair k = crypto::generate_ec(view(params));
  core::set_bytes(pub, CKA_EC_POINT, view(crypto::der_octet_string(view(k.point))));
  core::set_bytes(pub, CKA_PUBLIC_KEY_INFO,
                  view(crypto::public_key_info(crypto::ec_public_key(view(params), view(k.point)))));
  core::set_bytes(priv, CKA_EC_PARAMS, view(params));
  core::set_bytes(priv, CKA_VALUE, view(k.d));
}

void SoftBackend::generate_key(const MechanismParams& m, AttributeMap& key) {
  const CK_ULONG len = core::get_ulong(key, CKA_VALUE_LEN).value_or(0);
  core::set_bytes(key, CKA_VALUE, view(crypto::random_bytes(len)));
}

void SoftBackend::import_key(AttributeMap& key) {
  const CK_OBJECT_CLASS cls = core::get_ulong(key, CKA_CLASS).value_or(CK_UNAVAILABLE_INFORMATION);
  const CK_KEY_TYPE kt = core::get_ulong(key, CKA_KEY_TYPE).value_or(CK_UNAVAILABLE_INFORMATION);
  try {
    crypto::PKey pk;  // the key as loaded, to fill an empty CKA_PUBLIC_KEY_INFO from
    if (cls == CKO_PUBLIC_KEY && (kt == CKK_EC || kt == CKK_EC_EDWARDS)) {
      // Store the point in its DER OCTET STRING form whichever form the caller gave.
      const ByteView params = attr(key, CKA_EC_PARAMS);
      SecureBytes raw = crypto::unwrap_ec_point(params, attr(key, CKA_EC_POINT));
      pk = crypto::ec_public_key(params, view(raw));
      core::set_bytes(key, CKA_EC_POINT, view(crypto::der_octet_string(view(raw))));
    } else if (cls == CKO_PUBLIC_KEY && kt == CKK_RSA) {
      pk = crypto::rsa_public_key(attr(key, CKA_MODULUS), attr(key, CKA_PUBLIC_EXPONENT));
    } else if (cls == CKO_PRIVATE_KEY && kt == CKK_RSA) {
      pk = crypto::rsa_private_key(attr(key, CKA_MODULUS), attr(key, CKA_PUBLIC_EXPONENT),
                                   attr(key, CKA_PRIVATE_EXPONENT), attr(key, CKA_PRIME_1), attr(key, CKA_PRIME_2),
                                   attr(key, CKA_EXPONENT_1), attr(key, CKA_EXPONENT_2), attr(key, CKA_COEFFICIENT));
    } else if (cls == CKO_PRIVATE_KEY && (kt == CKK_EC || kt == CKK_EC_EDWARDS)) {
      pk = crypto::ec_private_key(attr(key, CKA_EC_PARAMS), attr(key, CKA_VALUE));
    }
    // "MAY be empty" for a key from outside (PKCS#11 3.0 sections 4.8, 4.9), but consumers such as
    // pkcs11-provider read the public key from it: fill it as for generated keys.
    if (pk && attr(key, CKA_PUBLIC_KEY_INFO).empty())
      core::set_bytes(key, CKA_PUBLIC_KEY_INFO, view(crypto::public_key_info(pk)));
  } catch (const Error& e) {
    if (e.rv == CKR_CURVE_NOT_SUPPORTED) throw;
    fail(CKR_ATTRIBUTE_VALUE_INVALID, "key values are not a valid key: " + e.detail);
  }
}

std::unique_ptr<Operation> SoftBackend::sign(const core::Object& key, const MechanismParams& m) {
  if (key.cls() == CKO_SECRET_KEY) return crypto::make_hmac(m.type, view(secret_value(key)), false);
  return crypto::make_signer(private_pkey(key), m);
}

std::unique_ptr<Operation> SoftBackend::verify(const core::Object& key, const MechanismParams& m) {
  require(key.cls() == CKO_SECRET_KEY, CKR_KEY_TYPE_INCONSISTENT, "verification with a private key");
  return crypto::make_hmac(m.type, view(secret_value(key)), true);
}

std::unique_ptr<Operation> SoftBackend::encrypt(const core::Object& key, const MechanismParams& m) {
  return aes_operation(key, m, true);
}

std::unique_ptr<Operation> SoftBackend::decrypt(const core::Object& key, const MechanismParams& m) {
  if (key.cls() == CKO_PRIVATE_KEY) return crypto::make_rsa_decryptor(private_pkey(key), m);
  return aes_operation(key, m, false);
}

SecureBytes SoftBackend::derive(const core::Object& key, const MechanismParams& m) {
  if (m.type == CKM_HKDF_DERIVE || m.type == CKM_HKDF_DATA) {
    require(key.cls() == CKO_SECRET_KEY, CKR_KEY_TYPE_INCONSISTENT, "HKDF needs a secret key");
    const crypto::HkdfMode mode = !m.hkdf_expand   ? crypto::HkdfMode::extract_only
                                  : !m.hkdf_extract ? crypto::HkdfMode::expand_only
                                                    : crypto::HkdfMode::extract_and_expand;
    return crypto::hkdf(m.hash, mode, view(secret_value(key)), view(m.salt), view(m.info), m.derive_len);
  }
  require(m.type == CKM_ECDH1_DERIVE, CKR_MECHANISM_INVALID, "not a derivation mechanism");
  return crypto::ecdh_derive(private_pkey(key), view(m.public_data));  // Z; core applies any KDF
}

SecureBytes SoftBackend::wrap(const core::Object& wk, const MechanismParams& m, ByteView value) {
  return aes_operation(wk, m, true)->run(value);
}

SecureBytes SoftBackend::unwrap(const core::Object& uk, const MechanismParams& m, ByteView wrapped) {
  if (uk.cls() == CKO_PRIVATE_KEY) return crypto::make_rsa_decryptor(private_pkey(uk), m)->run(wrapped);
  return aes_operation(uk, m, false)->run(wrapped);
}

}  // namespace keyseal::softtoken
