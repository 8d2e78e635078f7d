// Tests of check_read / check_modify / is_modifiable / is_secret_component: footnotes 7, 8, 10, 11, 12 and
// C_CopyObject's extra modifiable attributes (PKCS#11 3.0 base spec 4.1.2, 4.1.3).
#include "policy_test_util.h"

namespace keyseal::core::test {
namespace {

auto case_name = [](const auto& info) { return std::string(info.param.name); };

// One-way transitions (footnotes 10, 11, 12), in both directions.
struct TransitionCase {
  const char* name;
  AttributeTemplate tmpl;  // the object, created with the attribute's current value
  CK_ATTRIBUTE_TYPE type;
  bool next;
  CK_RV expected;
  bool so = false;
  bool copying = false;
};

class TransitionTest : public ::testing::TestWithParam<TransitionCase> {};

TEST_P(TransitionTest, OneWay) {
  const auto& c = GetParam();
  AttributeMap obj = make_object(c.tmpl, Origin::create, true);
  CK_RV rv = rv_of([&] { check_modify(obj, c.type, view(bool_bytes(c.next)), c.copying, c.so); });
  EXPECT_EQ(rv_str(rv), rv_str(c.expected)) << c.name;
}

AttributeTemplate aes_with(bool sensitive, bool extractable) {
  return with(aes_create(), {T(CKA_SENSITIVE, sensitive), T(CKA_EXTRACTABLE, extractable)});
}

INSTANTIATE_TEST_SUITE_P(
    Footnotes, TransitionTest,
    ::testing::Values(
        TransitionCase{"sensitive_false_to_true", aes_with(false, false), CKA_SENSITIVE, true, CKR_OK},
        TransitionCase{"sensitive_true_to_false", aes_with(true, false), CKA_SENSITIVE, false, CKR_ATTRIBUTE_READ_ONLY},
        TransitionCase{"sensitive_true_to_true", aes_with(true, false), CKA_SENSITIVE, true, CKR_OK},
        TransitionCase{"sensitive_true_to_false_copy", aes_with(true, false), CKA_SENSITIVE, false,
                       CKR_ATTRIBUTE_READ_ONLY, false, true},
        TransitionCase{"private_sensitive_true_to_false", rsa_private_create(), CKA_SENSITIVE, false,
                       CKR_ATTRIBUTE_READ_ONLY},
        TransitionCase{"extractable_true_to_false", aes_with(true, true), CKA_EXTRACTABLE, false, CKR_OK},
        TransitionCase{"extractable_false_to_true", aes_with(true, false), CKA_EXTRACTABLE, true,
                       CKR_ATTRIBUTE_READ_ONLY},
        TransitionCase{"extractable_false_to_true_copy", aes_with(true, false), CKA_EXTRACTABLE, true,
                       CKR_ATTRIBUTE_READ_ONLY, false, true},
        TransitionCase{"extractable_false_to_false", aes_with(true, false), CKA_EXTRACTABLE, false, CKR_OK},
        TransitionCase{"wrap_with_trusted_false_to_true", aes_create(), CKA_WRAP_WITH_TRUSTED, true, CKR_OK},
        TransitionCase{"wrap_with_trusted_true_to_false", with(aes_create(), {T(CKA_WRAP_WITH_TRUSTED, true)}),
                       CKA_WRAP_WITH_TRUSTED, false, CKR_ATTRIBUTE_READ_ONLY},
        TransitionCase{"copyable_true_to_false", aes_create(), CKA_COPYABLE, false, CKR_OK},
        TransitionCase{"copyable_false_to_true", with(aes_create(), {T(CKA_COPYABLE, false)}), CKA_COPYABLE, true,
                       CKR_ATTRIBUTE_READ_ONLY},
        TransitionCase{"trusted_by_user", rsa_public_create(), CKA_TRUSTED, true, CKR_ATTRIBUTE_READ_ONLY},
        TransitionCase{"trusted_by_so", rsa_public_create(), CKA_TRUSTED, true, CKR_OK, true},
        TransitionCase{"trusted_cert_by_user", cert_create(), CKA_TRUSTED, true, CKR_ATTRIBUTE_READ_ONLY},
        TransitionCase{"trusted_cert_by_so", cert_create(), CKA_TRUSTED, true, CKR_OK, true}),
    case_name);

// Footnote 8 and 4.1.3: what C_SetAttributeValue and C_CopyObject may change.
struct ModifyCase {
  const char* name;
  AttributeTemplate tmpl;
  std::pair<CK_ATTRIBUTE_TYPE, SecureBytes> change;
  CK_RV on_set;
  CK_RV on_copy;
};

class ModifyTest : public ::testing::TestWithParam<ModifyCase> {};

TEST_P(ModifyTest, SetAndCopy) {
  const auto& c = GetParam();
  AttributeMap obj = make_object(c.tmpl);
  const auto& [type, value] = c.change;
  EXPECT_EQ(rv_str(rv_of([&] { check_modify(obj, type, view(value), false, false); })), rv_str(c.on_set))
      << c.name << " (C_SetAttributeValue)";
  EXPECT_EQ(rv_str(rv_of([&] { check_modify(obj, type, view(value), true, false); })), rv_str(c.on_copy))
      << c.name << " (C_CopyObject)";
}

constexpr CK_RV kOk = CKR_OK, kRo = CKR_ATTRIBUTE_READ_ONLY, kTi = CKR_ATTRIBUTE_TYPE_INVALID,
                kVi = CKR_ATTRIBUTE_VALUE_INVALID;

INSTANTIATE_TEST_SUITE_P(
    Attributes, ModifyTest,
    ::testing::Values(
        ModifyCase{"label", aes_create(), S(CKA_LABEL, "new"), kOk, kOk},
        ModifyCase{"data_label", data_create(), S(CKA_LABEL, "new"), kOk, kOk},
        ModifyCase{"key_id", rsa_private_create(), V(CKA_ID, {9}), kOk, kOk},
        ModifyCase{"key_dates", aes_create(), S(CKA_END_DATE, "20991231"), kOk, kOk},
        ModifyCase{"key_derive", aes_create(), T(CKA_DERIVE, true), kOk, kOk},
        ModifyCase{"private_sign", rsa_private_create(), T(CKA_SIGN, false), kOk, kOk},
        ModifyCase{"private_subject", rsa_private_create(), N(CKA_SUBJECT, 4), kOk, kOk},
        ModifyCase{"public_encrypt", rsa_public_create(), T(CKA_ENCRYPT, false), kOk, kOk},
        ModifyCase{"secret_wrap", aes_create(), T(CKA_WRAP, false), kOk, kOk},
        ModifyCase{"token", aes_create(), T(CKA_TOKEN, true), kRo, kOk},
        ModifyCase{"private", rsa_public_create(), T(CKA_PRIVATE, true), kRo, kOk},
        ModifyCase{"modifiable", aes_create(), T(CKA_MODIFIABLE, false), kRo, kOk},
        ModifyCase{"destroyable", aes_create(), T(CKA_DESTROYABLE, false), kRo, kOk},
        ModifyCase{"class", aes_create(), U(CKA_CLASS, CKO_SECRET_KEY), kRo, kRo},
        ModifyCase{"key_type", aes_create(), U(CKA_KEY_TYPE, CKK_GENERIC_SECRET), kRo, kRo},
        ModifyCase{"secret_value", aes_create(16), N(CKA_VALUE, 16), kRo, kRo},
        ModifyCase{"secret_value_len", aes_create(16), U(CKA_VALUE_LEN, 16), kRo, kRo},
        ModifyCase{"secret_check_value", aes_create(), V(CKA_CHECK_VALUE, {1, 2, 3}), kRo, kRo},
        ModifyCase{"rsa_modulus", rsa_public_create(), N(CKA_MODULUS, 256), kRo, kRo},
        ModifyCase{"rsa_d", rsa_private_create(), N(CKA_PRIVATE_EXPONENT, 256), kRo, kRo},
        ModifyCase{"ec_params", ec_public_create(), ec_params(), kRo, kRo},
        ModifyCase{"local", aes_create(), T(CKA_LOCAL, true), kRo, kRo},
        ModifyCase{"unique_id", aes_create(), S(CKA_UNIQUE_ID, "x"), kRo, kRo},
        ModifyCase{"key_gen_mechanism", aes_create(), U(CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN), kRo, kRo},
        ModifyCase{"always_sensitive", aes_create(), T(CKA_ALWAYS_SENSITIVE, false), kRo, kRo},
        ModifyCase{"never_extractable", rsa_private_create(), T(CKA_NEVER_EXTRACTABLE, false), kRo, kRo},
        ModifyCase{"always_authenticate", rsa_private_create(), T(CKA_ALWAYS_AUTHENTICATE, true), kRo, kRo},
        ModifyCase{"allowed_mechanisms", aes_create(), N(CKA_ALLOWED_MECHANISMS, sizeof(CK_ULONG)), kRo, kRo},
        ModifyCase{"public_key_info", ec_private_create(), N(CKA_PUBLIC_KEY_INFO, 91), kRo, kRo},
        ModifyCase{"cert_subject", cert_create(), N(CKA_SUBJECT, 3), kRo, kRo},
        ModifyCase{"cert_value", cert_create(), N(CKA_VALUE, 3), kRo, kRo},
        ModifyCase{"cert_category", cert_create(), U(CKA_CERTIFICATE_CATEGORY, 1), kRo, kRo},
        ModifyCase{"cert_issuer", cert_create(), N(CKA_ISSUER, 3), kOk, kOk},
        ModifyCase{"cert_serial", cert_create(), N(CKA_SERIAL_NUMBER, 3), kOk, kOk},
        ModifyCase{"cert_id", cert_create(), V(CKA_ID, {1}), kOk, kOk},
        ModifyCase{"data_value", data_create(), N(CKA_VALUE, 3), kRo, kRo},
        ModifyCase{"data_application", data_create(), S(CKA_APPLICATION, "app"), kRo, kRo},
        // No footnote 8: a key's template policy cannot be loosened (or set) after creation.
        ModifyCase{"secret_wrap_template", aes_create(), N(CKA_WRAP_TEMPLATE, 0), kRo, kRo},
        ModifyCase{"private_unwrap_template", rsa_private_create(), N(CKA_UNWRAP_TEMPLATE, 0), kRo, kRo},
        // CKR_ATTRIBUTE_TYPE_INVALID: not an attribute of this object's class/type.
        ModifyCase{"secret_modulus", aes_create(), N(CKA_MODULUS, 8), kTi, kTi},
        ModifyCase{"data_id", data_create(), V(CKA_ID, {1}), kTi, kTi},
        ModifyCase{"public_sensitive", rsa_public_create(), T(CKA_SENSITIVE, true), kTi, kTi},
        ModifyCase{"cert_encrypt", cert_create(), T(CKA_ENCRYPT, true), kTi, kTi},
        ModifyCase{"ec_private_point", ec_private_create(), N(CKA_EC_POINT, 67), kTi, kTi},
        ModifyCase{"private_wrap_template", rsa_private_create(), N(CKA_WRAP_TEMPLATE, 0), kTi, kTi},
        // CKR_ATTRIBUTE_VALUE_INVALID: bad encodings.
        ModifyCase{"bool_two_bytes", rsa_private_create(), V(CKA_SIGN, {1, 0}), kVi, kVi},
        ModifyCase{"bad_date", aes_create(), S(CKA_START_DATE, "2024"), kVi, kVi},
        ModifyCase{"token_bad_width", aes_create(), V(CKA_TOKEN, {}), kVi, kVi}),
    case_name);

TEST(CheckModify, CopyCannotMakeAlwaysAuthenticateKeyPublic) {
  AttributeMap obj = make_object(with(rsa_private_create(), {T(CKA_ALWAYS_AUTHENTICATE, true)}));
  EXPECT_EQ(rv_str(rv_of([&] { check_modify(obj, CKA_PRIVATE, view(bool_bytes(false)), true, false); })),
            rv_str(CKR_TEMPLATE_INCONSISTENT));
  EXPECT_EQ(rv_str(rv_of([&] { check_modify(obj, CKA_PRIVATE, view(bool_bytes(true)), true, false); })),
            rv_str(CKR_OK));
}

// Footnote 7: reading secret components.
struct ReadCase {
  const char* name;
  AttributeTemplate tmpl;
  CK_ATTRIBUTE_TYPE type;
  CK_RV expected;
};

class ReadTest : public ::testing::TestWithParam<ReadCase> {};

TEST_P(ReadTest, Read) {
  const auto& c = GetParam();
  AttributeMap obj = make_object(c.tmpl);
  EXPECT_EQ(rv_str(check_read(obj, c.type)), rv_str(c.expected)) << c.name;
}

AttributeTemplate rsa_with(bool sensitive, bool extractable) {
  return with(rsa_private_create(), {T(CKA_SENSITIVE, sensitive), T(CKA_EXTRACTABLE, extractable)});
}

INSTANTIATE_TEST_SUITE_P(
    Footnote7, ReadTest,
    ::testing::Values(
        ReadCase{"aes_default", aes_create(), CKA_VALUE, CKR_ATTRIBUTE_SENSITIVE},
        ReadCase{"aes_sensitive_extractable", aes_with(true, true), CKA_VALUE, CKR_ATTRIBUTE_SENSITIVE},
        ReadCase{"aes_not_extractable", aes_with(false, false), CKA_VALUE, CKR_ATTRIBUTE_SENSITIVE},
        ReadCase{"aes_readable", aes_with(false, true), CKA_VALUE, CKR_OK},
        ReadCase{"aes_label", aes_create(), CKA_LABEL, CKR_OK},
        ReadCase{"aes_value_len", aes_create(), CKA_VALUE_LEN, CKR_OK},
        ReadCase{"aes_absent", aes_create(), CKA_MODULUS, CKR_ATTRIBUTE_TYPE_INVALID},
        ReadCase{"rsa_d", rsa_with(true, false), CKA_PRIVATE_EXPONENT, CKR_ATTRIBUTE_SENSITIVE},
        ReadCase{"rsa_p", rsa_with(true, false), CKA_PRIME_1, CKR_ATTRIBUTE_SENSITIVE},
        ReadCase{"rsa_q", rsa_with(false, false), CKA_PRIME_2, CKR_ATTRIBUTE_SENSITIVE},
        ReadCase{"rsa_dp", rsa_with(true, true), CKA_EXPONENT_1, CKR_ATTRIBUTE_SENSITIVE},
        ReadCase{"rsa_dq", rsa_with(true, false), CKA_EXPONENT_2, CKR_ATTRIBUTE_SENSITIVE},
        ReadCase{"rsa_qinv", rsa_with(true, false), CKA_COEFFICIENT, CKR_ATTRIBUTE_SENSITIVE},
        ReadCase{"rsa_d_readable", rsa_with(false, true), CKA_PRIVATE_EXPONENT, CKR_OK},
        ReadCase{"rsa_modulus", rsa_with(true, false), CKA_MODULUS, CKR_OK},
        ReadCase{"rsa_public_exponent", rsa_with(true, false), CKA_PUBLIC_EXPONENT, CKR_OK},
        ReadCase{"ec_value", ec_private_create(), CKA_VALUE, CKR_ATTRIBUTE_SENSITIVE},
        ReadCase{"ec_params", ec_private_create(), CKA_EC_PARAMS, CKR_OK},
        ReadCase{"ed_value", ec_private_create(CKK_EC_EDWARDS), CKA_VALUE, CKR_ATTRIBUTE_SENSITIVE},
        ReadCase{"ec_public_point", ec_public_create(), CKA_EC_POINT, CKR_OK},
        ReadCase{"data_value", data_create(), CKA_VALUE, CKR_OK},
        ReadCase{"cert_value", cert_create(), CKA_VALUE, CKR_OK},
        ReadCase{"unique_id", cert_create(), CKA_UNIQUE_ID, CKR_OK}),
    case_name);

// A key whose backend holds the private components (a TPM key) carries none of them: reading one is still
// CKR_ATTRIBUTE_SENSITIVE, a component of another key type is still invalid, and backend-private attributes
// are never readable.
TEST(ReadTest, ComponentsHeldByTheBackend) {
  AttributeMap rsa = make_object(rsa_with(true, false));
  for (CK_ATTRIBUTE_TYPE t : {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2,
                              CKA_COEFFICIENT})
    rsa.erase(t);
  rsa[backend_attr(1)] = SecureBytes{1, 2, 3};
  rsa[backend_secret_attr(2)] = SecureBytes{4, 5, 6};
  EXPECT_EQ(rv_str(check_read(rsa, CKA_PRIVATE_EXPONENT)), rv_str(CKR_ATTRIBUTE_SENSITIVE));
  EXPECT_EQ(rv_str(check_read(rsa, CKA_COEFFICIENT)), rv_str(CKR_ATTRIBUTE_SENSITIVE));
  EXPECT_EQ(rv_str(check_read(rsa, CKA_VALUE)), rv_str(CKR_ATTRIBUTE_TYPE_INVALID));
  EXPECT_EQ(rv_str(check_read(rsa, backend_attr(1))), rv_str(CKR_ATTRIBUTE_TYPE_INVALID));
  EXPECT_EQ(rv_str(check_read(rsa, backend_secret_attr(2))), rv_str(CKR_ATTRIBUTE_TYPE_INVALID));
  EXPECT_TRUE(is_secret_component(CKO_PRIVATE_KEY, backend_secret_attr(2)));
  EXPECT_FALSE(is_secret_component(CKO_PRIVATE_KEY, backend_attr(1)));

  AttributeMap ec = make_object(ec_private_create());
  ec.erase(CKA_VALUE);
  EXPECT_EQ(rv_str(check_read(ec, CKA_VALUE)), rv_str(CKR_ATTRIBUTE_SENSITIVE));
  EXPECT_EQ(rv_str(check_read(ec, CKA_PRIME_1)), rv_str(CKR_ATTRIBUTE_TYPE_INVALID));

  // A readable key that lacks a component simply does not have it.
  AttributeMap open = make_object(rsa_with(false, true));
  open.erase(CKA_PRIME_1);
  EXPECT_EQ(rv_str(check_read(open, CKA_PRIME_1)), rv_str(CKR_ATTRIBUTE_TYPE_INVALID));
}

struct SecretComponentCase {
  CK_OBJECT_CLASS cls;
  CK_ATTRIBUTE_TYPE type;
  bool secret;
};

class SecretComponentTest : public ::testing::TestWithParam<SecretComponentCase> {};

TEST_P(SecretComponentTest, Classified) {
  const auto& c = GetParam();
  EXPECT_EQ(is_secret_component(c.cls, c.type), c.secret) << c.cls << "/" << std::hex << c.type;
}

INSTANTIATE_TEST_SUITE_P(
    Components, SecretComponentTest,
    ::testing::Values(SecretComponentCase{CKO_SECRET_KEY, CKA_VALUE, true},
                      SecretComponentCase{CKO_PRIVATE_KEY, CKA_VALUE, true},
                      SecretComponentCase{CKO_PRIVATE_KEY, CKA_PRIVATE_EXPONENT, true},
                      SecretComponentCase{CKO_PRIVATE_KEY, CKA_PRIME_1, true},
                      SecretComponentCase{CKO_PRIVATE_KEY, CKA_PRIME_2, true},
                      SecretComponentCase{CKO_PRIVATE_KEY, CKA_EXPONENT_1, true},
                      SecretComponentCase{CKO_PRIVATE_KEY, CKA_EXPONENT_2, true},
                      SecretComponentCase{CKO_PRIVATE_KEY, CKA_COEFFICIENT, true},
                      SecretComponentCase{CKO_PRIVATE_KEY, CKA_MODULUS, false},
                      SecretComponentCase{CKO_PRIVATE_KEY, CKA_LABEL, false},
                      SecretComponentCase{CKO_SECRET_KEY, CKA_VALUE_LEN, false},
                      SecretComponentCase{CKO_PUBLIC_KEY, CKA_VALUE, false},
                      SecretComponentCase{CKO_DATA, CKA_VALUE, false},
                      SecretComponentCase{CKO_CERTIFICATE, CKA_VALUE, false}));

TEST(IsModifiable, ObjectLevel) {
  EXPECT_TRUE(is_modifiable(make_object(aes_create())));
  EXPECT_FALSE(is_modifiable(make_object(with(aes_create(), {T(CKA_MODIFIABLE, false)}))));
  EXPECT_TRUE(is_modifiable(make_object(cert_create())));
  EXPECT_FALSE(is_modifiable(make_object(with(cert_create(), {T(CKA_TRUSTED, true)}), Origin::create, true)));
  EXPECT_TRUE(is_modifiable(make_object(with(rsa_public_create(), {T(CKA_TRUSTED, true)}), Origin::create, true)));
}

TEST(CheckModify, BrokenStoredObjectIsGeneralError) {
  AttributeMap obj;  // no CKA_CLASS: not something the policy can reason about
  EXPECT_EQ(rv_str(rv_of([&] { check_modify(obj, CKA_LABEL, view(std::string_view("x")), false, false); })),
            rv_str(CKR_GENERAL_ERROR));
}

}  // namespace
}  // namespace keyseal::core::test
