// Key generation limits and the attribute-array policy attributes through the module's C ABI: which return
// value a key size the token cannot make gets (PKCS#11 3.0 base spec section 5.18), and CKA_WRAP_TEMPLATE,
// CKA_UNWRAP_TEMPLATE and CKA_DERIVE_TEMPLATE (section 4.7.2 / 4.8 / 4.9 and 5.18.4-5.18.6).
#include "fixture.h"

#include <cstring>

namespace keyseal::test {
namespace {

std::vector<CK_OBJECT_HANDLE> all_objects(CK_SESSION_HANDLE s) {
  std::vector<CK_OBJECT_HANDLE> out;
  EXPECT_EQ(C_FindObjectsInit(s, nullptr, 0), CKR_OK);
  CK_OBJECT_HANDLE buf[64];
  CK_ULONG n = 0;
  do {
    EXPECT_EQ(C_FindObjects(s, buf, 64, &n), CKR_OK);
    out.insert(out.end(), buf, buf + n);
  } while (n == 64);
  EXPECT_EQ(C_FindObjectsFinal(s), CKR_OK);
  return out;
}

// C_GenerateKeyPair (5.18.3) and C_GenerateKey (5.18.2) do not list CKR_KEY_SIZE_RANGE: a modulus size or
// CKA_VALUE_LEN outside the mechanism's range is an invalid template value, and no object is left behind.
TEST_F(ModuleTest, KeySizeOutsideTheGenerationRangeIsAnInvalidAttributeValue) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  const size_t before = all_objects(s).size();
  CK_MECHANISM m{CKM_RSA_PKCS_KEY_PAIR_GEN, nullptr, 0};
  for (CK_ULONG bits : {CK_ULONG{1024}, CK_ULONG{2040}, CK_ULONG{8192}}) {
    std::vector<CK_ATTRIBUTE> pub = {attr(CKA_MODULUS_BITS, &bits, sizeof bits)};
    CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
    EXPECT_EQ(C_GenerateKeyPair(s, &m, pub.data(), pub.size(), nullptr, 0, &hpub, &hpriv),
              CKR_ATTRIBUTE_VALUE_INVALID) << bits;
  }
  CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
  EXPECT_EQ(C_GenerateKeyPair(s, &m, nullptr, 0, nullptr, 0, &hpub, &hpriv), CKR_TEMPLATE_INCOMPLETE);
  CK_MECHANISM g{CKM_GENERIC_SECRET_KEY_GEN, nullptr, 0};
  CK_ULONG len = 513;
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_VALUE_LEN, &len, sizeof len)};
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(C_GenerateKey(s, &g, t.data(), t.size(), &h), CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_EQ(all_objects(s).size(), before);
  // The advertised range itself still works.
  CK_MECHANISM_INFO info{};
  ASSERT_EQ(C_GetMechanismInfo(slot_, CKM_RSA_PKCS_KEY_PAIR_GEN, &info), CKR_OK);
  EXPECT_EQ(info.ulMinKeySize, 2048u);
}

CK_BBOOL kTrue = CK_TRUE, kFalse = CK_FALSE;
CK_OBJECT_CLASS kSecret = CKO_SECRET_KEY;
CK_KEY_TYPE kAes = CKK_AES;

// An AES key made by C_CreateObject with the given value and extra attributes (a template attribute among them).
CK_RV create_aes(CK_SESSION_HANDLE s, std::vector<uint8_t> value, std::vector<CK_ATTRIBUTE> extra,
                 CK_OBJECT_HANDLE* h) {
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &kSecret, sizeof kSecret), attr(CKA_KEY_TYPE, &kAes, sizeof kAes),
                                 attr(CKA_VALUE, value.data(), value.size())};
  t.insert(t.end(), extra.begin(), extra.end());
  return C_CreateObject(s, t.data(), t.size(), h);
}

// C_GetAttributeValue of CKA_WRAP_TEMPLATE (5.7.5 with CKF_ARRAY_ATTRIBUTE): the size query gives
// count * sizeof(CK_ATTRIBUTE); an array of NULL pValues gets each type and length; then the values. A nested
// or outer buffer too small is CKR_BUFFER_TOO_SMALL with CK_UNAVAILABLE_INFORMATION where it did not fit. A
// token key keeps the template across a restart (it is in the token's record).
TEST_F(ModuleTest, WrapTemplateIsStoredAndReadBackAsAnAttributeArray) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  const char label[] = "payload";
  std::vector<CK_ATTRIBUTE> nested = {attr(CKA_LABEL, label, 7), attr(CKA_EXTRACTABLE, &kTrue, 1)};
  std::vector<CK_ATTRIBUTE> extra = {attr(CKA_TOKEN, &kTrue, 1), attr(CKA_WRAP, &kTrue, 1),
                                     attr(CKA_WRAP_TEMPLATE, nested.data(), nested.size() * sizeof(CK_ATTRIBUTE))};
  CK_OBJECT_HANDLE kek = 0;
  ASSERT_EQ(create_aes(s, std::vector<uint8_t>(32, 1), extra, &kek), CKR_OK);
  reinitialize();
  s = open();
  login_user(s);
  const CK_ATTRIBUTE_TYPE wt = CKA_WRAP_TEMPLATE;
  CK_BBOOL yes = CK_TRUE;
  std::vector<CK_ATTRIBUTE> by_type = {attr(CKA_WRAP, &yes, 1)};
  auto found = find(s, by_type);
  ASSERT_EQ(found.size(), 1u);
  kek = found[0];

  CK_ATTRIBUTE q = attr(wt, nullptr, 0);
  ASSERT_EQ(C_GetAttributeValue(s, kek, &q, 1), CKR_OK);
  ASSERT_EQ(q.ulValueLen, 2 * sizeof(CK_ATTRIBUTE));
  std::vector<CK_ATTRIBUTE> out(2, attr(0, nullptr, 0));
  q = attr(wt, out.data(), sizeof(CK_ATTRIBUTE));  // room for one of two
  EXPECT_EQ(C_GetAttributeValue(s, kek, &q, 1), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(q.ulValueLen, CK_UNAVAILABLE_INFORMATION);
  q = attr(wt, out.data(), 2 * sizeof(CK_ATTRIBUTE));
  ASSERT_EQ(C_GetAttributeValue(s, kek, &q, 1), CKR_OK);
  EXPECT_EQ(q.ulValueLen, 2 * sizeof(CK_ATTRIBUTE));
  // Ascending type order: CKA_LABEL (0x3), CKA_EXTRACTABLE (0x162).
  EXPECT_EQ(out[0].type, CKA_LABEL);
  EXPECT_EQ(out[0].ulValueLen, 7u);
  EXPECT_EQ(out[1].type, CKA_EXTRACTABLE);
  EXPECT_EQ(out[1].ulValueLen, 1u);
  char got_label[7] = {};
  CK_BBOOL got_bool = 0x55;
  out[0].pValue = got_label;
  out[0].ulValueLen = 3;  // too small for "payload"
  out[1].pValue = &got_bool;
  out[1].ulValueLen = 1;
  EXPECT_EQ(C_GetAttributeValue(s, kek, &q, 1), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(out[0].ulValueLen, CK_UNAVAILABLE_INFORMATION);
  EXPECT_EQ(out[1].ulValueLen, 1u);
  EXPECT_EQ(got_bool, CK_TRUE);
  out[0].ulValueLen = sizeof got_label;
  ASSERT_EQ(C_GetAttributeValue(s, kek, &q, 1), CKR_OK);
  EXPECT_EQ(std::string(got_label, 7), "payload");
  // Not modifiable (no footnote 8).
  EXPECT_EQ(C_SetAttributeValue(s, kek, extra.data() + 2, 1), CKR_ATTRIBUTE_READ_ONLY);
}

// Malformed nested templates are refused with the codes the spec gives for a bad attribute value, never read
// past what the caller described, and create nothing.
TEST_F(ModuleTest, MalformedNestedTemplatesAreRefused) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  const size_t before = all_objects(s).size();
  const std::vector<uint8_t> v(16, 2);
  CK_OBJECT_HANDLE h = 0;
  std::vector<CK_ATTRIBUTE> nested = {attr(CKA_LABEL, "x", 1), attr(CKA_SIGN, &kTrue, 1)};
  // A length that is not a whole number of CK_ATTRIBUTEs.
  EXPECT_EQ(create_aes(s, v, {attr(CKA_WRAP_TEMPLATE, nested.data(), sizeof(CK_ATTRIBUTE) + 1)}, &h),
            CKR_ATTRIBUTE_VALUE_INVALID);
  // A nested value with a length and no pointer.
  std::vector<CK_ATTRIBUTE> no_ptr = {attr(CKA_LABEL, nullptr, 5)};
  EXPECT_EQ(create_aes(s, v, {attr(CKA_WRAP_TEMPLATE, no_ptr.data(), sizeof(CK_ATTRIBUTE))}, &h),
            CKR_ATTRIBUTE_VALUE_INVALID);
  // A nested length past any real attribute (the pointer is never read).
  std::vector<CK_ATTRIBUTE> huge = {attr(CKA_LABEL, "x", ~CK_ULONG{0})};
  EXPECT_EQ(create_aes(s, v, {attr(CKA_UNWRAP_TEMPLATE, huge.data(), sizeof(CK_ATTRIBUTE))}, &h),
            CKR_ATTRIBUTE_VALUE_INVALID);
  // A template inside a template, and a CK_BBOOL of two bytes inside one.
  std::vector<CK_ATTRIBUTE> inner = {attr(CKA_DERIVE_TEMPLATE, nested.data(), sizeof(CK_ATTRIBUTE))};
  EXPECT_EQ(create_aes(s, v, {attr(CKA_DERIVE_TEMPLATE, inner.data(), sizeof(CK_ATTRIBUTE))}, &h),
            CKR_ATTRIBUTE_VALUE_INVALID);
  uint16_t two = 1;
  std::vector<CK_ATTRIBUTE> wide = {attr(CKA_SIGN, &two, sizeof two)};
  EXPECT_EQ(create_aes(s, v, {attr(CKA_WRAP_TEMPLATE, wide.data(), sizeof(CK_ATTRIBUTE))}, &h),
            CKR_ATTRIBUTE_VALUE_INVALID);
  // A NULL array with a length (outer level).
  EXPECT_EQ(create_aes(s, v, {attr(CKA_WRAP_TEMPLATE, nullptr, sizeof(CK_ATTRIBUTE))}, &h),
            CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_EQ(all_objects(s).size(), before);
  // An empty template is a template: accepted, and read back as zero attributes.
  ASSERT_EQ(create_aes(s, v, {attr(CKA_WRAP_TEMPLATE, nullptr, 0)}, &h), CKR_OK);
  CK_ATTRIBUTE q = attr(CKA_WRAP_TEMPLATE, nullptr, 1);
  ASSERT_EQ(C_GetAttributeValue(s, h, &q, 1), CKR_OK);
  EXPECT_EQ(q.ulValueLen, 0u);
}

// C_WrapKey (5.18.4): a key that does not match the wrapping key's CKA_WRAP_TEMPLATE is refused with
// CKR_KEY_HANDLE_INVALID, the code the specification names; a matching key wraps.
TEST_F(ModuleTest, WrapTemplateLimitsWhatAKeyWraps) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  const char label[] = "wrappable";
  std::vector<CK_ATTRIBUTE> nested = {attr(CKA_LABEL, label, sizeof label - 1)};
  CK_OBJECT_HANDLE kek = 0, ok = 0, other = 0;
  ASSERT_EQ(create_aes(s, std::vector<uint8_t>(32, 3),
                       {attr(CKA_WRAP, &kTrue, 1), attr(CKA_WRAP_TEMPLATE, nested.data(), sizeof(CK_ATTRIBUTE))},
                       &kek),
            CKR_OK);
  ASSERT_EQ(create_aes(s, std::vector<uint8_t>(16, 4),
                       {attr(CKA_EXTRACTABLE, &kTrue, 1), attr(CKA_LABEL, label, sizeof label - 1)}, &ok),
            CKR_OK);
  ASSERT_EQ(create_aes(s, std::vector<uint8_t>(16, 5),
                       {attr(CKA_EXTRACTABLE, &kTrue, 1), attr(CKA_LABEL, "other", 5)}, &other),
            CKR_OK);
  CK_MECHANISM m{CKM_AES_KEY_WRAP, nullptr, 0};
  CK_ULONG n = 0;
  EXPECT_EQ(C_WrapKey(s, &m, kek, ok, nullptr, &n), CKR_OK);
  EXPECT_EQ(n, 24u);
  EXPECT_EQ(C_WrapKey(s, &m, kek, other, nullptr, &n), CKR_KEY_HANDLE_INVALID);
}

// C_UnwrapKey (5.18.5): the unwrapping key's CKA_UNWRAP_TEMPLATE is added to the new key; a caller template
// that says otherwise is CKR_TEMPLATE_INCONSISTENT and creates nothing.
TEST_F(ModuleTest, UnwrapTemplateJoinsTheNewKey) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  const char label[] = "from-policy";
  std::vector<CK_ATTRIBUTE> nested = {attr(CKA_LABEL, label, sizeof label - 1), attr(CKA_EXTRACTABLE, &kFalse, 1)};
  CK_OBJECT_HANDLE kek = 0, payload = 0;
  ASSERT_EQ(create_aes(s, std::vector<uint8_t>(32, 6),
                       {attr(CKA_WRAP, &kTrue, 1), attr(CKA_UNWRAP, &kTrue, 1),
                        attr(CKA_UNWRAP_TEMPLATE, nested.data(), nested.size() * sizeof(CK_ATTRIBUTE))},
                       &kek),
            CKR_OK);
  ASSERT_EQ(create_aes(s, std::vector<uint8_t>(16, 7), {attr(CKA_EXTRACTABLE, &kTrue, 1)}, &payload), CKR_OK);
  CK_MECHANISM m{CKM_AES_KEY_WRAP, nullptr, 0};
  std::vector<uint8_t> wrapped(24);
  CK_ULONG n = wrapped.size();
  ASSERT_EQ(C_WrapKey(s, &m, kek, payload, wrapped.data(), &n), CKR_OK);
  const size_t before = all_objects(s).size();
  std::vector<CK_ATTRIBUTE> clash = {attr(CKA_CLASS, &kSecret, sizeof kSecret), attr(CKA_KEY_TYPE, &kAes, sizeof kAes),
                                     attr(CKA_EXTRACTABLE, &kTrue, 1)};
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(C_UnwrapKey(s, &m, kek, wrapped.data(), n, clash.data(), clash.size(), &h), CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(all_objects(s).size(), before);
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &kSecret, sizeof kSecret), attr(CKA_KEY_TYPE, &kAes, sizeof kAes),
                                 attr(CKA_LABEL, label, sizeof label - 1)};  // restating the policy is fine
  ASSERT_EQ(C_UnwrapKey(s, &m, kek, wrapped.data(), n, t.data(), t.size(), &h), CKR_OK);
  EXPECT_EQ(get(s, h, CKA_EXTRACTABLE), std::vector<uint8_t>{CK_FALSE});
  EXPECT_EQ(get(s, h, CKA_LABEL), std::vector<uint8_t>(label, label + sizeof label - 1));
}

// C_DeriveKey (5.18.6): likewise with the base key's CKA_DERIVE_TEMPLATE.
TEST_F(ModuleTest, DeriveTemplateJoinsTheDerivedKey) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  const char label[] = "derived";
  std::vector<CK_ATTRIBUTE> nested = {attr(CKA_LABEL, label, sizeof label - 1), attr(CKA_SENSITIVE, &kTrue, 1)};
  CK_MECHANISM gen{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  std::vector<CK_ATTRIBUTE> pub = {attr(CKA_EC_PARAMS, kP256.data(), kP256.size())};
  std::vector<CK_ATTRIBUTE> priv = {attr(CKA_DERIVE, &kTrue, 1),
                                    attr(CKA_DERIVE_TEMPLATE, nested.data(), nested.size() * sizeof(CK_ATTRIBUTE))};
  CK_OBJECT_HANDLE hpub = 0, hpriv = 0;
  ASSERT_EQ(C_GenerateKeyPair(s, &gen, pub.data(), pub.size(), priv.data(), priv.size(), &hpub, &hpriv), CKR_OK);
  auto point = get(s, hpub, CKA_EC_POINT);
  CK_ECDH1_DERIVE_PARAMS p{CKD_NULL, 0, nullptr, point.size(), point.data()};
  CK_MECHANISM m{CKM_ECDH1_DERIVE, &p, sizeof p};
  CK_KEY_TYPE gs = CKK_GENERIC_SECRET;
  std::vector<CK_ATTRIBUTE> clash = {attr(CKA_KEY_TYPE, &gs, sizeof gs), attr(CKA_SENSITIVE, &kFalse, 1)};
  CK_OBJECT_HANDLE h = 0;
  EXPECT_EQ(C_DeriveKey(s, &m, hpriv, clash.data(), clash.size(), &h), CKR_TEMPLATE_INCONSISTENT);
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_KEY_TYPE, &gs, sizeof gs)};
  ASSERT_EQ(C_DeriveKey(s, &m, hpriv, t.data(), t.size(), &h), CKR_OK);
  EXPECT_EQ(get(s, h, CKA_LABEL), std::vector<uint8_t>(label, label + sizeof label - 1));
  EXPECT_EQ(get(s, h, CKA_SENSITIVE), std::vector<uint8_t>{CK_TRUE});
  // A public key has no CKA_DERIVE_TEMPLATE (4.8).
  std::vector<CK_ATTRIBUTE> bad_pub = {attr(CKA_EC_PARAMS, kP256.data(), kP256.size()),
                                       attr(CKA_DERIVE_TEMPLATE, nested.data(), sizeof(CK_ATTRIBUTE))};
  EXPECT_EQ(C_GenerateKeyPair(s, &gen, bad_pub.data(), bad_pub.size(), priv.data(), priv.size(), &hpub, &hpriv),
            CKR_ATTRIBUTE_TYPE_INVALID);
}

}  // namespace
}  // namespace keyseal::test
