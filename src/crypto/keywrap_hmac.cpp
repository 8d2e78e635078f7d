// AES key wrap (RFC 3394 / RFC 5649, PKCS#11 3.0 current mechanisms 2.14) and HMAC (section 4, the SHA-*
// HMAC mechanisms), on algorithm objects fetched once.
#include "crypto/ossl.h"
#include "crypto/symmetric.h"

#include <openssl/core_names.h>

#include <climits>

namespace keyseal::crypto {
namespace {

SecureBytes wrap_cipher(ByteView kek, ByteView in, bool pad, bool wrap, CK_RV rv) {
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_CIPHER_CTX_new");
  EVP_CIPHER_CTX_set_flags(ctx.get(), EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
  const EVP_CIPHER* c = aes_cipher(pad ? AesMode::wrap_pad : AesMode::wrap, kek.size());
  ossl_check(EVP_CipherInit_ex2(ctx.get(), c, kek.data(), nullptr, wrap ? 1 : 0, nullptr), CKR_FUNCTION_FAILED,
             "key wrap init");
  SecureBytes out(in.size() + 16);
  int len = 0;
  ossl_check(EVP_CipherUpdate(ctx.get(), out.data(), &len, in.data(), static_cast<int>(in.size())), rv,
             wrap ? "key wrap" : "key unwrap");
  size_t total = static_cast<size_t>(len);
  ossl_check(EVP_CipherFinal_ex(ctx.get(), out.data() + total, &len), rv, "key wrap final");
  out.resize(total + static_cast<size_t>(len));
  return out;
}

}  // namespace

SecureBytes aes_key_wrap(ByteView kek, ByteView data, bool pad) {
  if (pad)
    require(!data.empty() && data.size() < INT_MAX - 16, CKR_DATA_LEN_RANGE, "KWP: data must be 1..2^31 bytes");
  else
    require(data.size() >= 16 && data.size() % 8 == 0 && data.size() < INT_MAX - 16, CKR_DATA_LEN_RANGE,
            "KW: data must be a multiple of 8 bytes, at least 16");
  return wrap_cipher(kek, data, pad, true, CKR_FUNCTION_FAILED);
}

SecureBytes aes_key_unwrap(ByteView kek, ByteView wrapped, bool pad) {
  require(wrapped.size() >= (pad ? 16u : 24u) && wrapped.size() % 8 == 0 && wrapped.size() < INT_MAX - 16,
          CKR_WRAPPED_KEY_LEN_RANGE, "wrapped key has an impossible length");
  return wrap_cipher(kek, wrapped, pad, false, CKR_WRAPPED_KEY_INVALID);
}

namespace {

class Hmac final : public Operation {
 public:
  Hmac(CK_MECHANISM_TYPE m, ByteView key, bool verify) : verify_(verify), ctx_(EVP_MAC_CTX_new(hmac_algorithm())) {
    CK_MECHANISM_TYPE h;
    switch (m) {
      case CKM_SHA_1_HMAC: h = CKM_SHA_1; break;
      case CKM_SHA224_HMAC: h = CKM_SHA224; break;
      case CKM_SHA256_HMAC: h = CKM_SHA256; break;
      case CKM_SHA384_HMAC: h = CKM_SHA384; break;
      case CKM_SHA512_HMAC: h = CKM_SHA512; break;
      default: fail(CKR_MECHANISM_INVALID, "not an HMAC mechanism");
    }
    if (!ctx_) ossl_fail(CKR_HOST_MEMORY, "EVP_MAC_CTX_new");
    const EVP_MD* md = md_for(h);
    size_ = static_cast<size_t>(EVP_MD_get_size(md));
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, const_cast<char*>(EVP_MD_get0_name(md)), 0),
        OSSL_PARAM_construct_end()};
    static const uint8_t empty = 0;
    ossl_check(EVP_MAC_init(ctx_.get(), key.empty() ? &empty : key.data(), key.size(), params), CKR_FUNCTION_FAILED,
               "HMAC init");
  }
  size_t output_size(size_t) const override { return size_; }
  size_t finish_size() const override { return size_; }
  void absorb(ByteView in) override {
    ossl_check(EVP_MAC_update(ctx_.get(), in.data(), in.size()), CKR_FUNCTION_FAILED, "HMAC update");
  }
  SecureBytes run(ByteView in) override {
    absorb(in);
    return finish();
  }
  SecureBytes finish() override {
    SecureBytes out(size_);
    size_t len = 0;
    ossl_check(EVP_MAC_final(ctx_.get(), out.data(), &len, out.size()), CKR_FUNCTION_FAILED, "HMAC final");
    return out;
  }
  void verify(ByteView data, ByteView sig) override {
    absorb(data);
    verify_finish(sig);
  }
  void verify_finish(ByteView sig) override {
    require(verify_, CKR_FUNCTION_FAILED, "not a verify operation");
    require(sig.size() == size_, CKR_SIGNATURE_LEN_RANGE, "HMAC has the wrong length");
    SecureBytes mac = finish();
    require(equal_constant_time(view(mac), sig), CKR_SIGNATURE_INVALID, "HMAC mismatch");
  }

 private:
  bool verify_;
  MacCtxPtr ctx_;
  size_t size_ = 0;
};

}  // namespace

std::unique_ptr<Operation> make_hmac(CK_MECHANISM_TYPE m, ByteView key, bool verify) {
  return std::make_unique<Hmac>(m, key, verify);
}

}  // namespace keyseal::crypto
