// SoftBackend with the hardware fingerprint (issue 5; per-record splits: issue 11, item 9): the machine is
// varied through fake factor sources; the token is a real store::TokenDb in a temporary directory. Covers:
// same machine, one change (opens and re-enrols; changes do not add up), two changes, wrong PIN, identical
// refusals, scheme-1 and scheme-2 upgrades, corrupt binding, PIN-only machines, the token-info model and the
// measured unlock time.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <functional>
#include <iostream>

#include "common/error.h"
#include "core/padded.h"
#include "fake_machine.h"
#include "legacy_token.h"
#include "softtoken/pin_wrap.h"
#include "softtoken/soft_backend.h"

namespace keyseal::softtoken {
namespace {

using testing::FakeMachine;
using testing::init_pins;
using testing::kFast;
using testing::kSo;
using testing::kUser;
using testing::login_as;
using testing::pin_of;
using testing::TempToken;


struct Fixture : ::testing::Test {
  FakeMachine machine;
  TempToken token;
  SoftBackend backend{kFast, machine.provider()};
  SecureBytes mk;

  void SetUp() override { mk = init_pins(backend, token); }
  SecureBytes login(CK_USER_TYPE who, std::string_view pin) { return login_as(backend, token, who, pin); }
  Error refusal(CK_USER_TYPE who, std::string_view pin) {
    try {
      backend.unlock(*token.db, who, pin_of(pin));
    } catch (const Error& e) {
      return e;
    }
    ADD_FAILURE() << "unlock succeeded";
    return Error{CKR_OK, ""};
  }
  PinScheme scheme(CK_USER_TYPE who) { return record_scheme(view(*token.meta(pin_meta_key(who)))); }
  std::string model() {
    CK_TOKEN_INFO info;
    std::memset(&info, 0, sizeof info);
    backend.fill_token_info(*token.db, info);
    return core::trim_padded(ByteView(info.model, sizeof info.model));
  }
};

TEST_F(Fixture, NewTokenIsBoundWithSchemeThree) {
  EXPECT_EQ(scheme(CKU_SO), PinScheme::argon2id_fingerprint_v3);
  EXPECT_EQ(scheme(CKU_USER), PinScheme::argon2id_fingerprint_v3);
  const auto binding = load_binding(*token.db);
  ASSERT_TRUE(binding.has_value());
  EXPECT_EQ(binding->n, 6);
  EXPECT_EQ(binding->k, 5);
  EXPECT_EQ(binding->version, fingerprint::kRecordVersion);
  EXPECT_TRUE(token.meta(kSealedSecretKey).has_value());
  EXPECT_FALSE(token.meta(kLegacyBindingKey).has_value()) << "no split outside the PIN records";
  EXPECT_FALSE(token.meta(kTransitKey).has_value());
}

TEST_F(Fixture, SameMachineOpens) {
  const auto so = token.meta("pin.so"), user = token.meta("pin.user");
  EXPECT_TRUE(equal_bytes(view(login(CKU_SO, kSo)), view(mk)));
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
  // Nothing changed, so nothing is re-enrolled.
  EXPECT_TRUE(equal_bytes(view(*token.meta("pin.so")), view(*so)));
  EXPECT_TRUE(equal_bytes(view(*token.meta("pin.user")), view(*user)));
}

TEST_F(Fixture, OneChangedFactorOpensAndReenrols) {
  const auto before = token.meta("pin.user");
  machine.values["nic-mac"] = "n-2";  // a new network card
  const Unlocked u = unlock_master_key(*token.db, CKU_USER, pin_of(kUser), machine.provider());
  EXPECT_TRUE(equal_bytes(view(u.master_key), view(mk)));
  ASSERT_TRUE(u.recovery.has_value());
  EXPECT_EQ(u.recovery->changed, std::vector<std::string>{"nic-mac"});

  login(CKU_USER, kUser);  // through the backend, which keeps what the unlock found for after_unlock
  EXPECT_FALSE(equal_bytes(view(*token.meta("pin.user")), view(*before))) << "binding not re-enrolled";
  const Unlocked again = unlock_master_key(*token.db, CKU_USER, pin_of(kUser), machine.provider());
  ASSERT_TRUE(again.recovery.has_value());
  EXPECT_TRUE(again.recovery->changed.empty()) << "the re-enrolled binding holds the current values";
}

TEST_F(Fixture, ChangesDoNotAddUpAfterReenrolment) {
  machine.values["nic-mac"] = "n-2";
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));  // re-enrols
  machine.values["disk-serial"] = "d-2";                             // a second, different single change later
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
  machine.values["cpu-id"] = "c-2";  // and a third
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
  // Each record carries its own split, re-enrolled at its own role's logins: the SO's, untouched since the
  // token was made, now sees three changes. (It would have followed had the SO logged in between; the
  // recovery code, or a new SO PIN at re-initialisation, is the way back.)
  EXPECT_EQ(refusal(CKU_SO, kSo).rv, CKR_PIN_INCORRECT);
}

TEST_F(Fixture, EachRoleFollowsChangesAtItsOwnLogins) {
  machine.values["nic-mac"] = "n-2";
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
  EXPECT_TRUE(equal_bytes(view(login(CKU_SO, kSo)), view(mk)));
  machine.values["disk-serial"] = "d-2";
  EXPECT_TRUE(equal_bytes(view(login(CKU_SO, kSo)), view(mk)));
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
}

TEST_F(Fixture, TwoChangedFactorsAreRefused) {
  machine.values["nic-mac"] = "n-2";
  machine.values["disk-serial"] = "d-2";
  EXPECT_EQ(refusal(CKU_USER, kUser).rv, CKR_PIN_INCORRECT);
  EXPECT_EQ(refusal(CKU_SO, kSo).rv, CKR_PIN_INCORRECT);
}

TEST_F(Fixture, MissingFactorsCountAsChanges) {
  machine.values["dmi-board-serial"] = std::nullopt;  // one gone: opens
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
  EXPECT_EQ(load_binding(*token.db)->n, 5) << "re-enrolled without the missing factor";
  machine.values["dmi-product-uuid"] = std::nullopt;  // then another gone: still opens (k = 4 of 5 now)
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
  machine.values.erase("cpu-id");
  machine.values.erase("disk-serial");  // two at once: refused
  EXPECT_EQ(refusal(CKU_USER, kUser).rv, CKR_PIN_INCORRECT);
}

TEST_F(Fixture, WrongPinIsRefused) {
  EXPECT_EQ(refusal(CKU_USER, "not-the-pin").rv, CKR_PIN_INCORRECT);
  EXPECT_EQ(refusal(CKU_SO, kUser).rv, CKR_PIN_INCORRECT);
}

TEST_F(Fixture, ChangedMachineRefusalLooksLikeWrongPin) {
  const Error wrong_pin = refusal(CKU_USER, "not-the-pin");
  machine.values = {{"machine-id", "other"}, {"nic-mac", "other"}, {"cpu-id", "other"}};
  const Error other_machine = refusal(CKU_USER, kUser);
  const Error both = refusal(CKU_USER, "not-the-pin");
  EXPECT_EQ(wrong_pin.rv, CKR_PIN_INCORRECT);
  EXPECT_EQ(other_machine.rv, wrong_pin.rv);
  EXPECT_EQ(other_machine.detail, wrong_pin.detail);
  EXPECT_EQ(both.rv, wrong_pin.rv);
  EXPECT_EQ(both.detail, wrong_pin.detail);
}

TEST_F(Fixture, CorruptBindingGivesClearErrorAndChangesNothing) {
  auto record = *token.meta(pin_meta_key(CKU_USER));
  record[1 + 12 + 16 + 2] = 9;  // the embedded split's version byte
  token.db->set_meta(pin_meta_key(CKU_USER), view(record));
  const Error e = refusal(CKU_USER, kUser);
  EXPECT_EQ(e.rv, CKR_DEVICE_ERROR);
  EXPECT_NE(e.detail.find("fingerprint binding record is unreadable"), std::string::npos) << e.detail;
  EXPECT_TRUE(equal_bytes(view(*token.meta(pin_meta_key(CKU_USER))), view(record)));
  EXPECT_EQ(model(), "soft bad binding");
}

TEST(SoftBackendFingerprint, MissingBindingForSchemeTwoRecordIsDeviceError) {
  FakeMachine machine;
  TempToken token;
  SoftBackend backend{kFast, machine.provider()};
  testing::write_issue5_token(token, view(SecureBytes(32, 1)), pin_of(kSo), pin_of(kUser), machine.provider()(token.dir),
                              kFast);
  token.db->delete_meta(kLegacyBindingKey);
  EXPECT_THROW(
      {
        try {
          backend.unlock(*token.db, CKU_USER, pin_of(kUser));
        } catch (const Error& e) {
          EXPECT_EQ(e.rv, CKR_DEVICE_ERROR);
          throw;
        }
      },
      Error);
}

TEST(SoftBackendFingerprint, SchemeTwoTokenIsUpgradedAtLoginAndSoFollowsThroughTransit) {
  FakeMachine machine;
  TempToken token;
  SoftBackend backend{kFast, machine.provider()};
  const SecureBytes mk(32, 0x42);
  testing::write_issue5_token(token, view(mk), pin_of(kSo), pin_of(kUser), machine.provider()(token.dir), kFast);
  machine.values["nic-mac"] = "n-2";  // one change before the upgrade: the legacy split still opens
  SecureBytes got = backend.unlock(*token.db, CKU_USER, pin_of(kUser));
  backend.after_unlock(*token.db, CKU_USER, view(got), pin_of(kUser));
  EXPECT_TRUE(equal_bytes(view(got), view(mk)));
  EXPECT_EQ(record_scheme(view(*token.meta("pin.user"))), PinScheme::argon2id_fingerprint_v3);
  EXPECT_FALSE(token.meta(kLegacyBindingKey).has_value());
  const auto transit = token.meta(kTransitKey);
  ASSERT_TRUE(transit.has_value());
  EXPECT_EQ((*transit)[0], 1) << "for the SO only";
  // The SO's scheme-2 record opens through fp.transit (current values), and is upgraded in turn.
  got = backend.unlock(*token.db, CKU_SO, pin_of(kSo));
  backend.after_unlock(*token.db, CKU_SO, view(got), pin_of(kSo));
  EXPECT_TRUE(equal_bytes(view(got), view(mk)));
  EXPECT_EQ(record_scheme(view(*token.meta("pin.so"))), PinScheme::argon2id_fingerprint_v3);
  EXPECT_FALSE(token.meta(kTransitKey).has_value());
  machine.values["cpu-id"] = "c-2";  // both records now tolerate one change from the current values
  EXPECT_TRUE(equal_bytes(view(backend.unlock(*token.db, CKU_SO, pin_of(kSo))), view(mk)));
  EXPECT_TRUE(equal_bytes(view(backend.unlock(*token.db, CKU_USER, pin_of(kUser))), view(mk)));
}

TEST_F(Fixture, ModelShowsTheBindingStrength) {
  EXPECT_EQ(model(), "soft strong 6f");  // 6 x 32 bits, k = 5: 160 effective bits
  EXPECT_LE(model().size(), 16u);
}

TEST_F(Fixture, PinChangeKeepsTheBinding) {
  const auto secret = token.meta(kSealedSecretKey);
  backend.set_pin(*token.db, CKU_USER, view(mk), pin_of("new-user-pin"));
  EXPECT_EQ(scheme(CKU_USER), PinScheme::argon2id_fingerprint_v3);
  EXPECT_TRUE(equal_bytes(view(*token.meta(kSealedSecretKey)), view(*secret)));
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, "new-user-pin")), view(mk)));
  EXPECT_EQ(refusal(CKU_USER, kUser).rv, CKR_PIN_INCORRECT);
}

TEST(SoftBackendFingerprint, SchemeOneRecordOpensAndIsUpgraded) {
  FakeMachine machine;
  TempToken token;
  SoftBackend backend{kFast, machine.provider()};
  const SecureBytes mk(32, 0x42);
  // A token made before issue 5: scheme-1 records, no binding.
  for (CK_USER_TYPE who : {CKU_SO, CKU_USER}) {
    const std::string_view pin = who == CKU_SO ? kSo : kUser;
    token.db->set_meta(pin_meta_key(who),
                       view(seal_master_key(view(mk), pin_of(pin), pin_context(*token.db, who), kFast)));
  }
  CK_TOKEN_INFO info{};
  backend.fill_token_info(*token.db, info);
  EXPECT_EQ(core::trim_padded(ByteView(info.model, sizeof info.model)), "soft unbound");

  SecureBytes got = backend.unlock(*token.db, CKU_USER, pin_of(kUser));
  EXPECT_TRUE(equal_bytes(view(got), view(mk)));
  backend.after_unlock(*token.db, CKU_USER, view(got), pin_of(kUser));
  EXPECT_TRUE(load_binding(*token.db).has_value());
  EXPECT_EQ(record_scheme(view(*token.db->get_meta("pin.user"))), PinScheme::argon2id_fingerprint_v3);
  EXPECT_EQ(record_scheme(view(*token.db->get_meta("pin.so"))), PinScheme::argon2id_v1) << "SO not logged in yet";

  // The SO record is upgraded at the SO's login, with the same S.
  got = backend.unlock(*token.db, CKU_SO, pin_of(kSo));
  backend.after_unlock(*token.db, CKU_SO, view(got), pin_of(kSo));
  EXPECT_EQ(record_scheme(view(*token.db->get_meta("pin.so"))), PinScheme::argon2id_fingerprint_v3);
  EXPECT_TRUE(equal_bytes(view(backend.unlock(*token.db, CKU_SO, pin_of(kSo))), view(mk)));

  // Now bound: another machine is refused, although it knows the PIN.
  machine.values = {{"machine-id", "elsewhere"}};
  EXPECT_THROW(
      {
        try {
          backend.unlock(*token.db, CKU_USER, pin_of(kUser));
        } catch (const Error& e) {
          EXPECT_EQ(e.rv, CKR_PIN_INCORRECT);
          throw;
        }
      },
      Error);
}

TEST(SoftBackendFingerprint, MachineWithoutFactorsStaysPinOnlyAndBindsLater) {
  FakeMachine machine;
  machine.values.clear();  // e.g. a container with no /etc/machine-id
  TempToken token;
  SoftBackend backend{kFast, machine.provider()};
  SecureBytes mk;
  token.db->transaction([&] { mk = backend.create_master_key(*token.db, pin_of(kSo), 10); });
  EXPECT_EQ(record_scheme(view(*token.db->get_meta("pin.so"))), PinScheme::argon2id_v1);
  EXPECT_FALSE(load_binding(*token.db).has_value());
  EXPECT_EQ(binding_summary(*token.db, machine.provider()), "binding: none (PIN only: no hardware factor found)");
  SecureBytes got = backend.unlock(*token.db, CKU_SO, pin_of(kSo));
  backend.after_unlock(*token.db, CKU_SO, view(got), pin_of(kSo));
  EXPECT_EQ(record_scheme(view(*token.db->get_meta("pin.so"))), PinScheme::argon2id_v1);

  machine.values["machine-id"] = "m-1";  // a factor appears: the next login binds
  EXPECT_EQ(binding_summary(*token.db, machine.provider()), "binding: none yet (made at the next login)");
  got = backend.unlock(*token.db, CKU_SO, pin_of(kSo));
  backend.after_unlock(*token.db, CKU_SO, view(got), pin_of(kSo));
  EXPECT_EQ(record_scheme(view(*token.db->get_meta("pin.so"))), PinScheme::argon2id_fingerprint_v3);
  EXPECT_EQ(binding_summary(*token.db, machine.provider()), "binding: weak, 1 factor");
  CK_TOKEN_INFO info{};
  backend.fill_token_info(*token.db, info);
  EXPECT_EQ(core::trim_padded(ByteView(info.model, sizeof info.model)), "soft weak 1f");
}

TEST(SoftBackendFingerprint, TokenInfoDoesNotReadFactorsEachTime) {
  FakeMachine machine;
  TempToken token;
  SoftBackend backend{kFast, machine.provider()};
  token.db->transaction([&] { (void)backend.create_master_key(*token.db, pin_of(kSo), 10); });
  CK_TOKEN_INFO info{};
  backend.fill_token_info(*token.db, info);
  const int reads = machine.reads;
  for (int i = 0; i < 10; ++i) backend.fill_token_info(*token.db, info);
  EXPECT_EQ(machine.reads, reads);
}

// Issue 5 asks for the measured unlock time (KDF plus subset search) for 6 factors with 1 changed; issue 11 for
// the login time after item 9 (steady state, and the one-off upgrade). Printed, never asserted. Uses the default Argon2id parameters of new tokens (t=3, m=64 MiB, p=1); best of 3 runs.
TEST(SoftBackendFingerprint, MeasureUnlockSixFactorsOneChanged) {
  FakeMachine machine;
  TempToken token;
  SoftBackend backend{crypto::Argon2Params{}, machine.provider()};
  SecureBytes mk;
  token.db->transaction([&] { mk = backend.create_master_key(*token.db, pin_of(kSo), 10); });
  using clock = std::chrono::steady_clock;
  using ms = std::chrono::duration<double, std::milli>;
  auto best = [](const std::function<void()>& fn) {
    double b = 1e300;
    for (int i = 0; i < 3; ++i) {
      const auto t0 = clock::now();
      fn();
      b = std::min(b, ms(clock::now() - t0).count());
    }
    return b;
  };
  const SecureBytes salt(16, 1);
  const double kdf = best([&] { (void)crypto::argon2id(pin_of(kSo), view(salt), crypto::Argon2Params{}, 32); });
  const double same = best([&] { (void)backend.unlock(*token.db, CKU_SO, pin_of(kSo)); });
  machine.values["cpu-id"] = "c-2";  // the first recorded factor: 5 of the 6 subsets fail before one opens
  SecureBytes got;
  const double changed = best([&] { got = backend.unlock(*token.db, CKU_SO, pin_of(kSo)); });
  EXPECT_TRUE(equal_bytes(view(got), view(mk)));
  std::cout << "[ measure  ] Argon2id t=3 m=64MiB p=1 alone " << kdf << " ms; unlock with 6 factors: unchanged " << same
            << " ms, 1 changed (6 subsets tried) " << changed << " ms\n";
  // A whole login (unlock + after_unlock) with nothing to re-seal, and the one-off upgrade login of an issue-5
  // token (scheme-2 records, shared split): that one re-seals the record, a second Argon2id.
  machine.values["cpu-id"] = "c-1";
  const double login = best([&] {
    got = backend.unlock(*token.db, CKU_SO, pin_of(kSo));
    backend.after_unlock(*token.db, CKU_SO, view(got), pin_of(kSo));
  });
  double upgrade = 1e300;
  for (int i = 0; i < 3; ++i) {
    TempToken old;
    testing::write_issue5_token(old, view(mk), pin_of(kSo), pin_of(kUser), machine.provider()(old.dir),
                                crypto::Argon2Params{});
    const auto t0 = clock::now();
    got = backend.unlock(*old.db, CKU_SO, pin_of(kSo));
    backend.after_unlock(*old.db, CKU_SO, view(got), pin_of(kSo));
    upgrade = std::min(upgrade, ms(clock::now() - t0).count());
    EXPECT_EQ(record_scheme(view(*old.meta("pin.so"))), PinScheme::argon2id_fingerprint_v3);
  }
  std::cout << "[ measure  ] login (unlock + after_unlock): " << login << " ms; the upgrade login of an issue-5 token "
            << upgrade << " ms\n";

  // The subset search alone: the same on a token with a negligible Argon2id (t=1, 64 KiB), 200 unlocks each.
  FakeMachine quick_machine;
  TempToken quick;
  SoftBackend fast{kFast, quick_machine.provider()};
  quick.db->transaction([&] { (void)fast.create_master_key(*quick.db, pin_of(kSo), 10); });
  auto per_unlock = [&] {
    const auto t0 = clock::now();
    for (int i = 0; i < 200; ++i) (void)fast.unlock(*quick.db, CKU_SO, pin_of(kSo));
    return ms(clock::now() - t0).count() / 200;
  };
  const double quick_same = per_unlock();
  quick_machine.values["cpu-id"] = "c-2";
  const double quick_changed = per_unlock();
  std::cout << "[ measure  ] without the KDF cost: unlock unchanged " << quick_same << " ms, 1 changed "
            << quick_changed << " ms (factor reading, HKDF masks, 6 x combine + HKDF + GCM, store reads)\n";
}

}  // namespace
}  // namespace keyseal::softtoken
