// Known-answer tests for the KDFs behind CKM_HKDF_DERIVE / CKM_HKDF_DATA (RFC 5869 appendix A, SHA-256 and
// SHA-1, in each of extract+expand, extract only and expand only) and the X9.63 KDF of CKM_ECDH1_DERIVE's
// CKD_SHA*_KDF (NIST CAVS 12.0 "ANS X9.63-2001" sample vectors, every hash), plus their parameter limits.
#include "crypto/kdf.h"
#include "vectors.h"

#include <gtest/gtest.h>

#include <map>

using namespace keyseal;
using namespace keyseal::crypto;
using keyseal::test::hex;
using keyseal::test::read_lines;
using keyseal::test::read_records;
using keyseal::test::rv_of;
using keyseal::test::to_hex;

namespace {

CK_MECHANISM_TYPE hash_named(const std::string& name) {
  if (name == "SHA-1") return CKM_SHA_1;
  if (name == "SHA-224") return CKM_SHA224;
  if (name == "SHA-256") return CKM_SHA256;
  if (name == "SHA-384") return CKM_SHA384;
  if (name == "SHA-512") return CKM_SHA512;
  ADD_FAILURE() << "unknown hash " << name;
  return 0;
}

}  // namespace

TEST(HkdfKat, Rfc5869AllModes) {
  size_t n = 0;
  for (const char* file : {"KDF/rfc-5869-HKDF-SHA256.txt", "KDF/rfc-5869-HKDF-SHA1.txt"}) {
    for (const auto& r : read_records(file)) {
      const CK_MECHANISM_TYPE h = hash_named(r.at("HASH"));
      const SecureBytes ikm = r.bytes("IKM"), salt = r.bytes("SALT"), info = r.bytes("INFO");
      const size_t len = std::stoul(r.at("L"));
      SCOPED_TRACE(std::string(file) + " COUNT " + r.at("COUNT"));
      EXPECT_EQ(to_hex(view(hkdf(h, HkdfMode::extract_and_expand, view(ikm), view(salt), view(info), len))),
                r.at("OKM"));
      EXPECT_EQ(to_hex(view(hkdf(h, HkdfMode::extract_only, view(ikm), view(salt), {}, hash_length(h)))),
                r.at("PRK"));
      const SecureBytes prk = r.bytes("PRK");
      EXPECT_EQ(to_hex(view(hkdf(h, HkdfMode::expand_only, view(prk), {}, view(info), len))), r.at("OKM"));
      ++n;
    }
  }
  EXPECT_EQ(n, 7u);  // test cases 1-3 (SHA-256) and 4-7 (SHA-1; 7 has no salt: HashLen zero bytes)
}

TEST(HkdfKat, Limits) {
  const SecureBytes ikm(22, 0x0b);
  EXPECT_EQ(hkdf(CKM_SHA256, HkdfMode::extract_and_expand, view(ikm), {}, {}, 255 * 32).size(), 255u * 32);
  EXPECT_EQ(rv_of([&] { hkdf(CKM_SHA256, HkdfMode::extract_and_expand, view(ikm), {}, {}, 255 * 32 + 1); }),
            CKR_KEY_SIZE_RANGE);
  EXPECT_EQ(rv_of([&] { hkdf(CKM_SHA256, HkdfMode::expand_only, view(ikm), {}, {}, 0); }), CKR_KEY_SIZE_RANGE);
  EXPECT_EQ(rv_of([&] { hkdf(CKM_SHA256, HkdfMode::extract_only, view(ikm), {}, {}, 31); }), CKR_KEY_SIZE_RANGE);
  EXPECT_EQ(rv_of([&] { hkdf(CKM_MD5, HkdfMode::extract_only, view(ikm), {}, {}, 16); }),
            CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv_of([&] { hkdf(CKM_SHA256, HkdfMode::extract_only, {}, {}, {}, 32); }), CKR_KEY_SIZE_RANGE);
}

// The CAVS file spreads a record over several lines ("[SHA-256]" headers, Z, SharedInfo, per-block lines,
// key_data); only the hash header, Z, SharedInfo and key_data matter here.
TEST(X963Kat, NistCavsAllHashes) {
  CK_MECHANISM_TYPE h = 0;
  std::string z, info;
  size_t n = 0;
  std::map<CK_MECHANISM_TYPE, size_t> per_hash;
  auto value = [](const std::string& line) {
    auto eq = line.find('=');
    std::string v = line.substr(eq + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.pop_back();
    return v;
  };
  for (const std::string& line : read_lines("KDF/ansx963_2001.txt")) {
    if (line.rfind("[SHA-", 0) == 0) h = hash_named(line.substr(1, line.find(']') - 1));
    else if (line.rfind("Z =", 0) == 0) z = value(line);
    else if (line.rfind("SharedInfo =", 0) == 0) info = value(line);
    else if (line.rfind("key_data =", 0) == 0) {
      const std::string want = value(line);
      const SecureBytes zb = hex(z), ib = hex(info);
      EXPECT_EQ(to_hex(view(x963_kdf(h, view(zb), view(ib), want.size() / 2))), want) << "Z = " << z;
      ++n, ++per_hash[h];
    }
  }
  EXPECT_EQ(n, 100u);
  for (CK_MECHANISM_TYPE m : {CKM_SHA_1, CKM_SHA224, CKM_SHA256, CKM_SHA384, CKM_SHA512})
    EXPECT_EQ(per_hash[m], 20u) << m;
}

TEST(X963Kat, Limits) {
  const SecureBytes z(32, 1);
  EXPECT_EQ(rv_of([&] { x963_kdf(CKM_SHA256, view(z), {}, 0); }), CKR_KEY_SIZE_RANGE);
  EXPECT_EQ(rv_of([&] { x963_kdf(CKM_SHA256, {}, {}, 16); }), CKR_FUNCTION_FAILED);
  EXPECT_EQ(rv_of([&] { x963_kdf(CKM_MD5, view(z), {}, 16); }), CKR_MECHANISM_PARAM_INVALID);
  // Counter 1 alone for 32 bytes of SHA-256: SHA-256(Z || 00000001), and the first 16 bytes are its prefix.
  const SecureBytes k32 = x963_kdf(CKM_SHA256, view(z), {}, 32), k16 = x963_kdf(CKM_SHA256, view(z), {}, 16);
  EXPECT_EQ(to_hex(view(k16)), to_hex(view(k32)).substr(0, 32));
}
