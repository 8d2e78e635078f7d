// Key generation and the per-run key cache (PKCS#11 3.0 section 5.14; templates after the current mechanisms
// specification sections 2.1 RSA, 2.3 EC, 2.14 AES, 2.24 generic secret).
#include "keys.h"

#include <openssl/obj_mac.h>

#include <map>
#include <mutex>

namespace keyseal::conformance {

const std::vector<Curve>& curves() {
  static const std::vector<Curve> c = {
      {"P-256", 256, unhex("06082a8648ce3d030107"), NID_X9_62_prime256v1},
      {"P-384", 384, unhex("06052b81040022"), NID_secp384r1},
      {"P-521", 521, unhex("06052b81040023"), NID_secp521r1},
  };
  return c;
}

namespace {

struct Cache {
  std::mutex mu;
  uint64_t generation = ~0ULL;
  CK_SESSION_HANDLE keeper = CK_INVALID_HANDLE;
  std::map<std::string, KeyPair> pairs;
  std::map<std::string, SecretKey> secrets;

  // Drops everything when the module was finalised since the cache was filled.
  void refresh() {
    if (generation == module().generation && keeper != CK_INVALID_HANDLE) {
      CK_SESSION_INFO si;
      if (p11()->C_GetSessionInfo(keeper, &si) == CKR_OK) {
        login_user(keeper);
        return;
      }
    }
    pairs.clear();
    secrets.clear();
    generation = module().generation;
    ensure_initialized();
    keeper = CK_INVALID_HANDLE;
    p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &keeper);
    login_user(keeper);
  }
};

// A cached key is still usable when its handle still names an object of the expected class (C_Logout destroys
// private session objects, section 5.6, and handles may be reused).
bool still_valid(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_OBJECT_CLASS cls) {
  CK_RV rv;
  return get_ulong(s, h, CKA_CLASS, &rv) == cls && rv == CKR_OK;
}

Cache& cache() {
  static Cache c;
  return c;
}

Template merged(Template base, const Template& extra) {
  Template e = extra;
  for (CK_ULONG i = 0; i < e.size(); ++i) {
    auto& a = e.data()[i];
    auto* p = static_cast<uint8_t*>(a.pValue);
    base.add(a.type, Bytes(p, p + a.ulValueLen));
  }
  return base;
}

}  // namespace

CK_SESSION_HANDLE keeper_session() {
  auto& c = cache();
  std::lock_guard lock(c.mu);
  c.refresh();
  return c.keeper;
}

CK_ULONG rsa_bits() {
  auto info = mechanism_info(CKM_RSA_PKCS_KEY_PAIR_GEN);
  if (!info) return 2048;
  CK_ULONG bits = 2048;
  if (bits < info->ulMinKeySize) bits = info->ulMinKeySize;
  if (bits > info->ulMaxKeySize) bits = info->ulMaxKeySize;
  return bits;
}

KeyPair generate_rsa(CK_SESSION_HANDLE s, CK_ULONG bits, const Template& extra_priv, const Template& extra_pub) {
  CK_MECHANISM mech{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  auto id = to_bytes(unique_label("rsa"));
  Template pub = merged(Template()
                            .add(CKA_TOKEN, false)
                            .add(CKA_ENCRYPT, true)
                            .add(CKA_VERIFY, true)
                            .add(CKA_WRAP, true)
                            .add_ulong(CKA_MODULUS_BITS, bits)
                            .add(CKA_PUBLIC_EXPONENT, Bytes{1, 0, 1})
                            .add(CKA_ID, id),
                        extra_pub);
  Template priv = merged(Template()
                             .add(CKA_TOKEN, false)
                             .add(CKA_PRIVATE, true)
                             .add(CKA_SENSITIVE, true)
                             .add(CKA_EXTRACTABLE, false)
                             .add(CKA_SIGN, true)
                             .add(CKA_DECRYPT, true)
                             .add(CKA_UNWRAP, true)
                             .add(CKA_ID, id),
                         extra_priv);
  KeyPair kp;
  kp.rv = p11()->C_GenerateKeyPair(s, &mech, pub.data(), pub.size(), priv.data(), priv.size(), &kp.pub, &kp.priv);
  return kp;
}

KeyPair generate_ec(CK_SESSION_HANDLE s, const Bytes& params, const Template& extra_priv, const Template& extra_pub) {
  CK_MECHANISM mech{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  auto id = to_bytes(unique_label("ec"));
  Template pub = merged(Template().add(CKA_TOKEN, false).add(CKA_VERIFY, true).add(CKA_EC_PARAMS, params).add(CKA_ID, id),
                        extra_pub);
  Template priv = merged(Template()
                             .add(CKA_TOKEN, false)
                             .add(CKA_PRIVATE, true)
                             .add(CKA_SENSITIVE, true)
                             .add(CKA_SIGN, true)
                             .add(CKA_ID, id),
                         extra_priv);
  KeyPair kp;
  kp.rv = p11()->C_GenerateKeyPair(s, &mech, pub.data(), pub.size(), priv.data(), priv.size(), &kp.pub, &kp.priv);
  return kp;
}

SecretKey generate_aes(CK_SESSION_HANDLE s, CK_ULONG len, const Template& extra) {
  CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
  Template t = merged(Template()
                          .add(CKA_TOKEN, false)
                          .add_ulong(CKA_VALUE_LEN, len)
                          .add(CKA_ENCRYPT, true)
                          .add(CKA_DECRYPT, true)
                          .add(CKA_WRAP, true)
                          .add(CKA_UNWRAP, true)
                          .add(CKA_SIGN, true)
                          .add(CKA_VERIFY, true)
                          .add(CKA_EXTRACTABLE, true),
                      extra);
  SecretKey k;
  k.rv = p11()->C_GenerateKey(s, &mech, t.data(), t.size(), &k.h);
  return k;
}

SecretKey import_secret(CK_SESSION_HANDLE s, CK_KEY_TYPE type, const Bytes& value, const Template& extra) {
  Template t = merged(Template()
                          .add_ulong(CKA_CLASS, CKO_SECRET_KEY)
                          .add_ulong(CKA_KEY_TYPE, type)
                          .add(CKA_TOKEN, false)
                          .add(CKA_VALUE, value)
                          .add(CKA_ENCRYPT, true)
                          .add(CKA_DECRYPT, true)
                          .add(CKA_SIGN, true)
                          .add(CKA_VERIFY, true)
                          .add(CKA_WRAP, true)
                          .add(CKA_UNWRAP, true),
                      extra);
  if (type == CKK_GENERIC_SECRET) t.remove(CKA_ENCRYPT).remove(CKA_DECRYPT).remove(CKA_WRAP).remove(CKA_UNWRAP);
  SecretKey k;
  k.rv = p11()->C_CreateObject(s, t.data(), t.size(), &k.h);
  return k;
}

KeyPair rsa_key_pair() {
  auto& c = cache();
  std::lock_guard lock(c.mu);
  c.refresh();
  auto it = c.pairs.find("rsa");
  if (it != c.pairs.end() && still_valid(c.keeper, it->second.priv, CKO_PRIVATE_KEY) &&
      get_attr(c.keeper, it->second.priv, CKA_ID) == get_attr(c.keeper, it->second.pub, CKA_ID))
    return it->second;
  KeyPair kp = generate_rsa(c.keeper, rsa_bits());
  if (kp.rv == CKR_OK) c.pairs["rsa"] = kp;
  return kp;
}

KeyPair ec_key_pair(const Curve& curve) {
  auto& c = cache();
  std::lock_guard lock(c.mu);
  c.refresh();
  std::string key = std::string("ec-") + curve.name;
  auto it = c.pairs.find(key);
  if (it != c.pairs.end() && still_valid(c.keeper, it->second.priv, CKO_PRIVATE_KEY) &&
      get_attr(c.keeper, it->second.priv, CKA_ID) == get_attr(c.keeper, it->second.pub, CKA_ID))
    return it->second;
  KeyPair kp = generate_ec(c.keeper, curve.params, Template().add(CKA_DERIVE, true));
  if (kp.rv == CKR_OK) c.pairs[key] = kp;
  return kp;
}

SecretKey aes_key(CK_ULONG len) {
  auto& c = cache();
  std::lock_guard lock(c.mu);
  c.refresh();
  std::string key = "aes-" + std::to_string(len);
  auto it = c.secrets.find(key);
  if (it != c.secrets.end() && still_valid(c.keeper, it->second.h, CKO_SECRET_KEY)) return it->second;
  SecretKey k = generate_aes(c.keeper, len);
  if (k.rv == CKR_OK) c.secrets[key] = k;
  return k;
}

SecretKey generic_secret(CK_ULONG len) {
  auto& c = cache();
  std::lock_guard lock(c.mu);
  c.refresh();
  std::string key = "generic-" + std::to_string(len);
  auto it = c.secrets.find(key);
  if (it != c.secrets.end() && still_valid(c.keeper, it->second.h, CKO_SECRET_KEY)) return it->second;
  Bytes value(len);
  for (size_t i = 0; i < len; ++i) value[i] = uint8_t(i * 7 + 3);
  SecretKey k = import_secret(c.keeper, CKK_GENERIC_SECRET, value, Template().add(CKA_EXTRACTABLE, true));
  if (k.rv == CKR_OK) c.secrets[key] = k;
  return k;
}

}  // namespace keyseal::conformance
