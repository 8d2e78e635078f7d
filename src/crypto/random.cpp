// Random bytes from RAND_bytes_ex on the module's library context (its DRBG reseeds itself after fork).
#include "crypto/random.h"

#include "crypto/ossl.h"

#include <openssl/rand.h>

#include <climits>

namespace keyseal::crypto {

void random_bytes(uint8_t* out, size_t n) {
  OSSL_LIB_CTX* ctx = libctx();
  while (n > 0) {
    size_t chunk = n > static_cast<size_t>(INT_MAX) ? static_cast<size_t>(INT_MAX) : n;
    ossl_check(RAND_bytes_ex(ctx, out, chunk, 0), CKR_FUNCTION_FAILED, "RAND_bytes_ex");
    out += chunk;
    n -= chunk;
  }
}

SecureBytes random_bytes(size_t n) {
  SecureBytes b(n);
  if (n) random_bytes(b.data(), n);
  return b;
}

}  // namespace keyseal::crypto
