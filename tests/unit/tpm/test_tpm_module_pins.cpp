// A TPM token's PIN lockout through the C ABI (issue 11 item 4): the module on a fresh swtpm with its default
// dictionary-attack settings (3 failures, 1000 s), a token whose limit is 4, and C_Login / C_GetTokenInfo
// answering from the token's PIN-fail NV index while the TPM-wide DA counter stays at 0.
#include "swtpm_fixture.h"

#include <keyseal/pkcs11.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>

namespace keyseal::tpm::testing {
namespace {

constexpr char kSo[] = "so-secret-1", kUser[] = "user-secret-1", kWrong[] = "not-the-pin";
constexpr CK_ULONG kLimit = 4;

class TpmModulePinsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    try {
      swtpm_.start();  // no DictionaryAttackParameters: swtpm's defaults
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    const std::string dir = swtpm_.dir().string();
    std::ofstream(dir + "/keyseal.conf") << "backend = tpm\ntcti = " << swtpm_.tcti()
                                         << "\nmax_pin_attempts = " << kLimit << "\n";
    setenv("KEYSEAL_STORE", (dir + "/store").c_str(), 1);
    setenv("KEYSEAL_CONF", (dir + "/keyseal.conf").c_str(), 1);
    ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
    CK_UTF8CHAR label[32];
    std::memset(label, ' ', sizeof label);
    ASSERT_EQ(C_InitToken(0, pin(kSo), std::strlen(kSo), label), CKR_OK);
    ASSERT_EQ(C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s_), CKR_OK);
    ASSERT_EQ(C_Login(s_, CKU_SO, pin(kSo), std::strlen(kSo)), CKR_OK);
    ASSERT_EQ(C_InitPIN(s_, pin(kUser), std::strlen(kUser)), CKR_OK);
    ASSERT_EQ(C_Logout(s_), CKR_OK);
  }
  void TearDown() override {
    C_Finalize(nullptr);
    swtpm_.stop();
  }

  static CK_UTF8CHAR_PTR pin(const char* p) { return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(p)); }
  CK_RV login(CK_USER_TYPE who, const char* p) {
    const CK_RV rv = C_Login(s_, who, pin(p), std::strlen(p));
    if (rv == CKR_OK) {
      EXPECT_EQ(C_Logout(s_), CKR_OK);
    }
    return rv;
  }
  CK_FLAGS flags() {
    CK_TOKEN_INFO info{};
    EXPECT_EQ(C_GetTokenInfo(0, &info), CKR_OK);
    return info.flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY | CKF_USER_PIN_LOCKED);
  }
  std::string lockout() { return probe_status(swtpm_.tcti()).lockout; }

  Swtpm swtpm_;
  CK_SESSION_HANDLE s_ = 0;
};

TEST_F(TpmModulePinsTest, RetriesAreTheTokensOwnAndFlagsAgreeWithLogin) {
  // The sequence on a default swtpm gave OK, INCORRECT, OK, INCORRECT, PIN_LOCKED.
  EXPECT_EQ(login(CKU_USER, kUser), CKR_OK);
  EXPECT_EQ(login(CKU_USER, kWrong), CKR_PIN_INCORRECT);
  EXPECT_EQ(flags(), CKF_USER_PIN_COUNT_LOW);
  EXPECT_EQ(login(CKU_USER, kUser), CKR_OK);
  EXPECT_EQ(flags(), 0u);
  EXPECT_EQ(login(CKU_USER, kWrong), CKR_PIN_INCORRECT);
  EXPECT_EQ(login(CKU_USER, kUser), CKR_OK);
  EXPECT_EQ(lockout().rfind("not in lockout, 0 of 3 failures", 0), 0u) << lockout();

  // Limit 4, more than the TPM's 3: three wrong, then the final try with the right PIN.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(login(CKU_USER, kWrong), CKR_PIN_INCORRECT);
  EXPECT_EQ(flags(), CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY);
  EXPECT_EQ(login(CKU_USER, kUser), CKR_OK);
  EXPECT_EQ(flags(), 0u);
  for (CK_ULONG i = 0; i < kLimit; ++i) EXPECT_EQ(login(CKU_USER, kWrong), CKR_PIN_INCORRECT);
  EXPECT_EQ(flags(), CKF_USER_PIN_LOCKED);
  EXPECT_EQ(login(CKU_USER, kUser), CKR_PIN_LOCKED);
  EXPECT_EQ(lockout().rfind("not in lockout, 0 of 3 failures", 0), 0u) << lockout();

  // The SO is not locked with the user, and C_InitPIN resets the user's count.
  ASSERT_EQ(C_Login(s_, CKU_SO, pin(kSo), std::strlen(kSo)), CKR_OK);
  ASSERT_EQ(C_InitPIN(s_, pin(kUser), std::strlen(kUser)), CKR_OK);
  ASSERT_EQ(C_Logout(s_), CKR_OK);
  EXPECT_EQ(flags(), 0u);
  EXPECT_EQ(login(CKU_USER, kUser), CKR_OK);
}

}  // namespace
}  // namespace keyseal::tpm::testing
