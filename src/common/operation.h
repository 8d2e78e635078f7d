// A cryptographic operation in progress (PKCS#11 3.0 sections 5.8 to 5.12): what a session holds between
// C_xxxInit and the call that ends it. Backends and crypto/ implement it; core drives it and implements the
// output-buffer convention once. Every method reports failure by throwing keyseal::Error.
#pragma once
#include "common/error.h"
#include "common/secure_bytes.h"

#include <cstddef>

namespace keyseal {

class Operation {
 public:
  virtual ~Operation() = default;

  // Upper bound of what run() returns for in_len input bytes (for the NULL-buffer length query).
  virtual size_t output_size(size_t in_len) const = 0;
  // Single part: C_Sign, C_Encrypt, C_Decrypt, C_Digest.
  virtual SecureBytes run(ByteView in) = 0;

  // Multi part. Sign, verify and digest absorb input; ciphers transform it.
  virtual bool multipart() const { return true; }
  virtual void absorb(ByteView in) { fail(CKR_FUNCTION_FAILED, "operation does not take input parts"); }
  virtual size_t transform_size(size_t in_len) const { return in_len + 16; }
  virtual SecureBytes transform(ByteView in) { fail(CKR_FUNCTION_FAILED, "operation does not transform"); }
  virtual size_t finish_size() const = 0;
  virtual SecureBytes finish() = 0;

  // Verification: throws CKR_SIGNATURE_INVALID or CKR_SIGNATURE_LEN_RANGE.
  virtual void verify(ByteView data, ByteView signature) { fail(CKR_FUNCTION_FAILED, "not a verify operation"); }
  virtual void verify_finish(ByteView signature) { fail(CKR_FUNCTION_FAILED, "not a verify operation"); }
};

}  // namespace keyseal
