// Slots, tokens, PINs and login (PKCS#11 3.0 sections 5.5 and 5.6): stable slot ids, the empty slot, the
// per-token retry counter and its flags, login state rules, and a corrupt token disabling only itself.
#include "fixture.h"

#include <cstring>
#include <fstream>

namespace keyseal::test {
namespace {

CK_RV login(CK_SESSION_HANDLE s, CK_USER_TYPE who, const char* pin) {
  return C_Login(s, who, (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

std::vector<CK_SLOT_ID> slots(bool present) {
  CK_ULONG n = 0;
  EXPECT_EQ(C_GetSlotList(present, nullptr, &n), CKR_OK);
  std::vector<CK_SLOT_ID> v(n);
  EXPECT_EQ(C_GetSlotList(present, v.data(), &n), CKR_OK);
  v.resize(n);
  return v;
}

TEST_F(ModuleTest, SlotsAreStableAndOneIsEmpty) {
  EXPECT_EQ(slots(true), (std::vector<CK_SLOT_ID>{0, 1}));
  CK_TOKEN_INFO info;
  ASSERT_EQ(C_GetTokenInfo(1, &info), CKR_OK);
  EXPECT_FALSE(info.flags & CKF_TOKEN_INITIALIZED);
  CK_SESSION_HANDLE s;
  EXPECT_EQ(C_OpenSession(1, CKF_SERIAL_SESSION, nullptr, nullptr, &s), CKR_TOKEN_NOT_RECOGNIZED);
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', 32);
  ASSERT_EQ(C_InitToken(1, (CK_UTF8CHAR_PTR)kSoPin, strlen(kSoPin), label), CKR_OK);
  EXPECT_EQ(slots(true), (std::vector<CK_SLOT_ID>{0, 1, 2}));
  reinitialize();
  EXPECT_EQ(slots(true), (std::vector<CK_SLOT_ID>{0, 1, 2}));
  ASSERT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(info.label), 10), "test token");
  EXPECT_EQ(C_GetTokenInfo(77, &info), CKR_SLOT_ID_INVALID);
}

TEST_F(ModuleTest, UserPinRetryCounterAndUnlockBySo) {
  CK_SESSION_HANDLE s = open();
  EXPECT_EQ(login(s, CKU_USER, "wrong-pin"), CKR_PIN_INCORRECT);
  EXPECT_TRUE(token_flags() & CKF_USER_PIN_COUNT_LOW);
  EXPECT_EQ(login(s, CKU_USER, "wrong-pin"), CKR_PIN_INCORRECT);
  EXPECT_TRUE(token_flags() & CKF_USER_PIN_FINAL_TRY);
  EXPECT_EQ(login(s, CKU_USER, "wrong-pin"), CKR_PIN_INCORRECT);
  EXPECT_TRUE(token_flags() & CKF_USER_PIN_LOCKED);
  EXPECT_EQ(login(s, CKU_USER, kUserPin), CKR_PIN_LOCKED);  // even the right PIN
  // The lock survives a restart (it is stored with the token).
  reinitialize();
  s = open();
  EXPECT_EQ(login(s, CKU_USER, kUserPin), CKR_PIN_LOCKED);
  // The SO unlocks the user by setting a new PIN.
  ASSERT_EQ(login(s, CKU_SO, kSoPin), CKR_OK);
  ASSERT_EQ(C_InitPIN(s, (CK_UTF8CHAR_PTR) "new-user-pin", 12), CKR_OK);
  ASSERT_EQ(C_Logout(s), CKR_OK);
  EXPECT_FALSE(token_flags() & (CKF_USER_PIN_LOCKED | CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY));
  EXPECT_EQ(login(s, CKU_USER, "new-user-pin"), CKR_OK);
}

TEST_F(ModuleTest, SuccessfulLoginResetsTheCounter) {
  CK_SESSION_HANDLE s = open();
  EXPECT_EQ(login(s, CKU_USER, "wrong-pin"), CKR_PIN_INCORRECT);
  EXPECT_EQ(login(s, CKU_USER, kUserPin), CKR_OK);
  EXPECT_FALSE(token_flags() & CKF_USER_PIN_COUNT_LOW);
}

TEST_F(ModuleTest, SoPinRetryCounter) {
  CK_SESSION_HANDLE s = open();
  for (CK_ULONG i = 0; i < kMaxTries; ++i) EXPECT_EQ(login(s, CKU_SO, "wrong-so-pin"), CKR_PIN_INCORRECT);
  EXPECT_TRUE(token_flags() & CKF_SO_PIN_LOCKED);
  EXPECT_FALSE(token_flags() & CKF_USER_PIN_LOCKED);  // the user is not affected
  EXPECT_EQ(login(s, CKU_SO, kSoPin), CKR_PIN_LOCKED);
  EXPECT_EQ(login(s, CKU_USER, kUserPin), CKR_OK);
}

TEST_F(ModuleTest, LoginStateRules) {
  CK_SESSION_HANDLE ro = open(false), rw = open(true);
  EXPECT_EQ(login(rw, CKU_SO, kSoPin), CKR_SESSION_READ_ONLY_EXISTS);
  EXPECT_EQ(login(rw, 42, kUserPin), CKR_USER_TYPE_INVALID);
  ASSERT_EQ(login(ro, CKU_USER, kUserPin), CKR_OK);
  EXPECT_EQ(login(rw, CKU_USER, kUserPin), CKR_USER_ALREADY_LOGGED_IN);
  CK_SESSION_INFO info;
  ASSERT_EQ(C_GetSessionInfo(ro, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RO_USER_FUNCTIONS);
  ASSERT_EQ(C_GetSessionInfo(rw, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_USER_FUNCTIONS);
  ASSERT_EQ(C_Logout(rw), CKR_OK);
  EXPECT_EQ(C_Logout(rw), CKR_USER_NOT_LOGGED_IN);
  ASSERT_EQ(C_CloseSession(ro), CKR_OK);
  ASSERT_EQ(login(rw, CKU_SO, kSoPin), CKR_OK);
  EXPECT_EQ(login(rw, CKU_USER, kUserPin), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
  CK_SESSION_HANDLE h;
  EXPECT_EQ(C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &h), CKR_SESSION_READ_WRITE_SO_EXISTS);
  EXPECT_EQ(C_OpenSession(slot_, CKF_RW_SESSION, nullptr, nullptr, &h), CKR_SESSION_PARALLEL_NOT_SUPPORTED);
  ASSERT_EQ(C_GetSessionInfo(rw, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_SO_FUNCTIONS);
  // Closing the last session logs out.
  ASSERT_EQ(C_CloseSession(rw), CKR_OK);
  rw = open();
  ASSERT_EQ(C_GetSessionInfo(rw, &info), CKR_OK);
  EXPECT_EQ(info.state, CKS_RW_PUBLIC_SESSION);
  EXPECT_EQ(C_GetSessionInfo(rw + 1000, &info), CKR_SESSION_HANDLE_INVALID);
}

TEST_F(ModuleTest, SetPinAndPinLength) {
  CK_SESSION_HANDLE s = open();
  EXPECT_EQ(C_SetPIN(s, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin), (CK_UTF8CHAR_PTR) "abc", 3), CKR_PIN_LEN_RANGE);
  ASSERT_EQ(C_SetPIN(s, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin), (CK_UTF8CHAR_PTR) "changed-pin", 11), CKR_OK);
  EXPECT_EQ(login(s, CKU_USER, kUserPin), CKR_PIN_INCORRECT);
  EXPECT_EQ(login(s, CKU_USER, "changed-pin"), CKR_OK);
  CK_SESSION_HANDLE ro = open(false);
  EXPECT_EQ(C_SetPIN(ro, (CK_UTF8CHAR_PTR) "changed-pin", 11, (CK_UTF8CHAR_PTR) "other-pin", 9), CKR_SESSION_READ_ONLY);
}

TEST_F(ModuleTest, InitTokenAgainNeedsSoPinAndNoSessions) {
  CK_UTF8CHAR label[32];
  std::memset(label, ' ', 32);
  CK_SESSION_HANDLE s = open();
  {
    login_user(s);
    auto [pub, priv] = ec_pair(s, true, "k1", kP256);
    (void)pub;
    (void)priv;
  }
  EXPECT_EQ(C_InitToken(slot_, (CK_UTF8CHAR_PTR)kSoPin, strlen(kSoPin), label), CKR_SESSION_EXISTS);
  ASSERT_EQ(C_CloseAllSessions(slot_), CKR_OK);
  EXPECT_EQ(C_InitToken(slot_, (CK_UTF8CHAR_PTR) "bad-so-pin", 10, label), CKR_PIN_INCORRECT);
  ASSERT_EQ(C_InitToken(slot_, (CK_UTF8CHAR_PTR)kSoPin, strlen(kSoPin), label), CKR_OK);
  EXPECT_FALSE(token_flags() & CKF_USER_PIN_INITIALIZED);
  s = open();
  EXPECT_EQ(login(s, CKU_USER, kUserPin), CKR_USER_PIN_NOT_INITIALIZED);
  CK_OBJECT_CLASS cls = CKO_PUBLIC_KEY;
  EXPECT_TRUE(find(s, {attr(CKA_CLASS, &cls, sizeof cls)}).empty());
}

TEST_F(ModuleTest, CorruptTokenDisablesOnlyItself) {
  {
    std::ofstream(dir_ + "/store/token-5.db") << "this is not a database, just some bytes in the way";
  }
  reinitialize();
  auto present = slots(true);
  EXPECT_EQ(std::count(present.begin(), present.end(), 5), 0);
  auto all = slots(false);
  EXPECT_EQ(std::count(all.begin(), all.end(), 5), 1);
  CK_SLOT_INFO si;
  ASSERT_EQ(C_GetSlotInfo(5, &si), CKR_OK);
  EXPECT_FALSE(si.flags & CKF_TOKEN_PRESENT);
  CK_TOKEN_INFO ti;
  EXPECT_EQ(C_GetTokenInfo(5, &ti), CKR_TOKEN_NOT_PRESENT);
  CK_SESSION_HANDLE s = open();  // slot 0 still works
  login_user(s);
  auto [pub, priv] = ec_pair(s, true, "still", kP256);
  EXPECT_NE(priv, 0u);
}

}  // namespace
}  // namespace keyseal::test
