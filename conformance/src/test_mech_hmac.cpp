// HMAC mechanisms (PKCS#11 3.0 current mechanisms sections 2.20-2.25, sign/verify 5.12/5.13): RFC 2202 and
// RFC 4231 known answers for every key length the module's advertised range allows, multi-part, verify.
#include "harness.h"
#include "keys.h"
#include "ops.h"
#include "vectors.h"

namespace keyseal::conformance {
namespace {

struct HmacCase {
  CK_MECHANISM_TYPE mech;
  const char* name;
  const char* vectors;
  friend void PrintTo(const HmacCase& c, std::ostream* os) { *os << c.name; }
};

class Hmac : public P11Test, public testing::WithParamInterface<HmacCase> {};

TEST_P(Hmac, KnownAnswers) {
  auto c = GetParam();
  REQUIRE_MECHANISM(c.mech, CKF_SIGN | CKF_VERIFY);
  auto info = *mechanism_info(c.mech);
  auto recs = read_vectors(c.vectors);
  ASSERT_FALSE(recs.empty()) << c.vectors;
  int n = 0;
  for (auto& r : recs) {
    Bytes key = r.bytes("Key"), msg = r.bytes("Msg"), md = r.bytes("MD");
    // The key size range of HMAC mechanisms is given in bytes by most modules; run the vectors inside it.
    if (key.empty() || key.size() < info.ulMinKeySize || key.size() > info.ulMaxKeySize) continue;
    auto k = import_secret(session_, CKK_GENERIC_SECRET, key);
    ASSERT_OK(k.rv);
    Bytes mac;
    ASSERT_OK(sign(session_, Mech(c.mech), k.h, msg, mac)) << "key of " << key.size() << " bytes";
    EXPECT_EQ(hex(mac), hex(md)) << "key of " << key.size() << " bytes";
    EXPECT_OK(verify(session_, Mech(c.mech), k.h, msg, md));
    Bytes parts;
    ASSERT_OK(sign_parts(session_, Mech(c.mech), k.h, msg, 13, parts));
    EXPECT_EQ(hex(parts), hex(md)) << "multi-part";
    Bytes bad = md;
    bad[0] ^= 1;
    EXPECT_CKR(CKR_SIGNATURE_INVALID, verify(session_, Mech(c.mech), k.h, msg, bad));
    p11()->C_DestroyObject(session_, k.h);
    ++n;
  }
  // Always at least one run: a key as long as the advertised minimum (bytes), compared by verify.
  if (n == 0) {
    auto k = generic_secret(std::max<CK_ULONG>(info.ulMinKeySize, 1));
    ASSERT_OK(k.rv);
    Bytes mac, msg = to_bytes("message");
    ASSERT_OK(sign(session_, Mech(c.mech), k.h, msg, mac));
    EXPECT_OK(verify(session_, Mech(c.mech), k.h, msg, mac));
  }
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, Hmac,
                         testing::Values(HmacCase{CKM_MD5_HMAC, "MD5_HMAC", "HMAC/rfc-2202-md5.txt"},
                                         HmacCase{CKM_SHA_1_HMAC, "SHA_1_HMAC", "HMAC/rfc-2202-sha1.txt"},
                                         HmacCase{CKM_SHA224_HMAC, "SHA224_HMAC", "HMAC/rfc-4231-sha224.txt"},
                                         HmacCase{CKM_SHA256_HMAC, "SHA256_HMAC", "HMAC/rfc-4231-sha256.txt"},
                                         HmacCase{CKM_SHA384_HMAC, "SHA384_HMAC", "HMAC/rfc-4231-sha384.txt"},
                                         HmacCase{CKM_SHA512_HMAC, "SHA512_HMAC", "HMAC/rfc-4231-sha512.txt"}),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace keyseal::conformance
