// The benchmark's keys, generated once per run as session objects (PKCS#11 v2.40 sections 2.1.4 RSA,
// 2.3.3 EC, 2.14 AES; 3.0 section 2.3.5 Edwards curves) so that a run leaves no keys on the token; with
// --token-keys the key pairs are token objects, destroyed at the end of the run.
#pragma once

#include <optional>

#include "p11.h"

namespace keyseal::bench {

struct KeyPair {
  CK_OBJECT_HANDLE pub = CK_INVALID_HANDLE;
  CK_OBJECT_HANDLE priv = CK_INVALID_HANDLE;
};

// Each returns the generated key, or throws P11Error with the failing call. `token`: CKA_TOKEN = true (for
// modules without session keys, such as tpm2-pkcs11); the caller destroys such keys (destroy_pair).
KeyPair generate_rsa2048(const Session& s, bool token = false);
KeyPair generate_ec_p256(const Session& s, bool token = false);
KeyPair generate_ed25519(const Session& s, bool token = false);
void destroy_pair(const Session& s, const KeyPair& kp);
CK_OBJECT_HANDLE generate_aes256(const Session& s);

// One attribute's value, read with the size-query convention of C_GetAttributeValue (section 5.7).
Bytes read_attribute(const Session& s, CK_OBJECT_HANDLE obj, CK_ATTRIBUTE_TYPE type);

// DER encodings of the curve OIDs used as CKA_EC_PARAMS.
extern const Bytes kP256Params;     // 1.2.840.10045.3.1.7 (prime256v1)
extern const Bytes kEd25519Params;  // 1.3.101.112 (id-Ed25519)

}  // namespace keyseal::bench
