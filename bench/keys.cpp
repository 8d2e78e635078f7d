// Key generation for the benchmark through C_GenerateKeyPair / C_GenerateKey (PKCS#11 v2.40 section 5.14).
// Private keys are sensitive, private session objects: the usual shape of a signing key.
#include "keys.h"

#include <string>

namespace keyseal::bench {

const Bytes kP256Params = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const Bytes kEd25519Params = {0x06, 0x03, 0x2b, 0x65, 0x70};

namespace {

CK_BBOOL kTrue = CK_TRUE;
CK_BBOOL kFalse = CK_FALSE;

CK_ATTRIBUTE attr(CK_ATTRIBUTE_TYPE type, const void* value, CK_ULONG len) {
  return CK_ATTRIBUTE{type, const_cast<void*>(value), len};
}

CK_ATTRIBUTE flag(CK_ATTRIBUTE_TYPE type, bool on) {
  return attr(type, on ? &kTrue : &kFalse, sizeof(CK_BBOOL));
}

KeyPair generate_pair(const Session& s, CK_MECHANISM_TYPE mech, std::vector<CK_ATTRIBUTE> pub, bool token,
                      const char* what) {
  pub.push_back(flag(CKA_TOKEN, token));
  pub.push_back(flag(CKA_VERIFY, true));
  std::vector<CK_ATTRIBUTE> priv = {flag(CKA_TOKEN, token), flag(CKA_PRIVATE, true), flag(CKA_SENSITIVE, true),
                                    flag(CKA_SIGN, true)};
  CK_MECHANISM m{mech, nullptr, 0};
  KeyPair kp;
  check(s.fn()->C_GenerateKeyPair(s.handle(), &m, pub.data(), pub.size(), priv.data(), priv.size(), &kp.pub, &kp.priv),
        what);
  return kp;
}

}  // namespace

KeyPair generate_rsa2048(const Session& s, bool token) {
  static const CK_ULONG bits = 2048;
  static const CK_BYTE exponent[] = {0x01, 0x00, 0x01};
  return generate_pair(
      s, CKM_RSA_PKCS_KEY_PAIR_GEN,
      {attr(CKA_MODULUS_BITS, &bits, sizeof bits), attr(CKA_PUBLIC_EXPONENT, exponent, sizeof exponent)},
      token, "C_GenerateKeyPair(RSA-2048)");
}

KeyPair generate_ec_p256(const Session& s, bool token) {
  return generate_pair(s, CKM_EC_KEY_PAIR_GEN, {attr(CKA_EC_PARAMS, kP256Params.data(), kP256Params.size())},
                       token, "C_GenerateKeyPair(EC P-256)");
}

KeyPair generate_ed25519(const Session& s, bool token) {
  return generate_pair(s, CKM_EC_EDWARDS_KEY_PAIR_GEN,
                       {attr(CKA_EC_PARAMS, kEd25519Params.data(), kEd25519Params.size())}, token,
                       "C_GenerateKeyPair(Ed25519)");
}

CK_OBJECT_HANDLE generate_aes256(const Session& s) {
  static const CK_ULONG len = 32;
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_VALUE_LEN, &len, sizeof len),
                                 flag(CKA_TOKEN, false),
                                 flag(CKA_PRIVATE, true),
                                 flag(CKA_SENSITIVE, true),
                                 flag(CKA_ENCRYPT, true),
                                 flag(CKA_DECRYPT, true)};
  CK_MECHANISM m{CKM_AES_KEY_GEN, nullptr, 0};
  CK_OBJECT_HANDLE key = CK_INVALID_HANDLE;
  check(s.fn()->C_GenerateKey(s.handle(), &m, t.data(), t.size(), &key), "C_GenerateKey(AES-256)");
  return key;
}

void destroy_pair(const Session& s, const KeyPair& kp) {
  check(s.fn()->C_DestroyObject(s.handle(), kp.priv), "C_DestroyObject(private key)");
  check(s.fn()->C_DestroyObject(s.handle(), kp.pub), "C_DestroyObject(public key)");
}

Bytes read_attribute(const Session& s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type) {
  CK_ATTRIBUTE a{type, nullptr, 0};
  check(s.fn()->C_GetAttributeValue(s.handle(), obj, &a, 1), "C_GetAttributeValue(size)");
  Bytes v(a.ulValueLen);
  a.pValue = v.data();
  check(s.fn()->C_GetAttributeValue(s.handle(), obj, &a, 1), "C_GetAttributeValue");
  v.resize(a.ulValueLen);
  return v;
}

}  // namespace keyseal::bench
