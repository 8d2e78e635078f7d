// Key derivation functions (PKCS#11 3.0 current mechanisms 2.43 HKDF, 2.3.8 ECDH1 with the X9.63 KDFs):
// RFC 5869 known answers for CKM_HKDF_DERIVE / CKM_HKDF_DATA in each salt form and mode, the parameter and key
// errors the spec names, and CKM_ECDH1_DERIVE with each CKD_SHA*_KDF between two module keys, checked against
// OpenSSL's X963KDF over the CKD_NULL shared secret. Mechanisms the module does not list are skipped.
#include "harness.h"
#include "keys.h"
#include "ops.h"
#include "vectors.h"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <optional>

namespace keyseal::conformance {
namespace {

CK_HKDF_PARAMS hkdf_params(bool extract, bool expand, CK_MECHANISM_TYPE hash, CK_ULONG salt_type, Bytes* salt,
                           CK_OBJECT_HANDLE salt_key, Bytes* info) {
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

class Kdf : public P11Test {
 protected:
  // Derives an extractable, non-sensitive secret of `len` bytes (none: no CKA_VALUE_LEN) or, for
  // CKM_HKDF_DATA, a data object; returns the rv and the value.
  CK_RV derive(CK_MECHANISM_PTR m, CK_OBJECT_HANDLE base, std::optional<CK_ULONG> len, Bytes& value,
               CK_KEY_TYPE kt = CKK_GENERIC_SECRET) {
    Template t;
    if (m->mechanism == CKM_HKDF_DATA) {
      t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false);
    } else {
      t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, kt).add(CKA_TOKEN, false);
      t.add(CKA_SENSITIVE, false).add(CKA_EXTRACTABLE, true);
    }
    if (len) t.add_ulong(CKA_VALUE_LEN, *len);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    CK_RV rv = p11()->C_DeriveKey(session_, m, base, t.data(), t.size(), &h);
    if (rv == CKR_OK) value = get_attr(session_, h, CKA_VALUE, &rv);
    return rv;
  }
  CK_OBJECT_HANDLE secret(const Bytes& v) {
    SecretKey k = import_secret(session_, CKK_GENERIC_SECRET, v, Template().add(CKA_DERIVE, true));
    EXPECT_OK(k.rv);
    return k.h;
  }
};

// The RFC 5869 files put blank lines inside a test case (after COUNT, before PRK): one case is every record
// from its COUNT to its OKM, merged.
std::vector<VectorRecord> rfc5869_cases(const char* file) {
  std::vector<VectorRecord> out;
  VectorRecord cur;
  for (const auto& r : read_vectors(file)) {
    if (r.has("COUNT")) cur = VectorRecord{};
    for (const auto& [k, v] : r.fields) cur.fields[k] = v;
    if (r.has("OKM")) out.push_back(cur);
  }
  return out;
}

CK_MECHANISM_TYPE hash_named(const std::string& name) { return name == "SHA-1" ? CKM_SHA_1 : CKM_SHA256; }

TEST_F(Kdf, HkdfRfc5869KnownAnswers) {
  REQUIRE_MECHANISM(CKM_HKDF_DERIVE, CKF_DERIVE);
  size_t n = 0;
  for (const char* file : {"KDF/rfc-5869-HKDF-SHA256.txt", "KDF/rfc-5869-HKDF-SHA1.txt"}) {
    ASSERT_TRUE(vectors_available(file)) << file;
    for (const auto& r : rfc5869_cases(file)) {
      SCOPED_TRACE(std::string(file) + " COUNT " + r.fields.at("COUNT"));
      const CK_MECHANISM_TYPE h = hash_named(r.fields.at("Hash"));
      Bytes salt = r.bytes("salt"), info = r.bytes("info");
      const Bytes okm = r.bytes("OKM"), prk = r.bytes("PRK");
      const CK_ULONG len = static_cast<CK_ULONG>(r.number("L"));
      const CK_OBJECT_HANDLE base = secret(r.bytes("IKM"));
      CK_HKDF_PARAMS p = hkdf_params(true, true, h, salt.empty() ? CKF_HKDF_SALT_NULL : CKF_HKDF_SALT_DATA, &salt,
                                     CK_INVALID_HANDLE, &info);
      Mech mech(CKM_HKDF_DERIVE, p);
      Bytes out;
      ASSERT_OK(derive(mech.ptr(), base, len, out));
      EXPECT_EQ(hex(out), hex(okm));
      // Extract only gives the PRK; expand only from the PRK gives the OKM again.
      CK_HKDF_PARAMS x = hkdf_params(true, false, h, p.ulSaltType, &salt, CK_INVALID_HANDLE, nullptr);
      Mech xm(CKM_HKDF_DERIVE, x);
      ASSERT_OK(derive(xm.ptr(), base, std::nullopt, out));
      EXPECT_EQ(hex(out), hex(prk));
      CK_HKDF_PARAMS e = hkdf_params(false, true, h, CKF_HKDF_SALT_NULL, nullptr, CK_INVALID_HANDLE, &info);
      Mech em(CKM_HKDF_DERIVE, e);
      ASSERT_OK(derive(em.ptr(), secret(prk), len, out));
      EXPECT_EQ(hex(out), hex(okm));
      if (!salt.empty()) {  // the salt as a key handle
        CK_HKDF_PARAMS k = hkdf_params(true, true, h, CKF_HKDF_SALT_KEY, nullptr, secret(salt), &info);
        Mech km(CKM_HKDF_DERIVE, k);
        ASSERT_OK(derive(km.ptr(), base, len, out));
        EXPECT_EQ(hex(out), hex(okm));
      }
      ++n;
    }
  }
  EXPECT_EQ(n, 7u);
}

TEST_F(Kdf, HkdfDataMakesADataObject) {
  REQUIRE_MECHANISM(CKM_HKDF_DATA, CKF_DERIVE);
  auto recs = rfc5869_cases("KDF/rfc-5869-HKDF-SHA256.txt");
  ASSERT_FALSE(recs.empty());
  const auto& r = recs[0];
  Bytes salt = r.bytes("salt"), info = r.bytes("info");
  CK_HKDF_PARAMS p = hkdf_params(true, true, CKM_SHA256, CKF_HKDF_SALT_DATA, &salt, CK_INVALID_HANDLE, &info);
  Mech mech(CKM_HKDF_DATA, p);
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false).add_ulong(CKA_VALUE_LEN, r.number("L"));
  CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
  ASSERT_OK(p11()->C_DeriveKey(session_, mech.ptr(), secret(r.bytes("IKM")), t.data(), t.size(), &h));
  EXPECT_EQ(get_ulong(session_, h, CKA_CLASS), CKO_DATA);
  EXPECT_EQ(hex(get_attr(session_, h, CKA_VALUE)), hex(r.bytes("OKM")));
}

TEST_F(Kdf, HkdfParameterAndKeyErrors) {
  REQUIRE_MECHANISM(CKM_HKDF_DERIVE, CKF_DERIVE);
  const CK_OBJECT_HANDLE base = secret(Bytes(32, 7));
  Bytes out;
  // Neither extract nor expand; a salt type the spec does not define; salt data missing for CKF_HKDF_SALT_DATA.
  for (CK_HKDF_PARAMS p : {hkdf_params(false, false, CKM_SHA256, CKF_HKDF_SALT_NULL, nullptr, 0, nullptr),
                           hkdf_params(true, true, CKM_SHA256, 0x80, nullptr, 0, nullptr),
                           hkdf_params(true, true, CKM_SHA256, CKF_HKDF_SALT_DATA, nullptr, 0, nullptr)}) {
    Mech m(CKM_HKDF_DERIVE, p);
    EXPECT_CKR(CKR_MECHANISM_PARAM_INVALID, derive(m.ptr(), base, 32, out));
  }
  // An AES key is no HKDF base key.
  SecretKey aes = import_secret(session_, CKK_AES, Bytes(16, 1), Template().add(CKA_DERIVE, true));
  ASSERT_OK(aes.rv);
  CK_HKDF_PARAMS p = hkdf_params(true, true, CKM_SHA256, CKF_HKDF_SALT_NULL, nullptr, 0, nullptr);
  Mech m(CKM_HKDF_DERIVE, p);
  EXPECT_CKR(CKR_KEY_TYPE_INCONSISTENT, derive(m.ptr(), aes.h, 32, out));
}

struct X963Case {
  CK_ULONG kdf;
  const char* digest;  // OpenSSL's name
  friend void PrintTo(const X963Case& c, std::ostream* os) { *os << c.digest; }
};

// OpenSSL's X963KDF over Z: the reference the module's derived value must equal.
Bytes x963(const char* digest, Bytes z, Bytes info, size_t len) {
  Bytes out(len);
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "X963KDF", nullptr);
  EVP_KDF_CTX* ctx = kdf ? EVP_KDF_CTX_new(kdf) : nullptr;
  OSSL_PARAM params[4];
  size_t i = 0;
  params[i++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(digest), 0);
  params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, z.data(), z.size());
  if (!info.empty()) params[i++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size());
  params[i] = OSSL_PARAM_construct_end();
  if (!ctx || EVP_KDF_derive(ctx, out.data(), out.size(), params) != 1) out.clear();
  EVP_KDF_CTX_free(ctx);
  EVP_KDF_free(kdf);
  return out;
}

class EcdhX963 : public Kdf, public testing::WithParamInterface<X963Case> {};

TEST_P(EcdhX963, TwoModuleKeysAgreeWithOpenSsl) {
  const X963Case c = GetParam();
  REQUIRE_MECHANISM(CKM_ECDH1_DERIVE, CKF_DERIVE);
  REQUIRE_MECHANISM(CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
  auto info = mechanism_info(CKM_ECDH1_DERIVE);
  const Curve* curve = nullptr;
  for (auto& cv : curves())
    if (!curve && cv.bits >= info->ulMinKeySize && cv.bits <= info->ulMaxKeySize) curve = &cv;
  ASSERT_NE(curve, nullptr) << "no curve inside CKM_ECDH1_DERIVE's key size range";
  auto a = generate_ec(session_, curve->params, Template().add(CKA_DERIVE, true));
  auto b = generate_ec(session_, curve->params, Template().add(CKA_DERIVE, true));
  ASSERT_OK(a.rv);
  ASSERT_OK(b.rv);
  Bytes pa = get_attr(session_, a.pub, CKA_EC_POINT), pb = get_attr(session_, b.pub, CKA_EC_POINT);
  auto run = [&](CK_OBJECT_HANDLE priv, Bytes& peer, CK_ULONG kdf, Bytes& shared, std::optional<CK_ULONG> len,
                 Bytes& out) {
    CK_ECDH1_DERIVE_PARAMS p{};
    p.kdf = kdf;
    p.shared_data = shared.empty() ? nullptr : shared.data();
    p.shared_data_len = shared.size();
    p.public_data = peer.data();
    p.public_data_len = peer.size();
    Mech m(CKM_ECDH1_DERIVE, p);
    return derive(m.ptr(), priv, len, out);
  };
  Bytes none, z;
  ASSERT_OK(run(a.priv, pb, CKD_NULL, none, std::nullopt, z));
  Bytes shared = to_bytes("keyseal conformance SharedInfo");
  Bytes ab, ba;
  CK_RV rv = run(a.priv, pb, c.kdf, shared, 48, ab);
  // The spec lets a module offer only some KDFs; one it does not offer is an unsupported parameter.
  if (rv == CKR_MECHANISM_PARAM_INVALID) GTEST_SKIP() << c.digest << " X9.63 KDF not offered by the module";
  ASSERT_OK(rv);
  ASSERT_OK(run(b.priv, pa, c.kdf, shared, 48, ba));
  EXPECT_EQ(hex(ab), hex(ba));
  EXPECT_EQ(hex(ab), hex(x963(c.digest, z, shared, 48)));
  ASSERT_OK(run(a.priv, pb, c.kdf, none, 16, ab));
  EXPECT_EQ(hex(ab), hex(x963(c.digest, z, none, 16)));
}

INSTANTIATE_TEST_SUITE_P(Kdfs, EcdhX963,
                         testing::Values(X963Case{CKD_SHA1_KDF, "SHA1"}, X963Case{CKD_SHA224_KDF, "SHA2-224"},
                                         X963Case{CKD_SHA256_KDF, "SHA2-256"}, X963Case{CKD_SHA384_KDF, "SHA2-384"},
                                         X963Case{CKD_SHA512_KDF, "SHA2-512"}),
                         [](const testing::TestParamInfo<X963Case>& i) {
                           std::string s = i.param.digest;
                           s.erase(std::remove(s.begin(), s.end(), '-'), s.end());
                           return s;
                         });

}  // namespace
}  // namespace keyseal::conformance
