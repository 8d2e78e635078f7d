// AES-256-GCM seal/open for the keystore, on the cached EVP_CIPHER (no fetch per call).
#include "crypto/aead.h"

#include "crypto/ossl.h"
#include "crypto/random.h"

#include <climits>

namespace keyseal::crypto {
namespace {
constexpr size_t kNonce = 12;
constexpr size_t kTag = 16;
}  // namespace

SecureBytes seal_aes256gcm(ByteView key32, ByteView aad, ByteView plaintext) {
  require(key32.size() == 32, CKR_KEY_SIZE_RANGE, "seal_aes256gcm: key must be 32 bytes");
  require(plaintext.size() < INT_MAX - 64 && aad.size() < INT_MAX, CKR_DATA_LEN_RANGE, "seal_aes256gcm: too long");
  SecureBytes out(kNonce + plaintext.size() + kTag);
  random_bytes(out.data(), kNonce);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_CIPHER_CTX_new");
  int len = 0;
  ossl_check(EVP_EncryptInit_ex2(ctx.get(), aes_cipher(AesMode::gcm, 32), key32.data(), out.data(), nullptr),
             CKR_FUNCTION_FAILED, "GCM init");
  if (!aad.empty())
    ossl_check(EVP_EncryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())),
               CKR_FUNCTION_FAILED, "GCM aad");
  uint8_t* ct = out.data() + kNonce;
  if (!plaintext.empty())
    ossl_check(EVP_EncryptUpdate(ctx.get(), ct, &len, plaintext.data(), static_cast<int>(plaintext.size())),
               CKR_FUNCTION_FAILED, "GCM encrypt");
  ossl_check(EVP_EncryptFinal_ex(ctx.get(), ct + plaintext.size(), &len), CKR_FUNCTION_FAILED, "GCM final");
  ossl_check(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_GET_TAG, kTag, ct + plaintext.size()),
             CKR_FUNCTION_FAILED, "GCM tag");
  return out;
}

SecureBytes open_aes256gcm(ByteView key32, ByteView aad, ByteView sealed) {
  require(key32.size() == 32, CKR_ENCRYPTED_DATA_INVALID, "open_aes256gcm: key must be 32 bytes");
  require(sealed.size() >= kNonce + kTag && sealed.size() < INT_MAX && aad.size() < INT_MAX,
          CKR_ENCRYPTED_DATA_INVALID, "open_aes256gcm: bad length");
  size_t ct_len = sealed.size() - kNonce - kTag;
  SecureBytes out(ct_len);
  CipherCtxPtr ctx(EVP_CIPHER_CTX_new());
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_CIPHER_CTX_new");
  int len = 0;
  ossl_check(EVP_DecryptInit_ex2(ctx.get(), aes_cipher(AesMode::gcm, 32), key32.data(), sealed.data(), nullptr),
             CKR_ENCRYPTED_DATA_INVALID, "GCM init");
  if (!aad.empty())
    ossl_check(EVP_DecryptUpdate(ctx.get(), nullptr, &len, aad.data(), static_cast<int>(aad.size())),
               CKR_ENCRYPTED_DATA_INVALID, "GCM aad");
  if (ct_len)
    ossl_check(EVP_DecryptUpdate(ctx.get(), out.data(), &len, sealed.data() + kNonce, static_cast<int>(ct_len)),
               CKR_ENCRYPTED_DATA_INVALID, "GCM decrypt");
  uint8_t tag[kTag];
  std::copy(sealed.end() - kTag, sealed.end(), tag);
  ossl_check(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_AEAD_SET_TAG, kTag, tag), CKR_ENCRYPTED_DATA_INVALID,
             "GCM set tag");
  uint8_t dummy[16];
  if (EVP_DecryptFinal_ex(ctx.get(), dummy, &len) <= 0) {
    secure_wipe(out.data(), out.size());
    ossl_fail(CKR_ENCRYPTED_DATA_INVALID, "GCM tag mismatch");
  }
  return out;
}

}  // namespace keyseal::crypto
