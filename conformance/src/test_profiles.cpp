// The OASIS PKCS#11 Profiles 3.0 (Baseline Provider, Extended Provider, Authentication Token, Public Certificates
// Token) as tests. A profile runs when the module claims it with a CKO_PROFILE object, or offers no profile objects.
#include "harness.h"
#include "keys.h"
#include "ops.h"
#include "ossl.h"

namespace keyseal::conformance {
namespace {

// PKCS#11 3.0 section 4.13 (profile objects) values that p11-kit's 2.40 header lacks.
constexpr CK_OBJECT_CLASS kCkoProfile = 0x00000009UL;
constexpr CK_ATTRIBUTE_TYPE kCkaProfileId = 0x00000601UL;
constexpr CK_ULONG kCkpBaselineProvider = 1, kCkpExtendedProvider = 2, kCkpAuthenticationToken = 3,
                   kCkpPublicCertificatesToken = 4;

class ProfileTest : public P11Test {
 protected:
  std::vector<CK_ULONG> claimed() {
    std::vector<CK_ULONG> ids;
    for (auto h : find_objects(session_, Template().add_ulong(CKA_CLASS, kCkoProfile)))
      ids.push_back(get_ulong(session_, h, kCkaProfileId));
    return ids;
  }
  // Skips unless the module claims the profile or claims none at all.
  bool applies(CK_ULONG profile) {
    auto ids = claimed();
    return ids.empty() || std::find(ids.begin(), ids.end(), profile) != ids.end();
  }
  bool is_v3() {
    CK_INFO info;
    return p11()->C_GetInfo(&info) == CKR_OK && info.cryptokiVersion.major >= 3;
  }
};

#define REQUIRE_PROFILE(p) \
  if (!applies(p)) GTEST_SKIP() << "the module's CKO_PROFILE objects do not claim this profile"

class Profile_BaselineProvider : public ProfileTest {};
class Profile_ExtendedProvider : public ProfileTest {};
class Profile_AuthenticationToken : public ProfileTest {};
class Profile_PublicCertificatesToken : public ProfileTest {};

TEST_F(Profile_BaselineProvider, ProfileObjectsDescribeTheToken) {
  if (!is_v3()) GTEST_SKIP() << "CKO_PROFILE objects are PKCS#11 3.0; module is 2.x";
  auto ids = claimed();
  EXPECT_FALSE(ids.empty()) << "a 3.0 token states the profiles it implements with CKO_PROFILE objects";
  for (auto id : ids) EXPECT_NE(id, 0u) << "CKP_INVALID_ID";
}

TEST_F(Profile_BaselineProvider, DiscoverLoginFindAndRead) {
  REQUIRE_PROFILE(kCkpBaselineProvider);
  // The consumer's path: slot list, token info, mechanisms, public session, login, find, read, logout.
  CK_ULONG n = 0;
  ASSERT_OK(p11()->C_GetSlotList(CK_TRUE, nullptr, &n));
  CK_TOKEN_INFO ti;
  ASSERT_OK(p11()->C_GetTokenInfo(slot(), &ti));
  ASSERT_FALSE(mechanism_list().empty());
  Session ro(false);
  ASSERT_OK(ro.open_rv());
  ASSERT_OK(login_user(ro));
  CK_RV rv;
  auto all = find_objects(ro, Template(), &rv);
  ASSERT_OK(rv);
  for (auto h : all) {
    CK_RV arv;
    get_ulong(ro, h, CKA_CLASS, &arv);
    EXPECT_OK(arv) << "every object found has a readable CKA_CLASS";
  }
  CK_SESSION_INFO si;
  ASSERT_OK(p11()->C_GetSessionInfo(ro, &si));
  EXPECT_EQ(si.state, CKS_RO_USER_FUNCTIONS);
}

TEST_F(Profile_ExtendedProvider, EveryFunctionIsImplemented) {
  REQUIRE_PROFILE(kCkpExtendedProvider);
  // A function that is implemented checks its session handle: with a closed session it must answer
  // CKR_SESSION_HANDLE_INVALID, never CKR_FUNCTION_NOT_SUPPORTED.
  CK_SESSION_HANDLE s;
  ASSERT_OK(p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &s));
  ASSERT_OK(p11()->C_CloseSession(s));
  auto* f = p11();
  Bytes buf(64);
  CK_ULONG len = buf.size();
  CK_MECHANISM m{CKM_SHA256, nullptr, 0};
  CK_OBJECT_HANDLE h;
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA);
  struct Call {
    const char* name;
    CK_RV rv;
  };
  std::vector<Call> calls = {
      {"C_GetOperationState", f->C_GetOperationState(s, buf.data(), &len)},
      {"C_SetOperationState", f->C_SetOperationState(s, buf.data(), 16, 0, 0)},
      {"C_SignRecoverInit", f->C_SignRecoverInit(s, &m, 1)},
      {"C_VerifyRecoverInit", f->C_VerifyRecoverInit(s, &m, 1)},
      {"C_DigestKey", f->C_DigestKey(s, 1)},
      {"C_DigestEncryptUpdate", f->C_DigestEncryptUpdate(s, buf.data(), 16, buf.data(), &len)},
      {"C_DecryptDigestUpdate", f->C_DecryptDigestUpdate(s, buf.data(), 16, buf.data(), &len)},
      {"C_SignEncryptUpdate", f->C_SignEncryptUpdate(s, buf.data(), 16, buf.data(), &len)},
      {"C_DecryptVerifyUpdate", f->C_DecryptVerifyUpdate(s, buf.data(), 16, buf.data(), &len)},
      {"C_CopyObject", f->C_CopyObject(s, 1, t.data(), t.size(), &h)},
      {"C_GetObjectSize", f->C_GetObjectSize(s, 1, &len)},
      {"C_WrapKey", f->C_WrapKey(s, &m, 1, 2, buf.data(), &len)},
      {"C_UnwrapKey", f->C_UnwrapKey(s, &m, 1, buf.data(), 16, t.data(), t.size(), &h)},
      {"C_DeriveKey", f->C_DeriveKey(s, &m, 1, t.data(), t.size(), &h)},
      {"C_SetPIN", f->C_SetPIN(s, buf.data(), 4, buf.data(), 4)},
      {"C_InitPIN", f->C_InitPIN(s, buf.data(), 4)},
  };
  if (module().fl3) {
    calls.push_back({"C_SessionCancel", module().fl3->C_SessionCancel(s, 0)});
    calls.push_back({"C_LoginUser", module().fl3->C_LoginUser(s, CKU_USER, buf.data(), 4, buf.data(), 4)});
  }
  for (auto& c : calls) EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, c.rv) << c.name;
}

TEST_F(Profile_ExtendedProvider, ObjectLifecycleAndKeyGeneration) {
  REQUIRE_PROFILE(kCkpExtendedProvider);
  REQUIRE_MECHANISM(CKM_AES_KEY_GEN, CKF_GENERATE);
  REQUIRE_MECHANISM(CKM_AES_CBC_PAD, CKF_ENCRYPT | CKF_DECRYPT);
  auto k = generate_aes(session_, 16, Template().add(CKA_TOKEN, true).add(CKA_LABEL, unique_label("ext")));
  ASSERT_OK(k.rv);
  Template lbl;
  lbl.add(CKA_LABEL, unique_label("renamed"));
  EXPECT_OK(p11()->C_SetAttributeValue(session_, k.h, lbl.data(), lbl.size()));
  CK_OBJECT_HANDLE copy;
  Template session_copy;
  session_copy.add(CKA_TOKEN, false);
  ASSERT_OK(p11()->C_CopyObject(session_, k.h, session_copy.data(), session_copy.size(), &copy));
  Bytes iv(16, 1), pt = to_bytes("extended provider"), ct, back;
  ASSERT_OK(encrypt(session_, Mech(CKM_AES_CBC_PAD, iv), k.h, pt, ct));
  ASSERT_OK(decrypt(session_, Mech(CKM_AES_CBC_PAD, iv), copy, ct, back));
  EXPECT_EQ(back, pt) << "the copy is the same key";
  EXPECT_OK(p11()->C_DestroyObject(session_, copy));
  EXPECT_OK(p11()->C_DestroyObject(session_, k.h));
}

// Generates a token key pair for authentication: EC P-256 when offered, else RSA.
KeyPair auth_key(CK_SESSION_HANDLE s, const Bytes& id, CK_MECHANISM_TYPE& mech) {
  Template priv, pub;
  priv.add(CKA_TOKEN, true).add(CKA_ID, id);
  pub.add(CKA_TOKEN, true).add(CKA_ID, id).add(CKA_PRIVATE, false);
  if (has_mechanism(CKM_EC_KEY_PAIR_GEN) && has_mechanism(CKM_ECDSA)) {
    mech = CKM_ECDSA;
    return generate_ec(s, curves()[0].params, priv, pub);
  }
  mech = CKM_RSA_PKCS;
  return generate_rsa(s, rsa_bits(), priv, pub);
}

TEST_F(Profile_AuthenticationToken, KeyAndCertificateFoundByIdAndSign) {
  REQUIRE_PROFILE(kCkpAuthenticationToken);
  Bytes id = to_bytes(unique_label("auth"));
  CK_MECHANISM_TYPE mech;
  auto kp = auth_key(session_, id, mech);
  ASSERT_OK(kp.rv);
  auto cert = ossl::self_signed_certificate("keyseal conformance");
  Template ct;
  ct.add_ulong(CKA_CLASS, CKO_CERTIFICATE).add_ulong(CKA_CERTIFICATE_TYPE, CKC_X_509).add(CKA_TOKEN, true);
  ct.add(CKA_ID, id).add(CKA_SUBJECT, cert.subject).add(CKA_VALUE, cert.der).add(CKA_PRIVATE, false);
  CK_OBJECT_HANDLE ch;
  ASSERT_OK(p11()->C_CreateObject(session_, ct.data(), ct.size(), &ch));
  ASSERT_OK(p11()->C_Logout(session_));
  // Before login: the certificate and public key are visible, the private key is not.
  CK_RV rv;
  EXPECT_EQ(find_objects(session_, Template().add_ulong(CKA_CLASS, CKO_CERTIFICATE).add(CKA_ID, id), &rv).size(), 1u);
  EXPECT_EQ(find_objects(session_, Template().add_ulong(CKA_CLASS, CKO_PUBLIC_KEY).add(CKA_ID, id), &rv).size(), 1u);
  EXPECT_TRUE(find_objects(session_, Template().add_ulong(CKA_CLASS, CKO_PRIVATE_KEY).add(CKA_ID, id), &rv).empty());
  ASSERT_OK(login_user(session_));
  auto privs = find_objects(session_, Template().add_ulong(CKA_CLASS, CKO_PRIVATE_KEY).add(CKA_ID, id), &rv);
  ASSERT_EQ(privs.size(), 1u);
  Bytes data = mech == CKM_ECDSA ? Bytes(32, 0x5c) : digest_info_prefix(CKM_SHA256), sig;
  if (mech == CKM_RSA_PKCS) data.resize(data.size() + 32, 0x5c);
  ASSERT_OK(sign(session_, Mech(mech), privs[0], data, sig));
  std::string err;
  if (mech == CKM_ECDSA) {
    EXPECT_TRUE(ossl::ecdsa_verify(curves()[0].openssl_nid, get_attr(session_, kp.pub, CKA_EC_POINT), 0, data, sig,
                                   &err))
        << err;
  } else {
    EXPECT_TRUE(ossl::rsa_verify(get_attr(session_, kp.pub, CKA_MODULUS),
                                 get_attr(session_, kp.pub, CKA_PUBLIC_EXPONENT), "pkcs1", CKM_SHA256, 0, 0,
                                 Bytes(data.end() - 32, data.end()), sig, true, &err))
        << err;
  }
  EXPECT_OK(p11()->C_DestroyObject(session_, ch));
  EXPECT_OK(p11()->C_DestroyObject(session_, privs[0]));
  EXPECT_OK(p11()->C_DestroyObject(session_, kp.pub));
}

TEST_F(Profile_AuthenticationToken, TokenRequiresLogin) {
  REQUIRE_PROFILE(kCkpAuthenticationToken);
  CK_TOKEN_INFO ti;
  ASSERT_OK(p11()->C_GetTokenInfo(slot(), &ti));
  EXPECT_TRUE(ti.flags & CKF_LOGIN_REQUIRED);
  EXPECT_TRUE(ti.flags & CKF_USER_PIN_INITIALIZED);
  EXPECT_TRUE(ti.flags & CKF_TOKEN_INITIALIZED);
  EXPECT_FALSE(ti.flags & CKF_USER_PIN_LOCKED);
}

TEST_F(Profile_PublicCertificatesToken, CertificatesReadableWithoutLogin) {
  REQUIRE_PROFILE(kCkpPublicCertificatesToken);
  auto cert = ossl::self_signed_certificate("public certificate");
  std::string label = unique_label("cert");
  Template ct;
  ct.add_ulong(CKA_CLASS, CKO_CERTIFICATE).add_ulong(CKA_CERTIFICATE_TYPE, CKC_X_509).add(CKA_TOKEN, true);
  ct.add(CKA_LABEL, label).add(CKA_SUBJECT, cert.subject).add(CKA_ISSUER, cert.issuer);
  ct.add(CKA_SERIAL_NUMBER, cert.serial).add(CKA_VALUE, cert.der).add(CKA_ID, to_bytes(label));
  ct.add(CKA_PRIVATE, false);
  CK_OBJECT_HANDLE h;
  ASSERT_OK(p11()->C_CreateObject(session_, ct.data(), ct.size(), &h));
  ASSERT_OK(p11()->C_Logout(session_));
  {
    Session ro(false);
    ASSERT_OK(ro.open_rv());
    CK_RV rv;
    auto found = find_objects(ro, Template().add_ulong(CKA_CLASS, CKO_CERTIFICATE).add(CKA_LABEL, label), &rv);
    ASSERT_OK(rv);
    ASSERT_EQ(found.size(), 1u) << "a public certificate is found without login";
    EXPECT_EQ(get_attr(ro, found[0], CKA_VALUE), cert.der);
    EXPECT_EQ(get_attr(ro, found[0], CKA_SUBJECT), cert.subject);
    EXPECT_EQ(ossl::certificate_subject(get_attr(ro, found[0], CKA_VALUE)), cert.subject);
    EXPECT_EQ(get_ulong(ro, found[0], CKA_CERTIFICATE_TYPE), CKC_X_509);
    EXPECT_FALSE(get_bool(ro, found[0], CKA_PRIVATE));
  }
  ASSERT_OK(login_user(session_));
  EXPECT_OK(p11()->C_DestroyObject(session_, h));
}

}  // namespace
}  // namespace keyseal::conformance
