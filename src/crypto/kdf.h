// Key derivation for the soft token's key protection: Argon2id (RFC 9106) stretches the PIN, HKDF-SHA256
// (RFC 5869) separates keys derived from one secret.
#pragma once
#include "common/secure_bytes.h"

#include <keyseal/pkcs11.h>

#include <cstdint>

namespace keyseal::crypto {

struct Argon2Params {
  uint32_t t_cost = 3;
  uint32_t m_cost_kib = 65536;
  uint32_t lanes = 1;
};

// libargon2. Parameters libargon2 rejects (salt < 8 bytes, m_cost < 8*lanes, out_len < 4 ...) give
// CKR_ARGUMENTS_BAD; memory exhaustion gives CKR_HOST_MEMORY.
SecureBytes argon2id(ByteView secret, ByteView salt, const Argon2Params& p, size_t out_len);
SecureBytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, size_t out_len);

// HKDF as CKM_HKDF_DERIVE / CKM_HKDF_DATA use it (PKCS#11 3.0 current mechanisms 2.43; RFC 5869): extract,
// expand or both, with the HMAC of `hash` (CKM_SHA_1 ... CKM_SHA512). Extract only returns the PRK (hash
// length, out_len must equal it); an empty salt means HashLen zero bytes (RFC 5869 2.2). out_len beyond
// 255 * HashLen for expand gives CKR_KEY_SIZE_RANGE.
enum class HkdfMode { extract_and_expand, extract_only, expand_only };
SecureBytes hkdf(CK_MECHANISM_TYPE hash, HkdfMode mode, ByteView key, ByteView salt, ByteView info, size_t out_len);
size_t hash_length(CK_MECHANISM_TYPE hash);  // CKR_MECHANISM_PARAM_INVALID for anything but SHA-1/SHA-2

// The ANSI X9.63 KDF (SEC 1 3.6.1) the CKD_SHA*_KDF choices of CKM_ECDH1_DERIVE name (PKCS#11 3.0 current
// mechanisms 2.3.8): K = Hash(Z || counter || SharedInfo) for counter = 1, 2, ... truncated to out_len.
SecureBytes x963_kdf(CK_MECHANISM_TYPE hash, ByteView z, ByteView shared_info, size_t out_len);

// HMAC-SHA256 (RFC 2104) of `data` under `key`: 32 bytes. Authenticates the keystore's records.
SecureBytes hmac_sha256(ByteView key, ByteView data);

}  // namespace keyseal::crypto
