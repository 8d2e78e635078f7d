// Message digesting (PKCS#11 3.0 section 5.11) for every digest mechanism the module lists: NIST CAVP SHA
// ShortMsg / RFC 1321 known answers, single-part against multi-part, and OpenSSL on random data.
#include "harness.h"
#include "ops.h"
#include "ossl.h"
#include "vectors.h"

namespace keyseal::conformance {
namespace {

struct DigestCase {
  CK_MECHANISM_TYPE mech;
  const char* name;
  const char* vectors;
  friend void PrintTo(const DigestCase& c, std::ostream* os) { *os << c.name; }
};

class Digest : public P11Test, public testing::WithParamInterface<DigestCase> {};

TEST_P(Digest, KnownAnswers) {
  auto c = GetParam();
  REQUIRE_MECHANISM(c.mech, CKF_DIGEST);
  auto recs = read_vectors(c.vectors);
  ASSERT_FALSE(recs.empty()) << "no vectors at " << config().vectors_dir << "/" << c.vectors;
  int n = 0;
  for (auto& r : recs) {
    if (!r.has("MD") || !r.has("Len") || r.number("Len") % 8) continue;
    Bytes msg = r.number("Len") == 0 ? Bytes{} : r.bytes("Msg");
    Bytes out;
    ASSERT_OK(digest(session_, Mech(c.mech), msg, out)) << "Len " << r.number("Len");
    EXPECT_EQ(hex(out), hex(r.bytes("MD"))) << "Len " << r.number("Len");
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST_P(Digest, MultiPartMatchesSinglePartAndOpenSsl) {
  auto c = GetParam();
  REQUIRE_MECHANISM(c.mech, CKF_DIGEST);
  Bytes msg(1000);
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = uint8_t(i * 31 + 7);
  Bytes one, parts;
  ASSERT_OK(digest(session_, Mech(c.mech), msg, one));
  ASSERT_OK(digest_parts(session_, Mech(c.mech), msg, 77, parts));
  EXPECT_EQ(one, parts);
  EXPECT_EQ(hex(one), hex(ossl::digest(c.mech, msg)));
  EXPECT_EQ(one.size(), digest_len(c.mech));
}

TEST_P(Digest, OutputBufferConvention) {
  auto c = GetParam();
  REQUIRE_MECHANISM(c.mech, CKF_DIGEST);
  Mech m(c.mech);
  Bytes msg = to_bytes("abc");
  ASSERT_OK(p11()->C_DigestInit(session_, m.ptr()));
  CK_ULONG len = 0;
  ASSERT_OK(p11()->C_Digest(session_, msg.data(), msg.size(), nullptr, &len));
  EXPECT_EQ(len, digest_len(c.mech));
  Bytes small(len - 1);
  CK_ULONG small_len = small.size();
  EXPECT_CKR(CKR_BUFFER_TOO_SMALL, p11()->C_Digest(session_, msg.data(), msg.size(), small.data(), &small_len));
  EXPECT_EQ(small_len, len) << "CKR_BUFFER_TOO_SMALL reports the needed length";
  Bytes big(len + 16);
  CK_ULONG big_len = big.size();
  ASSERT_OK(p11()->C_Digest(session_, msg.data(), msg.size(), big.data(), &big_len))
      << "CKR_BUFFER_TOO_SMALL must not end the operation";
  EXPECT_EQ(big_len, len) << "a larger buffer than needed returns the true length";
  EXPECT_EQ(hex(Bytes(big.begin(), big.begin() + len)), hex(ossl::digest(c.mech, msg)));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_Digest(session_, msg.data(), msg.size(), big.data(), &big_len))
      << "a successful C_Digest ends the operation";
}

TEST_P(Digest, DigestKey) {
  auto c = GetParam();
  REQUIRE_MECHANISM(c.mech, CKF_DIGEST);
  Bytes value(32, 0x5a);
  Template t;
  t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET).add(CKA_TOKEN, false);
  t.add(CKA_VALUE, value).add(CKA_SENSITIVE, false).add(CKA_EXTRACTABLE, true);
  CK_OBJECT_HANDLE key;
  ASSERT_OK(p11()->C_CreateObject(session_, t.data(), t.size(), &key));
  Mech m(c.mech);
  ASSERT_OK(p11()->C_DigestInit(session_, m.ptr()));
  Bytes prefix = to_bytes("prefix");
  ASSERT_OK(p11()->C_DigestUpdate(session_, prefix.data(), prefix.size()));
  CK_RV rv = p11()->C_DigestKey(session_, key);
  if (rv == CKR_FUNCTION_NOT_SUPPORTED) GTEST_SKIP() << "C_DigestKey not supported";
  ASSERT_OK(rv);
  Bytes out(64);
  CK_ULONG len = out.size();
  ASSERT_OK(p11()->C_DigestFinal(session_, out.data(), &len));
  out.resize(len);
  Bytes all = prefix;
  all.insert(all.end(), value.begin(), value.end());
  EXPECT_EQ(hex(out), hex(ossl::digest(c.mech, all)));
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, Digest,
                         testing::Values(DigestCase{CKM_MD5, "MD5", "hashes/MD5/rfc-1321.txt"},
                                         DigestCase{CKM_SHA_1, "SHA_1", "hashes/SHA1/SHA1ShortMsg.rsp"},
                                         DigestCase{CKM_SHA224, "SHA224", "hashes/SHA2/SHA224ShortMsg.rsp"},
                                         DigestCase{CKM_SHA256, "SHA256", "hashes/SHA2/SHA256ShortMsg.rsp"},
                                         DigestCase{CKM_SHA384, "SHA384", "hashes/SHA2/SHA384ShortMsg.rsp"},
                                         DigestCase{CKM_SHA512, "SHA512", "hashes/SHA2/SHA512ShortMsg.rsp"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace keyseal::conformance
