// The soft token's records without the backend: PIN record schemes 1 and 2 (pin_wrap), the recovery code
// (format, sealing, re-binding onto new hardware) and the binding summary.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "common/error.h"
#include "fake_machine.h"
#include "softtoken/pin_wrap.h"
#include "softtoken/recovery.h"
#include "softtoken/soft_backend.h"

namespace keyseal::softtoken {
namespace {

using testing::FakeMachine;
using testing::kFast;
using testing::pin_of;
using testing::rv_of;
using testing::TempToken;



TEST(PinWrap, SchemeTwoNeedsTheSecret) {
  const SecureBytes mk(32, 7), s(32, 9), other(32, 10);
  const SecureBytes rec = seal_master_key_v2(view(mk), pin_of("1234"), view(s), "ctx", kFast);
  EXPECT_EQ(record_scheme(view(rec)), PinScheme::argon2id_fingerprint_v2);
  int tries = 0;
  auto offer = [&](std::vector<SecureBytes> candidates) {
    return [&, candidates](const SecretCheckFn& check) {
      for (const auto& c : candidates) {
        ++tries;
        if (check(view(c))) return true;
      }
      return false;
    };
  };
  EXPECT_TRUE(equal_bytes(view(open_master_key(view(rec), pin_of("1234"), "ctx", offer({other, s}))), view(mk)));
  EXPECT_EQ(tries, 2);
  EXPECT_EQ(rv_of([&] { open_master_key(view(rec), pin_of("1234"), "ctx", offer({other})); }), CKR_PIN_INCORRECT);
  EXPECT_EQ(rv_of([&] { open_master_key(view(rec), pin_of("9999"), "ctx", offer({s})); }), CKR_PIN_INCORRECT);
  EXPECT_EQ(rv_of([&] { open_master_key(view(rec), pin_of("1234"), "other", offer({s})); }), CKR_PIN_INCORRECT);
  EXPECT_EQ(rv_of([&] { open_master_key(view(rec), pin_of("1234"), "ctx"); }), CKR_DEVICE_ERROR);
}

TEST(PinWrap, SchemeOneStillOpensAndSchemesDoNotMix) {
  const SecureBytes mk(32, 7);
  SecureBytes rec = seal_master_key(view(mk), pin_of("1234"), "ctx", kFast);
  EXPECT_EQ(record_scheme(view(rec)), PinScheme::argon2id_v1);
  EXPECT_TRUE(equal_bytes(view(open_master_key(view(rec), pin_of("1234"), "ctx")), view(mk)));
  rec[0] = 2;  // relabelled as scheme 2: the KEK and the associated data differ, so it must not open
  const SecureBytes s(32, 9);
  EXPECT_EQ(rv_of([&] {
              open_master_key(view(rec), pin_of("1234"), "ctx", [&](const SecretCheckFn& c) { return c(view(s)); });
            }),
            CKR_PIN_INCORRECT);
  rec[0] = 3;  // scheme 3 needs the PIN-keyed split: not openable this way
  EXPECT_EQ(rv_of([&] { open_master_key(view(rec), pin_of("1234"), "ctx"); }), CKR_DEVICE_ERROR);
  rec[0] = 4;
  EXPECT_EQ(rv_of([&] { open_master_key(view(rec), pin_of("1234"), "ctx"); }), CKR_DEVICE_ERROR);
}

TEST(RecoveryCode, FormatAndParse) {
  std::set<std::string> seen;
  for (int i = 0; i < 20; ++i) {
    const SecureBytes code = make_recovery_code();
    const std::string text(code.begin(), code.end());
    ASSERT_EQ(text.size(), 39u) << text;  // 8 groups of 4, 7 dashes
    for (size_t j = 0; j < text.size(); ++j) {
      if (j % 5 == 4) {
        EXPECT_EQ(text[j], '-');
      } else {
        EXPECT_TRUE((text[j] >= 'A' && text[j] <= 'Z') || (text[j] >= '2' && text[j] <= '7')) << text;
      }
    }
    EXPECT_EQ(parse_recovery_code(view(code)).size(), kRecoveryCodeBytes);
    seen.insert(text);
  }
  EXPECT_EQ(seen.size(), 20u);
  // Known value: 20 zero bytes are 32 'A's; case, blanks and dashes do not matter.
  EXPECT_EQ(parse_recovery_code(view(std::string(32, 'a'))), SecureBytes(20, 0));
  const SecureBytes ff = parse_recovery_code(view(std::string_view("7777 7777-7777 7777 7777 7777 7777 7777")));
  EXPECT_EQ(ff, SecureBytes(20, 0xff));
  EXPECT_EQ(rv_of([] { parse_recovery_code(view(std::string(31, 'A'))); }), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(rv_of([] { parse_recovery_code(view(std::string(33, 'A'))); }), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(rv_of([] { parse_recovery_code(view(std::string(31, 'A') + "1")); }), CKR_ARGUMENTS_BAD);
}

struct RecoveryFixture : ::testing::Test {
  FakeMachine machine;
  TempToken token;
  SoftBackend backend{kFast, machine.provider()};
  SecureBytes mk;
  void SetUp() override {
    token.db->transaction([&] { mk = backend.create_master_key(*token.db, pin_of("so-pin"), 10); });
    backend.set_pin(*token.db, CKU_USER, view(mk), pin_of("user-pin"));
  }
};

TEST_F(RecoveryFixture, CodeRebindsTheTokenOnNewHardware) {
  EXPECT_FALSE(has_recovery(*token.db));
  const SecureBytes code = add_recovery_code(*token.db, CKU_SO, pin_of("so-pin"), machine.provider());
  EXPECT_TRUE(has_recovery(*token.db));

  machine.values = {{"machine-id", "new-m"}, {"nic-mac", "new-n"}, {"cpu-id", "new-c"}};  // new hardware
  EXPECT_EQ(rv_of([&] { backend.unlock(*token.db, CKU_USER, pin_of("user-pin")); }), CKR_PIN_INCORRECT);

  // Right PINs refused there counted as failures (core's counters; the user's reached its limit).
  token.db->set_meta(store::kPinFailuresUser, pin_of("10"));
  token.db->set_meta(store::kPinFailuresSo, pin_of("3"));
  SecureBytes wrong = make_recovery_code();
  EXPECT_EQ(rv_of([&] { recover_binding(*token.db, view(wrong), machine.provider()); }), CKR_PIN_INCORRECT);
  EXPECT_TRUE(token.meta(store::kPinFailuresUser).has_value());  // a wrong code changes nothing
  EXPECT_EQ(recover_binding(*token.db, view(code), machine.provider()), "binding: moderate, 3 factors");
  EXPECT_FALSE(token.meta(store::kPinFailuresUser).has_value());  // cleared: the token is usable again
  EXPECT_FALSE(token.meta(store::kPinFailuresSo).has_value());

  EXPECT_TRUE(equal_bytes(view(backend.unlock(*token.db, CKU_USER, pin_of("user-pin"))), view(mk)));
  EXPECT_TRUE(equal_bytes(view(backend.unlock(*token.db, CKU_SO, pin_of("so-pin"))), view(mk)));
  // The PIN still guards the keys.
  EXPECT_EQ(rv_of([&] { backend.unlock(*token.db, CKU_USER, pin_of("wrong")); }), CKR_PIN_INCORRECT);
}

TEST_F(RecoveryFixture, NoCodeNoRecovery) {
  const SecureBytes code = make_recovery_code();
  EXPECT_EQ(rv_of([&] { recover_binding(*token.db, view(code), machine.provider()); }), CKR_FUNCTION_FAILED);
}

TEST_F(RecoveryFixture, AddingACodeNeedsThePin) {
  EXPECT_EQ(rv_of([&] { add_recovery_code(*token.db, CKU_SO, pin_of("wrong"), machine.provider()); }),
            CKR_PIN_INCORRECT);
  EXPECT_FALSE(has_recovery(*token.db));
}

TEST_F(RecoveryFixture, SummaryNamesStrengthWithoutValues) {
  const std::string s = binding_summary(*token.db, machine.provider());
  EXPECT_EQ(s, "binding: strong, 6 factors");
  for (const auto& [id, v] : machine.values) EXPECT_EQ(s.find(*v), std::string::npos);
  // The path form opens the token file itself.
  EXPECT_NO_THROW((void)binding_summary(token.dir / "token-0.db"));
}

}  // namespace
}  // namespace keyseal::softtoken
