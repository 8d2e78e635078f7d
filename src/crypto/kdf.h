// Key derivation for the soft token's key protection: Argon2id (RFC 9106) stretches the PIN, HKDF-SHA256
// (RFC 5869) separates keys derived from one secret.
#pragma once
#include "common/secure_bytes.h"

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

// HMAC-SHA256 (RFC 2104) of `data` under `key`: 32 bytes. Authenticates the keystore's records.
SecureBytes hmac_sha256(ByteView key, ByteView data);

}  // namespace keyseal::crypto
