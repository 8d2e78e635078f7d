// The module's own OSSL_LIB_CTX and the algorithm objects fetched from it exactly once (fetching per
// operation is what costs tpm2-pkcs11 most of its CPU time per signature).
#include "crypto/ossl.h"

#include <openssl/provider.h>

#include <array>

namespace keyseal::crypto {
namespace {

// Never freed: the library context must outlive every key and operation, and the process may unload us
// while other threads still hold objects. No static destructor does work.
OSSL_LIB_CTX* make_libctx() {
  OSSL_LIB_CTX* ctx = OSSL_LIB_CTX_new();
  if (!ctx) return nullptr;
  if (!OSSL_PROVIDER_load(ctx, "default")) {
    OSSL_LIB_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

struct Algorithms {
  std::array<EVP_MD*, 5> md{};                // SHA-1, SHA-224, SHA-256, SHA-384, SHA-512
  std::array<std::array<EVP_CIPHER*, 3>, 6> aes{};  // [mode][128/192/256]
  EVP_MAC* hmac = nullptr;
  EVP_KDF* hkdf = nullptr;
  EVP_KDF* x963 = nullptr;
};

const Algorithms* make_algorithms() {
  OSSL_LIB_CTX* ctx = libctx();
  auto* a = new Algorithms;
  static const char* md_names[] = {"SHA1", "SHA2-224", "SHA2-256", "SHA2-384", "SHA2-512"};
  for (size_t i = 0; i < a->md.size(); ++i) a->md[i] = EVP_MD_fetch(ctx, md_names[i], nullptr);
  static const char* modes[] = {"ECB", "CBC", "CTR", "GCM", "WRAP", "WRAP-PAD"};
  static const char* sizes[] = {"128", "192", "256"};
  for (size_t m = 0; m < 6; ++m)
    for (size_t s = 0; s < 3; ++s) {
      std::string name = std::string("AES-") + sizes[s] + "-" + modes[m];
      a->aes[m][s] = EVP_CIPHER_fetch(ctx, name.c_str(), nullptr);
    }
  a->hmac = EVP_MAC_fetch(ctx, "HMAC", nullptr);
  a->hkdf = EVP_KDF_fetch(ctx, "HKDF", nullptr);
  a->x963 = EVP_KDF_fetch(ctx, "X963KDF", nullptr);
  return a;
}

const Algorithms& algorithms() {
  static const Algorithms* a = make_algorithms();  // thread-safe initialisation (C++11 magic statics)
  return *a;
}

}  // namespace

OSSL_LIB_CTX* libctx() {
  static OSSL_LIB_CTX* ctx = make_libctx();
  if (!ctx) fail(CKR_GENERAL_ERROR, "cannot create the OpenSSL library context");
  return ctx;
}

const EVP_MD* md_for(CK_MECHANISM_TYPE m) {
  size_t i;
  switch (m) {
    case CKM_SHA_1: i = 0; break;
    case CKM_SHA224: i = 1; break;
    case CKM_SHA256: i = 2; break;
    case CKM_SHA384: i = 3; break;
    case CKM_SHA512: i = 4; break;
    default: fail(CKR_MECHANISM_INVALID, "unsupported digest");
  }
  const EVP_MD* md = algorithms().md[i];
  if (!md) fail(CKR_GENERAL_ERROR, "digest not available from the default provider");
  return md;
}

const EVP_CIPHER* aes_cipher(AesMode mode, size_t key_len) {
  size_t s;
  switch (key_len) {
    case 16: s = 0; break;
    case 24: s = 1; break;
    case 32: s = 2; break;
    default: fail(CKR_KEY_SIZE_RANGE, "AES key must be 16, 24 or 32 bytes");
  }
  const EVP_CIPHER* c = algorithms().aes[static_cast<size_t>(mode)][s];
  if (!c) fail(CKR_GENERAL_ERROR, "AES mode not available from the default provider");
  return c;
}

EVP_MAC* hmac_algorithm() {
  EVP_MAC* m = algorithms().hmac;
  if (!m) fail(CKR_GENERAL_ERROR, "HMAC not available");
  return m;
}

EVP_KDF* hkdf_algorithm() {
  EVP_KDF* k = algorithms().hkdf;
  if (!k) fail(CKR_GENERAL_ERROR, "HKDF not available");
  return k;
}

EVP_KDF* x963kdf_algorithm() {
  EVP_KDF* k = algorithms().x963;
  if (!k) fail(CKR_GENERAL_ERROR, "X963KDF not available");
  return k;
}

BnPtr to_bn(ByteView v) {
  BnPtr bn(BN_bin2bn(v.data(), static_cast<int>(v.size()), nullptr));
  if (!bn) ossl_fail(CKR_HOST_MEMORY, "BN_bin2bn");
  return bn;
}

SecureBytes from_bn(const BIGNUM* bn, size_t pad_to) {
  size_t n = static_cast<size_t>(BN_num_bytes(bn));
  SecureBytes out(pad_to > n ? pad_to : n);
  if (BN_bn2binpad(bn, out.data(), static_cast<int>(out.size())) < 0) ossl_fail(CKR_GENERAL_ERROR, "BN_bn2binpad");
  return out;
}

}  // namespace keyseal::crypto
