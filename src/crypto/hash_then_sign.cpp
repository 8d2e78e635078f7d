#include "crypto/hash_then_sign.h"

#include "crypto/digest.h"

namespace keyseal::crypto {

HashThenSign::HashThenSign(CK_MECHANISM_TYPE digest) : digest_mech_(digest) {
  if (digest) digest_ = make_digest(digest);
}

SecureBytes HashThenSign::run(ByteView in) {
  if (digest_) return sign_digest(view(crypto::digest(digest_mech_, in)), digest_mech_);
  return sign_raw(in);
}

void HashThenSign::absorb(ByteView in) {
  require(digest_ != nullptr, CKR_FUNCTION_FAILED, "single-part mechanism");
  digest_->absorb(in);
}

SecureBytes HashThenSign::finish() {
  require(digest_ != nullptr, CKR_FUNCTION_FAILED, "single-part mechanism");
  return sign_digest(view(digest_->finish()), digest_mech_);
}

}  // namespace keyseal::crypto
