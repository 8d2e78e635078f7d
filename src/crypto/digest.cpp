// Digest operations on the cached EVP_MD objects (PKCS#11 3.0 section 5.10).
#include "crypto/digest.h"

#include "crypto/ossl.h"

namespace keyseal::crypto {
namespace {

class DigestOperation final : public Operation {
 public:
  explicit DigestOperation(const EVP_MD* md) : md_(md), ctx_(EVP_MD_CTX_new()) {
    if (!ctx_) ossl_fail(CKR_HOST_MEMORY, "EVP_MD_CTX_new");
    ossl_check(EVP_DigestInit_ex2(ctx_.get(), md_, nullptr), CKR_FUNCTION_FAILED, "digest init");
  }
  size_t output_size(size_t) const override { return static_cast<size_t>(EVP_MD_get_size(md_)); }
  SecureBytes run(ByteView in) override {
    absorb(in);
    return finish();
  }
  void absorb(ByteView in) override {
    require(!done_, CKR_OPERATION_NOT_INITIALIZED, "digest already finished");
    ossl_check(EVP_DigestUpdate(ctx_.get(), in.data(), in.size()), CKR_FUNCTION_FAILED, "digest update");
  }
  size_t finish_size() const override { return output_size(0); }
  SecureBytes finish() override {
    require(!done_, CKR_OPERATION_NOT_INITIALIZED, "digest already finished");
    SecureBytes out(output_size(0));
    unsigned int len = 0;
    ossl_check(EVP_DigestFinal_ex(ctx_.get(), out.data(), &len), CKR_FUNCTION_FAILED, "digest final");
    done_ = true;
    return out;
  }

 private:
  const EVP_MD* md_;
  MdCtxPtr ctx_;
  bool done_ = false;
};

}  // namespace

size_t digest_size(CK_MECHANISM_TYPE m) { return static_cast<size_t>(EVP_MD_get_size(md_for(m))); }

std::unique_ptr<Operation> make_digest(CK_MECHANISM_TYPE m) { return std::make_unique<DigestOperation>(md_for(m)); }

SecureBytes digest(CK_MECHANISM_TYPE m, ByteView data) {
  const EVP_MD* md = md_for(m);
  SecureBytes out(static_cast<size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  ossl_check(EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr), CKR_FUNCTION_FAILED, "digest");
  return out;
}

}  // namespace keyseal::crypto
