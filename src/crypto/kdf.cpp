// Argon2id through libargon2 (OpenSSL 3.0 has none) and HKDF-SHA256 through the fetched EVP_KDF.
#include "crypto/kdf.h"

#include "crypto/ossl.h"

#include <argon2.h>
#include <openssl/core_names.h>
#include <openssl/kdf.h>

#include <string>

namespace keyseal::crypto {

SecureBytes argon2id(ByteView secret, ByteView salt, const Argon2Params& p, size_t out_len) {
  SecureBytes out(out_len);
  // libargon2 takes non-const pointers but does not write through them; empty spans may hold nullptr.
  static const uint8_t empty = 0;
  const void* pwd = secret.empty() ? &empty : secret.data();
  const void* s = salt.empty() ? &empty : salt.data();
  int rc = argon2id_hash_raw(p.t_cost, p.m_cost_kib, p.lanes, pwd, secret.size(), s, salt.size(), out.data(),
                             out.size());
  if (rc == ARGON2_MEMORY_ALLOCATION_ERROR) fail(CKR_HOST_MEMORY, "argon2id: out of memory");
  if (rc != ARGON2_OK) fail(CKR_ARGUMENTS_BAD, std::string("argon2id: ") + argon2_error_message(rc));
  return out;
}

SecureBytes hkdf_sha256(ByteView ikm, ByteView salt, ByteView info, size_t out_len) {
  KdfCtxPtr ctx(EVP_KDF_CTX_new(hkdf_algorithm()));
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_KDF_CTX_new");
  static const uint8_t empty = 0;
  auto ptr = [](ByteView v) { return const_cast<uint8_t*>(v.empty() ? &empty : v.data()); };
  char digest[] = "SHA2-256";
  OSSL_PARAM params[5];
  size_t i = 0;
  params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0);
  params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ptr(ikm), ikm.size());
  if (!salt.empty()) params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, ptr(salt), salt.size());
  params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, ptr(info), info.size());
  params[i] = OSSL_PARAM_construct_end();
  require(out_len > 0 && out_len <= 255 * 32, CKR_ARGUMENTS_BAD, "hkdf_sha256: output length out of range");
  SecureBytes out(out_len);
  ossl_check(EVP_KDF_derive(ctx.get(), out.data(), out.size(), params), CKR_FUNCTION_FAILED, "HKDF derive");
  return out;
}

namespace {

// The digest of a KDF's PRF (the module's fetched SHA-1/SHA-2, libctx.cpp): anything else is a bad parameter
// of the mechanism, not an unknown mechanism.
const EVP_MD* kdf_md(CK_MECHANISM_TYPE hash) {
  switch (hash) {
    case CKM_SHA_1: case CKM_SHA224: case CKM_SHA256: case CKM_SHA384: case CKM_SHA512: return md_for(hash);
    default: fail(CKR_MECHANISM_PARAM_INVALID, "unsupported hash for a KDF");
  }
}

// The provider's name of that digest (a mutable buffer: OSSL_PARAM takes char*).
std::string digest_name(CK_MECHANISM_TYPE hash) { return EVP_MD_get0_name(kdf_md(hash)); }

uint8_t* param_ptr(ByteView v) {
  static const uint8_t empty = 0;
  return const_cast<uint8_t*>(v.empty() ? &empty : v.data());
}

}  // namespace

size_t hash_length(CK_MECHANISM_TYPE hash) { return static_cast<size_t>(EVP_MD_get_size(kdf_md(hash))); }

SecureBytes hkdf(CK_MECHANISM_TYPE hash, HkdfMode mode, ByteView key, ByteView salt, ByteView info, size_t out_len) {
  const size_t hlen = hash_length(hash);
  if (mode == HkdfMode::extract_only)
    require(out_len == hlen, CKR_KEY_SIZE_RANGE, "HKDF extract gives exactly the hash length");
  else
    require(out_len >= 1 && out_len <= 255 * hlen, CKR_KEY_SIZE_RANGE, "HKDF expand gives 1 to 255 * HashLen bytes");
  require(!key.empty(), CKR_KEY_SIZE_RANGE, "HKDF needs a non-empty key");
  KdfCtxPtr ctx(EVP_KDF_CTX_new(hkdf_algorithm()));
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_KDF_CTX_new");
  std::string digest = digest_name(hash);
  int ossl_mode = mode == HkdfMode::extract_only  ? EVP_KDF_HKDF_MODE_EXTRACT_ONLY
                  : mode == HkdfMode::expand_only ? EVP_KDF_HKDF_MODE_EXPAND_ONLY
                                                  : EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
  OSSL_PARAM params[6];
  size_t i = 0;
  params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0);
  params[i++] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &ossl_mode);
  params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, param_ptr(key), key.size());
  // No salt: OpenSSL extracts with HashLen zero bytes, which is what RFC 5869 and CKF_HKDF_SALT_NULL mean.
  if (!salt.empty()) params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, param_ptr(salt), salt.size());
  if (!info.empty()) params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, param_ptr(info), info.size());
  params[i] = OSSL_PARAM_construct_end();
  SecureBytes out(out_len);
  ossl_check(EVP_KDF_derive(ctx.get(), out.data(), out.size(), params), CKR_FUNCTION_FAILED, "HKDF derive");
  return out;
}

SecureBytes x963_kdf(CK_MECHANISM_TYPE hash, ByteView z, ByteView shared_info, size_t out_len) {
  // SEC 1 limits the output to (2^32 - 1) hash blocks; no key is anywhere near that, so a key-sized bound
  // keeps an absurd CKA_VALUE_LEN from allocating.
  require(out_len >= 1 && out_len <= 64 * 1024, CKR_KEY_SIZE_RANGE, "X9.63 KDF output length out of range");
  require(!z.empty(), CKR_FUNCTION_FAILED, "X9.63 KDF without a shared secret");
  KdfCtxPtr ctx(EVP_KDF_CTX_new(x963kdf_algorithm()));
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_KDF_CTX_new");
  std::string digest = digest_name(hash);
  OSSL_PARAM params[4];
  size_t i = 0;
  params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest.data(), 0);
  params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, param_ptr(z), z.size());
  if (!shared_info.empty())
    params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, param_ptr(shared_info), shared_info.size());
  params[i] = OSSL_PARAM_construct_end();
  SecureBytes out(out_len);
  ossl_check(EVP_KDF_derive(ctx.get(), out.data(), out.size(), params), CKR_FUNCTION_FAILED, "X9.63 KDF derive");
  return out;
}

SecureBytes hmac_sha256(ByteView key, ByteView data) {
  MacCtxPtr ctx(EVP_MAC_CTX_new(hmac_algorithm()));
  if (!ctx) ossl_fail(CKR_HOST_MEMORY, "EVP_MAC_CTX_new");
  char digest[] = "SHA2-256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  static const uint8_t empty = 0;
  ossl_check(EVP_MAC_init(ctx.get(), key.empty() ? &empty : key.data(), key.size(), params), CKR_FUNCTION_FAILED,
             "HMAC init");
  if (!data.empty()) ossl_check(EVP_MAC_update(ctx.get(), data.data(), data.size()), CKR_FUNCTION_FAILED, "HMAC");
  SecureBytes out(32);
  size_t len = 0;
  ossl_check(EVP_MAC_final(ctx.get(), out.data(), &len, out.size()), CKR_FUNCTION_FAILED, "HMAC final");
  out.resize(len);
  return out;
}

}  // namespace keyseal::crypto
