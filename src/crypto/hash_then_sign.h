// The shape of a signer that hands a digest to hardware (the TPM through tpm2-tss, the PCP through NCrypt):
// a mechanism with a hash (CKM_SHA256_RSA_PKCS, CKM_ECDSA_SHA384, ...) hashes here and is multi-part; one
// without (CKM_RSA_PKCS, CKM_ECDSA, CKM_RSA_PKCS_PSS) takes the caller's bytes in one part. Subclasses say
// how a digest and how raw input are signed, and output_size().
#pragma once
#include "common/operation.h"

#include <keyseal/pkcs11.h>

#include <memory>

namespace keyseal::crypto {

class HashThenSign : public Operation {
 public:
  SecureBytes run(ByteView in) final;
  bool multipart() const final { return digest_ != nullptr; }
  void absorb(ByteView in) final;
  size_t finish_size() const final { return output_size(0); }
  SecureBytes finish() final;

 protected:
  explicit HashThenSign(CK_MECHANISM_TYPE digest);  // 0: no hashing, single-part
  // The caller's bytes as given (a mechanism without a hash): a digest, a DigestInfo, a block to pad.
  virtual SecureBytes sign_raw(ByteView in) = 0;
  // A digest made with `hash` (the mechanism's own hash, or one the subclass recognised in raw input).
  virtual SecureBytes sign_digest(ByteView digest, CK_MECHANISM_TYPE hash) = 0;

 private:
  CK_MECHANISM_TYPE digest_mech_ = 0;
  std::unique_ptr<Operation> digest_;
};

}  // namespace keyseal::crypto
