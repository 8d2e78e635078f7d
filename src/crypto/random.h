// Random numbers for keys, nonces, salts and C_GenerateRandom (PKCS#11 3.0 section 5.17), drawn from the
// module's own OpenSSL DRBG.
#pragma once
#include "common/secure_bytes.h"

#include <cstddef>
#include <cstdint>

namespace keyseal::crypto {

void random_bytes(uint8_t* out, size_t n);  // CKR_FUNCTION_FAILED if the DRBG fails
SecureBytes random_bytes(size_t n);

}  // namespace keyseal::crypto
