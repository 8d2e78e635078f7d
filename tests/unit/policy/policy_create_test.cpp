// Tests of check_new_object: the creation rules of PKCS#11 3.0 base spec 4.1.1 and the
// table footnotes 1-6, 9, 10 per class, key type and creating function.
#include "policy_test_util.h"

namespace keyseal::core::test {
namespace {

struct CreateCase {
  const char* name;
  AttributeTemplate tmpl;
  Origin origin;
  CK_RV expected;
  bool so = false;
  std::optional<CK_OBJECT_CLASS> expected_class = std::nullopt;
  std::optional<CK_KEY_TYPE> expected_key_type = std::nullopt;
};

class CreateTest : public ::testing::TestWithParam<CreateCase> {};

TEST_P(CreateTest, Checks) {
  const auto& c = GetParam();
  CK_RV rv = rv_of([&] {
    AttributeMap m = to_map(c.tmpl);
    check_new_object(m, c.origin, c.so, c.expected_class, c.expected_key_type);
  });
  EXPECT_EQ(rv_str(rv), rv_str(c.expected)) << c.name;
}

auto case_name = [](const auto& info) { return std::string(info.param.name); };

// Every valid baseline passes, so the failing rows below fail for the reason they name.
INSTANTIATE_TEST_SUITE_P(
    ValidBaselines, CreateTest,
    ::testing::Values(CreateCase{"data", data_create(), Origin::create, CKR_OK},
                      CreateCase{"data_minimal", {U(CKA_CLASS, CKO_DATA)}, Origin::create, CKR_OK},
                      CreateCase{"cert", cert_create(), Origin::create, CKR_OK},
                      CreateCase{"rsa_public", rsa_public_create(), Origin::create, CKR_OK},
                      CreateCase{"rsa_private", rsa_private_create(), Origin::create, CKR_OK},
                      CreateCase{"ec_public", ec_public_create(), Origin::create, CKR_OK},
                      CreateCase{"ec_private", ec_private_create(), Origin::create, CKR_OK},
                      CreateCase{"ed_public", ec_public_create(CKK_EC_EDWARDS), Origin::create, CKR_OK},
                      CreateCase{"ed_private", ec_private_create(CKK_EC_EDWARDS), Origin::create, CKR_OK},
                      CreateCase{"aes16", aes_create(16), Origin::create, CKR_OK},
                      CreateCase{"aes24", aes_create(24), Origin::create, CKR_OK},
                      CreateCase{"aes32", aes_create(32), Origin::create, CKR_OK},
                      CreateCase{"generic", generic_create(), Origin::create, CKR_OK},
                      CreateCase{"gen_aes", aes_generate(), Origin::generate, CKR_OK},
                      CreateCase{"gen_rsa_public", rsa_public_generate(), Origin::generate, CKR_OK},
                      CreateCase{"gen_rsa_private", rsa_private_generate(), Origin::generate, CKR_OK},
                      CreateCase{"gen_ec_public", ec_public_generate(), Origin::generate, CKR_OK},
                      CreateCase{"gen_ec_private", ec_private_generate(), Origin::generate, CKR_OK},
                      CreateCase{"unwrap_aes", {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES)},
                                 Origin::unwrap, CKR_OK},
                      CreateCase{"derive_generic",
                   {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_GENERIC_SECRET), U(CKA_VALUE_LEN, 32)},
                   Origin::derive, CKR_OK}),
    case_name);

// Footnotes 1, 3, 5 and the class/type attributes: missing -> CKR_TEMPLATE_INCOMPLETE.
INSTANTIATE_TEST_SUITE_P(
    Required, CreateTest,
    ::testing::Values(
        CreateCase{"create_no_class", without(aes_create(), CKA_CLASS), Origin::create, CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"create_no_key_type", without(aes_create(), CKA_KEY_TYPE), Origin::create, CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"cert_no_cert_type", without(cert_create(), CKA_CERTIFICATE_TYPE), Origin::create,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"cert_no_subject", without(cert_create(), CKA_SUBJECT), Origin::create, CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"cert_no_value", without(cert_create(), CKA_VALUE), Origin::create, CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"rsa_public_no_modulus", without(rsa_public_create(), CKA_MODULUS), Origin::create,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"rsa_public_no_exponent", without(rsa_public_create(), CKA_PUBLIC_EXPONENT), Origin::create,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"rsa_private_no_modulus", without(rsa_private_create(), CKA_MODULUS), Origin::create,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"rsa_private_no_e", without(rsa_private_create(), CKA_PUBLIC_EXPONENT), Origin::create,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"rsa_private_no_d", without(rsa_private_create(), CKA_PRIVATE_EXPONENT), Origin::create,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"rsa_private_no_crt_ok", without(without(rsa_private_create(), CKA_PRIME_1), CKA_COEFFICIENT),
                   Origin::create, CKR_OK},
        CreateCase{"ec_public_no_params", without(ec_public_create(), CKA_EC_PARAMS), Origin::create,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"ec_public_no_point", without(ec_public_create(), CKA_EC_POINT), Origin::create,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"ec_private_no_params", without(ec_private_create(), CKA_EC_PARAMS), Origin::create,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"ec_private_no_value", without(ec_private_create(), CKA_VALUE), Origin::create,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"ed_private_no_value", without(ec_private_create(CKK_EC_EDWARDS), CKA_VALUE), Origin::create,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"aes_no_value", without(aes_create(), CKA_VALUE), Origin::create, CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"generic_no_value", without(generic_create(), CKA_VALUE), Origin::create, CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"gen_aes_no_value_len", without(aes_generate(), CKA_VALUE_LEN), Origin::generate,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"gen_generic_no_value_len", {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_GENERIC_SECRET)},
                   Origin::generate, CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"gen_rsa_no_modulus_bits", without(rsa_public_generate(), CKA_MODULUS_BITS), Origin::generate,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"gen_ec_no_params", without(ec_public_generate(), CKA_EC_PARAMS), Origin::generate,
                   CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"unwrap_no_class", {U(CKA_KEY_TYPE, CKK_AES)}, Origin::unwrap, CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"unwrap_no_key_type", {U(CKA_CLASS, CKO_SECRET_KEY)}, Origin::unwrap, CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"unwrap_no_value_ok", {U(CKA_CLASS, CKO_PRIVATE_KEY), U(CKA_KEY_TYPE, CKK_RSA)}, Origin::unwrap,
                   CKR_OK},
        CreateCase{"gen_no_class_without_expectation", {U(CKA_VALUE_LEN, 16)}, Origin::generate,
                   CKR_TEMPLATE_INCOMPLETE}),
    case_name);

// Footnotes 2, 4, 6 and 10, and the token-set attributes.
INSTANTIATE_TEST_SUITE_P(
    Forbidden, CreateTest,
    ::testing::Values(
        CreateCase{"create_local", with(aes_create(), {T(CKA_LOCAL, false)}), Origin::create, CKR_ATTRIBUTE_READ_ONLY},
        CreateCase{"create_unique_id", with(data_create(), {S(CKA_UNIQUE_ID, "x")}), Origin::create,
                   CKR_ATTRIBUTE_READ_ONLY},
        CreateCase{"create_key_gen_mech", with(aes_create(), {U(CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN)}),
                   Origin::create, CKR_ATTRIBUTE_READ_ONLY},
        CreateCase{"gen_always_sensitive", with(aes_generate(), {T(CKA_ALWAYS_SENSITIVE, true)}), Origin::generate,
                   CKR_ATTRIBUTE_READ_ONLY},
        CreateCase{"gen_never_extractable", with(rsa_private_generate(), {T(CKA_NEVER_EXTRACTABLE, true)}),
                   Origin::generate, CKR_ATTRIBUTE_READ_ONLY},
        CreateCase{"unwrap_local", {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES), T(CKA_LOCAL, true)},
                   Origin::unwrap, CKR_ATTRIBUTE_READ_ONLY},
        CreateCase{"gen_aes_value", with(aes_generate(), {N(CKA_VALUE, 32)}), Origin::generate,
                   CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"gen_rsa_public_modulus", with(rsa_public_generate(), {N(CKA_MODULUS, 256)}), Origin::generate,
                   CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"gen_rsa_public_exponent_ok", with(rsa_public_generate(), {V(CKA_PUBLIC_EXPONENT, {1, 0, 1})}),
                   Origin::generate, CKR_OK},
        CreateCase{"gen_rsa_private_modulus", with(rsa_private_generate(), {N(CKA_MODULUS, 256)}), Origin::generate,
                   CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"gen_rsa_private_exponent", with(rsa_private_generate(), {V(CKA_PUBLIC_EXPONENT, {3})}),
                   Origin::generate, CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"gen_rsa_private_d", with(rsa_private_generate(), {N(CKA_PRIVATE_EXPONENT, 8)}), Origin::generate,
                   CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"gen_ec_public_point", with(ec_public_generate(), {N(CKA_EC_POINT, 67)}), Origin::generate,
                   CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"gen_ec_private_params", with(ec_private_generate(), {ec_params()}), Origin::generate,
                   CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"derive_value", {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES), N(CKA_VALUE, 16)},
                   Origin::derive, CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"unwrap_value", {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES), N(CKA_VALUE, 16)},
                   Origin::unwrap, CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"unwrap_rsa_modulus", {U(CKA_CLASS, CKO_PRIVATE_KEY), U(CKA_KEY_TYPE, CKK_RSA), N(CKA_MODULUS, 8)},
                   Origin::unwrap, CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"unwrap_value_len_ok",
                   {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES), U(CKA_VALUE_LEN, 16)},
                   Origin::unwrap, CKR_OK},
        CreateCase{"create_value_len_restated", with(aes_create(16), {U(CKA_VALUE_LEN, 16)}), Origin::create, CKR_OK},
        CreateCase{"create_value_len_conflict", with(aes_create(16), {U(CKA_VALUE_LEN, 32)}), Origin::create,
                   CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"create_modulus_bits_restated", with(rsa_public_create(), {U(CKA_MODULUS_BITS, 2048)}),
                   Origin::create, CKR_OK},
        CreateCase{"create_modulus_bits_conflict", with(rsa_public_create(), {U(CKA_MODULUS_BITS, 1024)}),
                   Origin::create, CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"trusted_cert_by_user", with(cert_create(), {T(CKA_TRUSTED, true)}), Origin::create,
                   CKR_ATTRIBUTE_READ_ONLY},
        CreateCase{"trusted_cert_by_so", with(cert_create(), {T(CKA_TRUSTED, true)}), Origin::create, CKR_OK, true},
        CreateCase{"untrusted_cert_by_user", with(cert_create(), {T(CKA_TRUSTED, false)}), Origin::create, CKR_OK},
        CreateCase{"trusted_public_key_by_user", with(rsa_public_create(), {T(CKA_TRUSTED, true)}), Origin::create,
                   CKR_ATTRIBUTE_READ_ONLY}),
    case_name);

// 4.1.1 rule 1: attributes outside the class's tables -> CKR_ATTRIBUTE_TYPE_INVALID.
INSTANTIATE_TEST_SUITE_P(
    TypeInvalid, CreateTest,
    ::testing::Values(
        CreateCase{"data_key_type", with(data_create(), {U(CKA_KEY_TYPE, CKK_AES)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"data_id", with(data_create(), {V(CKA_ID, {1})}), Origin::create, CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"secret_modulus", with(aes_create(), {N(CKA_MODULUS, 8)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"secret_subject", with(aes_create(), {N(CKA_SUBJECT, 2)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"ec_private_point", with(ec_private_create(), {N(CKA_EC_POINT, 67)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"rsa_public_sign", with(rsa_public_create(), {T(CKA_SIGN, true)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"rsa_public_sensitive", with(rsa_public_create(), {T(CKA_SENSITIVE, true)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"private_encrypt", with(rsa_private_create(), {T(CKA_ENCRYPT, true)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"private_trusted", with(rsa_private_create(), {T(CKA_TRUSTED, false)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"rsa_private_ec_params", with(rsa_private_create(), {ec_params()}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"cert_sensitive", with(cert_create(), {T(CKA_SENSITIVE, true)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"cert_key_type", with(cert_create(), {U(CKA_KEY_TYPE, CKK_RSA)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        // The template attributes live where 4.8-4.10 put them: wrap on public and secret keys, unwrap and
        // derive on private and secret keys.
        CreateCase{"private_wrap_template", with(rsa_private_create(), {N(CKA_WRAP_TEMPLATE, 0)}),
                   Origin::create, CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"public_unwrap_template", with(rsa_public_create(), {N(CKA_UNWRAP_TEMPLATE, 0)}),
                   Origin::create, CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"public_derive_template", with(rsa_public_create(), {N(CKA_DERIVE_TEMPLATE, 0)}),
                   Origin::create, CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"cert_wrap_template", with(cert_create(), {N(CKA_WRAP_TEMPLATE, 0)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"secret_wrap_template_garbage", with(aes_create(), {N(CKA_WRAP_TEMPLATE, 5)}), Origin::create,
                   CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"vendor_attribute", with(aes_create(), {N(CKA_VENDOR_DEFINED | 1, 1)}), Origin::create,
                   CKR_ATTRIBUTE_TYPE_INVALID},
        CreateCase{"gen_public_value_len", with(rsa_public_generate(), {U(CKA_VALUE_LEN, 16)}), Origin::generate,
                   CKR_ATTRIBUTE_TYPE_INVALID}),
    case_name);

// Class, key type and certificate type resolution.
INSTANTIATE_TEST_SUITE_P(
    ClassAndType, CreateTest,
    ::testing::Values(
        CreateCase{"gen_fills_class_and_type", {U(CKA_VALUE_LEN, 16)}, Origin::generate, CKR_OK, false,
                   CKO_SECRET_KEY, CKK_AES},
        CreateCase{"gen_class_conflict", aes_generate(), Origin::generate, CKR_TEMPLATE_INCONSISTENT, false,
                   CKO_PRIVATE_KEY, CKK_AES},
        CreateCase{"gen_key_type_conflict", aes_generate(), Origin::generate, CKR_TEMPLATE_INCONSISTENT, false,
                   CKO_SECRET_KEY, CKK_GENERIC_SECRET},
        CreateCase{"create_ignores_no_expectation", aes_create(), Origin::create, CKR_OK},
        CreateCase{"hw_feature", {U(CKA_CLASS, CKO_HW_FEATURE)}, Origin::create, CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"domain_parameters", {U(CKA_CLASS, CKO_DOMAIN_PARAMETERS)}, Origin::create,
                   CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"vendor_class", {U(CKA_CLASS, CKO_VENDOR_DEFINED | 5)}, Origin::create, CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"undefined_class", {U(CKA_CLASS, 0x77)}, Origin::create, CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"dsa_key", {U(CKA_CLASS, CKO_PUBLIC_KEY), U(CKA_KEY_TYPE, CKK_DSA)}, Origin::create,
                   CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"des3_key", {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_DES3), N(CKA_VALUE, 24)},
                   Origin::create, CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"aes_as_private", {U(CKA_CLASS, CKO_PRIVATE_KEY), U(CKA_KEY_TYPE, CKK_AES)}, Origin::create,
                   CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"wtls_cert", with(cert_create(), {U(CKA_CERTIFICATE_TYPE, CKC_WTLS)}), Origin::create,
                   CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"generate_cert", cert_create(), Origin::generate, CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"generate_data", data_create(), Origin::generate, CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"unwrap_public", {U(CKA_CLASS, CKO_PUBLIC_KEY), U(CKA_KEY_TYPE, CKK_RSA)}, Origin::unwrap,
                   CKR_TEMPLATE_INCONSISTENT}),
    case_name);

// 4.1.1 rule 2: values.
INSTANTIATE_TEST_SUITE_P(
    Values, CreateTest,
    ::testing::Values(
        CreateCase{"aes15", aes_create(15), Origin::create, CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"aes33", aes_create(33), Origin::create, CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"aes8", aes_create(8), Origin::create, CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"gen_aes_len_8", aes_generate(8), Origin::generate, CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"gen_aes_len_24", aes_generate(24), Origin::generate, CKR_OK},
        CreateCase{"gen_aes_len_64", aes_generate(64), Origin::generate, CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"gen_generic_len_0", {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_GENERIC_SECRET),
                                         U(CKA_VALUE_LEN, 0)}, Origin::generate, CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"generic_empty_value", with(generic_create(), {N(CKA_VALUE, 0)}), Origin::create,
                   CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"gen_rsa_bits_0", with(rsa_public_generate(), {U(CKA_MODULUS_BITS, 0)}), Origin::generate,
                   CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"rsa_empty_modulus", with(rsa_public_create(), {N(CKA_MODULUS, 0)}), Origin::create,
                   CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"ec_empty_params", with(ec_public_create(), {N(CKA_EC_PARAMS, 0)}), Origin::create,
                   CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"bad_start_date", with(aes_create(), {S(CKA_START_DATE, "2024010")}), Origin::create,
                   CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"good_end_date", with(aes_create(), {S(CKA_END_DATE, "20301231")}), Origin::create, CKR_OK},
        CreateCase{"cert_category_4", with(cert_create(), {U(CKA_CERTIFICATE_CATEGORY, 4)}), Origin::create,
                   CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"cert_category_authority", with(cert_create(), {U(CKA_CERTIFICATE_CATEGORY, 2)}), Origin::create,
                   CKR_OK},
        CreateCase{"cert_empty_value", with(cert_create(), {N(CKA_VALUE, 0)}), Origin::create,
                   CKR_ATTRIBUTE_VALUE_INVALID},
        CreateCase{"cert_url_without_hashes", with(cert_create(), {N(CKA_VALUE, 0), S(CKA_URL, "http://x/c")}),
                   Origin::create, CKR_TEMPLATE_INCOMPLETE},
        CreateCase{"cert_url_with_hashes", with(cert_create(), {N(CKA_VALUE, 0), S(CKA_URL, "http://x/c"),
                                                                N(CKA_HASH_OF_SUBJECT_PUBLIC_KEY, 20),
                                                                N(CKA_HASH_OF_ISSUER_PUBLIC_KEY, 20)}),
                   Origin::create, CKR_OK},
        CreateCase{"always_auth_public_object", with(rsa_private_create(), {T(CKA_ALWAYS_AUTHENTICATE, true),
                                                                            T(CKA_PRIVATE, false)}),
                   Origin::create, CKR_TEMPLATE_INCONSISTENT},
        CreateCase{"always_auth_private_object", with(rsa_private_create(), {T(CKA_ALWAYS_AUTHENTICATE, true)}),
                   Origin::create, CKR_OK}),
    case_name);

TEST(CheckNewObject, RejectsBadBoolWidthInHandBuiltMap) {
  AttributeMap m = to_map(aes_create());
  m[CKA_SIGN] = SecureBytes{1, 0};
  EXPECT_EQ(rv_str(rv_of([&] { check_new_object(m, Origin::create, false); })), rv_str(CKR_ATTRIBUTE_VALUE_INVALID));
}

}  // namespace
}  // namespace keyseal::core::test
