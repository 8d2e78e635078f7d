// Keys shared by the tests of one run (PKCS#11 3.0 section 5.14, C_GenerateKey/C_GenerateKeyPair): generated
// once as session objects in a keeper session and reused, because RSA key generation is slow.
#pragma once

#include "harness.h"

namespace keyseal::conformance {

struct KeyPair {
  CK_RV rv = CKR_GENERAL_ERROR;
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
};

struct SecretKey {
  CK_RV rv = CKR_GENERAL_ERROR;
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
};

// DER-encoded ECParameters (namedCurve OIDs) for the curves the suite knows.
struct Curve {
  const char* name;
  CK_ULONG bits;
  Bytes params;
  int openssl_nid;
};
const std::vector<Curve>& curves();

// The RSA modulus size the suite uses: 2048 when the module allows it, else the nearest allowed size.
CK_ULONG rsa_bits();
KeyPair rsa_key_pair();                        // private: sensitive, not extractable; may sign/decrypt/unwrap
KeyPair ec_key_pair(const Curve& curve);       // sign/verify + derive
SecretKey aes_key(CK_ULONG len);               // encrypt/decrypt/wrap/unwrap/sign/verify, extractable
SecretKey generic_secret(CK_ULONG len);        // sign/verify (HMAC), extractable

// Fresh keys (not cached), owned by the caller's session, with an extra template on top of the defaults.
KeyPair generate_rsa(CK_SESSION_HANDLE s, CK_ULONG bits, const Template& extra_priv = {},
                     const Template& extra_pub = {});
KeyPair generate_ec(CK_SESSION_HANDLE s, const Bytes& params, const Template& extra_priv = {},
                    const Template& extra_pub = {});
SecretKey generate_aes(CK_SESSION_HANDLE s, CK_ULONG len, const Template& extra = {});
// Imports a raw secret as a CKK_AES / CKK_GENERIC_SECRET session object.
SecretKey import_secret(CK_SESSION_HANDLE s, CK_KEY_TYPE type, const Bytes& value, const Template& extra = {});

// The session the cached keys live in (opened on first use, user logged in).
CK_SESSION_HANDLE keeper_session();

}  // namespace keyseal::conformance
