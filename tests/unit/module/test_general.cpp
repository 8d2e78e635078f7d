// General-purpose functions and the ABI surface (PKCS#11 3.0 section 5.4): initialisation rules, interfaces,
// function lists, and the info structures' blank padding.
#include "fixture.h"
#include "platform/env.h"
#include "platform/paths.h"

#include <cstring>
#include <filesystem>

namespace keyseal::test {
namespace {

TEST(General, NotInitializedAndArguments) {
  CK_ULONG n = 0;
  EXPECT_EQ(C_GetSlotList(CK_FALSE, nullptr, &n), CKR_CRYPTOKI_NOT_INITIALIZED);
  EXPECT_EQ(C_Finalize(nullptr), CKR_CRYPTOKI_NOT_INITIALIZED);
  CK_C_INITIALIZE_ARGS args{};
  args.pReserved = &n;
  EXPECT_EQ(C_Initialize(&args), CKR_ARGUMENTS_BAD);
  args.pReserved = nullptr;
  args.CreateMutex = reinterpret_cast<CK_CREATEMUTEX>(1);  // some but not all mutex functions
  EXPECT_EQ(C_Initialize(&args), CKR_ARGUMENTS_BAD);
  // All four mutex functions without CKF_OS_LOCKING_OK: keyseal can only lock with the OS.
  args.DestroyMutex = reinterpret_cast<CK_DESTROYMUTEX>(1);
  args.LockMutex = reinterpret_cast<CK_LOCKMUTEX>(1);
  args.UnlockMutex = reinterpret_cast<CK_UNLOCKMUTEX>(1);
  EXPECT_EQ(C_Initialize(&args), CKR_CANT_LOCK);
  args.flags = CKF_OS_LOCKING_OK;  // the same functions with OS locking allowed: accepted
  platform::set_env("KEYSEAL_STORE", platform::path_to_utf8(std::filesystem::temp_directory_path() / "keyseal-general-test-empty"));
  platform::unset_env("KEYSEAL_CONF");
  ASSERT_EQ(C_Initialize(&args), CKR_OK);
  ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  args = CK_C_INITIALIZE_ARGS{};
  args.flags = CKF_OS_LOCKING_OK;
  platform::set_env("KEYSEAL_STORE", platform::path_to_utf8(std::filesystem::temp_directory_path() / "keyseal-general-test-empty"));
  platform::unset_env("KEYSEAL_CONF");
  ASSERT_EQ(C_Initialize(&args), CKR_OK);
  EXPECT_EQ(C_Initialize(nullptr), CKR_CRYPTOKI_ALREADY_INITIALIZED);
  EXPECT_EQ(C_Finalize(&n), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_Finalize(nullptr), CKR_OK);
}

TEST(General, InterfacesAndFunctionLists) {
  CK_ULONG n = 0;
  ASSERT_EQ(C_GetInterfaceList(nullptr, &n), CKR_OK);
  ASSERT_EQ(n, 2u);
  CK_INTERFACE list[2];
  CK_ULONG small = 1;
  EXPECT_EQ(C_GetInterfaceList(list, &small), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(small, 2u);
  ASSERT_EQ(C_GetInterfaceList(list, &n), CKR_OK);
  CK_INTERFACE* itf = nullptr;
  ASSERT_EQ(C_GetInterface(nullptr, nullptr, &itf, 0), CKR_OK);
  auto* f30 = static_cast<CK_FUNCTION_LIST_3_0*>(itf->pFunctionList);
  EXPECT_EQ(f30->version.major, 3);
  EXPECT_EQ(f30->version.minor, 0);
  EXPECT_STREQ(reinterpret_cast<char*>(itf->pInterfaceName), "PKCS 11");
  CK_VERSION v240{2, 40};
  ASSERT_EQ(C_GetInterface((CK_UTF8CHAR_PTR) "PKCS 11", &v240, &itf, 0), CKR_OK);
  EXPECT_EQ(static_cast<CK_FUNCTION_LIST*>(itf->pFunctionList)->version.minor, 40);
  EXPECT_EQ(C_GetInterface((CK_UTF8CHAR_PTR) "Vendor X", nullptr, &itf, 0), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_GetInterface(nullptr, nullptr, nullptr, 0), CKR_ARGUMENTS_BAD);
  CK_FUNCTION_LIST_PTR fl = nullptr;
  ASSERT_EQ(C_GetFunctionList(&fl), CKR_OK);
  EXPECT_EQ(fl->C_Sign, &C_Sign);
  EXPECT_EQ(f30->C_MessageVerifyFinal, &C_MessageVerifyFinal);
  EXPECT_EQ(C_GetFunctionList(nullptr), CKR_ARGUMENTS_BAD);
  // Every 3.0 entry is a function, never NULL.
  auto** fns = reinterpret_cast<void**>(&f30->C_Initialize);
  const size_t count = (sizeof(CK_FUNCTION_LIST_3_0) - sizeof(CK_VERSION)) / sizeof(void*);
  for (size_t i = 0; i < count; ++i) EXPECT_NE(fns[i], nullptr) << "entry " << i;
}

TEST_F(ModuleTest, InfoIsBlankPadded) {
  CK_INFO info;
  ASSERT_EQ(C_GetInfo(&info), CKR_OK);
  EXPECT_EQ(info.cryptokiVersion.major, 3);
  for (unsigned char c : info.manufacturerID) EXPECT_NE(c, 0);
  CK_TOKEN_INFO ti;
  ASSERT_EQ(C_GetTokenInfo(slot_, &ti), CKR_OK);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(ti.label), 32), "test token" + std::string(22, ' '));
  EXPECT_TRUE(ti.flags & CKF_TOKEN_INITIALIZED);
  EXPECT_TRUE(ti.flags & CKF_USER_PIN_INITIALIZED);
  EXPECT_EQ(C_GetInfo(nullptr), CKR_ARGUMENTS_BAD);
}

TEST_F(ModuleTest, UnsupportedFunctionsSaySo) {
  CK_SESSION_HANDLE s = open();
  CK_MECHANISM m{CKM_RSA_PKCS, nullptr, 0};
  EXPECT_EQ(C_SignRecoverInit(s, &m, 1), CKR_FUNCTION_NOT_SUPPORTED);
  EXPECT_EQ(C_MessageEncryptInit(s, &m, 1), CKR_FUNCTION_NOT_SUPPORTED);
  EXPECT_EQ(C_GetFunctionStatus(s), CKR_FUNCTION_NOT_PARALLEL);
  EXPECT_EQ(C_CancelFunction(s), CKR_FUNCTION_NOT_PARALLEL);
}

TEST_F(ModuleTest, MechanismInfoComesFromTheTable) {
  CK_ULONG n = 0;
  ASSERT_EQ(C_GetMechanismList(slot_, nullptr, &n), CKR_OK);
  std::vector<CK_MECHANISM_TYPE> list(n);
  ASSERT_EQ(C_GetMechanismList(slot_, list.data(), &n), CKR_OK);
  EXPECT_GE(n, 40u);
  for (CK_MECHANISM_TYPE t : list) {
    CK_MECHANISM_INFO info;
    EXPECT_EQ(C_GetMechanismInfo(slot_, t, &info), CKR_OK) << t;
    EXPECT_NE(info.flags, 0u) << t;
    EXPECT_LE(info.ulMinKeySize, info.ulMaxKeySize) << t;
  }
  CK_MECHANISM_INFO info;
  ASSERT_EQ(C_GetMechanismInfo(slot_, CKM_RSA_PKCS_KEY_PAIR_GEN, &info), CKR_OK);
  EXPECT_EQ(info.ulMinKeySize, 2048u);
  EXPECT_EQ(info.ulMaxKeySize, 4096u);
  ASSERT_EQ(C_GetMechanismInfo(slot_, CKM_ECDSA_SHA256, &info), CKR_OK);
  EXPECT_TRUE(info.flags & CKF_SIGN);
  EXPECT_TRUE(info.flags & CKF_EC_UNCOMPRESS);
  EXPECT_EQ(C_GetMechanismInfo(slot_, CKM_MD5, &info), CKR_MECHANISM_INVALID);
  EXPECT_EQ(C_GetMechanismInfo(999, CKM_SHA256, &info), CKR_SLOT_ID_INVALID);
}

}  // namespace
}  // namespace keyseal::test
