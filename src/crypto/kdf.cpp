// Argon2id through libargon2 (OpenSSL 3.0 has none) and HKDF-SHA256 through the fetched EVP_KDF.
#include "crypto/kdf.h"

#include "crypto/ossl.h"

#include <argon2.h>
#include <openssl/core_names.h>

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
