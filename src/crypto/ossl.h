// Internal to crypto/ and softtoken/: OpenSSL RAII handles, the module's own OSSL_LIB_CTX and the
// algorithm objects fetched from it once. Public crypto headers never include this file.
#pragma once
#include "common/error.h"
#include "common/secure_bytes.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>

#include <memory>

namespace keyseal::crypto {

// One deleter per OpenSSL type.
struct OsslDeleter {
  void operator()(EVP_PKEY* p) const noexcept { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const noexcept { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const noexcept { EVP_MD_CTX_free(p); }
  void operator()(EVP_CIPHER_CTX* p) const noexcept { EVP_CIPHER_CTX_free(p); }
  void operator()(EVP_MAC_CTX* p) const noexcept { EVP_MAC_CTX_free(p); }
  void operator()(EVP_KDF_CTX* p) const noexcept { EVP_KDF_CTX_free(p); }
  void operator()(BIGNUM* p) const noexcept { BN_clear_free(p); }
  void operator()(BN_CTX* p) const noexcept { BN_CTX_free(p); }
  void operator()(EC_GROUP* p) const noexcept { EC_GROUP_free(p); }
  void operator()(EC_POINT* p) const noexcept { EC_POINT_free(p); }
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
  void operator()(OSSL_PARAM_BLD* p) const noexcept { OSSL_PARAM_BLD_free(p); }
  void operator()(OSSL_PARAM* p) const noexcept { OSSL_PARAM_free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, OsslDeleter>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, OsslDeleter>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, OsslDeleter>;
using CipherCtxPtr = std::unique_ptr<EVP_CIPHER_CTX, OsslDeleter>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, OsslDeleter>;
using KdfCtxPtr = std::unique_ptr<EVP_KDF_CTX, OsslDeleter>;
using BnPtr = std::unique_ptr<BIGNUM, OsslDeleter>;
using BnCtxPtr = std::unique_ptr<BN_CTX, OsslDeleter>;
using EcGroupPtr = std::unique_ptr<EC_GROUP, OsslDeleter>;
using EcPointPtr = std::unique_ptr<EC_POINT, OsslDeleter>;
using EcdsaSigPtr = std::unique_ptr<ECDSA_SIG, OsslDeleter>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, OsslDeleter>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, OsslDeleter>;

// The module's library context: created once, lazily and thread-safely, with only the default provider
// loaded and no configuration file read, so an application's OpenSSL config can never recurse into us.
OSSL_LIB_CTX* libctx();

// Digests and ciphers fetched once from libctx() and kept for the life of the process.
// md_for: CKM_SHA_1 / SHA224 / SHA256 / SHA384 / SHA512, else CKR_MECHANISM_INVALID.
const EVP_MD* md_for(CK_MECHANISM_TYPE m);
enum class AesMode { ecb, cbc, ctr, gcm, wrap, wrap_pad };
// key_len 16/24/32, else CKR_KEY_SIZE_RANGE.
const EVP_CIPHER* aes_cipher(AesMode mode, size_t key_len);
EVP_MAC* hmac_algorithm();
EVP_KDF* hkdf_algorithm();
EVP_KDF* x963kdf_algorithm();

// errors.cpp: the one place OpenSSL failures become CK_RVs. Drains the thread's error queue, logs the
// OpenSSL reason at debug level, and throws Error(rv) (CKR_HOST_MEMORY if OpenSSL ran out of memory).
[[noreturn]] void ossl_fail(CK_RV rv, const char* what);
inline void ossl_check(int ok, CK_RV rv, const char* what) {
  if (ok <= 0) ossl_fail(rv, what);
}

// Big-endian unsigned bytes <-> BIGNUM.
BnPtr to_bn(ByteView v);
SecureBytes from_bn(const BIGNUM* bn, size_t pad_to = 0);

}  // namespace keyseal::crypto
