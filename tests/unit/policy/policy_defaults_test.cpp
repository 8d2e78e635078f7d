// Tests of the defaults check_new_object fills (spec defaults and footnote 9 choices), of finish_new_object's
// token-set attributes per creating function (base spec 4.7, 4.9, 4.10) and public_attributes_on_private_key.
#include "policy_test_util.h"

namespace keyseal::core::test {
namespace {

auto case_name = [](const auto& info) { return std::string(info.param.name); };

// Defaults (footnote 9 choices and the spec's stated defaults).
struct DefaultCase {
  const char* name;
  AttributeTemplate tmpl;
  Origin origin;
  CK_ATTRIBUTE_TYPE type;
  SecureBytes expected;
};

class DefaultsTest : public ::testing::TestWithParam<DefaultCase> {};

TEST_P(DefaultsTest, Filled) {
  const auto& c = GetParam();
  AttributeMap m = to_map(c.tmpl);
  ASSERT_EQ(rv_str(rv_of([&] { check_new_object(m, c.origin, false); })), rv_str(CKR_OK)) << c.name;
  ASSERT_NE(get_bytes(m, c.type), nullptr) << c.name << " lacks its default";
  EXPECT_EQ(*get_bytes(m, c.type), c.expected) << c.name;
}

DefaultCase D(const char* name, AttributeTemplate t, CK_ATTRIBUTE_TYPE type, bool v, Origin o = Origin::create) {
  return {name, std::move(t), o, type, bool_bytes(v)};
}
DefaultCase E(const char* name, AttributeTemplate t, CK_ATTRIBUTE_TYPE type) {
  return {name, std::move(t), Origin::create, type, SecureBytes{}};
}

INSTANTIATE_TEST_SUITE_P(
    Defaults, DefaultsTest,
    ::testing::Values(
        D("secret_token", aes_create(), CKA_TOKEN, false), D("secret_private", aes_create(), CKA_PRIVATE, true),
        D("secret_modifiable", aes_create(), CKA_MODIFIABLE, true),
        D("secret_copyable", aes_create(), CKA_COPYABLE, true),
        D("secret_destroyable", aes_create(), CKA_DESTROYABLE, true),
        D("secret_sensitive", aes_create(), CKA_SENSITIVE, true),
        D("secret_extractable", aes_create(), CKA_EXTRACTABLE, false),
        D("secret_encrypt", aes_create(), CKA_ENCRYPT, true), D("secret_decrypt", aes_create(), CKA_DECRYPT, true),
        D("secret_sign", generic_create(), CKA_SIGN, true), D("secret_verify", generic_create(), CKA_VERIFY, true),
        D("secret_wrap", aes_create(), CKA_WRAP, true), D("secret_unwrap", aes_create(), CKA_UNWRAP, true),
        D("secret_derive", aes_create(), CKA_DERIVE, false),
        D("secret_wrap_with_trusted", aes_create(), CKA_WRAP_WITH_TRUSTED, false),
        D("secret_trusted", aes_create(), CKA_TRUSTED, false),
        D("gen_secret_sensitive", aes_generate(), CKA_SENSITIVE, true, Origin::generate),
        D("gen_private_extractable", rsa_private_generate(), CKA_EXTRACTABLE, false, Origin::generate),
        D("gen_private_sensitive", ec_private_generate(), CKA_SENSITIVE, true, Origin::generate),
        D("rsa_private_sign", rsa_private_create(), CKA_SIGN, true),
        D("rsa_private_decrypt", rsa_private_create(), CKA_DECRYPT, true),
        D("rsa_private_unwrap", rsa_private_create(), CKA_UNWRAP, true),
        D("rsa_private_sign_recover", rsa_private_create(), CKA_SIGN_RECOVER, false),
        D("rsa_private_always_auth", rsa_private_create(), CKA_ALWAYS_AUTHENTICATE, false),
        D("rsa_private_private", rsa_private_create(), CKA_PRIVATE, true),
        D("ec_private_sign", ec_private_create(), CKA_SIGN, true),
        D("ec_private_decrypt", ec_private_create(), CKA_DECRYPT, false),
        D("ec_private_derive", ec_private_create(), CKA_DERIVE, false),
        D("rsa_public_verify", rsa_public_create(), CKA_VERIFY, true),
        D("rsa_public_encrypt", rsa_public_create(), CKA_ENCRYPT, true),
        D("rsa_public_wrap", rsa_public_create(), CKA_WRAP, true),
        D("rsa_public_verify_recover", rsa_public_create(), CKA_VERIFY_RECOVER, false),
        D("rsa_public_private", rsa_public_create(), CKA_PRIVATE, false),
        D("rsa_public_trusted", rsa_public_create(), CKA_TRUSTED, false),
        D("ec_public_encrypt", ec_public_create(), CKA_ENCRYPT, false),
        D("ec_public_verify", ec_public_create(), CKA_VERIFY, true),
        D("data_private", data_create(), CKA_PRIVATE, false), D("cert_private", cert_create(), CKA_PRIVATE, false),
        D("cert_trusted", cert_create(), CKA_TRUSTED, false),
        D("caller_value_kept", with(aes_create(), {T(CKA_SENSITIVE, false)}), CKA_SENSITIVE, false),
        D("caller_extractable_kept", with(aes_create(), {T(CKA_EXTRACTABLE, true)}), CKA_EXTRACTABLE, true),
        E("data_label", {U(CKA_CLASS, CKO_DATA)}, CKA_LABEL), E("data_value", {U(CKA_CLASS, CKO_DATA)}, CKA_VALUE),
        E("data_application", {U(CKA_CLASS, CKO_DATA)}, CKA_APPLICATION),
        E("key_id", aes_create(), CKA_ID), E("key_start_date", aes_create(), CKA_START_DATE),
        E("key_end_date", rsa_public_create(), CKA_END_DATE), E("private_subject", rsa_private_create(), CKA_SUBJECT),
        E("private_public_key_info", ec_private_create(), CKA_PUBLIC_KEY_INFO),
        E("key_allowed_mechanisms", aes_create(), CKA_ALLOWED_MECHANISMS), E("cert_id", cert_create(), CKA_ID),
        E("cert_issuer", cert_create(), CKA_ISSUER), E("cert_serial", cert_create(), CKA_SERIAL_NUMBER),
        DefaultCase{"cert_category", cert_create(), Origin::create, CKA_CERTIFICATE_CATEGORY, ulong_bytes(0)}),
    case_name);

// finish_new_object: token-set attributes per origin.
struct FinishCase {
  const char* name;
  AttributeTemplate tmpl;
  Origin origin;
  bool local;
  CK_MECHANISM_TYPE key_gen;
  bool always_sensitive;
  bool never_extractable;
  std::optional<AttributeTemplate> base = std::nullopt;  // derive: the base key's flags
};

class FinishTest : public ::testing::TestWithParam<FinishCase> {};

TEST_P(FinishTest, SetsTokenAttributes) {
  const auto& c = GetParam();
  AttributeMap m = to_map(c.tmpl);
  check_new_object(m, c.origin == Origin::copy ? Origin::create : c.origin, false);
  if (c.base) {
    AttributeMap base = to_map(*c.base);
    if (c.origin == Origin::derive) inherit_from_base_key(m, base);
    for (auto& [t, v] : base) m[t] = v;  // copy: the source object's values are already in the map
  }
  finish_new_object(m, c.origin, CKM_AES_KEY_GEN, "0123-uid");
  EXPECT_EQ(get_bool(m, CKA_LOCAL), std::optional<bool>(c.local)) << c.name;
  EXPECT_EQ(get_ulong(m, CKA_KEY_GEN_MECHANISM), std::optional<CK_ULONG>(c.key_gen)) << c.name;
  EXPECT_EQ(get_bool(m, CKA_ALWAYS_SENSITIVE), std::optional<bool>(c.always_sensitive)) << c.name;
  EXPECT_EQ(get_bool(m, CKA_NEVER_EXTRACTABLE), std::optional<bool>(c.never_extractable)) << c.name;
  ASSERT_NE(get_bytes(m, CKA_UNIQUE_ID), nullptr);
  EXPECT_EQ(*get_bytes(m, CKA_UNIQUE_ID), to_bytes(view(std::string_view("0123-uid"))));
}

constexpr CK_ULONG kNone = CK_UNAVAILABLE_INFORMATION;
const AttributeTemplate kUnwrapAes = {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES)};
const AttributeTemplate kDeriveAes = {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES), U(CKA_VALUE_LEN, 16)};

INSTANTIATE_TEST_SUITE_P(
    Origins, FinishTest,
    ::testing::Values(
        FinishCase{"generate_default", aes_generate(), Origin::generate, true, CKM_AES_KEY_GEN, true, true},
        FinishCase{"generate_extractable", with(aes_generate(), {T(CKA_EXTRACTABLE, true)}), Origin::generate, true,
                   CKM_AES_KEY_GEN, true, false},
        FinishCase{"generate_not_sensitive", with(aes_generate(), {T(CKA_SENSITIVE, false)}), Origin::generate, true,
                   CKM_AES_KEY_GEN, false, true},
        FinishCase{"create", aes_create(), Origin::create, false, kNone, false, false},
        FinishCase{"unwrap", kUnwrapAes, Origin::unwrap, false, kNone, false, false},
        FinishCase{"derive_from_safe_base", kDeriveAes, Origin::derive, false, kNone, true, true,
                   AttributeTemplate{T(CKA_ALWAYS_SENSITIVE, true), T(CKA_NEVER_EXTRACTABLE, true)}},
        FinishCase{"derive_from_unsafe_base", kDeriveAes, Origin::derive, false, kNone, false, false,
                   AttributeTemplate{T(CKA_ALWAYS_SENSITIVE, false), T(CKA_NEVER_EXTRACTABLE, false)}},
        FinishCase{"derive_without_base_info", kDeriveAes, Origin::derive, false, kNone, false, false},
        FinishCase{"copy_of_generated", aes_create(), Origin::copy, true, CKM_AES_KEY_GEN, true, true,
                   AttributeTemplate{T(CKA_LOCAL, true), U(CKA_KEY_GEN_MECHANISM, CKM_AES_KEY_GEN),
                                     T(CKA_ALWAYS_SENSITIVE, true), T(CKA_NEVER_EXTRACTABLE, true)}},
        FinishCase{"copy_of_imported", aes_create(), Origin::copy, false, kNone, false, false,
                   AttributeTemplate{T(CKA_LOCAL, false), U(CKA_KEY_GEN_MECHANISM, kNone),
                                     T(CKA_ALWAYS_SENSITIVE, false), T(CKA_NEVER_EXTRACTABLE, false)}}),
    case_name);

TEST(FinishNewObject, DerivedLengthsAndNonKeys) {
  AttributeMap secret = to_map(aes_generate(24));
  check_new_object(secret, Origin::generate, false);
  set_bytes(secret, CKA_VALUE, view(SecureBytes(24, 1)));
  finish_new_object(secret, Origin::generate, CKM_AES_KEY_GEN, "u");
  EXPECT_EQ(get_ulong(secret, CKA_VALUE_LEN), std::optional<CK_ULONG>(24));

  AttributeMap pub = to_map(with(rsa_public_create(), {V(CKA_MODULUS, {0x00, 0x80, 0x01})}));
  check_new_object(pub, Origin::create, false);
  finish_new_object(pub, Origin::create, 0, "u");
  EXPECT_EQ(get_ulong(pub, CKA_MODULUS_BITS), std::optional<CK_ULONG>(16));
  EXPECT_FALSE(get_bool(pub, CKA_ALWAYS_SENSITIVE).has_value());  // not a public key attribute

  AttributeMap data = make_object(data_create());
  EXPECT_EQ(data.count(CKA_LOCAL), 0u);
  EXPECT_EQ(data.count(CKA_UNIQUE_ID), 1u);
}

TEST(PublicAttributesOnPrivateKey, PerKeyType) {
  using V = std::vector<CK_ATTRIBUTE_TYPE>;
  EXPECT_EQ(public_attributes_on_private_key(CKK_RSA), (V{CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PUBLIC_KEY_INFO}));
  EXPECT_EQ(public_attributes_on_private_key(CKK_EC), (V{CKA_EC_PARAMS, CKA_PUBLIC_KEY_INFO}));
  EXPECT_EQ(public_attributes_on_private_key(CKK_EC_EDWARDS), (V{CKA_EC_PARAMS, CKA_PUBLIC_KEY_INFO}));
  EXPECT_TRUE(public_attributes_on_private_key(CKK_AES).empty());
  // Each listed attribute must itself be valid on the private key.
  for (CK_KEY_TYPE kt : {CKK_RSA, CKK_EC}) {
    AttributeMap key = make_object(kt == CKK_RSA ? rsa_private_create() : ec_private_create());
    for (CK_ATTRIBUTE_TYPE t : public_attributes_on_private_key(kt)) EXPECT_EQ(check_read(key, t), CKR_OK) << t;
  }
}

}  // namespace
}  // namespace keyseal::core::test
