// C_DeriveKey through the module (PKCS#11 3.0 current mechanisms 2.43 HKDF, 2.3.8 ECDH1 with X9.63 KDFs):
// RFC 5869 known answers for CKM_HKDF_DERIVE and CKM_HKDF_DATA (read back as CKA_VALUE of an extractable,
// non-sensitive result), each salt form, extract-only and expand-only, the parameter errors the spec names;
// ECDH with every CKD_SHA*_KDF both ways between two key pairs, checked against OpenSSL's X963KDF.
#include "fixture.h"

#include "../crypto/vectors.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

namespace keyseal::test {
namespace {

CK_BBOOL kYes = CK_TRUE, kNo = CK_FALSE;

CK_MECHANISM_TYPE hash_named(const std::string& name) { return name == "SHA-1" ? CKM_SHA_1 : CKM_SHA256; }

std::vector<uint8_t> vec(const SecureBytes& b) { return std::vector<uint8_t>(b.begin(), b.end()); }

class DeriveTest : public ModuleTest {
 protected:
  // A session secret key with CKA_DERIVE holding `value` (CKK_GENERIC_SECRET or CKK_HKDF).
  CK_OBJECT_HANDLE secret(CK_SESSION_HANDLE s, const std::vector<uint8_t>& value, CK_KEY_TYPE kt = CKK_GENERIC_SECRET,
                          bool derive = true) {
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_BBOOL d = derive ? CK_TRUE : CK_FALSE;
    std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_KEY_TYPE, &kt, sizeof kt),
                                   attr(CKA_VALUE, value.data(), value.size()), attr(CKA_DERIVE, &d, 1)};
    CK_OBJECT_HANDLE h = 0;
    EXPECT_EQ(C_CreateObject(s, t.data(), t.size(), &h), CKR_OK);
    return h;
  }
  // Derives an extractable, non-sensitive key (or a data object for CKM_HKDF_DATA) and returns the rv; the
  // value lands in *out.
  CK_RV derive(CK_SESSION_HANDLE s, CK_MECHANISM m, CK_OBJECT_HANDLE base, CK_ULONG len, std::vector<uint8_t>* out,
               CK_KEY_TYPE kt = CKK_GENERIC_SECRET, bool with_len = true) {
    CK_OBJECT_CLASS cls = m.mechanism == CKM_HKDF_DATA ? CKO_DATA : CKO_SECRET_KEY;
    std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls)};
    if (cls == CKO_SECRET_KEY) {
      t.push_back(attr(CKA_KEY_TYPE, &kt, sizeof kt));
      t.push_back(attr(CKA_SENSITIVE, &kNo, 1));
      t.push_back(attr(CKA_EXTRACTABLE, &kYes, 1));
    }
    if (with_len) t.push_back(attr(CKA_VALUE_LEN, &len, sizeof len));
    CK_OBJECT_HANDLE h = 0;
    CK_RV rv = C_DeriveKey(s, &m, base, t.data(), t.size(), &h);
    if (rv == CKR_OK && out) *out = get(s, h, CKA_VALUE);
    if (rv != CKR_OK) {
      EXPECT_EQ(h, CK_INVALID_HANDLE);
    }
    return rv;
  }
};

CK_HKDF_PARAMS hkdf_params(bool extract, bool expand, CK_MECHANISM_TYPE hash, CK_ULONG salt_type,
                           std::vector<uint8_t>* salt, CK_OBJECT_HANDLE salt_key, std::vector<uint8_t>* info) {
  CK_HKDF_PARAMS p{};
  p.bExtract = extract ? CK_TRUE : CK_FALSE;
  p.bExpand = expand ? CK_TRUE : CK_FALSE;
  p.prfHashMechanism = hash;
  p.ulSaltType = salt_type;
  p.pSalt = salt && !salt->empty() ? salt->data() : nullptr;
  p.ulSaltLen = salt ? salt->size() : 0;
  p.hSaltKey = salt_key;
  p.pInfo = info && !info->empty() ? info->data() : nullptr;
  p.ulInfoLen = info ? info->size() : 0;
  return p;
}

TEST_F(DeriveTest, HkdfRfc5869ThroughTheModule) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  size_t n = 0;
  for (const char* file : {"KDF/rfc-5869-HKDF-SHA256.txt", "KDF/rfc-5869-HKDF-SHA1.txt"}) {
    for (const auto& r : read_records(file)) {
      SCOPED_TRACE(std::string(file) + " COUNT " + r.at("COUNT"));
      const CK_MECHANISM_TYPE h = hash_named(r.at("HASH"));
      std::vector<uint8_t> ikm = vec(r.bytes("IKM")), salt = vec(r.bytes("SALT")), info = vec(r.bytes("INFO"));
      const std::vector<uint8_t> okm = vec(r.bytes("OKM")), prk = vec(r.bytes("PRK"));
      const CK_ULONG len = std::stoul(r.at("L"));
      // Every other base key is a CKK_HKDF key: both key types are base keys.
      const CK_OBJECT_HANDLE base = secret(s, ikm, n % 2 ? CKK_HKDF : CKK_GENERIC_SECRET);
      const CK_ULONG salt_type = salt.empty() ? CKF_HKDF_SALT_NULL : CKF_HKDF_SALT_DATA;
      // Extract and expand, as a key and as data.
      CK_HKDF_PARAMS p = hkdf_params(true, true, h, salt_type, &salt, CK_INVALID_HANDLE, &info);
      std::vector<uint8_t> out;
      EXPECT_EQ(derive(s, {CKM_HKDF_DERIVE, &p, sizeof p}, base, len, &out), CKR_OK);
      EXPECT_EQ(out, okm);
      out.clear();
      EXPECT_EQ(derive(s, {CKM_HKDF_DATA, &p, sizeof p}, base, len, &out), CKR_OK);
      EXPECT_EQ(out, okm);
      // Extract only: the PRK, with or without CKA_VALUE_LEN.
      CK_HKDF_PARAMS x = hkdf_params(true, false, h, salt_type, &salt, CK_INVALID_HANDLE, nullptr);
      out.clear();
      EXPECT_EQ(derive(s, {CKM_HKDF_DERIVE, &x, sizeof x}, base, 0, &out, CKK_GENERIC_SECRET, false), CKR_OK);
      EXPECT_EQ(out, prk);
      // Expand only from the PRK as the base key.
      const CK_OBJECT_HANDLE prk_key = secret(s, prk, CKK_HKDF);
      CK_HKDF_PARAMS e = hkdf_params(false, true, h, 0, nullptr, CK_INVALID_HANDLE, &info);
      out.clear();
      EXPECT_EQ(derive(s, {CKM_HKDF_DERIVE, &e, sizeof e}, prk_key, len, &out), CKR_OK);
      EXPECT_EQ(out, okm);
      // The salt as a key.
      if (!salt.empty()) {
        const CK_OBJECT_HANDLE sk = secret(s, salt);
        CK_HKDF_PARAMS k = hkdf_params(true, true, h, CKF_HKDF_SALT_KEY, nullptr, sk, &info);
        out.clear();
        EXPECT_EQ(derive(s, {CKM_HKDF_DERIVE, &k, sizeof k}, base, len, &out), CKR_OK);
        EXPECT_EQ(out, okm);
      }
      ++n;
    }
  }
  EXPECT_EQ(n, 7u);
}

TEST_F(DeriveTest, HkdfDerivedKeyTypesAndObjects) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  const CK_OBJECT_HANDLE base = secret(s, std::vector<uint8_t>(32, 7));
  CK_HKDF_PARAMS p = hkdf_params(true, true, CKM_SHA256, CKF_HKDF_SALT_NULL, nullptr, CK_INVALID_HANDLE, nullptr);
  CK_MECHANISM m{CKM_HKDF_DERIVE, &p, sizeof p};
  // An AES key of the template's length, usable as one.
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE aes = CKK_AES;
  CK_ULONG len = 16;
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_KEY_TYPE, &aes, sizeof aes),
                                 attr(CKA_VALUE_LEN, &len, sizeof len), attr(CKA_ENCRYPT, &kYes, 1)};
  CK_OBJECT_HANDLE k = 0;
  ASSERT_EQ(C_DeriveKey(s, &m, base, t.data(), t.size(), &k), CKR_OK);
  CK_KEY_TYPE got_kt = 0;
  CK_ULONG got_len = 0;
  CK_BBOOL local = CK_TRUE;
  std::vector<CK_ATTRIBUTE> q = {attr(CKA_KEY_TYPE, &got_kt, sizeof got_kt), attr(CKA_VALUE_LEN, &got_len, sizeof got_len),
                                 attr(CKA_LOCAL, &local, 1)};
  ASSERT_EQ(C_GetAttributeValue(s, k, q.data(), q.size()), CKR_OK);
  EXPECT_EQ(got_kt, CKK_AES);
  EXPECT_EQ(got_len, 16u);
  EXPECT_EQ(local, CK_FALSE);
  CK_MECHANISM ecb{CKM_AES_ECB, nullptr, 0};
  EXPECT_EQ(C_EncryptInit(s, &ecb, k), CKR_OK);
  // The derived key is sensitive by default: its value stays inside.
  std::vector<CK_ATTRIBUTE> v = {attr(CKA_VALUE, nullptr, 0)};
  EXPECT_EQ(C_GetAttributeValue(s, k, v.data(), v.size()), CKR_ATTRIBUTE_SENSITIVE);
  // AES of a length AES does not have; no length at all for an expanding derivation.
  len = 20;
  EXPECT_EQ(C_DeriveKey(s, &m, base, t.data(), t.size(), &k), CKR_ATTRIBUTE_VALUE_INVALID);
  std::vector<CK_ATTRIBUTE> nolen = {attr(CKA_CLASS, &cls, sizeof cls)};
  EXPECT_EQ(C_DeriveKey(s, &m, base, nolen.data(), nolen.size(), &k), CKR_TEMPLATE_INCOMPLETE);
  // CKM_HKDF_DATA gives a CKO_DATA object holding the bytes.
  CK_MECHANISM dm{CKM_HKDF_DATA, &p, sizeof p};
  CK_OBJECT_CLASS data = CKO_DATA;
  len = 12;
  std::vector<CK_ATTRIBUTE> dt = {attr(CKA_CLASS, &data, sizeof data), attr(CKA_VALUE_LEN, &len, sizeof len)};
  CK_OBJECT_HANDLE d = 0;
  ASSERT_EQ(C_DeriveKey(s, &dm, base, dt.data(), dt.size(), &d), CKR_OK);
  CK_OBJECT_CLASS got_cls = 0;
  std::vector<CK_ATTRIBUTE> dq = {attr(CKA_CLASS, &got_cls, sizeof got_cls)};
  ASSERT_EQ(C_GetAttributeValue(s, d, dq.data(), dq.size()), CKR_OK);
  EXPECT_EQ(got_cls, CKO_DATA);
  EXPECT_EQ(get(s, d, CKA_VALUE).size(), 12u);
  // ... and nothing but a data object.
  EXPECT_EQ(C_DeriveKey(s, &dm, base, t.data(), t.size(), &d), CKR_TEMPLATE_INCONSISTENT);
  // CKM_HKDF_KEY_GEN makes CKK_HKDF keys that derive.
  CK_MECHANISM gen{CKM_HKDF_KEY_GEN, nullptr, 0};
  len = 32;
  std::vector<CK_ATTRIBUTE> gt = {attr(CKA_VALUE_LEN, &len, sizeof len), attr(CKA_DERIVE, &kYes, 1)};
  CK_OBJECT_HANDLE hk = 0;
  ASSERT_EQ(C_GenerateKey(s, &gen, gt.data(), gt.size(), &hk), CKR_OK);
  got_kt = 0;
  std::vector<CK_ATTRIBUTE> hq = {attr(CKA_KEY_TYPE, &got_kt, sizeof got_kt)};
  ASSERT_EQ(C_GetAttributeValue(s, hk, hq.data(), hq.size()), CKR_OK);
  EXPECT_EQ(got_kt, CKK_HKDF);
  EXPECT_EQ(derive(s, m, hk, 40, nullptr), CKR_OK);
}

TEST_F(DeriveTest, HkdfParameterAndKeyErrors) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  const CK_OBJECT_HANDLE base = secret(s, std::vector<uint8_t>(32, 7));
  std::vector<uint8_t> salt = {1, 2, 3}, info = {4, 5};
  auto rv = [&](CK_HKDF_PARAMS p, CK_OBJECT_HANDLE key = 0, CK_ULONG len = 32) {
    return derive(s, {CKM_HKDF_DERIVE, &p, sizeof p}, key ? key : base, len, nullptr);
  };
  EXPECT_EQ(rv(hkdf_params(false, false, CKM_SHA256, CKF_HKDF_SALT_NULL, nullptr, 0, nullptr)),
            CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv(hkdf_params(true, true, CKM_MD5, CKF_HKDF_SALT_NULL, nullptr, 0, nullptr)), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv(hkdf_params(true, true, CKM_SHA256, 8, nullptr, 0, nullptr)), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv(hkdf_params(true, true, CKM_SHA256, CKF_HKDF_SALT_NULL, &salt, 0, nullptr)),
            CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv(hkdf_params(true, true, CKM_SHA256, CKF_HKDF_SALT_DATA, nullptr, 0, nullptr)),
            CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv(hkdf_params(true, true, CKM_SHA256, CKF_HKDF_SALT_KEY, nullptr, CK_INVALID_HANDLE, nullptr)),
            CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv(hkdf_params(true, true, CKM_SHA256, CKF_HKDF_SALT_KEY, nullptr, 0xdead, nullptr)),
            CKR_MECHANISM_PARAM_INVALID);
  // A salt key of the wrong kind, or one that may not derive.
  const CK_OBJECT_HANDLE aes = aes_key(s, 16, true);
  EXPECT_EQ(rv(hkdf_params(true, true, CKM_SHA256, CKF_HKDF_SALT_KEY, nullptr, aes, nullptr)),
            CKR_KEY_TYPE_INCONSISTENT);
  const CK_OBJECT_HANDLE no_derive = secret(s, salt, CKK_GENERIC_SECRET, false);
  EXPECT_EQ(rv(hkdf_params(true, true, CKM_SHA256, CKF_HKDF_SALT_KEY, nullptr, no_derive, nullptr)),
            CKR_KEY_FUNCTION_NOT_PERMITTED);
  // The wrong size of parameter, none at all.
  CK_HKDF_PARAMS p = hkdf_params(true, true, CKM_SHA256, CKF_HKDF_SALT_DATA, &salt, 0, &info);
  CK_MECHANISM short_m{CKM_HKDF_DERIVE, &p, sizeof p - 1};
  EXPECT_EQ(derive(s, short_m, base, 32, nullptr), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(derive(s, {CKM_HKDF_DERIVE, nullptr, 0}, base, 32, nullptr), CKR_MECHANISM_PARAM_INVALID);
  // Base keys HKDF cannot use: AES, an EC private key; a key without CKA_DERIVE.
  EXPECT_EQ(rv(p, aes), CKR_KEY_TYPE_INCONSISTENT);
  auto [ecpub, ecpriv] = ec_pair(s, false, "ec", kP256);
  EXPECT_EQ(rv(p, ecpriv), CKR_KEY_TYPE_INCONSISTENT);
  EXPECT_EQ(rv(p, no_derive), CKR_KEY_FUNCTION_NOT_PERMITTED);
  // Lengths: expand beyond 255 * HashLen; extract-only with a length other than the hash's.
  EXPECT_EQ(rv(p, 0, 255 * 32 + 1), CKR_KEY_SIZE_RANGE);
  EXPECT_EQ(rv(hkdf_params(true, false, CKM_SHA256, CKF_HKDF_SALT_NULL, nullptr, 0, nullptr), 0, 16),
            CKR_TEMPLATE_INCONSISTENT);
  // None of the refusals left an object behind: only the keys made above exist.
  CK_OBJECT_CLASS sec = CKO_SECRET_KEY;
  EXPECT_EQ(find(s, {attr(CKA_CLASS, &sec, sizeof sec)}).size(), 3u);
}

// X9.63 KDF oracle: OpenSSL's own EVP_KDF "X963KDF" on the default library context.
std::vector<uint8_t> x963(const char* digest, const std::vector<uint8_t>& z, std::vector<uint8_t> info, size_t len) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "X963KDF", nullptr);
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  std::vector<uint8_t> zz = z;
  OSSL_PARAM params[4];
  size_t i = 0;
  params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0);
  params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, zz.data(), zz.size());
  if (!info.empty()) params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size());
  params[i] = OSSL_PARAM_construct_end();
  std::vector<uint8_t> out(len);
  EXPECT_EQ(EVP_KDF_derive(ctx, out.data(), out.size(), params), 1);
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return out;
}

TEST_F(DeriveTest, EcdhX963KdfsBothWaysMatchOpenSsl) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  for (const auto* params : {&kP256, &kP384}) {
    auto [apub, apriv] = ec_pair(s, false, "alice", *params);
    auto [bpub, bpriv] = ec_pair(s, false, "bob", *params);
    auto point_a = get(s, apub, CKA_EC_POINT), point_b = get(s, bpub, CKA_EC_POINT);
    auto run = [&](CK_OBJECT_HANDLE priv, std::vector<uint8_t>& peer, CK_ULONG kdf, std::vector<uint8_t> shared,
                   CK_ULONG len, CK_KEY_TYPE kt, std::vector<uint8_t>* out, bool with_len = true) {
      CK_ECDH1_DERIVE_PARAMS p{kdf, shared.size(), shared.empty() ? nullptr : shared.data(), peer.size(), peer.data()};
      return derive(s, {CKM_ECDH1_DERIVE, &p, sizeof p}, priv, len, out, kt, with_len);
    };
    std::vector<uint8_t> z;
    ASSERT_EQ(run(apriv, point_b, CKD_NULL, {}, 0, CKK_GENERIC_SECRET, &z, false), CKR_OK);
    const std::vector<uint8_t> shared = {'c', 'm', 's', 0x30, 0x0d};
    struct K { CK_ULONG kdf; const char* digest; };
    for (K k : {K{CKD_SHA1_KDF, "SHA1"}, K{CKD_SHA224_KDF, "SHA2-224"}, K{CKD_SHA256_KDF, "SHA2-256"},
                K{CKD_SHA384_KDF, "SHA2-384"}, K{CKD_SHA512_KDF, "SHA2-512"}}) {
      SCOPED_TRACE(k.digest);
      for (const std::vector<uint8_t>& info : {std::vector<uint8_t>{}, shared}) {
        std::vector<uint8_t> a, b;
        ASSERT_EQ(run(apriv, point_b, k.kdf, info, 32, CKK_AES, &a), CKR_OK);
        ASSERT_EQ(run(bpriv, point_a, k.kdf, info, 32, CKK_AES, &b), CKR_OK);
        EXPECT_EQ(a, b);
        EXPECT_EQ(a, x963(k.digest, z, info, 32));
      }
      // A length longer than one hash block, as a generic secret.
      std::vector<uint8_t> lng;
      ASSERT_EQ(run(apriv, point_b, k.kdf, shared, 100, CKK_GENERIC_SECRET, &lng), CKR_OK);
      EXPECT_EQ(lng, x963(k.digest, z, shared, 100));
      // A KDF needs a length: an AES key without CKA_VALUE_LEN says nothing about it.
      EXPECT_EQ(run(apriv, point_b, k.kdf, shared, 0, CKK_AES, nullptr, false), CKR_TEMPLATE_INCOMPLETE);
    }
    // Shared data with CKD_NULL, an unknown KDF and the X9.42 forms are refused.
    EXPECT_EQ(run(apriv, point_b, CKD_NULL, shared, 32, CKK_GENERIC_SECRET, nullptr), CKR_MECHANISM_PARAM_INVALID);
    EXPECT_EQ(run(apriv, point_b, 0x99, {}, 32, CKK_GENERIC_SECRET, nullptr), CKR_MECHANISM_PARAM_INVALID);
    EXPECT_EQ(run(apriv, point_b, CKD_SHA1_KDF_ASN1, {}, 32, CKK_GENERIC_SECRET, nullptr), CKR_MECHANISM_PARAM_INVALID);
  }
}

TEST_F(DeriveTest, MechanismInfoForTheKdfs) {
  CK_MECHANISM_INFO info;
  for (CK_MECHANISM_TYPE m : {CKM_HKDF_DERIVE, CKM_HKDF_DATA}) {
    ASSERT_EQ(C_GetMechanismInfo(slot_, m, &info), CKR_OK);
    EXPECT_EQ(info.flags, CKF_DERIVE);
  }
  ASSERT_EQ(C_GetMechanismInfo(slot_, CKM_HKDF_KEY_GEN, &info), CKR_OK);
  EXPECT_EQ(info.flags, CKF_GENERATE);
  ASSERT_EQ(C_GetMechanismInfo(slot_, CKM_ECDH1_DERIVE, &info), CKR_OK);
  EXPECT_NE(info.flags & CKF_DERIVE, 0u);
}

}  // namespace
}  // namespace keyseal::test
