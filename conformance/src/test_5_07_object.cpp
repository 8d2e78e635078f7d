// Chapter 5.7 (object management) with the object model of chapter 4: create/copy/destroy/find, attribute
// size queries and CK_UNAVAILABLE_INFORMATION, sensitive/extractable rules, read-only attributes, private objects.
#include "harness.h"
#include "keys.h"
#include "ossl.h"

#include <algorithm>
#include <cstring>

namespace keyseal::conformance {
namespace {

class Objects : public P11Test {
 protected:
  CK_OBJECT_HANDLE create_data(bool token, bool priv, const std::string& label, const std::string& value = "v") {
    Template t;
    t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, token).add(CKA_PRIVATE, priv).add(CKA_LABEL, label);
    t.add(CKA_APPLICATION, "keyseal-conformance").add(CKA_VALUE, value);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    EXPECT_OK(p11()->C_CreateObject(session_, t.data(), t.size(), &h));
    if (token) token_objects_.push_back(h);
    return h;
  }
  void TearDown() override {
    for (auto h : token_objects_) p11()->C_DestroyObject(session_, h);
    P11Test::TearDown();
  }
  bool is_v3() const {
    CK_INFO info;
    return p11()->C_GetInfo(&info) == CKR_OK && info.cryptokiVersion.major >= 3;
  }
  std::vector<CK_OBJECT_HANDLE> token_objects_;
};

TEST_F(Objects, CreateAndReadBackDataObject) {
  std::string label = unique_label("data");
  auto h = create_data(false, false, label, "hello");
  EXPECT_EQ(get_attr(session_, h, CKA_VALUE), to_bytes("hello"));
  EXPECT_EQ(get_attr(session_, h, CKA_LABEL), to_bytes(label));
  EXPECT_EQ(get_ulong(session_, h, CKA_CLASS), CKO_DATA);
  EXPECT_FALSE(get_bool(session_, h, CKA_TOKEN));
  EXPECT_TRUE(get_bool(session_, h, CKA_MODIFIABLE)) << "CKA_MODIFIABLE defaults to CK_TRUE";
}

TEST_F(Objects, AttributeSizeConvention) {
  auto h = create_data(false, false, unique_label("size"), "0123456789");
  CK_ATTRIBUTE a{CKA_VALUE, nullptr, 0};
  ASSERT_OK(p11()->C_GetAttributeValue(session_, h, &a, 1));
  EXPECT_EQ(a.ulValueLen, 10u) << "NULL pValue returns the length";
  Bytes big(64, 0xee);
  a.pValue = big.data();
  a.ulValueLen = big.size();
  ASSERT_OK(p11()->C_GetAttributeValue(session_, h, &a, 1));
  EXPECT_EQ(a.ulValueLen, 10u) << "a larger buffer than needed returns the true length";
  EXPECT_EQ(Bytes(big.begin(), big.begin() + 10), to_bytes("0123456789"));
}

TEST_F(Objects, AttributeBufferTooSmall) {
  auto h = create_data(false, false, unique_label("small"), "0123456789");
  Bytes small(4);
  CK_ATTRIBUTE a{CKA_VALUE, small.data(), small.size()};
  EXPECT_CKR(CKR_BUFFER_TOO_SMALL, p11()->C_GetAttributeValue(session_, h, &a, 1));
  EXPECT_EQ(a.ulValueLen, CK_UNAVAILABLE_INFORMATION) << "section 5.7: ulValueLen is CK_UNAVAILABLE_INFORMATION";
}

TEST_F(Objects, AttributeTypeInvalidStillFillsOthers) {
  auto h = create_data(false, false, unique_label("inv"), "abc");
  Bytes v(8), l(64);
  CK_ATTRIBUTE a[] = {{CKA_VALUE, v.data(), v.size()}, {CKA_MODULUS, nullptr, 0}, {CKA_LABEL, nullptr, 0}};
  EXPECT_CKR(CKR_ATTRIBUTE_TYPE_INVALID, p11()->C_GetAttributeValue(session_, h, a, 3));
  EXPECT_EQ(a[0].ulValueLen, 3u);
  EXPECT_EQ(Bytes(v.begin(), v.begin() + 3), to_bytes("abc"));
  EXPECT_EQ(a[1].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_NE(a[2].ulValueLen, CK_UNAVAILABLE_INFORMATION) << "later attributes are still processed";
}

TEST_F(Objects, SensitivePrivateKeyAttributes) {
  auto kp = rsa_key_pair();
  ASSERT_OK(kp.rv);
  auto s = session_;
  Bytes buf(4096);
  CK_ATTRIBUTE a[] = {{CKA_PRIVATE_EXPONENT, buf.data(), buf.size()}, {CKA_MODULUS, nullptr, 0}};
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, p11()->C_GetAttributeValue(s, kp.priv, a, 2));
  EXPECT_EQ(a[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(a[1].ulValueLen, rsa_bits() / 8) << "the private key carries CKA_MODULUS, readable";
  for (auto t : {CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2, CKA_COEFFICIENT}) {
    CK_RV rv;
    get_attr(s, kp.priv, t, &rv);
    EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, rv) << "attribute 0x" << std::hex << t;
  }
  EXPECT_TRUE(get_bool(s, kp.priv, CKA_SENSITIVE));
  EXPECT_TRUE(get_bool(s, kp.priv, CKA_ALWAYS_SENSITIVE));
  EXPECT_TRUE(get_bool(s, kp.priv, CKA_NEVER_EXTRACTABLE));
  EXPECT_TRUE(get_bool(s, kp.priv, CKA_LOCAL)) << "generated keys have CKA_LOCAL";
  EXPECT_FALSE(get_attr(s, kp.priv, CKA_PUBLIC_EXPONENT).empty()) << "the private key carries CKA_PUBLIC_EXPONENT";
}

TEST_F(Objects, UnextractableSecretValueIsSensitive) {
  auto k = generate_aes(session_, 16, Template().add(CKA_SENSITIVE, false).add(CKA_EXTRACTABLE, false));
  if (k.rv == CKR_MECHANISM_INVALID) GTEST_SKIP() << "no CKM_AES_KEY_GEN";
  ASSERT_OK(k.rv);
  CK_RV rv;
  get_attr(session_, k.h, CKA_VALUE, &rv);
  EXPECT_CKR(CKR_ATTRIBUTE_SENSITIVE, rv) << "an unextractable key's value is not revealed";
  auto e = generate_aes(session_, 16, Template().add(CKA_SENSITIVE, false).add(CKA_EXTRACTABLE, true));
  ASSERT_OK(e.rv);
  EXPECT_EQ(get_attr(session_, e.h, CKA_VALUE, &rv).size(), 16u);
  EXPECT_OK(rv);
}

TEST_F(Objects, SensitiveCannotBeUnset) {
  auto k = generate_aes(session_, 16, Template().add(CKA_SENSITIVE, true).add(CKA_EXTRACTABLE, false));
  if (k.rv == CKR_MECHANISM_INVALID) GTEST_SKIP() << "no CKM_AES_KEY_GEN";
  ASSERT_OK(k.rv);
  Template off;
  off.add(CKA_SENSITIVE, false);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, p11()->C_SetAttributeValue(session_, k.h, off.data(), off.size()));
  Template ext;
  ext.add(CKA_EXTRACTABLE, true);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, p11()->C_SetAttributeValue(session_, k.h, ext.data(), ext.size()));
  EXPECT_TRUE(get_bool(session_, k.h, CKA_SENSITIVE));
  EXPECT_FALSE(get_bool(session_, k.h, CKA_EXTRACTABLE));
}

TEST_F(Objects, ReadOnlyAttributesCannotBeChanged) {
  auto h = create_data(false, false, unique_label("ro"));
  Template cls;
  cls.add_ulong(CKA_CLASS, CKO_CERTIFICATE);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, p11()->C_SetAttributeValue(session_, h, cls.data(), cls.size()));
  auto kp = rsa_key_pair();
  ASSERT_OK(kp.rv);
  Template kt;
  kt.add_ulong(CKA_KEY_TYPE, CKK_EC);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, p11()->C_SetAttributeValue(keeper_session(), kp.pub, kt.data(), kt.size()));
  Template local;
  local.add(CKA_LOCAL, false);
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, p11()->C_SetAttributeValue(keeper_session(), kp.priv, local.data(), local.size()));
}

TEST_F(Objects, CreateWithReadOnlyAttributeIsRefused) {
  Template t;
  t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET).add(CKA_TOKEN, false);
  t.add(CKA_VALUE, Bytes(32, 7)).add(CKA_LOCAL, true);
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, p11()->C_CreateObject(session_, t.data(), t.size(), &h));
}

TEST_F(Objects, CreateTemplateErrors) {
  CK_OBJECT_HANDLE h;
  Template no_class;
  no_class.add(CKA_TOKEN, false).add(CKA_VALUE, "x");
  EXPECT_CKR(CKR_TEMPLATE_INCOMPLETE, p11()->C_CreateObject(session_, no_class.data(), no_class.size(), &h));
  Template bad_bool;
  bad_bool.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, Bytes{1, 0, 0});
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, p11()->C_CreateObject(session_, bad_bool.data(), bad_bool.size(), &h));
  Template no_value;
  no_value.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_AES).add(CKA_TOKEN, false);
  EXPECT_CKR(CKR_TEMPLATE_INCOMPLETE, p11()->C_CreateObject(session_, no_value.data(), no_value.size(), &h));
  Template bad_class;
  bad_class.add_ulong(CKA_CLASS, 0x7ffffff0UL).add(CKA_TOKEN, false);
  EXPECT_CKR_IN(({CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT}),
                p11()->C_CreateObject(session_, bad_class.data(), bad_class.size(), &h));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_CreateObject(session_, nullptr, 1, &h));
  Template ok;
  ok.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false);
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_CreateObject(session_, ok.data(), ok.size(), nullptr));
}

TEST_F(Objects, AesKeyWithWrongLengthIsRefused) {
  CK_OBJECT_HANDLE h;
  Template t;
  t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_AES).add(CKA_TOKEN, false);
  t.add(CKA_VALUE, Bytes(17, 1));
  EXPECT_CKR(CKR_ATTRIBUTE_VALUE_INVALID, p11()->C_CreateObject(session_, t.data(), t.size(), &h));
}

TEST_F(Objects, UnmodifiableObjectCannotBeChanged) {
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false).add(CKA_MODIFIABLE, false).add(CKA_LABEL, "fixed");
  CK_OBJECT_HANDLE h;
  ASSERT_OK(p11()->C_CreateObject(session_, t.data(), t.size(), &h));
  Template l;
  l.add(CKA_LABEL, "changed");
  // Sections 4.4 and 5.1 (2.40 and 3.0): CKA_MODIFIABLE false makes C_SetAttributeValue CKR_ACTION_PROHIBITED.
  EXPECT_CKR(CKR_ACTION_PROHIBITED, p11()->C_SetAttributeValue(session_, h, l.data(), l.size()));
  EXPECT_EQ(get_attr(session_, h, CKA_LABEL), to_bytes("fixed"));
}

TEST_F(Objects, SetAttributeValue) {
  auto h = create_data(false, false, unique_label("set"));
  std::string label = unique_label("renamed");
  Template l;
  l.add(CKA_LABEL, label);
  ASSERT_OK(p11()->C_SetAttributeValue(session_, h, l.data(), l.size()));
  EXPECT_EQ(get_attr(session_, h, CKA_LABEL), to_bytes(label));
  Template unknown;
  unknown.add(CKA_MODULUS, Bytes{1});
  EXPECT_CKR_IN(({CKR_ATTRIBUTE_TYPE_INVALID, CKR_TEMPLATE_INCONSISTENT}),
                p11()->C_SetAttributeValue(session_, h, unknown.data(), unknown.size()));
}

TEST_F(Objects, CopyObject) {
  auto h = create_data(false, false, unique_label("orig"), "payload");
  std::string label = unique_label("copy");
  Template t;
  t.add(CKA_LABEL, label);
  CK_OBJECT_HANDLE c;
  ASSERT_OK(p11()->C_CopyObject(session_, h, t.data(), t.size(), &c));
  EXPECT_NE(c, h);
  EXPECT_EQ(get_attr(session_, c, CKA_LABEL), to_bytes(label));
  EXPECT_EQ(get_attr(session_, c, CKA_VALUE), to_bytes("payload"));
  EXPECT_NE(get_attr(session_, h, CKA_LABEL), to_bytes(label)) << "the original is unchanged";
}

TEST_F(Objects, CopyCannotUnsetSensitive) {
  auto k = generate_aes(session_, 16, Template().add(CKA_SENSITIVE, true));
  if (k.rv == CKR_MECHANISM_INVALID) GTEST_SKIP() << "no CKM_AES_KEY_GEN";
  ASSERT_OK(k.rv);
  Template t;
  t.add(CKA_SENSITIVE, false);
  CK_OBJECT_HANDLE c;
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, p11()->C_CopyObject(session_, k.h, t.data(), t.size(), &c));
}

TEST_F(Objects, CopyOfUncopyableObjectIsProhibited) {
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false).add(CKA_COPYABLE, false);
  CK_OBJECT_HANDLE h, c;
  ASSERT_OK(p11()->C_CreateObject(session_, t.data(), t.size(), &h));
  Template none;
  EXPECT_CKR(CKR_ACTION_PROHIBITED, p11()->C_CopyObject(session_, h, none.data(), none.size(), &c));
}

TEST_F(Objects, DestroyObject) {
  auto h = create_data(false, false, unique_label("gone"));
  ASSERT_OK(p11()->C_DestroyObject(session_, h));
  CK_RV rv;
  get_attr(session_, h, CKA_LABEL, &rv);
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, rv);
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, p11()->C_DestroyObject(session_, h));
}

TEST_F(Objects, SessionObjectSharedAndGoneWithSession) {
  Session other(true);
  ASSERT_OK(other.open_rv());
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false).add(CKA_VALUE, "shared");
  CK_OBJECT_HANDLE h;
  ASSERT_OK(p11()->C_CreateObject(other, t.data(), t.size(), &h));
  EXPECT_EQ(get_attr(session_, h, CKA_VALUE), to_bytes("shared")) << "session objects are visible to all sessions";
  other.close();
  CK_RV rv;
  get_attr(session_, h, CKA_VALUE, &rv);
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, rv) << "a session object dies with its session";
}

TEST_F(Objects, FindObjects) {
  std::string label = unique_label("find");
  auto a = create_data(false, false, label, "1");
  auto b = create_data(false, false, label, "2");
  create_data(false, false, unique_label("other"));
  CK_RV rv;
  auto found = find_objects(session_, Template().add_ulong(CKA_CLASS, CKO_DATA).add(CKA_LABEL, label), &rv);
  ASSERT_OK(rv);
  std::sort(found.begin(), found.end());
  std::vector<CK_OBJECT_HANDLE> expect{a, b};
  std::sort(expect.begin(), expect.end());
  EXPECT_EQ(found, expect);
  auto all = find_objects(session_, Template(), &rv);
  ASSERT_OK(rv);
  EXPECT_GE(all.size(), 3u) << "an empty template finds every object";
  EXPECT_TRUE(find_objects(session_, Template().add(CKA_LABEL, unique_label("none")), &rv).empty());
}

TEST_F(Objects, FindObjectsState) {
  CK_OBJECT_HANDLE buf[4];
  CK_ULONG n;
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_FindObjects(session_, buf, 4, &n));
  EXPECT_CKR(CKR_OPERATION_NOT_INITIALIZED, p11()->C_FindObjectsFinal(session_));
  ASSERT_OK(p11()->C_FindObjectsInit(session_, nullptr, 0));
  EXPECT_CKR(CKR_OPERATION_ACTIVE, p11()->C_FindObjectsInit(session_, nullptr, 0));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_FindObjects(session_, nullptr, 4, &n));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_FindObjects(session_, buf, 4, nullptr));
  EXPECT_OK(p11()->C_FindObjectsFinal(session_));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_FindObjectsInit(session_, nullptr, 2));
}

TEST_F(Objects, PrivateObjectsHiddenBeforeLogin) {
  std::string label = unique_label("private");
  auto h = create_data(true, true, label, "secret");
  auto pub = create_data(true, false, label, "public");
  ASSERT_OK(p11()->C_Logout(session_));
  CK_RV rv;
  auto found = find_objects(session_, Template().add(CKA_LABEL, label), &rv);
  ASSERT_OK(rv);
  EXPECT_EQ(found, std::vector<CK_OBJECT_HANDLE>{pub}) << "only the public object is visible before login";
  get_attr(session_, h, CKA_VALUE, &rv);
  EXPECT_NE(rv, CKR_OK) << "a private object's value must not be readable before login";
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false).add(CKA_PRIVATE, true);
  CK_OBJECT_HANDLE nh;
  EXPECT_CKR(CKR_USER_NOT_LOGGED_IN, p11()->C_CreateObject(session_, t.data(), t.size(), &nh));
  ASSERT_OK(login_user(session_));
  found = find_objects(session_, Template().add(CKA_LABEL, label), &rv);
  EXPECT_EQ(found.size(), 2u);
}

TEST_F(Objects, TokenObjectPersistsAcrossFinalize) {
  std::string label = unique_label("persist");
  create_data(true, false, label, "kept");
  token_objects_.clear();
  p11()->C_CloseSession(session_);
  session_ = CK_INVALID_HANDLE;
  ASSERT_OK(finalize());
  ASSERT_OK(initialize_os_locking());
  Session s(true);
  ASSERT_OK(login_user(s));
  CK_RV rv;
  auto found = find_objects(s, Template().add(CKA_LABEL, label), &rv);
  ASSERT_OK(rv);
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(get_attr(s, found[0], CKA_VALUE), to_bytes("kept"));
  EXPECT_OK(p11()->C_DestroyObject(s, found[0]));
}

TEST_F(Objects, GetObjectSize) {
  auto h = create_data(false, false, unique_label("sz"), "abc");
  CK_ULONG size = 0;
  EXPECT_CKR_IN(({CKR_OK, CKR_INFORMATION_SENSITIVE}), p11()->C_GetObjectSize(session_, h, &size));
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GetObjectSize(session_, h, nullptr));
  EXPECT_CKR(CKR_OBJECT_HANDLE_INVALID, p11()->C_GetObjectSize(session_, h + 0x100000, &size));
}

TEST_F(Objects, EcPointIsDerOctetString) {
  REQUIRE_MECHANISM(CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
  auto kp = ec_key_pair(curves()[0]);
  ASSERT_OK(kp.rv);
  auto point = get_attr(keeper_session(), kp.pub, CKA_EC_POINT);
  bool wrapped = false;
  auto raw = ossl::unwrap_octet_string(point, &wrapped);
  EXPECT_TRUE(wrapped) << "CKA_EC_POINT is DER OCTET STRING: " << hex(point);
  EXPECT_EQ(raw.size(), 65u);
  EXPECT_EQ(get_attr(keeper_session(), kp.priv, CKA_EC_PARAMS), curves()[0].params)
      << "the private key carries CKA_EC_PARAMS";
}

TEST_F(Objects, UniqueIdIsSetAndReadOnly) {
  if (!is_v3()) GTEST_SKIP() << "CKA_UNIQUE_ID is PKCS#11 3.0; module is 2.x";
  auto a = create_data(false, false, unique_label("uid"));
  auto b = create_data(false, false, unique_label("uid"));
  auto ua = get_attr(session_, a, CKA_UNIQUE_ID), ub = get_attr(session_, b, CKA_UNIQUE_ID);
  EXPECT_FALSE(ua.empty());
  EXPECT_NE(ua, ub);
  Template t;
  t.add(CKA_UNIQUE_ID, "x");
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, p11()->C_SetAttributeValue(session_, a, t.data(), t.size()));
  Template c;
  c.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, false).add(CKA_UNIQUE_ID, "x");
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_ATTRIBUTE_READ_ONLY, p11()->C_CreateObject(session_, c.data(), c.size(), &h));
}

}  // namespace
}  // namespace keyseal::conformance
