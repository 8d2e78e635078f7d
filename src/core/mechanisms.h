// The mechanism table (PKCS#11 3.0 sections 5.5 C_GetMechanismList/C_GetMechanismInfo, and the current
// mechanisms specification): one row per mechanism with its flags, key-size range, the key type it uses and how
// its parameter is read. Nothing else in keyseal switches on CKM_* to learn these facts.
#pragma once
#include <keyseal/pkcs11.h>

#include <optional>
#include <span>

namespace keyseal::core {

// How a mechanism's parameter is read and checked by the ABI layer.
enum class ParamKind {
  none,        // must be NULL / empty
  pss,         // CK_RSA_PKCS_PSS_PARAMS
  oaep,        // CK_RSA_PKCS_OAEP_PARAMS
  iv16,        // 16-byte IV (CBC, CBC_PAD)
  ctr,         // CK_AES_CTR_PARAMS
  gcm,         // CK_GCM_PARAMS
  ecdh,        // CK_ECDH1_DERIVE_PARAMS
  eddsa,       // optional CK_EDDSA_PARAMS (only the pure Ed25519 / Ed448 forms are supported)
  optional_iv, // AES key wrap: optional 8/4-byte IV (only the default is supported)
  hkdf,        // CK_HKDF_PARAMS
};

struct MechanismRow {
  CK_MECHANISM_TYPE type;
  CK_FLAGS flags;              // CKF_SIGN, CKF_ENCRYPT, ... and CKF_EC_* for EC
  CK_ULONG min_key, max_key;   // bits for RSA/EC, bytes for AES/generic secret, 0 for digests
  CK_KEY_TYPE key_type;        // key type it works with (CK_UNAVAILABLE_INFORMATION: none, e.g. digests)
  ParamKind param;
  CK_MECHANISM_TYPE digest;    // hashed variants: the digest; the raw form: 0
  bool multipart;              // sign/verify/encrypt/decrypt/digest may use Update/Final
};

std::span<const MechanismRow> mechanism_table();
const MechanismRow* find_mechanism(CK_MECHANISM_TYPE type);

// Second key type a mechanism also accepts (HMAC over AES keys, generic secret with any secret key).
bool key_type_compatible(const MechanismRow& row, CK_KEY_TYPE key_type);

}  // namespace keyseal::core
