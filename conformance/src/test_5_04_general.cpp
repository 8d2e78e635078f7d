// Chapter 5.4 (general-purpose functions) and 5.2 (C_GetInterface, C_GetInterfaceList): C_Initialize arguments,
// locking flags and mutex callbacks, double initialisation, initialise/finalise cycles, C_GetInfo.
#include "harness.h"

#include <cstring>
#include <mutex>

namespace keyseal::conformance {
namespace {

// Every test here starts with the module finalised and leaves it initialised for the next suite.
class GeneralPurpose : public testing::Test {
 protected:
  void SetUp() override { finalize(); }
  void TearDown() override { ensure_initialized(); }
};

CK_RV create_mutex(CK_VOID_PTR_PTR m) {
  if (!m) return CKR_ARGUMENTS_BAD;
  *m = new std::mutex;
  return CKR_OK;
}
CK_RV destroy_mutex(CK_VOID_PTR m) {
  delete static_cast<std::mutex*>(m);
  return CKR_OK;
}
CK_RV lock_mutex(CK_VOID_PTR m) {
  static_cast<std::mutex*>(m)->lock();
  return CKR_OK;
}
CK_RV unlock_mutex(CK_VOID_PTR m) {
  static_cast<std::mutex*>(m)->unlock();
  return CKR_OK;
}

bool blank_padded(const unsigned char* p, size_t n, std::string* why) {
  for (size_t i = 0; i < n; ++i) {
    if (p[i] == 0) return *why = "NUL byte at offset " + std::to_string(i), false;
  }
  return true;
}

// A session and a slot list still work: the module is really usable after this initialisation.
void expect_usable() {
  CK_ULONG n = 0;
  EXPECT_OK(p11()->C_GetSlotList(CK_TRUE, nullptr, &n));
  EXPECT_GE(n, 1u);
  CK_SESSION_HANDLE s;
  ASSERT_OK(p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &s));
  EXPECT_OK(p11()->C_CloseSession(s));
}

TEST_F(GeneralPurpose, InitializeWithNullArgs) {
  ASSERT_OK(p11()->C_Initialize(nullptr));
  expect_usable();
  EXPECT_OK(p11()->C_Finalize(nullptr));
}

TEST_F(GeneralPurpose, InitializeWithOsLockingOk) {
  ASSERT_OK(initialize_os_locking());
  expect_usable();
}

TEST_F(GeneralPurpose, InitializeWithZeroFlagsAndNoCallbacks) {
  CK_C_INITIALIZE_ARGS args{};
  ASSERT_OK(p11()->C_Initialize(&args));
  expect_usable();
}

TEST_F(GeneralPurpose, InitializeReservedNonNullIsArgumentsBad) {
  CK_C_INITIALIZE_ARGS args{};
  int dummy = 0;
  args.flags = CKF_OS_LOCKING_OK;
  args.pReserved = &dummy;
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_Initialize(&args));
  // The failed call must not have initialised the library.
  CK_INFO info;
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_GetInfo(&info));
}

TEST_F(GeneralPurpose, InitializeSomeMutexCallbacksIsArgumentsBad) {
  CK_C_INITIALIZE_ARGS args{};
  args.CreateMutex = create_mutex;
  args.DestroyMutex = destroy_mutex;
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_Initialize(&args));
  args.flags = CKF_OS_LOCKING_OK;
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_Initialize(&args));
}

TEST_F(GeneralPurpose, InitializeWithApplicationMutexCallbacks) {
  // Section 5.4: with callbacks and no CKF_OS_LOCKING_OK the library must use the callbacks or fail CKR_CANT_LOCK.
  CK_C_INITIALIZE_ARGS args{};
  args.CreateMutex = create_mutex;
  args.DestroyMutex = destroy_mutex;
  args.LockMutex = lock_mutex;
  args.UnlockMutex = unlock_mutex;
  CK_RV rv = p11()->C_Initialize(&args);
  ASSERT_CKR_IN(({CKR_OK, CKR_CANT_LOCK}), rv);
  if (rv == CKR_OK) expect_usable();
}

TEST_F(GeneralPurpose, InitializeWithCallbacksAndOsLockingOk) {
  CK_C_INITIALIZE_ARGS args{};
  args.CreateMutex = create_mutex;
  args.DestroyMutex = destroy_mutex;
  args.LockMutex = lock_mutex;
  args.UnlockMutex = unlock_mutex;
  args.flags = CKF_OS_LOCKING_OK;
  ASSERT_OK(p11()->C_Initialize(&args));
  expect_usable();
}

TEST_F(GeneralPurpose, InitializeLibraryCantCreateThreads) {
  // Section 5.4: a library that needs its own threads answers CKR_NEED_TO_CREATE_THREADS, else it works.
  CK_C_INITIALIZE_ARGS args{};
  args.flags = CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS;
  CK_RV rv = p11()->C_Initialize(&args);
  ASSERT_CKR_IN(({CKR_OK, CKR_NEED_TO_CREATE_THREADS}), rv);
  if (rv == CKR_OK) expect_usable();
}

TEST_F(GeneralPurpose, DoubleInitializeIsAlreadyInitialized) {
  ASSERT_OK(initialize_os_locking());
  EXPECT_CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED, initialize_os_locking());
  EXPECT_CKR(CKR_CRYPTOKI_ALREADY_INITIALIZED, p11()->C_Initialize(nullptr));
  expect_usable();
}

TEST_F(GeneralPurpose, FinalizeReservedNonNullIsArgumentsBad) {
  ASSERT_OK(initialize_os_locking());
  int dummy = 0;
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_Finalize(&dummy));
  expect_usable();
}

TEST_F(GeneralPurpose, FinalizeWhenNotInitialized) {
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_Finalize(nullptr));
}

TEST_F(GeneralPurpose, FunctionsBeforeInitializeAreNotInitialized) {
  CK_INFO info;
  CK_ULONG n = 0;
  CK_SLOT_INFO si;
  CK_TOKEN_INFO ti;
  CK_SESSION_HANDLE s;
  CK_MECHANISM_INFO mi;
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_GetInfo(&info));
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_GetSlotList(CK_FALSE, nullptr, &n));
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_GetSlotInfo(slot(), &si));
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_GetTokenInfo(slot(), &ti));
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_GetMechanismList(slot(), nullptr, &n));
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_GetMechanismInfo(slot(), CKM_SHA256, &mi));
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED,
             p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &s));
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_CloseAllSessions(slot()));
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_CloseSession(1));
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_GetSessionInfo(1, nullptr));
  CK_BYTE buf[4];
  EXPECT_CKR(CKR_CRYPTOKI_NOT_INITIALIZED, p11()->C_GenerateRandom(1, buf, sizeof buf));
}

TEST_F(GeneralPurpose, ManyInitializeFinalizeCycles) {
  for (int i = 0; i < 100; ++i) {
    ASSERT_OK(initialize_os_locking()) << "cycle " << i;
    if (i % 10 == 0) {
      CK_SESSION_HANDLE s;
      ASSERT_OK(p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &s)) << "cycle " << i;
    }
    ASSERT_OK(p11()->C_Finalize(nullptr)) << "cycle " << i;
  }
  ASSERT_OK(initialize_os_locking());
  expect_usable();
}

TEST_F(GeneralPurpose, FinalizeClosesSessions) {
  ASSERT_OK(initialize_os_locking());
  CK_SESSION_HANDLE s;
  ASSERT_OK(p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &s));
  ASSERT_OK(p11()->C_Finalize(nullptr));
  ASSERT_OK(initialize_os_locking());
  CK_SESSION_INFO si;
  EXPECT_CKR(CKR_SESSION_HANDLE_INVALID, p11()->C_GetSessionInfo(s, &si));
}

TEST_F(GeneralPurpose, GetInfoFields) {
  ASSERT_OK(initialize_os_locking());
  CK_INFO info;
  std::memset(&info, 0, sizeof info);
  ASSERT_OK(p11()->C_GetInfo(&info));
  EXPECT_TRUE(info.cryptokiVersion.major == 2 || info.cryptokiVersion.major == 3)
      << "cryptokiVersion " << int(info.cryptokiVersion.major) << "." << int(info.cryptokiVersion.minor);
  if (module().fl3) {
    EXPECT_EQ(info.cryptokiVersion.major, 3) << "a module offering the 3.0 interface reports version 3.x";
  }
  std::string why;
  EXPECT_TRUE(blank_padded(info.manufacturerID, sizeof info.manufacturerID, &why)) << "manufacturerID: " << why;
  EXPECT_TRUE(blank_padded(info.libraryDescription, sizeof info.libraryDescription, &why))
      << "libraryDescription: " << why;
  EXPECT_EQ(info.flags, 0u) << "CK_INFO flags are reserved and must be zero";
}

TEST_F(GeneralPurpose, GetInfoNullIsArgumentsBad) {
  ASSERT_OK(initialize_os_locking());
  EXPECT_CKR(CKR_ARGUMENTS_BAD, p11()->C_GetInfo(nullptr));
}

TEST_F(GeneralPurpose, GetFunctionListArgs) {
  // C_GetFunctionList may be called before C_Initialize (section 5.4).
  auto gfl = p11()->C_GetFunctionList;
  ASSERT_NE(gfl, nullptr);
  EXPECT_CKR(CKR_ARGUMENTS_BAD, gfl(nullptr));
  CK_FUNCTION_LIST_PTR fl = nullptr;
  ASSERT_OK(gfl(&fl));
  ASSERT_NE(fl, nullptr);
  EXPECT_EQ(fl->version.major, 2) << "C_GetFunctionList returns the 2.x list";
  EXPECT_NE(fl->C_Initialize, nullptr);
}

TEST_F(GeneralPurpose, GetInterfaceListAndInterface) {
  auto& m = module();
  if (!m.get_interface || !m.get_interface_list) GTEST_SKIP() << "module exports no PKCS#11 3.0 interface functions";
  CK_ULONG n = 0;
  EXPECT_CKR(CKR_ARGUMENTS_BAD, m.get_interface_list(nullptr, nullptr));
  ASSERT_OK(m.get_interface_list(nullptr, &n));
  ASSERT_GE(n, 1u);
  std::vector<CK_INTERFACE> list(n);
  CK_ULONG small = 0;
  EXPECT_CKR(CKR_BUFFER_TOO_SMALL, m.get_interface_list(list.data(), &small));
  EXPECT_EQ(small, n);
  ASSERT_OK(m.get_interface_list(list.data(), &n));
  bool has30 = false;
  for (auto& i : list) {
    ASSERT_NE(i.pInterfaceName, nullptr);
    auto* v = static_cast<CK_VERSION*>(i.pFunctionList);
    if (std::strcmp(reinterpret_cast<const char*>(i.pInterfaceName), "PKCS 11") == 0 && v->major == 3) has30 = true;
  }
  EXPECT_TRUE(has30) << "C_GetInterfaceList offers no \"PKCS 11\" 3.x interface";
  CK_INTERFACE_PTR iface = nullptr;
  EXPECT_CKR(CKR_ARGUMENTS_BAD, m.get_interface(nullptr, nullptr, nullptr, 0));
  ASSERT_OK(m.get_interface(nullptr, nullptr, &iface, 0)) << "NULL name selects the default interface";
  ASSERT_NE(iface, nullptr);
  CK_VERSION bogus{42, 0};
  iface = nullptr;
  EXPECT_NE(m.get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &bogus, &iface, 0), CKR_OK)
      << "an interface version the module does not have must not be found";
  EXPECT_NE(m.get_interface((CK_UTF8CHAR_PTR) "No Such Interface", nullptr, &iface, 0), CKR_OK);
}

TEST_F(GeneralPurpose, LegacyParallelFunctions) {
  ASSERT_OK(initialize_os_locking());
  Session s;
  ASSERT_OK(s.open_rv());
  EXPECT_CKR(CKR_FUNCTION_NOT_PARALLEL, p11()->C_GetFunctionStatus(s));
  EXPECT_CKR(CKR_FUNCTION_NOT_PARALLEL, p11()->C_CancelFunction(s));
}

}  // namespace
}  // namespace keyseal::conformance
