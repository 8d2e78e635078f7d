// Helpers for the TPM backend tests: key pairs made through the Backend interface, their public keys for
// software verification, and one-shot sign/verify.
#pragma once
#include "core/object.h"
#include "crypto/asym.h"
#include "crypto/keys.h"
#include "swtpm_fixture.h"

#include <memory>
#include <string_view>

namespace keyseal::tpm::testing {

struct KeyPair {
  core::AttributeMap pub, priv;
  std::shared_ptr<core::Object> obj;  // the private key object
};

inline std::shared_ptr<core::Object> object_of(const core::AttributeMap& a) {
  auto o = std::make_shared<core::Object>();
  o->attrs = a;
  return o;
}

inline KeyPair gen_rsa(TpmBackend& b, CK_ULONG bits) {
  KeyPair k;
  MechanismParams m;
  m.type = CKM_RSA_PKCS_KEY_PAIR_GEN;
  core::set_ulong(k.pub, CKA_CLASS, CKO_PUBLIC_KEY);
  core::set_ulong(k.pub, CKA_KEY_TYPE, CKK_RSA);
  core::set_ulong(k.pub, CKA_MODULUS_BITS, bits);
  core::set_ulong(k.priv, CKA_CLASS, CKO_PRIVATE_KEY);
  core::set_ulong(k.priv, CKA_KEY_TYPE, CKK_RSA);
  b.generate_key_pair(m, k.pub, k.priv);
  k.obj = object_of(k.priv);
  return k;
}

inline KeyPair gen_ec(TpmBackend& b, crypto::Curve c) {
  KeyPair k;
  MechanismParams m;
  m.type = CKM_EC_KEY_PAIR_GEN;
  core::set_ulong(k.pub, CKA_CLASS, CKO_PUBLIC_KEY);
  core::set_ulong(k.pub, CKA_KEY_TYPE, CKK_EC);
  core::set_bytes(k.pub, CKA_EC_PARAMS, view(crypto::ec_params_der(c)));
  core::set_ulong(k.priv, CKA_CLASS, CKO_PRIVATE_KEY);
  core::set_ulong(k.priv, CKA_KEY_TYPE, CKK_EC);
  b.generate_key_pair(m, k.pub, k.priv);
  k.obj = object_of(k.priv);
  return k;
}

inline ByteView attr(const core::AttributeMap& a, CK_ATTRIBUTE_TYPE t) {
  const SecureBytes* v = core::get_bytes(a, t);
  return v ? view(*v) : ByteView();
}

inline crypto::PKey public_of(const core::AttributeMap& pub) {
  if (core::get_ulong(pub, CKA_KEY_TYPE) == CKK_RSA)
    return crypto::rsa_public_key(attr(pub, CKA_MODULUS), attr(pub, CKA_PUBLIC_EXPONENT));
  return crypto::ec_public_key(attr(pub, CKA_EC_PARAMS), attr(pub, CKA_EC_POINT));
}

inline MechanismParams mech(CK_MECHANISM_TYPE t) {
  MechanismParams m;
  m.type = t;
  return m;
}

inline MechanismParams pss(CK_MECHANISM_TYPE t, CK_MECHANISM_TYPE hash, CK_ULONG salt) {
  MechanismParams m = mech(t);
  m.hash = hash;
  m.mgf_hash = hash;
  m.salt_len = salt;
  return m;
}

inline SecureBytes bytes(std::string_view s) { return to_bytes(view(s)); }

inline SecureBytes sign(TpmBackend& b, const KeyPair& k, const MechanismParams& m, ByteView data) {
  return b.sign(*k.obj, m)->run(data);
}

// Throws (CKR_SIGNATURE_INVALID ...) when the signature does not verify in software.
inline void verify(const KeyPair& k, const MechanismParams& m, ByteView data, ByteView sig) {
  crypto::make_verifier(public_of(k.pub), m)->verify(data, sig);
}

}  // namespace keyseal::tpm::testing
