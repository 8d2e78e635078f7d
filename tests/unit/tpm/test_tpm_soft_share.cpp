// A soft token bound to a TPM (issue 5, item 2; only on request since issue 11, item 10): its binding secret
// has a share sealed by the TPM, so the token opens only with the PIN, enough of the fingerprint factors AND
// this TPM. Real swtpm instances
// stand for "this machine's TPM" and "another machine's TPM"; the factors are faked at the factor-source
// boundary (tests/unit/softtoken/fake_machine.h).
#include "../softtoken/fake_machine.h"
#include "core/padded.h"
#include "softtoken/pin_wrap.h"
#include "softtoken/recovery.h"
#include "softtoken/soft_backend.h"
#include "swtpm_fixture.h"
#include "tpm/connection.h"
#include "tpm/soft_share.h"

#include <tss2/tss2_esys.h>

#include <chrono>
#include <cstring>
#include <iostream>

namespace keyseal::tpm::testing {
namespace {

using softtoken::testing::FakeMachine;

const crypto::Argon2Params kFast{1, 64, 1};
const std::string kSo = "so-pin-1234", kUser = "user-pin-5678", kWrong = "wrong-pin";

ByteView pin(const std::string& s) { return view(s); }

// What C_Login does: unlock, then the backend's after-unlock hook. The refusal (rv and detail) if it fails.
struct Outcome {
  CK_RV rv = CKR_OK;
  std::string detail;
  SecureBytes mk;
};
Outcome login(softtoken::SoftBackend& b, store::TokenDb& db, CK_USER_TYPE who, const std::string& p) {
  Outcome o;
  try {
    o.mk = b.unlock(db, who, pin(p));
    b.after_unlock(db, who, view(o.mk), pin(p));
  } catch (const Error& e) {
    o.rv = e.rv;
    o.detail = e.detail;
  }
  return o;
}

std::string model_of(softtoken::SoftBackend& b, store::TokenDb& db) {
  CK_TOKEN_INFO info;
  std::memset(&info, 0, sizeof info);
  b.fill_token_info(db, info);
  return core::trim_padded(ByteView(info.model, sizeof info.model));
}

class SoftShareTest : public SwtpmTest {
 protected:
  void SetUp() override {
    SwtpmTest::SetUp();
    db_ = new_db();
  }
  softtoken::Machine with_tpm(const std::string& tcti) { return softtoken::Machine(machine_.provider(), make_sealer(tcti)); }
  softtoken::Machine without_tpm() { return softtoken::Machine(machine_.provider()); }
  // A token made on `m`: SO PIN at creation, user PIN set, as C_InitToken + C_InitPIN do.
  SecureBytes create(softtoken::SoftBackend& b) {
    SecureBytes mk;
    db_->transaction([&] { mk = b.create_master_key(*db_, pin(kSo), 10); });
    b.set_pin(*db_, CKU_USER, view(mk), pin(kUser));
    return mk;
  }
  // The same, then bound to the TPM at `tcti` as `keyseal init --bind-tpm` does.
  SecureBytes create_bound(softtoken::SoftBackend& b, const std::string& tcti) {
    SecureBytes mk = create(b);
    softtoken::bind_tpm(*db_, pin(kSo), pin(kUser), with_tpm(tcti));
    return mk;
  }
  std::optional<SecureBytes> meta(std::string_view k) { return db_->get_meta(k); }

  FakeMachine machine_;
  std::unique_ptr<store::TokenDb> db_;
};

TEST_F(SoftShareTest, TokenOpensWithPinFactorsAndThisTpm) {
  softtoken::SoftBackend b(kFast, with_tpm(swtpm_.tcti()));
  const SecureBytes mk = create_bound(b, swtpm_.tcti());
  ASSERT_TRUE(meta(softtoken::kTpmShareKey).has_value());
  EXPECT_EQ(model_of(b, *db_), "soft tpm 6f");
  EXPECT_EQ(softtoken::binding_summary(*db_, with_tpm(swtpm_.tcti())),
            "binding: strong, TPM-sealed secret + 6 factors (without the TPM: strong, 6 factors)");

  const Outcome ok = login(b, *db_, CKU_USER, kUser);
  ASSERT_EQ(ok.rv, CKR_OK) << ok.detail;
  EXPECT_TRUE(equal_bytes(view(ok.mk), view(mk)));
  EXPECT_EQ(login(b, *db_, CKU_USER, kWrong).rv, CKR_PIN_INCORRECT);
  EXPECT_EQ(login(b, *db_, CKU_SO, kSo).rv, CKR_OK);
  // The sealed object is flushed after each use: only the storage parent stays loaded.
  EXPECT_EQ(Connection::shared(swtpm_.tcti())->loaded_objects(), 1u);
}

TEST_F(SoftShareTest, WrongPinsDoNotTouchTheTpmDictionaryAttackCounter) {
  softtoken::SoftBackend b(kFast, with_tpm(swtpm_.tcti()));
  create_bound(b, swtpm_.tcti());
  set_dictionary_attack(3, 600, 600);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(login(b, *db_, CKU_USER, kWrong).rv, CKR_PIN_INCORRECT);
  EXPECT_EQ(backend_->status().lockout, "not in lockout, 0 of 3 failures, recovery 600 s");
  EXPECT_EQ(login(b, *db_, CKU_USER, kUser).rv, CKR_OK);
}

TEST_F(SoftShareTest, AnotherMachinesTpmIsRefusedLikeAWrongPin) {
  softtoken::SoftBackend here(kFast, with_tpm(swtpm_.tcti()));
  create_bound(here, swtpm_.tcti());
  const Outcome wrong_pin = login(here, *db_, CKU_USER, kWrong);
  ASSERT_EQ(wrong_pin.rv, CKR_PIN_INCORRECT);

  Swtpm other;  // the same factors, but another machine's TPM
  other.start();
  softtoken::SoftBackend there(kFast, with_tpm(other.tcti()));
  const Outcome right_pin_there = login(there, *db_, CKU_USER, kUser);
  EXPECT_EQ(right_pin_there.rv, wrong_pin.rv);
  EXPECT_EQ(right_pin_there.detail, wrong_pin.detail);
  EXPECT_EQ(login(there, *db_, CKU_USER, kWrong).detail, wrong_pin.detail);

  // The TPM share alone is not enough either: this TPM with too many changed factors is refused the same way.
  machine_.values["machine-id"] = "m-2";
  machine_.values["nic-mac"] = "n-2";
  const Outcome changed = login(here, *db_, CKU_USER, kUser);
  EXPECT_EQ(changed.rv, wrong_pin.rv);
  EXPECT_EQ(changed.detail, wrong_pin.detail);
  machine_.values["nic-mac"] = "n-1";
  EXPECT_EQ(login(here, *db_, CKU_USER, kUser).rv, CKR_OK);  // one change is tolerated
}

TEST_F(SoftShareTest, NoTpmAnsweringIsADeviceErrorNotAWrongPin) {
  softtoken::SoftBackend b(kFast, with_tpm(swtpm_.tcti()));
  const SecureBytes mk = create_bound(b, swtpm_.tcti());
  const auto pins_before = meta("pin.user");

  softtoken::SoftBackend no_tpm(kFast, without_tpm());
  EXPECT_EQ(login(no_tpm, *db_, CKU_USER, kUser).rv, CKR_DEVICE_ERROR);

  swtpm_.stop();
  EXPECT_EQ(login(b, *db_, CKU_USER, kUser).rv, CKR_DEVICE_ERROR);
  swtpm_.start();  // the same TPM back: the token opens, and nothing was changed meanwhile
  const Outcome ok = login(b, *db_, CKU_USER, kUser);
  ASSERT_EQ(ok.rv, CKR_OK) << ok.detail;
  EXPECT_TRUE(equal_bytes(view(ok.mk), view(mk)));
  EXPECT_TRUE(equal_bytes(view(*meta("pin.user")), view(*pins_before)));
}

TEST_F(SoftShareTest, ChangedFactorReenrolsAndKeepsTheTpmShare) {
  softtoken::SoftBackend b(kFast, with_tpm(swtpm_.tcti()));
  create_bound(b, swtpm_.tcti());
  const auto share = meta(softtoken::kTpmShareKey);
  const auto binding = meta("pin.user");
  machine_.values["disk-serial"] = "d-2";
  ASSERT_EQ(login(b, *db_, CKU_USER, kUser).rv, CKR_OK);
  EXPECT_FALSE(equal_bytes(view(*meta("pin.user")), view(*binding)));  // re-enrolled
  EXPECT_TRUE(equal_bytes(view(*meta(softtoken::kTpmShareKey)), view(*share)));    // same TPM share
  machine_.values["cpu-id"] = "c-2";  // a second change, after the re-enrolment: still one change
  EXPECT_EQ(login(b, *db_, CKU_USER, kUser).rv, CKR_OK);
}

// Issue 11, item 10: a login while a TPM answers used to add a TPM share to an unbound token, which then
// opened nowhere without that TPM. Now only the explicit bind does.
TEST_F(SoftShareTest, LoginWithTheTpmAnsweringDoesNotBindTheToken) {
  softtoken::SoftBackend with(kFast, with_tpm(swtpm_.tcti()));
  const SecureBytes mk = create(with);  // C_InitToken + C_InitPIN with the TPM present
  EXPECT_FALSE(meta(softtoken::kTpmShareKey).has_value());
  ASSERT_EQ(login(with, *db_, CKU_USER, kUser).rv, CKR_OK);
  ASSERT_EQ(login(with, *db_, CKU_SO, kSo).rv, CKR_OK);
  EXPECT_FALSE(meta(softtoken::kTpmShareKey).has_value());
  EXPECT_EQ(model_of(with, *db_), "soft strong 6f");
  softtoken::SoftBackend without(kFast, without_tpm());
  EXPECT_EQ(login(without, *db_, CKU_USER, kUser).rv, CKR_OK);  // the TPM gone loses nothing

  softtoken::bind_tpm(*db_, pin(kSo), pin(kUser), with_tpm(swtpm_.tcti()));  // the explicit bind
  ASSERT_TRUE(meta(softtoken::kTpmShareKey).has_value());
  EXPECT_EQ(model_of(with, *db_), "soft tpm 6f");
  for (const auto& [who, p] : {std::pair{CKU_USER, kUser}, std::pair{CKU_SO, kSo}}) {
    const Outcome o = login(with, *db_, who, p);
    ASSERT_EQ(o.rv, CKR_OK) << o.detail;
    EXPECT_TRUE(equal_bytes(view(o.mk), view(mk)));
  }
  // From now on the TPM is needed.
  EXPECT_EQ(login(without, *db_, CKU_USER, kUser).rv, CKR_DEVICE_ERROR);
}

TEST_F(SoftShareTest, RecoveryCodeRebindsToAnotherTpmOrToNone) {
  softtoken::SoftBackend here(kFast, with_tpm(swtpm_.tcti()));
  const SecureBytes mk = create_bound(here, swtpm_.tcti());
  const SecureBytes code = softtoken::add_recovery_code(*db_, CKU_SO, pin(kSo), with_tpm(swtpm_.tcti()));

  Swtpm other;
  other.start();
  softtoken::SoftBackend there(kFast, with_tpm(other.tcti()));
  machine_.values = {{"machine-id", "x-1"}, {"nic-mac", "x-2"}, {"cpu-id", "x-3"}};  // new hardware altogether
  EXPECT_EQ(login(there, *db_, CKU_USER, kUser).rv, CKR_PIN_INCORRECT);
  EXPECT_EQ(softtoken::recover_binding(*db_, view(code), with_tpm(other.tcti())),
            "binding: strong, TPM-sealed secret + 3 factors (without the TPM: moderate, 3 factors)");
  const Outcome ok = login(there, *db_, CKU_USER, kUser);
  ASSERT_EQ(ok.rv, CKR_OK) << ok.detail;
  EXPECT_TRUE(equal_bytes(view(ok.mk), view(mk)));
  EXPECT_EQ(login(here, *db_, CKU_USER, kUser).rv, CKR_PIN_INCORRECT);  // the old TPM no longer opens it

  // Onto a machine without a TPM: the share is dropped and the fingerprint alone binds the token.
  softtoken::SoftBackend none(kFast, without_tpm());
  softtoken::recover_binding(*db_, view(code), without_tpm());
  EXPECT_FALSE(meta(softtoken::kTpmShareKey).has_value());
  EXPECT_EQ(login(none, *db_, CKU_SO, kSo).rv, CKR_OK);
}

TEST_F(SoftShareTest, CorruptShareRecordIsADeviceError) {
  softtoken::SoftBackend b(kFast, with_tpm(swtpm_.tcti()));
  create_bound(b, swtpm_.tcti());
  auto share = *meta(softtoken::kTpmShareKey);
  share[0] ^= 0x7f;  // unknown version
  db_->set_meta(softtoken::kTpmShareKey, view(share));
  EXPECT_EQ(login(b, *db_, CKU_USER, kUser).rv, CKR_DEVICE_ERROR);
}

// An RSA storage key made persistent at 0x81000001: from then on the connection's storage parent is it, not the
// standard-template primary (after a reconnect).
void provision_persistent_srk(TpmBackend& b) {
  b.with_esys([](ESYS_CONTEXT* ctx) {
    TPM2B_PUBLIC tmpl{};
    TPMT_PUBLIC& p = tmpl.publicArea;
    p.type = TPM2_ALG_RSA;
    p.nameAlg = TPM2_ALG_SHA256;
    p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                         TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
    p.parameters.rsaDetail.symmetric.keyBits.aes = 128;
    p.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    p.parameters.rsaDetail.keyBits = 2048;
    const TPM2B_SENSITIVE_CREATE sens{};
    const TPM2B_DATA outside{};
    const TPML_PCR_SELECTION pcrs{};
    ESYS_TR h = ESYS_TR_NONE, persistent = ESYS_TR_NONE;
    ASSERT_EQ(Esys_CreatePrimary(ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                                 &outside, &pcrs, &h, nullptr, nullptr, nullptr, nullptr),
              TSS2_RC_SUCCESS);
    ASSERT_EQ(Esys_EvictControl(ctx, ESYS_TR_RH_OWNER, h, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, 0x81000001,
                                &persistent),
              TSS2_RC_SUCCESS);
    Esys_FlushContext(ctx, h);
  });
}

TEST_F(SoftShareTest, ShareSurvivesAPersistentSrkProvisionedLater) {
  softtoken::SoftBackend b(kFast, with_tpm(swtpm_.tcti()));
  const SecureBytes mk = create_bound(b, swtpm_.tcti());  // no persistent SRK yet: the storage parent is the template primary
  provision_persistent_srk(*backend_);
  swtpm_.stop();  // reconnect: the connection's storage parent is now the persistent RSA key
  swtpm_.start();
  (void)login(b, *db_, CKU_USER, kUser);  // the first call after the restart may meet the dropped connection
  const Outcome ok = login(b, *db_, CKU_USER, kUser);
  ASSERT_EQ(ok.rv, CKR_OK) << ok.detail;
  EXPECT_TRUE(equal_bytes(view(ok.mk), view(mk)));
  {
    auto g = Connection::shared(swtpm_.tcti())->lock();
    EXPECT_FALSE(g.parent_is_template());  // the test means something: the parent did change
  }
  // A token made now, with the persistent SRK in place, opens too.
  db_ = new_db("second");
  const SecureBytes mk2 = create_bound(b, swtpm_.tcti());
  const Outcome ok2 = login(b, *db_, CKU_SO, kSo);
  ASSERT_EQ(ok2.rv, CKR_OK) << ok2.detail;
  EXPECT_TRUE(equal_bytes(view(ok2.mk), view(mk2)));
  EXPECT_LE(Connection::shared(swtpm_.tcti())->loaded_objects(), 1u);  // the extra primary is flushed
}

TEST_F(SoftShareTest, PinOnlyLoginElsewhereLeavesTheTokenAsItIs) {
  softtoken::SoftBackend here(kFast, with_tpm(swtpm_.tcti()));
  const SecureBytes mk = create_bound(here, swtpm_.tcti());
  // An old scheme-1 user record (PIN only), as tokens made before the binding have.
  db_->set_meta("pin.user", view(softtoken::seal_master_key(view(mk), pin(kUser),
                                                            softtoken::pin_context(*db_, CKU_USER), kFast)));
  const auto user = meta("pin.user"), so = meta("pin.so"), share = meta(softtoken::kTpmShareKey);
  Swtpm other;
  other.start();
  softtoken::SoftBackend there(kFast, with_tpm(other.tcti()));
  ASSERT_EQ(login(there, *db_, CKU_USER, kUser).rv, CKR_OK);  // PIN only: it opens anywhere, as it always did
  // ...but the upgrade after it must not turn the record into one that needs this TPM's share, nor re-bind.
  EXPECT_TRUE(equal_bytes(view(*meta("pin.user")), view(*user)));
  EXPECT_TRUE(equal_bytes(view(*meta("pin.so")), view(*so)));
  EXPECT_TRUE(equal_bytes(view(*meta(softtoken::kTpmShareKey)), view(*share)));
  // Back on its own machine the login upgrades the record, and both roles open.
  ASSERT_EQ(login(here, *db_, CKU_USER, kUser).rv, CKR_OK);
  EXPECT_EQ(softtoken::record_scheme(view(*meta("pin.user"))), softtoken::PinScheme::argon2id_fingerprint_v3);
  EXPECT_EQ(login(here, *db_, CKU_USER, kUser).rv, CKR_OK);
  EXPECT_EQ(login(here, *db_, CKU_SO, kSo).rv, CKR_OK);
}

TEST_F(SoftShareTest, MissingEkFactorWithTheTpmAnsweringIsNotEnrolled) {
  machine_.values["tpm-ek"] = "e-1";  // stands for tpm::ek_factor_source, which reads the same id
  softtoken::SoftBackend b(kFast, with_tpm(swtpm_.tcti()));
  create_bound(b, swtpm_.tcti());
  const auto binding = meta("pin.user");
  machine_.values["tpm-ek"] = std::nullopt;  // one failed EK read
  ASSERT_EQ(login(b, *db_, CKU_USER, kUser).rv, CKR_OK);
  EXPECT_TRUE(equal_bytes(view(*meta("pin.user")), view(*binding)));  // tpm-ek stays recorded
  machine_.values["tpm-ek"] = "e-1";
  machine_.values["disk-serial"] = "d-2";  // a real change is still enrolled
  ASSERT_EQ(login(b, *db_, CKU_USER, kUser).rv, CKR_OK);
  EXPECT_FALSE(equal_bytes(view(*meta("pin.user")), view(*binding)));
}

// What the TPM share adds to a soft token's unlock (Load + Unseal + flush on swtpm), with a negligible
// Argon2id so the difference shows. Printed for the closing note, never asserted.
TEST_F(SoftShareTest, MeasureWhatTheTpmShareAddsToAnUnlock) {
  softtoken::SoftBackend with(kFast, with_tpm(swtpm_.tcti()));
  create_bound(with, swtpm_.tcti());
  auto other_db = new_db("plain");
  softtoken::SoftBackend without(kFast, without_tpm());
  SecureBytes mk;
  other_db->transaction([&] { mk = without.create_master_key(*other_db, pin(kSo), 10); });
  using clock = std::chrono::steady_clock;
  auto per_unlock = [&](softtoken::SoftBackend& b, store::TokenDb& db) {
    const auto t0 = clock::now();
    for (int i = 0; i < 50; ++i) (void)b.unlock(db, CKU_SO, pin(kSo));
    return std::chrono::duration<double, std::milli>(clock::now() - t0).count() / 50;
  };
  const uint64_t before = Connection::shared(swtpm_.tcti())->commands();
  const double t_with = per_unlock(with, *db_);
  const double commands = double(Connection::shared(swtpm_.tcti())->commands() - before) / 50;
  const double t_without = per_unlock(without, *other_db);
  EXPECT_GT(commands, 0);
  std::cout << "[ measure  ] soft token unlock, Argon2id t=1 m=64KiB, 6 factors: " << t_without
            << " ms without a TPM share, " << t_with << " ms with one (" << commands << " TPM commands each)\n";
}

}  // namespace
}  // namespace keyseal::tpm::testing
