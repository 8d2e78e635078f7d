// Issue 11, item 10: a soft token is bound to the TPM only on request (keyseal init --bind-tpm, keyseal
// bind-tpm), never as a side effect of a login or of C_InitToken, since a token bound to a TPM that later goes
// (a cleared firmware TPM, a moved disk) opens only with a recovery code. A fake TPM stands in for the
// platform sealer (tests/unit/tpm/test_tpm_soft_share.cpp does the same on swtpm).
#include <gtest/gtest.h>

#include "common/error.h"
#include "fake_machine.h"
#include "softtoken/pin_wrap.h"
#include "softtoken/recovery.h"
#include "softtoken/soft_backend.h"

namespace keyseal::softtoken {
namespace {

using testing::FakeMachine;
using testing::FakeTpm;
using testing::init_pins;
using testing::kFast;
using testing::kSo;
using testing::kUser;
using testing::login_as;
using testing::pin_of;
using testing::rv_of;
using testing::TempToken;



struct TpmBinding : ::testing::Test {
  FakeMachine machine;
  std::shared_ptr<FakeTpm> tpm = std::make_shared<FakeTpm>();
  TempToken token;
  SoftBackend backend{kFast, Machine(machine.provider(), tpm)};
  SecureBytes mk;
  void SetUp() override { mk = init_pins(backend, token); }

  SecureBytes login(CK_USER_TYPE who, std::string_view pin) { return login_as(backend, token, who, pin); }
};

TEST_F(TpmBinding, InitTokenWithATpmPresentDoesNotBindToIt) {
  EXPECT_FALSE(has_tpm_share(*token.db));
  EXPECT_EQ(tpm->seals, 0);
}

TEST_F(TpmBinding, LoginWithATpmPresentDoesNotBindToIt) {
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
  EXPECT_TRUE(equal_bytes(view(login(CKU_SO, kSo)), view(mk)));
  machine.values["nic-mac"] = "n-2";  // a re-enrolment does not either
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
  EXPECT_FALSE(has_tpm_share(*token.db));
  EXPECT_EQ(tpm->seals, 0);
  // So a lost TPM loses nothing.
  tpm->present = false;
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
}

TEST_F(TpmBinding, UnboundLegacyTokenBindsToTheFingerprintOnlyAtLogin) {
  TempToken old;
  for (CK_USER_TYPE who : {CKU_SO, CKU_USER})  // a token from before issue 5: scheme 1, no binding
    old.db->set_meta(pin_meta_key(who), view(seal_master_key(view(mk), pin_of(who == CKU_SO ? kSo : kUser),
                                                             pin_context(*old.db, who), kFast)));
  SecureBytes got = backend.unlock(*old.db, CKU_USER, pin_of(kUser));
  backend.after_unlock(*old.db, CKU_USER, view(got), pin_of(kUser));
  EXPECT_EQ(record_scheme(view(*old.meta("pin.user"))), PinScheme::argon2id_fingerprint_v3);
  EXPECT_FALSE(has_tpm_share(*old.db));
}

TEST_F(TpmBinding, ExplicitBindAddsTheShareAndNeedsBothPins) {
  EXPECT_EQ(rv_of([&] { bind_tpm(*token.db, pin_of(kSo), pin_of("wrong-pin"), Machine(machine.provider(), tpm)); }),
            CKR_PIN_INCORRECT);
  EXPECT_EQ(rv_of([&] { bind_tpm(*token.db, ByteView(), pin_of(kUser), Machine(machine.provider(), tpm)); }),
            CKR_ARGUMENTS_BAD);
  EXPECT_FALSE(has_tpm_share(*token.db));
  EXPECT_EQ(tpm->seals, 0);

  bind_tpm(*token.db, pin_of(kSo), pin_of(kUser), Machine(machine.provider(), tpm));
  EXPECT_TRUE(has_tpm_share(*token.db));
  EXPECT_EQ(tpm->seals, 1);
  EXPECT_EQ(rv_of([&] { bind_tpm(*token.db, pin_of(kSo), pin_of(kUser), Machine(machine.provider(), tpm)); }),
            CKR_FUNCTION_FAILED);  // already bound
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
  EXPECT_TRUE(equal_bytes(view(login(CKU_SO, kSo)), view(mk)));
  EXPECT_EQ(binding_summary(*token.db, Machine(machine.provider(), tpm)),
            "binding: strong, TPM-sealed secret + 6 factors (without the TPM: strong, 6 factors)");

  // Both roles now need this TPM: cleared, the PINs alone no longer open; gone, it is CKR_DEVICE_ERROR.
  tpm->clear();
  EXPECT_EQ(rv_of([&] { backend.unlock(*token.db, CKU_USER, pin_of(kUser)); }), CKR_PIN_INCORRECT);
  EXPECT_EQ(rv_of([&] { backend.unlock(*token.db, CKU_SO, pin_of(kSo)); }), CKR_PIN_INCORRECT);
  tpm->present = false;
  EXPECT_EQ(rv_of([&] { backend.unlock(*token.db, CKU_USER, pin_of(kUser)); }), CKR_DEVICE_ERROR);
}

TEST_F(TpmBinding, BindWithoutATpmFailsAndChangesNothing) {
  const auto user = token.meta("pin.user");
  EXPECT_EQ(rv_of([&] { bind_tpm(*token.db, pin_of(kSo), pin_of(kUser), Machine(machine.provider())); }),
            CKR_DEVICE_ERROR);
  tpm->present = false;
  EXPECT_EQ(rv_of([&] { bind_tpm(*token.db, pin_of(kSo), pin_of(kUser), Machine(machine.provider(), tpm)); }),
            CKR_DEVICE_ERROR);
  EXPECT_FALSE(has_tpm_share(*token.db));
  EXPECT_TRUE(equal_bytes(view(*token.meta("pin.user")), view(*user)));
}

TEST_F(TpmBinding, RecoveryKeepsTheKindOfBinding) {
  const SecureBytes code = add_recovery_code(*token.db, CKU_SO, pin_of(kSo), Machine(machine.provider(), tpm));
  machine.values = {{"machine-id", "new-m"}, {"nic-mac", "new-n"}, {"cpu-id", "new-c"}};
  recover_binding(*token.db, view(code), Machine(machine.provider(), tpm));
  EXPECT_FALSE(has_tpm_share(*token.db)) << "an unbound token is not bound to a TPM by recovering it";
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));

  bind_tpm(*token.db, pin_of(kSo), pin_of(kUser), Machine(machine.provider(), tpm));
  tpm->clear();  // e.g. a firmware TPM cleared by a BIOS update
  EXPECT_EQ(rv_of([&] { backend.unlock(*token.db, CKU_USER, pin_of(kUser)); }), CKR_PIN_INCORRECT);
  recover_binding(*token.db, view(code), Machine(machine.provider(), tpm));
  EXPECT_TRUE(has_tpm_share(*token.db)) << "a TPM-bound token stays TPM-bound where a TPM seals";
  EXPECT_TRUE(equal_bytes(view(login(CKU_USER, kUser)), view(mk)));
  EXPECT_TRUE(equal_bytes(view(login(CKU_SO, kSo)), view(mk)));
  EXPECT_FALSE(token.meta(kTransitKey).has_value()) << "both roles caught up";
}

}  // namespace
}  // namespace keyseal::softtoken
