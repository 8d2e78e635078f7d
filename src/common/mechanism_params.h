// A mechanism and its parameters, copied out of the caller's CK_MECHANISM and checked once (PKCS#11 3.0
// section 2 of the current mechanisms specification), so layers below the ABI never see raw pointers.
#pragma once
#include "common/secure_bytes.h"

#include <keyseal/pkcs11.h>

namespace keyseal {

struct MechanismParams {
  CK_MECHANISM_TYPE type = 0;
  // RSA PSS / OAEP
  CK_MECHANISM_TYPE hash = 0;       // CKM_SHA256 etc.; 0 when not given
  CK_MECHANISM_TYPE mgf_hash = 0;   // digest named by CKG_MGF1_*; 0 when not given
  CK_ULONG salt_len = 0;            // PSS sLen: at most the mechanism's largest key in bytes (checked at the ABI)
  SecureBytes label;                // OAEP source data (CKZ_DATA_SPECIFIED)
  // Block ciphers
  SecureBytes iv;                   // CBC IV, GCM IV, CTR counter block (16 bytes)
  SecureBytes aad;                  // GCM additional data
  CK_ULONG tag_bits = 0;            // GCM tag length in bits
  CK_ULONG counter_bits = 0;        // CTR counter width in bits
  // ECDH1 derive (`hash` is the digest of the X9.63 KDF the CKD_SHA*_KDF value names; 0 for CKD_NULL)
  CK_ULONG kdf = 0;                 // CKD_NULL etc.
  SecureBytes shared_data;          // X9.63 SharedInfo
  SecureBytes public_data;          // the peer's public value (EC point, raw or DER OCTET STRING)
  // HKDF (CK_HKDF_PARAMS; `hash` is prfHashMechanism)
  bool hkdf_extract = false, hkdf_expand = false;
  CK_ULONG salt_type = 0;           // CKF_HKDF_SALT_NULL / _DATA / _KEY (checked only when extracting)
  SecureBytes salt;                 // CKF_HKDF_SALT_DATA as given; CKF_HKDF_SALT_KEY: the salt key's value (core)
  CK_OBJECT_HANDLE salt_key = 0;    // CKF_HKDF_SALT_KEY
  SecureBytes info;
  // Derivation: the output length core settled from the template before calling the backend
  size_t derive_len = 0;
  // CKM_EDDSA with a CK_EDDSA_PARAMS (PKCS#11 3.0 current mechanisms 2.3.14): which RFC 8032 variant is meant
  bool eddsa_params = false;        // a CK_EDDSA_PARAMS was given (absent: pure Ed25519 / Ed448)
  bool eddsa_ph = false;            // phFlag: the prehash variant (Ed25519ph / Ed448ph)
  SecureBytes eddsa_context;        // pContextData, at most 255 bytes
  // Everything else, as given (for mechanisms whose parameter is a plain byte string)
  SecureBytes raw;
};

}  // namespace keyseal
