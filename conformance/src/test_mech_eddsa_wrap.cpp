// EdDSA (PKCS#11 3.0 current mechanisms section 2.3.14, RFC 8032 known answers and OpenSSL cross-check) and
// key wrapping round trips (section 5.14 C_WrapKey/C_UnwrapKey with RSA-OAEP, AES key wrap, AES key wrap pad).
#include "harness.h"
#include "keys.h"
#include "ops.h"
#include "ossl.h"

#include <fstream>
#include <map>
#include <sstream>

namespace keyseal::conformance {
namespace {

const Bytes kEd25519Oid = unhex("06032b6570");  // id-Ed25519 (RFC 8410), accepted as CKA_EC_PARAMS in 3.0

class EdDsa : public P11Test {};

TEST_F(EdDsa, Rfc8032KnownAnswers) {
  REQUIRE_MECHANISM(CKM_EDDSA, CKF_SIGN);
  std::ifstream in(config().vectors_dir + "/asymmetric/Ed25519/sign.input");
  ASSERT_TRUE(in) << "missing Ed25519/sign.input";
  std::string line;
  int n = 0;
  while (std::getline(in, line) && n < 8) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string part; std::getline(ss, part, ':');) f.push_back(part);
    if (f.size() < 4) continue;
    Bytes seed = unhex(f[0].substr(0, 64)), pub = unhex(f[1]), msg = unhex(f[2]), sig = unhex(f[3].substr(0, 128));
    Template t;
    t.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY).add_ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS).add(CKA_TOKEN, false);
    t.add(CKA_EC_PARAMS, kEd25519Oid).add(CKA_VALUE, seed).add(CKA_SIGN, true).add(CKA_PRIVATE, true);
    CK_OBJECT_HANDLE h;
    ASSERT_OK(p11()->C_CreateObject(session_, t.data(), t.size(), &h)) << "importing an Ed25519 private key";
    Bytes out;
    ASSERT_OK(sign(session_, Mech(CKM_EDDSA), h, msg, out)) << "vector " << n;
    EXPECT_EQ(hex(out), hex(sig)) << "vector " << n << " (Ed25519 is deterministic)";
    ++n;
  }
  EXPECT_GT(n, 0);
}

TEST_F(EdDsa, GenerateSignVerifyAndOpenSsl) {
  REQUIRE_MECHANISM(CKM_EDDSA, CKF_SIGN | CKF_VERIFY);
  REQUIRE_MECHANISM(CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
  CK_MECHANISM gen{CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
  Template pub, priv;
  pub.add(CKA_TOKEN, false).add(CKA_EC_PARAMS, kEd25519Oid).add(CKA_VERIFY, true);
  priv.add(CKA_TOKEN, false).add(CKA_PRIVATE, true).add(CKA_SENSITIVE, true).add(CKA_SIGN, true);
  CK_OBJECT_HANDLE hpub, hpriv;
  ASSERT_OK(p11()->C_GenerateKeyPair(session_, &gen, pub.data(), pub.size(), priv.data(), priv.size(), &hpub, &hpriv));
  Bytes msg = to_bytes("EdDSA conformance"), sig;
  ASSERT_OK(sign(session_, Mech(CKM_EDDSA), hpriv, msg, sig));
  EXPECT_EQ(sig.size(), 64u);
  EXPECT_OK(verify(session_, Mech(CKM_EDDSA), hpub, msg, sig));
  Bytes point = ossl::unwrap_octet_string(get_attr(session_, hpub, CKA_EC_POINT));
  ASSERT_EQ(point.size(), 32u) << "CKA_EC_POINT holds the 32-byte Ed25519 public key";
  std::string err;
  EXPECT_TRUE(ossl::ed25519_verify(point, msg, sig, &err)) << err;
  sig[10] ^= 1;
  EXPECT_CKR(CKR_SIGNATURE_INVALID, verify(session_, Mech(CKM_EDDSA), hpub, msg, sig));
}

// Ed448 (RFC 8032 section 7.4, pure Ed448). A module lists Edwards curve sizes in bits in its mechanism info
// (255 for Ed25519, 448 for Ed448); one whose CKM_EDDSA stops below 448 has no Ed448 and the test is skipped.
const Bytes kEd448Oid = unhex("06032b6571");                  // id-Ed448 (RFC 8410)
const Bytes kEd448Name = unhex("130a65647761726473343438");   // PrintableString "edwards448" (PKCS#11 3.0)

#define REQUIRE_ED448(m, needed)                                                                     \
  do {                                                                                               \
    REQUIRE_MECHANISM(m, needed);                                                                    \
    const CK_ULONG max_bits = mechanism_info(m)->ulMaxKeySize;                                       \
    if (max_bits < 448) GTEST_SKIP() << mech_name(m) << " lists keys up to " << max_bits << " bits: no Ed448"; \
  } while (0)

struct Ed448Vector {
  const char *name, *sk, *pk, *msg, *sig;
};
const Ed448Vector kEd448Vectors[] = {
    {"Blank",
     "6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef"
     "6e348a3528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b",
     "5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d8"
     "0e96778edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180",
     "",
     "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d"
     "41a591f2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980"
     "ff0d2028d4b18a9df63e006c5d1c2d345b925d8dc00b4104852db99ac"
     "5c7cdda8530a113a0f4dbb61149f05a7363268c71d95808ff2e652600"},
    {"1 octet",
     "c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acd"
     "a2c463afbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e",
     "43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6"
     "798c0866aea01eb00742802b8438ea4cb82169c235160627b4c3a9480",
     "03",
     "26b8f91727bd62897af15e41eb43c377efb9c610d48f2335cb0bd00878"
     "10f4352541b143c4b981b7e18f62de8ccdf633fc1bf037ab7cd779805e"
     "0dbcc0aae1cbcee1afb2e027df36bc04dcecbf154336c19f0af7e0a6"
     "472905e799f1953d2a0ff3348ab21aa4adafd1d234441cf807c03a00"},
};

TEST_F(EdDsa, Ed448Rfc8032KnownAnswers) {
  REQUIRE_ED448(CKM_EDDSA, CKF_SIGN | CKF_VERIFY);
  for (const Ed448Vector& v : kEd448Vectors) {
    for (const Bytes& params : {kEd448Oid, kEd448Name}) {
      SCOPED_TRACE(std::string(v.name) + (params == kEd448Oid ? " (OID)" : " (curve name)"));
      Template t;
      t.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY).add_ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS).add(CKA_TOKEN, false);
      t.add(CKA_EC_PARAMS, params).add(CKA_VALUE, unhex(v.sk)).add(CKA_SIGN, true).add(CKA_PRIVATE, true);
      CK_OBJECT_HANDLE hpriv, hpub;
      ASSERT_OK(p11()->C_CreateObject(session_, t.data(), t.size(), &hpriv)) << "importing an Ed448 private key";
      Template pt;
      pt.add_ulong(CKA_CLASS, CKO_PUBLIC_KEY).add_ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS).add(CKA_TOKEN, false);
      pt.add(CKA_EC_PARAMS, params).add(CKA_EC_POINT, unhex("0439" + std::string(v.pk))).add(CKA_VERIFY, true);
      ASSERT_OK(p11()->C_CreateObject(session_, pt.data(), pt.size(), &hpub)) << "importing an Ed448 public key";
      Bytes msg = unhex(v.msg), sig;
      ASSERT_OK(sign(session_, Mech(CKM_EDDSA), hpriv, msg, sig));
      EXPECT_EQ(hex(sig), v.sig) << "Ed448 is deterministic";
      EXPECT_OK(verify(session_, Mech(CKM_EDDSA), hpub, msg, unhex(v.sig)));
      Bytes bad = unhex(v.sig);
      bad[80] ^= 0x08;
      EXPECT_CKR(CKR_SIGNATURE_INVALID, verify(session_, Mech(CKM_EDDSA), hpub, msg, bad));
    }
  }
}

// The specification's table (2.3.14) names Ed448 by a CK_EDDSA_PARAMS with phFlag FALSE and no context.
TEST_F(EdDsa, Ed448WithPureParameters) {
  REQUIRE_ED448(CKM_EDDSA, CKF_SIGN);
  const Ed448Vector& v = kEd448Vectors[1];
  Template t;
  t.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY).add_ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS).add(CKA_TOKEN, false);
  t.add(CKA_EC_PARAMS, kEd448Oid).add(CKA_VALUE, unhex(v.sk)).add(CKA_SIGN, true).add(CKA_PRIVATE, true);
  CK_OBJECT_HANDLE h;
  ASSERT_OK(p11()->C_CreateObject(session_, t.data(), t.size(), &h));
  CK_EDDSA_PARAMS p{};
  p.phFlag = CK_FALSE;
  Bytes sig;
  ASSERT_OK(sign(session_, Mech(CKM_EDDSA, p), h, unhex(v.msg), sig));
  EXPECT_EQ(hex(sig), v.sig);
}

TEST_F(EdDsa, Ed448GenerateSignVerifyAndOpenSsl) {
  REQUIRE_ED448(CKM_EDDSA, CKF_SIGN | CKF_VERIFY);
  REQUIRE_ED448(CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
  CK_MECHANISM gen{CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
  Template pub, priv;
  pub.add(CKA_TOKEN, false).add(CKA_EC_PARAMS, kEd448Oid).add(CKA_VERIFY, true);
  priv.add(CKA_TOKEN, false).add(CKA_PRIVATE, true).add(CKA_SENSITIVE, true).add(CKA_SIGN, true);
  CK_OBJECT_HANDLE hpub, hpriv;
  ASSERT_OK(p11()->C_GenerateKeyPair(session_, &gen, pub.data(), pub.size(), priv.data(), priv.size(), &hpub, &hpriv));
  Bytes msg = to_bytes("Ed448 conformance"), sig;
  ASSERT_OK(sign(session_, Mech(CKM_EDDSA), hpriv, msg, sig));
  EXPECT_EQ(sig.size(), 114u);
  EXPECT_OK(verify(session_, Mech(CKM_EDDSA), hpub, msg, sig));
  Bytes point = ossl::unwrap_octet_string(get_attr(session_, hpub, CKA_EC_POINT));
  ASSERT_EQ(point.size(), 57u) << "CKA_EC_POINT holds the 57-byte Ed448 public key";
  std::string err;
  EXPECT_TRUE(ossl::ed448_verify(point, msg, sig, &err)) << err;
  sig[100] ^= 1;
  EXPECT_CKR(CKR_SIGNATURE_INVALID, verify(session_, Mech(CKM_EDDSA), hpub, msg, sig));
}

class Wrap : public P11Test {
 protected:
  // An extractable AES key to be wrapped, and a check that another handle is the same key (same ciphertext).
  SecretKey target() {
    return import_secret(session_, CKK_AES, unhex("000102030405060708090a0b0c0d0e0f"),
                         Template().add(CKA_EXTRACTABLE, true).add(CKA_SENSITIVE, true));
  }
  void expect_same_key(CK_OBJECT_HANDLE a, CK_OBJECT_HANDLE b) {
    if (!has_mechanism(CKM_AES_ECB)) return;
    Bytes block(16, 0x3c), ca, cb;
    ASSERT_OK(encrypt(session_, Mech(CKM_AES_ECB), a, block, ca));
    ASSERT_OK(encrypt(session_, Mech(CKM_AES_ECB), b, block, cb));
    EXPECT_EQ(ca, cb) << "the unwrapped key is the wrapped key";
  }
  Template unwrap_template() {
    Template t;
    t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_AES).add(CKA_TOKEN, false);
    t.add(CKA_ENCRYPT, true).add(CKA_DECRYPT, true);
    return t;
  }
  CK_RV wrap(Mech m, CK_OBJECT_HANDLE wrapping, CK_OBJECT_HANDLE key, Bytes& out) {
    CK_ULONG len = 0;
    CK_RV rv = p11()->C_WrapKey(session_, m.ptr(), wrapping, key, nullptr, &len);
    if (rv != CKR_OK) return rv;
    out.assign(len, 0);
    rv = p11()->C_WrapKey(session_, m.ptr(), wrapping, key, out.data(), &len);
    out.resize(len);
    return rv;
  }
};

TEST_F(Wrap, RsaOaepWrapUnwrap) {
  REQUIRE_MECHANISM(CKM_RSA_PKCS_OAEP, CKF_WRAP | CKF_UNWRAP);
  auto kp = rsa_key_pair();
  ASSERT_OK(kp.rv);
  auto k = target();
  ASSERT_OK(k.rv);
  Bytes wrapped;
  ASSERT_OK(wrap(oaep(CKM_SHA_1, {}), kp.pub, k.h, wrapped));
  EXPECT_EQ(wrapped.size() * 8, rsa_bits());
  Template t = unwrap_template();
  CK_OBJECT_HANDLE h;
  Mech m = oaep(CKM_SHA_1, {});
  ASSERT_OK(p11()->C_UnwrapKey(session_, m.ptr(), kp.priv, wrapped.data(), wrapped.size(), t.data(), t.size(), &h));
  expect_same_key(k.h, h);
  EXPECT_FALSE(get_bool(session_, h, CKA_LOCAL)) << "an unwrapped key is not CKA_LOCAL";
}

TEST_F(Wrap, AesKeyWrapUnwrap) {
  REQUIRE_MECHANISM(CKM_AES_KEY_WRAP, CKF_WRAP | CKF_UNWRAP);
  auto kek = import_secret(session_, CKK_AES, Bytes(16, 0x4d));
  ASSERT_OK(kek.rv);
  auto k = target();
  ASSERT_OK(k.rv);
  Bytes wrapped;
  ASSERT_OK(wrap(Mech(CKM_AES_KEY_WRAP), kek.h, k.h, wrapped));
  EXPECT_EQ(wrapped.size(), 24u) << "RFC 3394 adds 8 bytes";
  Template t = unwrap_template();
  CK_OBJECT_HANDLE h;
  Mech m(CKM_AES_KEY_WRAP);
  ASSERT_OK(p11()->C_UnwrapKey(session_, m.ptr(), kek.h, wrapped.data(), wrapped.size(), t.data(), t.size(), &h));
  expect_same_key(k.h, h);
}

TEST_F(Wrap, AesKeyWrapPadOddLength) {
  REQUIRE_MECHANISM(CKM_AES_KEY_WRAP_PAD, CKF_WRAP | CKF_UNWRAP);
  auto kek = import_secret(session_, CKK_AES, Bytes(16, 0x4e));
  ASSERT_OK(kek.rv);
  Bytes value(21, 0x17);
  auto k = import_secret(session_, CKK_GENERIC_SECRET, value, Template().add(CKA_EXTRACTABLE, true));
  ASSERT_OK(k.rv);
  Bytes wrapped;
  ASSERT_OK(wrap(Mech(CKM_AES_KEY_WRAP_PAD), kek.h, k.h, wrapped));
  EXPECT_EQ(wrapped.size() % 8, 0u);
  EXPECT_GT(wrapped.size(), value.size());
  Template t;
  t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET).add(CKA_TOKEN, false);
  t.add(CKA_EXTRACTABLE, true).add(CKA_SENSITIVE, false);
  CK_OBJECT_HANDLE h;
  Mech m(CKM_AES_KEY_WRAP_PAD);
  ASSERT_OK(p11()->C_UnwrapKey(session_, m.ptr(), kek.h, wrapped.data(), wrapped.size(), t.data(), t.size(), &h));
  EXPECT_EQ(hex(get_attr(session_, h, CKA_VALUE)), hex(value));
}

TEST_F(Wrap, UnextractableKeyCannotBeWrapped) {
  REQUIRE_MECHANISM(CKM_AES_KEY_WRAP, CKF_WRAP);
  auto kek = import_secret(session_, CKK_AES, Bytes(16, 0x4f));
  ASSERT_OK(kek.rv);
  auto k = import_secret(session_, CKK_AES, Bytes(16, 0x50), Template().add(CKA_EXTRACTABLE, false));
  ASSERT_OK(k.rv);
  Bytes out(64);
  CK_ULONG len = out.size();
  Mech m(CKM_AES_KEY_WRAP);
  EXPECT_CKR(CKR_KEY_UNEXTRACTABLE, p11()->C_WrapKey(session_, m.ptr(), kek.h, k.h, out.data(), &len));
}

TEST_F(Wrap, WrappingKeyWithoutWrapIsRefused) {
  REQUIRE_MECHANISM(CKM_AES_KEY_WRAP, CKF_WRAP);
  auto kek = import_secret(session_, CKK_AES, Bytes(16, 0x51), Template().add(CKA_WRAP, false));
  ASSERT_OK(kek.rv);
  auto k = target();
  ASSERT_OK(k.rv);
  Bytes out(64);
  CK_ULONG len = out.size();
  Mech m(CKM_AES_KEY_WRAP);
  // Section 5.14: the wrapping key's CKA_WRAP must be CK_TRUE.
  EXPECT_CKR(CKR_KEY_FUNCTION_NOT_PERMITTED, p11()->C_WrapKey(session_, m.ptr(), kek.h, k.h, out.data(), &len));
}

// CKA_WRAP_TEMPLATE / CKA_UNWRAP_TEMPLATE (base spec 4.10, CKF_ARRAY_ATTRIBUTE): the value is an array of
// CK_ATTRIBUTE. The nested Template must outlive every call that passes `as_array` (it holds the pointers).
Bytes as_array(Template& nested) {
  const auto* p = reinterpret_cast<const uint8_t*>(nested.data());
  return Bytes(p, p + nested.size() * sizeof(CK_ATTRIBUTE));
}

// C_GetAttributeValue of an attribute array (5.7.5): the length is count * sizeof(CK_ATTRIBUTE); an array of
// NULL pValues then gets each nested type and length.
TEST_F(Wrap, WrapTemplateReadsBackAsAnAttributeArray) {
  Template nested;
  nested.add(CKA_LABEL, "wrap-me").add_ulong(CKA_KEY_TYPE, CKK_AES);
  auto kek = import_secret(session_, CKK_AES, Bytes(16, 0x52), Template().add(CKA_WRAP_TEMPLATE, as_array(nested)));
  ASSERT_OK(kek.rv);
  CK_ATTRIBUTE q{CKA_WRAP_TEMPLATE, nullptr, 0};
  ASSERT_OK(p11()->C_GetAttributeValue(session_, kek.h, &q, 1));
  ASSERT_EQ(q.ulValueLen, 2 * sizeof(CK_ATTRIBUTE));
  CK_ATTRIBUTE out[2] = {{0, nullptr, 0}, {0, nullptr, 0}};
  q.pValue = out;
  ASSERT_OK(p11()->C_GetAttributeValue(session_, kek.h, &q, 1));
  std::map<CK_ATTRIBUTE_TYPE, CK_ULONG> got = {{out[0].type, out[0].ulValueLen}, {out[1].type, out[1].ulValueLen}};
  EXPECT_EQ(got[CKA_LABEL], 7u);
  EXPECT_EQ(got[CKA_KEY_TYPE], sizeof(CK_ULONG));
}

// C_WrapKey (5.18.4): "If all attributes match according to the C_FindObject rules of attribute matching then
// the wrap will proceed ... If any attribute mismatch occurs on an attempt to wrap a key then the function SHALL
// return CKR_KEY_HANDLE_INVALID." CKR_KEY_NOT_WRAPPABLE ("cannot be wrapped for some token-specific reason") is
// the other reading in use.
TEST_F(Wrap, WrapTemplateLimitsWhatTheKeyWraps) {
  REQUIRE_MECHANISM(CKM_AES_KEY_WRAP, CKF_WRAP);
  Template nested;
  nested.add(CKA_LABEL, "wrap-me");
  auto kek = import_secret(session_, CKK_AES, Bytes(16, 0x53),
                           Template().add(CKA_WRAP, true).add(CKA_WRAP_TEMPLATE, as_array(nested)));
  ASSERT_OK(kek.rv);
  auto ok = import_secret(session_, CKK_AES, Bytes(16, 0x54),
                          Template().add(CKA_EXTRACTABLE, true).add(CKA_LABEL, "wrap-me"));
  ASSERT_OK(ok.rv);
  auto other =
      import_secret(session_, CKK_AES, Bytes(16, 0x55), Template().add(CKA_EXTRACTABLE, true).add(CKA_LABEL, "no"));
  ASSERT_OK(other.rv);
  Bytes wrapped;
  EXPECT_OK(wrap(Mech(CKM_AES_KEY_WRAP), kek.h, ok.h, wrapped));
  EXPECT_CKR_IN(({CKR_KEY_HANDLE_INVALID, CKR_KEY_NOT_WRAPPABLE}),
                wrap(Mech(CKM_AES_KEY_WRAP), kek.h, other.h, wrapped));
}

// C_UnwrapKey (5.18.5): the unwrapping key's CKA_UNWRAP_TEMPLATE "will be added to attributes of the key to be
// unwrapped"; "If any attribute conflict occurs ... the function SHALL return CKR_TEMPLATE_INCONSISTENT".
TEST_F(Wrap, UnwrapTemplateJoinsTheUnwrappedKey) {
  REQUIRE_MECHANISM(CKM_AES_KEY_WRAP, CKF_WRAP | CKF_UNWRAP);
  Template nested;
  nested.add(CKA_LABEL, "from-policy").add(CKA_DECRYPT, false);
  auto kek = import_secret(
      session_, CKK_AES, Bytes(16, 0x56),
      Template().add(CKA_WRAP, true).add(CKA_UNWRAP, true).add(CKA_UNWRAP_TEMPLATE, as_array(nested)));
  ASSERT_OK(kek.rv);
  auto k = target();
  ASSERT_OK(k.rv);
  Bytes wrapped;
  ASSERT_OK(wrap(Mech(CKM_AES_KEY_WRAP), kek.h, k.h, wrapped));
  Mech m(CKM_AES_KEY_WRAP);
  CK_OBJECT_HANDLE h;
  Template clash = unwrap_template();  // CKA_DECRYPT true against the policy's false
  EXPECT_CKR(CKR_TEMPLATE_INCONSISTENT, p11()->C_UnwrapKey(session_, m.ptr(), kek.h, wrapped.data(), wrapped.size(),
                                                           clash.data(), clash.size(), &h));
  Template t = unwrap_template().remove(CKA_DECRYPT);
  ASSERT_OK(p11()->C_UnwrapKey(session_, m.ptr(), kek.h, wrapped.data(), wrapped.size(), t.data(), t.size(), &h));
  EXPECT_EQ(get_attr(session_, h, CKA_LABEL), to_bytes("from-policy"));
  EXPECT_FALSE(get_bool(session_, h, CKA_DECRYPT));
}

}  // namespace
}  // namespace keyseal::conformance
