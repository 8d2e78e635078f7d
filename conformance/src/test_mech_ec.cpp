// Elliptic-curve mechanisms (PKCS#11 3.0 current mechanisms section 2.3): ECDSA with and without hashing,
// verified by OpenSSL, and ECDH1 derive where the module and OpenSSL (and two module keys) agree.
#include "harness.h"
#include "keys.h"
#include "ops.h"
#include "ossl.h"

namespace keyseal::conformance {
namespace {

struct EcdsaCase {
  CK_MECHANISM_TYPE mech;
  const char* name;
  CK_MECHANISM_TYPE digest;  // applied by the mechanism, or by the caller for CKM_ECDSA
  bool hashes;
  friend void PrintTo(const EcdsaCase& c, std::ostream* os) { *os << c.name; }
};

// Curves the module's EC key size range includes.
std::vector<const Curve*> usable_curves(CK_MECHANISM_TYPE m) {
  std::vector<const Curve*> out;
  auto info = mechanism_info(m);
  if (!info) return out;
  for (auto& c : curves())
    if (c.bits >= info->ulMinKeySize && c.bits <= info->ulMaxKeySize) out.push_back(&c);
  return out;
}

class Ecdsa : public P11Test, public testing::WithParamInterface<EcdsaCase> {};

TEST_P(Ecdsa, SignVerifyAndOpenSslCrossCheck) {
  auto c = GetParam();
  REQUIRE_MECHANISM(c.mech, CKF_SIGN | CKF_VERIFY);
  REQUIRE_MECHANISM(CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
  auto cs = usable_curves(CKM_EC_KEY_PAIR_GEN);
  ASSERT_FALSE(cs.empty()) << "no NIST P curve inside the advertised EC key size range";
  for (auto* curve : cs) {
    auto kp = ec_key_pair(*curve);
    ASSERT_OK(kp.rv) << curve->name;
    auto s = session_;
    Bytes msg = to_bytes("ECDSA conformance message");
    Bytes input = c.hashes ? msg : ossl::digest(c.digest, msg);
    Bytes sig;
    ASSERT_OK(sign(s, Mech(c.mech), kp.priv, input, sig)) << curve->name;
    EXPECT_EQ(sig.size(), 2 * ((curve->bits + 7) / 8)) << curve->name << ": r || s, each as long as the order";
    EXPECT_OK(verify(s, Mech(c.mech), kp.pub, input, sig)) << curve->name;
    std::string err;
    Bytes point = get_attr(s, kp.pub, CKA_EC_POINT);
    EXPECT_TRUE(ossl::ecdsa_verify(curve->openssl_nid, point, c.hashes ? c.digest : 0, input, sig, &err))
        << curve->name << ": " << err;
    Bytes tampered = input;
    tampered[0] ^= 1;
    EXPECT_CKR(CKR_SIGNATURE_INVALID, verify(s, Mech(c.mech), kp.pub, tampered, sig)) << curve->name;
    if (c.hashes) {
      Bytes parts;
      ASSERT_OK(sign_parts(s, Mech(c.mech), kp.priv, msg, 7, parts)) << curve->name;
      EXPECT_OK(verify_parts(s, Mech(c.mech), kp.pub, msg, 5, parts)) << curve->name;
    }
    Bytes short_sig(sig.begin(), sig.end() - 1);
    EXPECT_CKR(CKR_SIGNATURE_LEN_RANGE, verify(s, Mech(c.mech), kp.pub, input, short_sig)) << curve->name;
  }
}

INSTANTIATE_TEST_SUITE_P(Mechanisms, Ecdsa,
                         testing::Values(EcdsaCase{CKM_ECDSA, "ECDSA", CKM_SHA256, false},
                                         EcdsaCase{CKM_ECDSA_SHA1, "ECDSA_SHA1", CKM_SHA_1, true},
                                         EcdsaCase{CKM_ECDSA_SHA224, "ECDSA_SHA224", CKM_SHA224, true},
                                         EcdsaCase{CKM_ECDSA_SHA256, "ECDSA_SHA256", CKM_SHA256, true},
                                         EcdsaCase{CKM_ECDSA_SHA384, "ECDSA_SHA384", CKM_SHA384, true},
                                         EcdsaCase{CKM_ECDSA_SHA512, "ECDSA_SHA512", CKM_SHA512, true}),
                         [](const auto& info) { return std::string(info.param.name); });

class Ecdh : public P11Test {
 protected:
  // Derives a CKK_GENERIC_SECRET of len bytes from our key and the peer's public point, returns its value.
  CK_RV derive(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE priv, const Bytes& peer_point, CK_ULONG len, Bytes& value) {
    CK_ECDH1_DERIVE_PARAMS p{};
    p.kdf = CKD_NULL;
    p.public_data = const_cast<CK_BYTE_PTR>(peer_point.data());
    p.public_data_len = peer_point.size();
    Mech m(CKM_ECDH1_DERIVE, p);
    Template t;
    t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET).add(CKA_TOKEN, false);
    t.add_ulong(CKA_VALUE_LEN, len).add(CKA_SENSITIVE, false).add(CKA_EXTRACTABLE, true);
    CK_OBJECT_HANDLE h;
    CK_RV rv = p11()->C_DeriveKey(s, m.ptr(), priv, t.data(), t.size(), &h);
    if (rv == CKR_OK) value = get_attr(s, h, CKA_VALUE, &rv);
    return rv;
  }
};

TEST_F(Ecdh, ModuleAndOpenSslAgree) {
  REQUIRE_MECHANISM(CKM_ECDH1_DERIVE, CKF_DERIVE);
  REQUIRE_MECHANISM(CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
  auto cs = usable_curves(CKM_ECDH1_DERIVE);
  ASSERT_FALSE(cs.empty());
  for (auto* curve : cs) {
    auto kp = ec_key_pair(*curve);
    ASSERT_OK(kp.rv);
    auto s = session_;
    ossl::EcPeer peer;
    ASSERT_TRUE(ossl::ec_peer_generate(curve->openssl_nid, peer));
    CK_ULONG len = (curve->bits + 7) / 8;
    Bytes ours;
    ASSERT_OK(derive(s, kp.priv, peer.public_point, len, ours)) << curve->name << ": raw uncompressed peer point";
    std::string err;
    Bytes theirs = ossl::ecdh(peer, curve->openssl_nid, get_attr(s, kp.pub, CKA_EC_POINT), &err);
    ASSERT_FALSE(theirs.empty()) << err;
    EXPECT_EQ(hex(ours), hex(theirs)) << curve->name;
  }
}

TEST_F(Ecdh, TwoModuleKeysAgree) {
  REQUIRE_MECHANISM(CKM_ECDH1_DERIVE, CKF_DERIVE);
  REQUIRE_MECHANISM(CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
  auto cs = usable_curves(CKM_ECDH1_DERIVE);
  ASSERT_FALSE(cs.empty());
  const Curve& curve = *cs[0];
  auto a = generate_ec(session_, curve.params, Template().add(CKA_DERIVE, true));
  auto b = generate_ec(session_, curve.params, Template().add(CKA_DERIVE, true));
  ASSERT_OK(a.rv);
  ASSERT_OK(b.rv);
  // Section 2.3.13: the peer's public value may be given raw; modules must accept the raw point.
  Bytes pa = ossl::unwrap_octet_string(get_attr(session_, a.pub, CKA_EC_POINT));
  Bytes pb = ossl::unwrap_octet_string(get_attr(session_, b.pub, CKA_EC_POINT));
  Bytes ab, ba;
  ASSERT_OK(derive(session_, a.priv, pb, 32, ab));
  ASSERT_OK(derive(session_, b.priv, pa, 32, ba));
  EXPECT_EQ(hex(ab), hex(ba));
}

TEST_F(Ecdh, GeneratedKeyAttributes) {
  REQUIRE_MECHANISM(CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
  auto kp = ec_key_pair(curves()[0]);
  ASSERT_OK(kp.rv);
  auto s = session_;
  EXPECT_EQ(get_ulong(s, kp.priv, CKA_KEY_TYPE), CKK_EC);
  EXPECT_EQ(get_ulong(s, kp.pub, CKA_KEY_TYPE), CKK_EC);
  EXPECT_EQ(get_attr(s, kp.pub, CKA_EC_PARAMS), curves()[0].params);
  EXPECT_TRUE(get_bool(s, kp.priv, CKA_LOCAL));
  CK_RV rv;
  get_attr(s, kp.priv, CKA_VALUE, &rv);
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, rv);
}

TEST_F(Ecdh, UnknownCurveIsRefused) {
  REQUIRE_MECHANISM(CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
  // OID 1.2.3.4.5 names no curve.
  auto kp = generate_ec(session_, unhex("06042a030405"));
  EXPECT_CKR_IN(({CKR_CURVE_NOT_SUPPORTED, CKR_ATTRIBUTE_VALUE_INVALID, CKR_DOMAIN_PARAMS_INVALID,
                  CKR_TEMPLATE_INCONSISTENT}),
                kp.rv);
}

}  // namespace
}  // namespace keyseal::conformance
