// PINs on a TPM token: the master key sealed in the TPM behind each PIN, wrong PINs, the TPM's
// dictionary-attack lockout read as CKR_PIN_LOCKED, and a master key bound to PCR values.
#include "tpm_test_util.h"

#include <tss2/tss2_esys.h>

#include <algorithm>
#include <cstring>

namespace keyseal::tpm::testing {
namespace {

using TpmPinsTest = SwtpmTest;

const SecureBytes kSo = bytes("so-pin-1234"), kUser = bytes("user-pin-5678"), kWrong = bytes("wrong-pin");

TEST_F(TpmPinsTest, MasterKeyOpensWithTheRightPinOnly) {
  auto db = new_db();
  const SecureBytes mk = backend_->create_master_key(*db, view(kSo));
  EXPECT_EQ(mk.size(), 32u);
  EXPECT_TRUE(backend_->has_pin(*db, CKU_SO));
  EXPECT_FALSE(backend_->has_pin(*db, CKU_USER));
  EXPECT_EQ(rv_of([&] { backend_->unlock(*db, CKU_USER, view(kUser)); }), CKR_USER_PIN_NOT_INITIALIZED);
  EXPECT_TRUE(equal_bytes(view(backend_->unlock(*db, CKU_SO, view(kSo))), view(mk)));
  EXPECT_EQ(rv_of([&] { backend_->unlock(*db, CKU_SO, view(kWrong)); }), CKR_PIN_INCORRECT);

  backend_->set_pin(*db, CKU_USER, view(mk), view(kUser));
  EXPECT_TRUE(equal_bytes(view(backend_->unlock(*db, CKU_USER, view(kUser))), view(mk)));
  EXPECT_EQ(rv_of([&] { backend_->unlock(*db, CKU_USER, view(kSo)); }), CKR_PIN_INCORRECT);  // roles differ
  // The record holds no master key in the clear.
  auto rec = db->get_meta("tpm.pin.user");
  ASSERT_TRUE(rec);
  EXPECT_EQ(std::search(rec->begin(), rec->end(), mk.begin(), mk.end()), rec->end());

  backend_->set_pin(*db, CKU_USER, view(mk), view(bytes("new-user-pin")));  // C_SetPIN
  EXPECT_EQ(rv_of([&] { backend_->unlock(*db, CKU_USER, view(kUser)); }), CKR_PIN_INCORRECT);
  EXPECT_TRUE(equal_bytes(view(backend_->unlock(*db, CKU_USER, view(bytes("new-user-pin")))), view(mk)));
  backend_->remove_pin(*db, CKU_USER);
  EXPECT_FALSE(backend_->has_pin(*db, CKU_USER));
  EXPECT_EQ(backend_->loaded_objects(), 1u);  // only the storage parent: sealed objects are flushed after use
}

TEST_F(TpmPinsTest, WrongPinsNeverLockTheWholeTpm) {
  auto db = new_db();
  const SecureBytes mk = backend_->create_master_key(*db, view(kSo));
  set_dictionary_attack(3, 600, 600);
  EXPECT_EQ(rv_of([&] { backend_->unlock(*db, CKU_SO, view(kWrong)); }), CKR_PIN_INCORRECT);
  EXPECT_EQ(rv_of([&] { backend_->unlock(*db, CKU_SO, view(kWrong)); }), CKR_PIN_INCORRECT);
  // The TPM has one attempt left: keyseal does not spend it, even on the right PIN.
  EXPECT_EQ(rv_of([&] { backend_->unlock(*db, CKU_SO, view(kSo)); }), CKR_PIN_LOCKED);
  const Status s = backend_->status();
  EXPECT_EQ(s.lockout, "not in lockout, 2 of 3 failures, recovery 600 s");
  backend_->with_esys([](ESYS_CONTEXT* ctx) {
    EXPECT_EQ(Esys_DictionaryAttackLockReset(ctx, ESYS_TR_RH_LOCKOUT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE),
              TSS2_RC_SUCCESS);
  });
  EXPECT_TRUE(equal_bytes(view(backend_->unlock(*db, CKU_SO, view(kSo))), view(mk)));
}

TEST_F(TpmPinsTest, TpmInLockoutReadsAsPinLocked) {
  auto db = new_db();
  const SecureBytes mk = backend_->create_master_key(*db, view(kSo));
  set_dictionary_attack(4, 600, 600);
  EXPECT_EQ(rv_of([&] { backend_->unlock(*db, CKU_SO, view(kWrong)); }), CKR_PIN_INCORRECT);
  set_dictionary_attack(1, 600, 600);  // the failure count now reaches the limit: the TPM is in lockout
  EXPECT_EQ(rv_of([&] { backend_->unlock(*db, CKU_SO, view(kSo)); }), CKR_PIN_LOCKED);  // even the right PIN
  CK_TOKEN_INFO info{};
  backend_->fill_token_info(*db, info);
  EXPECT_TRUE(info.flags & CKF_USER_PIN_LOCKED);
  const Status s = backend_->status();
  EXPECT_EQ(s.lockout.rfind("in lockout", 0), 0u) << s.lockout;
  backend_->with_esys([](ESYS_CONTEXT* ctx) {
    EXPECT_EQ(Esys_DictionaryAttackLockReset(ctx, ESYS_TR_RH_LOCKOUT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE),
              TSS2_RC_SUCCESS);
  });
  set_dictionary_attack(32, 1, 1);
  EXPECT_TRUE(equal_bytes(view(backend_->unlock(*db, CKU_SO, view(kSo))), view(mk)));
}

void extend_pcr(TpmBackend& b, TPM2_HANDLE pcr) {
  b.with_esys([&](ESYS_CONTEXT* ctx) {
    TPML_DIGEST_VALUES d{};
    d.count = 1;
    d.digests[0].hashAlg = TPM2_ALG_SHA256;
    std::memset(d.digests[0].digest.sha256, 0x5A, 32);
    EXPECT_EQ(Esys_PCR_Extend(ctx, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &d),
              TSS2_RC_SUCCESS);
  });
}

TEST_F(TpmPinsTest, PcrBoundMasterKeyRefusedAfterPcrChange) {
  auto pcr_backend = connect("sha256:16,23");
  ASSERT_TRUE(pcr_backend);
  auto db = new_db();
  const SecureBytes mk = pcr_backend->create_master_key(*db, view(kSo));
  auto stored = db->get_meta("tpm.pcrs");
  ASSERT_TRUE(stored);
  EXPECT_EQ(std::string(stored->begin(), stored->end()), "sha256:16,23");
  pcr_backend->set_pin(*db, CKU_USER, view(mk), view(kUser));
  EXPECT_TRUE(equal_bytes(view(pcr_backend->unlock(*db, CKU_USER, view(kUser))), view(mk)));
  EXPECT_EQ(rv_of([&] { pcr_backend->unlock(*db, CKU_USER, view(kWrong)); }), CKR_PIN_INCORRECT);
  // An unbound backend opening the same token still applies the token's policy (it is in the token).
  EXPECT_TRUE(equal_bytes(view(backend_->unlock(*db, CKU_SO, view(kSo))), view(mk)));

  extend_pcr(*pcr_backend, 23);
  try {
    pcr_backend->unlock(*db, CKU_USER, view(kUser));
    ADD_FAILURE() << "unsealed after a PCR change";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv, CKR_FUNCTION_FAILED);
    EXPECT_NE(e.detail.find("changed: sha256:23)"), std::string::npos) << e.detail;  // 16 did not change
  }
  EXPECT_EQ(rv_of([&] { backend_->unlock(*db, CKU_SO, view(kSo)); }), CKR_FUNCTION_FAILED);
  // PCR 23 is resettable from locality 0: the old boot state is back, and so is the key.
  pcr_backend->with_esys([](ESYS_CONTEXT* ctx) {
    EXPECT_EQ(Esys_PCR_Reset(ctx, ESYS_TR_PCR0 + 23, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE), TSS2_RC_SUCCESS);
  });
  EXPECT_TRUE(equal_bytes(view(pcr_backend->unlock(*db, CKU_USER, view(kUser))), view(mk)));
  // Bad selections are refused when connecting.
  std::string why;
  EXPECT_FALSE(connect_backend(Options{swtpm_.tcti(), "sha256:99"}, why));
  EXPECT_FALSE(why.empty());
  EXPECT_FALSE(connect_backend(Options{swtpm_.tcti(), "md5:1"}, why));
}

}  // namespace
}  // namespace keyseal::tpm::testing
