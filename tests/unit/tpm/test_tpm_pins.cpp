// PINs on a TPM token: the master key sealed in the TPM behind each PIN, wrong PINs, and a master key bound to
// PCR values (the PIN-fail index and the DA lockout: test_tpm_pin_nv.cpp).
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
  const SecureBytes mk = backend_->create_master_key(*db, view(kSo), 10);
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
  const SecureBytes mk = backend_->create_master_key(*db, view(kSo), 10);
  set_dictionary_attack(3, 600, 600);
  // The token's own PIN-fail index counts them (test_tpm_pin_nv.cpp); the TPM-wide counter stays at 0.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(rv_of([&] { backend_->unlock(*db, CKU_SO, view(kWrong)); }), CKR_PIN_INCORRECT);
  EXPECT_TRUE(equal_bytes(view(backend_->unlock(*db, CKU_SO, view(kSo))), view(mk)));
  EXPECT_EQ(backend_->status().lockout, "not in lockout, 0 of 3 failures, recovery 600 s");
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
  const SecureBytes mk = pcr_backend->create_master_key(*db, view(kSo), 10);
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
