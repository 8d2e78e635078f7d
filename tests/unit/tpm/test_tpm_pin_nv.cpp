// A TPM token's PIN retries counted by the TPM for that token alone (issue 11 item 4): each PIN role's PIN-fail
// NV index, run with swtpm's default dictionary-attack settings (3 failures, 1000 s) and with a raised
// threshold. The TPM-wide DA counter must stay 0 through every wrong PIN.
#include "tpm/pin_nv.h"
#include "tpm/pin_seal.h"
#include "tpm_test_util.h"

#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <thread>

namespace keyseal::tpm::testing {
namespace {

const SecureBytes kSo = bytes("so-pin-1234"), kUser = bytes("user-pin-5678"), kWrong = bytes("wrong-pin");

struct DaSettings {
  uint32_t max_tries, recovery_s;
};

class TpmPinNvBase : public SwtpmTest {
 protected:
  uint32_t tpm_property(TPM2_PT pt) {
    uint32_t v = 0xFFFFFFFF;
    backend_->with_esys([&](ESYS_CONTEXT* ctx) {
      TPMI_YES_NO more = TPM2_NO;
      TPMS_CAPABILITY_DATA* cap = nullptr;
      ASSERT_EQ(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_TPM_PROPERTIES, pt, 1,
                                   &more, &cap),
                TSS2_RC_SUCCESS);
      if (cap->data.tpmProperties.count == 1 && cap->data.tpmProperties.tpmProperty[0].property == pt)
        v = cap->data.tpmProperties.tpmProperty[0].value;
      Esys_Free(cap);
    });
    return v;
  }
  uint32_t da_failures() { return tpm_property(TPM2_PT_LOCKOUT_COUNTER); }

  // keyseal's NV indexes on the TPM now.
  size_t keyseal_indexes() {
    size_t n = 0;
    backend_->with_esys([&](ESYS_CONTEXT* ctx) {
      TPMI_YES_NO more = TPM2_NO;
      TPMS_CAPABILITY_DATA* cap = nullptr;
      ASSERT_EQ(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES, kPinNvFirst,
                                   kPinNvCount, &more, &cap),
                TSS2_RC_SUCCESS);
      for (UINT32 i = 0; i < cap->data.handles.count; ++i)
        if (cap->data.handles.handle[i] < kPinNvFirst + kPinNvCount) ++n;
      Esys_Free(cap);
    });
    return n;
  }

  void expect_counter(store::TokenDb& db, CK_USER_TYPE who, uint32_t failures, uint32_t limit) {
    const auto c = backend_->pin_counter(db, who);
    ASSERT_TRUE(c.has_value()) << "no PIN-fail index";
    EXPECT_EQ(c->failures, failures);
    EXPECT_EQ(c->limit, limit);
  }

  // A token with SO and user PIN, as C_InitToken + C_InitPIN make it.
  SecureBytes make_token(store::TokenDb& db, uint32_t limit) {
    SecureBytes mk = backend_->create_master_key(db, view(kSo), limit);
    backend_->set_pin(db, CKU_USER, view(mk), view(kUser));
    return mk;
  }

  CK_RV login(store::TokenDb& db, CK_USER_TYPE who, const SecureBytes& pin) {
    return rv_of([&] { backend_->unlock(db, who, view(pin)); });
  }

  // Owner hierarchy authValue: NV indexes cannot be defined while it is set (fallback path).
  void set_owner_auth(std::string_view from, std::string_view to) {
    backend_->with_esys([&](ESYS_CONTEXT* ctx) {
      TPM2B_AUTH old_auth{}, new_auth{};
      old_auth.size = static_cast<UINT16>(from.size());
      std::memcpy(old_auth.buffer, from.data(), from.size());
      new_auth.size = static_cast<UINT16>(to.size());
      std::memcpy(new_auth.buffer, to.data(), to.size());
      ASSERT_EQ(Esys_TR_SetAuth(ctx, ESYS_TR_RH_OWNER, &old_auth), TSS2_RC_SUCCESS);
      ASSERT_EQ(Esys_HierarchyChangeAuth(ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                         &new_auth),
                TSS2_RC_SUCCESS);
      TPM2B_AUTH empty{};
      ASSERT_EQ(Esys_TR_SetAuth(ctx, ESYS_TR_RH_OWNER, &empty), TSS2_RC_SUCCESS);  // keyseal's own view
    });
  }
};

class TpmPinNvTest : public TpmPinNvBase, public ::testing::WithParamInterface<DaSettings> {
 protected:
  void SetUp() override {
    TpmPinNvBase::SetUp();
    if (HasFatalFailure()) return;
    set_dictionary_attack(GetParam().max_tries, GetParam().recovery_s, GetParam().recovery_s);
  }
};

// The sequence: on a default swtpm it gave OK, INCORRECT, OK, INCORRECT, PIN_LOCKED.
TEST_P(TpmPinNvTest, RightWrongRightWrongRightNeverTouchesTheDaCounter) {
  auto db = new_db();
  make_token(*db, 10);
  const CK_RV want[] = {CKR_OK, CKR_PIN_INCORRECT, CKR_OK, CKR_PIN_INCORRECT, CKR_OK};
  const SecureBytes* pins[] = {&kUser, &kWrong, &kUser, &kWrong, &kUser};
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_EQ(login(*db, CKU_USER, *pins[i]), want[i]) << "attempt " << i;
    expect_counter(*db, CKU_USER, want[i] == CKR_OK ? 0 : 1, 10);
    EXPECT_EQ(da_failures(), 0u) << "attempt " << i;
  }
  // More wrong PINs in a row than the TPM's DA threshold: still this token's count only.
  for (uint32_t i = 1; i <= 5; ++i) EXPECT_EQ(login(*db, CKU_USER, kWrong), CKR_PIN_INCORRECT);
  expect_counter(*db, CKU_USER, 5, 10);
  EXPECT_EQ(da_failures(), 0u);
  EXPECT_EQ(login(*db, CKU_USER, kUser), CKR_OK);  // a right PIN sets the count back (the TPM does)
  expect_counter(*db, CKU_USER, 0, 10);
}

TEST_P(TpmPinNvTest, LimitIsEnforcedByTheTpmAndTheFinalTryWorks) {
  constexpr uint32_t kLimit = 4;
  auto db = new_db();
  const SecureBytes mk = make_token(*db, kLimit);
  expect_counter(*db, CKU_USER, 0, kLimit);
  expect_counter(*db, CKU_SO, 0, kLimit);
  for (uint32_t i = 1; i < kLimit; ++i) {
    EXPECT_EQ(login(*db, CKU_USER, kWrong), CKR_PIN_INCORRECT);
    expect_counter(*db, CKU_USER, i, kLimit);
  }
  EXPECT_TRUE(equal_bytes(view(backend_->unlock(*db, CKU_USER, view(kUser))), view(mk)));  // the final try
  expect_counter(*db, CKU_USER, 0, kLimit);

  for (uint32_t i = 1; i <= kLimit; ++i) EXPECT_EQ(login(*db, CKU_USER, kWrong), CKR_PIN_INCORRECT);
  expect_counter(*db, CKU_USER, kLimit, kLimit);
  EXPECT_EQ(login(*db, CKU_USER, kUser), CKR_PIN_LOCKED);  // the TPM refuses the right PIN now
  EXPECT_EQ(login(*db, CKU_USER, kWrong), CKR_PIN_LOCKED);
  expect_counter(*db, CKU_USER, kLimit, kLimit);
  expect_counter(*db, CKU_SO, 0, kLimit);  // the SO's count is its own
  EXPECT_EQ(da_failures(), 0u);

  // C_InitPIN by the SO: a new user PIN with its count at 0.
  const SecureBytes so_mk = backend_->unlock(*db, CKU_SO, view(kSo));
  backend_->set_pin(*db, CKU_USER, view(so_mk), view(bytes("new-user-pin")));
  expect_counter(*db, CKU_USER, 0, kLimit);
  EXPECT_EQ(login(*db, CKU_USER, bytes("new-user-pin")), CKR_OK);
  EXPECT_EQ(login(*db, CKU_USER, kUser), CKR_PIN_INCORRECT);
  EXPECT_EQ(keyseal_indexes(), 2u);  // the user's old index was freed
}

TEST_P(TpmPinNvTest, OneTokensWrongPinsNeverLockAnother) {
  auto a = new_db("a"), b = new_db("b");
  make_token(*a, 3);
  make_token(*b, 3);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login(*a, CKU_USER, kWrong), CKR_PIN_INCORRECT);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login(*a, CKU_SO, kWrong), CKR_PIN_INCORRECT);
  EXPECT_EQ(login(*a, CKU_USER, kUser), CKR_PIN_LOCKED);
  EXPECT_EQ(login(*a, CKU_SO, kSo), CKR_PIN_LOCKED);
  expect_counter(*b, CKU_USER, 0, 3);
  expect_counter(*b, CKU_SO, 0, 3);
  EXPECT_EQ(login(*b, CKU_USER, kUser), CKR_OK);
  EXPECT_EQ(login(*b, CKU_SO, kSo), CKR_OK);
  EXPECT_EQ(da_failures(), 0u);
  EXPECT_FALSE(backend_->status().lockout.rfind("in lockout", 0) == 0);
}

TEST_P(TpmPinNvTest, ReinitialisationAndRemovalFreeTheIndexes) {
  auto db = new_db();
  SecureBytes mk = make_token(*db, 5);
  EXPECT_EQ(keyseal_indexes(), 2u);
  // Re-initialisation as core does it: the user's PIN removed, a new master key behind a new SO PIN.
  backend_->remove_pin(*db, CKU_USER);
  EXPECT_EQ(keyseal_indexes(), 1u);
  mk = backend_->create_master_key(*db, view(bytes("new-so-pin")), 7);
  EXPECT_EQ(keyseal_indexes(), 1u);
  expect_counter(*db, CKU_SO, 0, 7);
  EXPECT_EQ(login(*db, CKU_SO, kSo), CKR_PIN_INCORRECT);
  EXPECT_TRUE(equal_bytes(view(backend_->unlock(*db, CKU_SO, view(bytes("new-so-pin")))), view(mk)));
  backend_->set_pin(*db, CKU_USER, view(mk), view(kUser));
  expect_counter(*db, CKU_USER, 0, 7);  // the user's index takes the token's limit
  EXPECT_EQ(keyseal_indexes(), 2u);
  EXPECT_FALSE(backend_->pin_counter(*db, CKU_USER) == std::nullopt);
  EXPECT_EQ(backend_->loaded_objects(), 1u);  // only the storage parent
}

// Where the TPM gives no index (here: the owner hierarchy has an authValue) the token is sealed the old way:
// core counts, the DA counter protects. Once an index can be had, the next right PIN moves it over.
TEST_P(TpmPinNvTest, WithoutAnIndexFallsBackAndUpgradesAtTheNextLogin) {
  auto db = new_db();
  set_owner_auth("", "owner-secret");
  const SecureBytes mk = make_token(*db, 5);
  set_owner_auth("owner-secret", "");
  EXPECT_EQ(backend_->pin_counter(*db, CKU_USER), std::nullopt);
  EXPECT_EQ(backend_->pin_counter(*db, CKU_SO), std::nullopt);
  EXPECT_EQ(keyseal_indexes(), 0u);
  EXPECT_EQ(login(*db, CKU_USER, kWrong), CKR_PIN_INCORRECT);
  EXPECT_EQ(da_failures(), 1u);  // the old way: the TPM-wide counter
  const SecureBytes got = backend_->unlock(*db, CKU_USER, view(kUser));
  EXPECT_TRUE(equal_bytes(view(got), view(mk)));
  backend_->after_unlock(*db, CKU_USER, view(got), view(kUser));
  expect_counter(*db, CKU_USER, 0, 5);
  EXPECT_EQ(login(*db, CKU_USER, kWrong), CKR_PIN_INCORRECT);
  EXPECT_EQ(da_failures(), 1u);  // unchanged: the upgraded PIN counts on its own index
  expect_counter(*db, CKU_USER, 1, 5);
  EXPECT_TRUE(equal_bytes(view(backend_->unlock(*db, CKU_USER, view(kUser))), view(mk)));
  EXPECT_EQ(backend_->pin_counter(*db, CKU_SO), std::nullopt);  // the SO moves at its own next login
}

// The owner hierarchy given an authValue after the token was made: the count is read through the index's
// empty read policy, logins need no owner authorisation; only a new PIN cannot get an index (version 1).
TEST_P(TpmPinNvTest, OwnerAuthorisationSetLaterKeepsTheIndexWorking) {
  auto db = new_db();
  const SecureBytes mk = make_token(*db, 4);
  set_owner_auth("", "owner-secret");
  expect_counter(*db, CKU_USER, 0, 4);
  EXPECT_EQ(login(*db, CKU_USER, kWrong), CKR_PIN_INCORRECT);
  auto other = connect();  // no cached count: read through the policy
  const auto c = other->pin_counter(*db, CKU_USER);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->failures, 1u);
  EXPECT_EQ(login(*db, CKU_USER, kUser), CKR_OK);
  expect_counter(*db, CKU_USER, 0, 4);
  backend_->set_pin(*db, CKU_USER, view(mk), view(bytes("new-user-pin")));  // no index to be had now
  EXPECT_EQ(backend_->pin_counter(*db, CKU_USER), std::nullopt);
  EXPECT_EQ(login(*db, CKU_USER, bytes("new-user-pin")), CKR_OK);
  EXPECT_EQ(da_failures(), 0u);
  set_owner_auth("owner-secret", "");
}

// Token info: a role on its own index is reported locked only while the TPM itself is in lockout (C_Login is
// then refused too); a version 1 role also one DA failure before it, as its C_Login is.
TEST_P(TpmPinNvTest, TokenInfoLockedFlagsAgreeWithLogin) {
  auto db = new_db();
  make_token(*db, 5);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(login(*db, CKU_USER, kWrong), CKR_PIN_INCORRECT);
  CK_TOKEN_INFO info{};
  backend_->fill_token_info(*db, info);
  EXPECT_FALSE(info.flags & (CKF_USER_PIN_LOCKED | CKF_SO_PIN_LOCKED));  // the DA counter is 0
  EXPECT_EQ(login(*db, CKU_USER, kUser), CKR_OK);

  // Another TPM user's DA-protected object (a version 1 record) fails until the TPM is one from lockout.
  auto old_db = new_db("old");
  set_owner_auth("", "owner-secret");
  make_token(*old_db, 5);
  set_owner_auth("owner-secret", "");
  set_dictionary_attack(2, 600, 600);
  EXPECT_EQ(login(*old_db, CKU_USER, kWrong), CKR_PIN_INCORRECT);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // the token info's DA reading is 2 s old
  info = {};
  backend_->fill_token_info(*old_db, info);
  EXPECT_TRUE(info.flags & CKF_USER_PIN_LOCKED);  // keyseal does not spend the TPM's last attempt
  EXPECT_EQ(login(*old_db, CKU_USER, kUser), CKR_PIN_LOCKED);
  info = {};
  backend_->fill_token_info(*db, info);
  EXPECT_FALSE(info.flags & CKF_USER_PIN_LOCKED);  // not in lockout: the NV token opens
  EXPECT_EQ(login(*db, CKU_USER, kUser), CKR_OK);
  EXPECT_EQ(da_failures(), 1u);

  // The TPM in lockout (here: the threshold lowered under the failure count): its DA-protected sealed objects
  // refuse even the right PIN, and the token info says so for both kinds of record.
  set_dictionary_attack(1, 600, 600);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  info = {};
  backend_->fill_token_info(*db, info);
  EXPECT_TRUE(info.flags & CKF_USER_PIN_LOCKED);
  EXPECT_TRUE(info.flags & CKF_SO_PIN_LOCKED);
  EXPECT_EQ(login(*db, CKU_USER, kUser), CKR_PIN_LOCKED);
  expect_counter(*db, CKU_USER, 0, 5);  // a right PIN: the token's own count is not spent
  EXPECT_EQ(backend_->status().lockout.rfind("in lockout", 0), 0u);
  backend_->with_esys([](ESYS_CONTEXT* ctx) {
    EXPECT_EQ(Esys_DictionaryAttackLockReset(ctx, ESYS_TR_RH_LOCKOUT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE),
              TSS2_RC_SUCCESS);
  });
  set_dictionary_attack(32, 1, 1);
  EXPECT_EQ(login(*db, CKU_USER, kUser), CKR_OK);
  EXPECT_EQ(login(*old_db, CKU_USER, kUser), CKR_OK);
}

// What a login costs, old record (DA-protected object, counted by core) against a PIN-fail index: TPM commands
// and time on swtpm, as core's C_Login runs it (pin_counter, unlock, after_unlock). Printed for the closing
// note, never asserted.
using TpmPinNvMeasure = TpmPinNvBase;
TEST_F(TpmPinNvMeasure, LoginCostOldAndNew) {
  auto old_db = new_db("old"), new_db_ = new_db("new");
  set_owner_auth("", "owner-secret");
  make_token(*old_db, 10);
  set_owner_auth("owner-secret", "");
  make_token(*new_db_, 10);
  ASSERT_EQ(backend_->pin_counter(*old_db, CKU_USER), std::nullopt);
  ASSERT_NE(backend_->pin_counter(*new_db_, CKU_USER), std::nullopt);
  using clock = std::chrono::steady_clock;
  // `fresh`: a new backend for each login, as in a new process (the count is not cached yet).
  auto per_login = [&](store::TokenDb& db, const SecureBytes& pin, bool fresh, double& ms) {
    constexpr int kRounds = 40;
    const uint64_t c0 = backend_->tpm_commands();
    double total = 0;
    for (int i = 0; i < kRounds; ++i) {
      auto b = fresh ? connect() : backend_;
      const auto t0 = clock::now();
      (void)b->pin_counter(db, CKU_USER);  // as core's C_Login asks first
      try {
        (void)b->unlock(db, CKU_USER, view(pin));
      } catch (const Error&) {
      }
      total += std::chrono::duration<double, std::milli>(clock::now() - t0).count();
    }
    ms = total / kRounds;
    return static_cast<double>(backend_->tpm_commands() - c0) / kRounds;
  };
  double old_ms = 0, cold_ms = 0, warm_ms = 0, wrong_ms = 0;
  const double old_cmds = per_login(*old_db, kUser, true, old_ms);
  const double cold_cmds = per_login(*new_db_, kUser, true, cold_ms);
  const double warm_cmds = per_login(*new_db_, kUser, false, warm_ms);
  set_dictionary_attack(1000, 1, 1);
  backend_->remove_pin(*new_db_, CKU_SO);  // keep the measurement's own wrong PINs below the limit
  const SecureBytes mk = backend_->create_master_key(*new_db_, view(kSo), 1000);
  backend_->set_pin(*new_db_, CKU_USER, view(mk), view(kUser));
  const double wrong_cmds = per_login(*new_db_, kWrong, true, wrong_ms);
  auto cold = connect();
  const uint64_t c0 = backend_->tpm_commands();
  CK_TOKEN_INFO info{};
  (void)cold->pin_counter(*new_db_, CKU_USER), (void)cold->pin_counter(*new_db_, CKU_SO);
  cold->fill_token_info(*new_db_, info);
  const uint64_t info_cmds = backend_->tpm_commands() - c0;
  std::printf("[ measure  ] C_Login, old record (DA object, core counts): %.1f TPM commands, %.2f ms\n", old_cmds,
              old_ms);
  std::printf("[ measure  ] C_Login, PIN-fail index: %.1f TPM commands, %.2f ms; count cached: %.1f, %.2f ms; "
              "wrong PIN: %.1f, %.2f ms\n",
              cold_cmds, cold_ms, warm_cmds, warm_ms, wrong_cmds, wrong_ms);
  std::printf("[ measure  ] C_GetTokenInfo, both counts uncached: %llu TPM commands\n",
              static_cast<unsigned long long>(info_cmds));
}

// Why the sealed object stays DA-protected: with the owner hierarchy open, anyone can undefine a token's index
// and define it again with an authValue of their own. The name is the same (it does not cover the authValue),
// so PolicySecret passes, but the object still wants the PIN, and each guess meets the TPM's DA counter.
using TpmPinNvAttack = TpmPinNvBase;
TEST_F(TpmPinNvAttack, RedefinedIndexStillNeedsThePinAgainstTheDaCounter) {
  set_dictionary_attack(3, 1000, 1000);
  auto db = new_db();
  make_token(*db, 5);
  const auto rec = db->get_meta("tpm.pin.user");
  ASSERT_TRUE(rec && !rec->empty() && (*rec)[0] == 2);
  size_t off = 1;
  TPM2_HANDLE handle = 0;
  TPM2B_PUBLIC pub{};
  TPM2B_PRIVATE priv{};
  ASSERT_EQ(Tss2_MU_UINT32_Unmarshal(rec->data(), rec->size(), &off, &handle), TSS2_RC_SUCCESS);
  ASSERT_EQ(Tss2_MU_TPM2B_PUBLIC_Unmarshal(rec->data(), rec->size(), &off, &pub), TSS2_RC_SUCCESS);
  ASSERT_EQ(Tss2_MU_TPM2B_PRIVATE_Unmarshal(rec->data(), rec->size(), &off, &priv), TSS2_RC_SUCCESS);
  TPM2B_AUTH attacker{};
  attacker.size = 8;
  std::memcpy(attacker.buffer, "attacker", 8);
  backend_->with_esys([&](ESYS_CONTEXT* ctx) {
    ESYS_TR nv = ESYS_TR_NONE;
    ASSERT_EQ(Esys_TR_FromTPMPublic(ctx, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv), TSS2_RC_SUCCESS);
    TPM2B_NV_PUBLIC* nv_pub = nullptr;
    TPM2B_NAME* before = nullptr;
    ASSERT_EQ(Esys_NV_ReadPublic(ctx, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv_pub, &before), TSS2_RC_SUCCESS);
    ASSERT_EQ(Esys_NV_UndefineSpace(ctx, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE),
              TSS2_RC_SUCCESS);
    nv_pub->nvPublic.attributes &= ~TPMA_NV_WRITTEN;
    ASSERT_EQ(Esys_NV_DefineSpace(ctx, ESYS_TR_RH_OWNER, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &attacker,
                                  nv_pub, &nv),
              TSS2_RC_SUCCESS);
    TPM2B_MAX_NV_BUFFER data{};
    data.size = 8;
    data.buffer[7] = 5;  // pinCount 0, pinLimit 5
    ASSERT_EQ(Esys_NV_Write(ctx, ESYS_TR_RH_OWNER, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &data, 0),
              TSS2_RC_SUCCESS);
    TPM2B_NV_PUBLIC* again = nullptr;
    TPM2B_NAME* after = nullptr;
    ASSERT_EQ(Esys_NV_ReadPublic(ctx, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &again, &after), TSS2_RC_SUCCESS);
    EXPECT_EQ(before->size, after->size);
    EXPECT_EQ(std::memcmp(before->name, after->name, before->size), 0);  // the same name, the attacker's auth
    Esys_Free(nv_pub), Esys_Free(before), Esys_Free(again), Esys_Free(after);
    Esys_TR_Close(ctx, &nv);
  });
  auto conn = Connection::shared(swtpm_.tcti());
  {
    auto g = conn->lock();
    NvRef nv(g, handle);
    ASSERT_EQ(Esys_TR_SetAuth(g.ctx(), nv.tr(), &attacker), TSS2_RC_SUCCESS);
    TPMT_SYM_DEF sym{};
    sym.algorithm = TPM2_ALG_NULL;
    ESYS_TR s = ESYS_TR_NONE;
    ASSERT_EQ(Esys_StartAuthSession(g.ctx(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    nullptr, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &s),
              TSS2_RC_SUCCESS);
    TPM2B_TIMEOUT* timeout = nullptr;
    TPMT_TK_AUTH* ticket = nullptr;
    EXPECT_EQ(Esys_PolicySecret(g.ctx(), nv.tr(), s, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, nullptr,
                                nullptr, 0, &timeout, &ticket),
              TSS2_RC_SUCCESS);  // the index no longer protects anything
    Esys_Free(timeout), Esys_Free(ticket);
    EXPECT_EQ(Esys_PolicyPassword(g.ctx(), s, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE), TSS2_RC_SUCCESS);
    const ESYS_TR h = g.load_transient(pub, priv);
    const SecureBytes guess = pin_auth("0123456789abcdef0123456789abcdef", "user", view(bytes("123456")));
    TPM2B_AUTH a{};
    a.size = static_cast<UINT16>(guess.size());
    std::memcpy(a.buffer, guess.data(), guess.size());
    ASSERT_EQ(Esys_TR_SetAuth(g.ctx(), h, &a), TSS2_RC_SUCCESS);
    TPM2B_SENSITIVE_DATA* out = nullptr;
    const TSS2_RC rc = Esys_Unseal(g.ctx(), h, s, ESYS_TR_NONE, ESYS_TR_NONE, &out);
    EXPECT_NE(rc, TSS2_RC_SUCCESS) << "unsealed with a guessed PIN";
    Esys_Free(out);
    g.flush(h);
    g.flush(s);
  }
  EXPECT_EQ(da_failures(), 1u);  // the guess was counted TPM-wide
  EXPECT_EQ(login(*db, CKU_USER, kUser), CKR_PIN_INCORRECT);  // the owner of the token is denied service
}

INSTANTIATE_TEST_SUITE_P(DaSettings, TpmPinNvTest,
                         ::testing::Values(DaSettings{3, 1000}, DaSettings{32, 1}),
                         [](const ::testing::TestParamInfo<DaSettings>& i) {
                           return i.param.max_tries == 3 ? std::string("SwtpmDefault") : std::string("Raised");
                         });

}  // namespace
}  // namespace keyseal::tpm::testing
