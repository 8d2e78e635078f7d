// Tests of the attribute model (core/attributes.h): template parsing (spec 4.1.1 rules 2, 5, 6), accessors,
// value encodings and C_FindObjects matching.
#include "policy_test_util.h"

namespace keyseal::core::test {
namespace {

struct ToMapCase {
  const char* name;
  AttributeTemplate tmpl;
  CK_RV expected;
};

class ToMapTest : public ::testing::TestWithParam<ToMapCase> {};

TEST_P(ToMapTest, ParsesOrRejects) {
  const auto& c = GetParam();
  EXPECT_EQ(rv_str(rv_of([&] { to_map(c.tmpl); })), rv_str(c.expected)) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Templates, ToMapTest,
    ::testing::Values(
        ToMapCase{"empty", {}, CKR_OK},
        ToMapCase{"duplicate_same_value", {S(CKA_LABEL, "a"), S(CKA_LABEL, "a")}, CKR_OK},
        ToMapCase{"duplicate_different_value", {S(CKA_LABEL, "a"), S(CKA_LABEL, "b")}, CKR_TEMPLATE_INCONSISTENT},
        ToMapCase{"duplicate_bool_true_spellings", {V(CKA_TOKEN, {1}), V(CKA_TOKEN, {7})}, CKR_OK},
        ToMapCase{"duplicate_bool_conflict", {T(CKA_TOKEN, true), T(CKA_TOKEN, false)}, CKR_TEMPLATE_INCONSISTENT},
        ToMapCase{"bool_one_byte", {V(CKA_SENSITIVE, {0})}, CKR_OK},
        ToMapCase{"bool_two_bytes", {V(CKA_SENSITIVE, {0, 1})}, CKR_ATTRIBUTE_VALUE_INVALID},
        ToMapCase{"bool_empty", {V(CKA_SIGN, {})}, CKR_ATTRIBUTE_VALUE_INVALID},
        ToMapCase{"ulong_right_size", {U(CKA_CLASS, CKO_DATA)}, CKR_OK},
        ToMapCase{"ulong_wrong_size", {N(CKA_CLASS, sizeof(CK_ULONG) == 8 ? 4 : 8, 0)}, CKR_ATTRIBUTE_VALUE_INVALID},
        ToMapCase{"ulong_value_len_short", {N(CKA_VALUE_LEN, 1, 16)}, CKR_ATTRIBUTE_VALUE_INVALID},
        ToMapCase{"key_type_long", {N(CKA_KEY_TYPE, sizeof(CK_ULONG) + 1, 0)}, CKR_ATTRIBUTE_VALUE_INVALID},
        ToMapCase{"bytes_any_length", {N(CKA_LABEL, 3), N(CKA_ID, 0)}, CKR_OK},
        ToMapCase{"allowed_mechanisms_two", {N(CKA_ALLOWED_MECHANISMS, 2 * sizeof(CK_ULONG))}, CKR_OK},
        ToMapCase{"allowed_mechanisms_empty", {N(CKA_ALLOWED_MECHANISMS, 0)}, CKR_OK},
        ToMapCase{"allowed_mechanisms_ragged", {N(CKA_ALLOWED_MECHANISMS, sizeof(CK_ULONG) + 3)},
                  CKR_ATTRIBUTE_VALUE_INVALID}),
    [](const auto& info) { return std::string(info.param.name); });

// CKA_WRAP_TEMPLATE and friends: the canonical nested encoding (attributes.h) is sorted, normalised and
// checked; a decode of anything else fails with CKR_ATTRIBUTE_VALUE_INVALID and never reads past the end.
TEST(TemplateValue, EncodesCanonicallyAndRoundTrips) {
  const SecureBytes a = encode_template_value({V(CKA_SIGN, {7}), U(CKA_KEY_TYPE, CKK_AES), S(CKA_LABEL, "x")});
  const SecureBytes b = encode_template_value({S(CKA_LABEL, "x"), T(CKA_SIGN, true), U(CKA_KEY_TYPE, CKK_AES)});
  EXPECT_EQ(a, b) << "order and CK_BBOOL spelling do not change the stored value";
  const AttributeMap m = decode_template_value(view(a));
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(get_bool(m, CKA_SIGN), true);
  EXPECT_EQ(get_ulong(m, CKA_KEY_TYPE), CKK_AES);
  EXPECT_EQ(*get_bytes(m, CKA_LABEL), SecureBytes{'x'});
  EXPECT_TRUE(decode_template_value(ByteView()).empty());
  EXPECT_EQ(a.size(), 3 * 12 + 1 + sizeof(CK_ULONG) + 1);
}

TEST(TemplateValue, RejectsWhatIsNotATemplate) {
  EXPECT_EQ(rv_of([] { encode_template_value({V(CKA_SIGN, {1, 1})}); }), CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_EQ(rv_of([] { encode_template_value({S(CKA_LABEL, "a"), S(CKA_LABEL, "b")}); }),
            CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_EQ(rv_of([] { encode_template_value({N(CKA_WRAP_TEMPLATE, 0)}); }), CKR_ATTRIBUTE_VALUE_INVALID)
      << "no template inside a template";
  EXPECT_EQ(rv_of([] { encode_template_value({S(CKA_LABEL, "a"), S(CKA_LABEL, "a")}); }), CKR_OK);
  const SecureBytes good = encode_template_value({S(CKA_LABEL, "ab"), T(CKA_SIGN, true)});
  for (size_t cut = 1; cut < good.size(); ++cut) {
    if (cut == 14) continue;  // a whole first record: a valid one-attribute template
    EXPECT_EQ(rv_of([&] { decode_template_value(ByteView(good.data(), cut)); }), CKR_ATTRIBUTE_VALUE_INVALID) << cut;
  }
  SecureBytes unsorted = encode_template_value({T(CKA_SIGN, true)});
  const SecureBytes label = encode_template_value({S(CKA_LABEL, "ab")});
  unsorted.insert(unsorted.end(), label.begin(), label.end());  // CKA_SIGN (0x108) before CKA_LABEL (0x3)
  EXPECT_EQ(rv_of([&] { decode_template_value(view(unsorted)); }), CKR_ATTRIBUTE_VALUE_INVALID);
  SecureBytes huge = label;
  huge[8] = 0xff, huge[9] = 0xff, huge[10] = 0xff, huge[11] = 0xff;  // a length far past the end
  EXPECT_EQ(rv_of([&] { decode_template_value(view(huge)); }), CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_EQ(rv_of([&] { to_map({N(CKA_UNWRAP_TEMPLATE, 7)}); }), CKR_ATTRIBUTE_VALUE_INVALID);
}

TEST(ToMap, NormalisesBoolsAndKeepsValues) {
  AttributeMap m = to_map({V(CKA_TOKEN, {0x05}), S(CKA_LABEL, "key"), U(CKA_CLASS, CKO_SECRET_KEY)});
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m.at(CKA_TOKEN), SecureBytes{1});
  EXPECT_EQ(get_bool(m, CKA_TOKEN), std::optional<bool>(true));
  EXPECT_EQ(m.at(CKA_LABEL), to_bytes(view(std::string_view("key"))));
  EXPECT_EQ(get_ulong(m, CKA_CLASS), std::optional<CK_ULONG>(CKO_SECRET_KEY));
}

TEST(Accessors, RoundTripAndAbsence) {
  AttributeMap m;
  EXPECT_FALSE(get_ulong(m, CKA_VALUE_LEN).has_value());
  EXPECT_FALSE(get_bool(m, CKA_SIGN).has_value());
  EXPECT_EQ(get_bytes(m, CKA_ID), nullptr);
  EXPECT_TRUE(bool_or(m, CKA_SIGN, true));
  EXPECT_FALSE(bool_or(m, CKA_SIGN, false));

  set_ulong(m, CKA_VALUE_LEN, 24);
  set_bool(m, CKA_SIGN, false);
  const uint8_t id[] = {1, 2, 3};
  set_bytes(m, CKA_ID, ByteView(id));
  EXPECT_EQ(get_ulong(m, CKA_VALUE_LEN), std::optional<CK_ULONG>(24));
  EXPECT_EQ(get_bool(m, CKA_SIGN), std::optional<bool>(false));
  EXPECT_FALSE(bool_or(m, CKA_SIGN, true));
  ASSERT_NE(get_bytes(m, CKA_ID), nullptr);
  EXPECT_EQ(*get_bytes(m, CKA_ID), (SecureBytes{1, 2, 3}));
  EXPECT_EQ(m.at(CKA_VALUE_LEN).size(), sizeof(CK_ULONG));

  m[CKA_MODULUS_BITS] = SecureBytes{1, 2};  // wrong width: not a CK_ULONG
  EXPECT_FALSE(get_ulong(m, CKA_MODULUS_BITS).has_value());
}

struct KindCase {
  CK_ATTRIBUTE_TYPE type;
  bool is_bool;
  bool is_ulong;
};

class AttributeKindTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(AttributeKindTest, Classified) {
  const auto& c = GetParam();
  EXPECT_EQ(is_bool_attribute(c.type), c.is_bool) << std::hex << c.type;
  EXPECT_EQ(is_ulong_attribute(c.type), c.is_ulong) << std::hex << c.type;
}

INSTANTIATE_TEST_SUITE_P(
    Types, AttributeKindTest,
    ::testing::Values(KindCase{CKA_TOKEN, true, false}, KindCase{CKA_SENSITIVE, true, false},
                      KindCase{CKA_ALWAYS_AUTHENTICATE, true, false}, KindCase{CKA_WRAP_WITH_TRUSTED, true, false},
                      KindCase{CKA_COPYABLE, true, false}, KindCase{CKA_CLASS, false, true},
                      KindCase{CKA_KEY_TYPE, false, true}, KindCase{CKA_CERTIFICATE_TYPE, false, true},
                      KindCase{CKA_VALUE_LEN, false, true}, KindCase{CKA_MODULUS_BITS, false, true},
                      KindCase{CKA_KEY_GEN_MECHANISM, false, true}, KindCase{CKA_CERTIFICATE_CATEGORY, false, true},
                      KindCase{CKA_LABEL, false, false}, KindCase{CKA_VALUE, false, false},
                      KindCase{CKA_ALLOWED_MECHANISMS, false, false}, KindCase{CKA_UNIQUE_ID, false, false}));

struct DateCase {
  const char* value;
  CK_RV expected;
};

class DateEncodingTest : public ::testing::TestWithParam<DateCase> {};

TEST_P(DateEncodingTest, Checked) {
  const auto& c = GetParam();
  EXPECT_EQ(rv_str(rv_of([&] { check_value_encoding(CKA_START_DATE, view(std::string_view(c.value))); })),
            rv_str(c.expected))
      << "'" << c.value << "'";
}

INSTANTIATE_TEST_SUITE_P(Dates, DateEncodingTest,
                         ::testing::Values(DateCase{"", CKR_OK}, DateCase{"20240229", CKR_OK},
                                           DateCase{"2024022", CKR_ATTRIBUTE_VALUE_INVALID},
                                           DateCase{"202402290", CKR_ATTRIBUTE_VALUE_INVALID},
                                           DateCase{"2024-2-1", CKR_ATTRIBUTE_VALUE_INVALID}));

struct MatchCase {
  const char* name;
  AttributeTemplate search;
  bool expected;
};

class MatchFixture : public ::testing::Test {
 protected:
  // A session AES key with a readable value would be odd; the default one is sensitive.
  AttributeMap object = make_object(with(aes_create(16), {S(CKA_LABEL, "k1"), V(CKA_ID, {0xab})}));
  AttributeMap readable = make_object(
      with(aes_create(16), {T(CKA_SENSITIVE, false), T(CKA_EXTRACTABLE, true), S(CKA_LABEL, "k1")}));
};

class MatchesTest : public MatchFixture, public ::testing::WithParamInterface<MatchCase> {};

TEST_P(MatchesTest, Matches) {
  const auto& c = GetParam();
  EXPECT_EQ(matches(object, to_map(c.search)), c.expected) << c.name;
}

INSTANTIATE_TEST_SUITE_P(
    Searches, MatchesTest,
    ::testing::Values(
        MatchCase{"empty_matches_all", {}, true},
        MatchCase{"class", {U(CKA_CLASS, CKO_SECRET_KEY)}, true},
        MatchCase{"other_class", {U(CKA_CLASS, CKO_PRIVATE_KEY)}, false},
        MatchCase{"label_and_id", {S(CKA_LABEL, "k1"), V(CKA_ID, {0xab})}, true},
        MatchCase{"label_prefix_is_not_equal", {S(CKA_LABEL, "k")}, false},
        MatchCase{"one_of_two_differs", {S(CKA_LABEL, "k1"), V(CKA_ID, {0xac})}, false},
        MatchCase{"default_token_false", {T(CKA_TOKEN, false)}, true},
        MatchCase{"token_true", {T(CKA_TOKEN, true)}, false},
        MatchCase{"bool_spelled_2", {V(CKA_SENSITIVE, {2})}, true},
        MatchCase{"absent_attribute", {N(CKA_MODULUS, 4)}, false},
        MatchCase{"sensitive_value_never_matches", {N(CKA_VALUE, 16, 0x77)}, false}),
    [](const auto& info) { return std::string(info.param.name); });

TEST_F(MatchFixture, ReadableValueMatches) {
  EXPECT_TRUE(matches(readable, to_map({N(CKA_VALUE, 16, 0x77)})));
  EXPECT_FALSE(matches(readable, to_map({N(CKA_VALUE, 16, 0x78)})));
}

}  // namespace
}  // namespace keyseal::core::test
