// The built module loaded the way a host loads it (dlopen / LoadLibrary, see loader.h), not linked: its
// exports are exactly keyseal.def's list, C_GetInterface("PKCS 11", 3.0) and C_GetInterfaceList hand out
// structures laid out as the host expects, and the module survives load / initialise / threads / finalise /
// unload rounds (on Windows: OpenSSL linked into the DLL registers no atexit handler, and thread exit after
// an unload does not call into the unmapped DLL).
#include "loader.h"

#include <gtest/gtest.h>
#include <keyseal/pkcs11.h>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

namespace keyseal::test::abi {
namespace {

const std::string kModule = KS_MODULE_PATH;

// Offset of the function pointer at index i of a function list, written out as in test_layout.cpp: the list
// starts with a CK_VERSION, then pointers follow, aligned on LP64 (first at 8) and packed on Windows (at 2).
#if defined(_WIN32)
constexpr size_t kFirstFunction = 2;
#else
constexpr size_t kFirstFunction = 8;
#endif

void* list_entry(const void* list, size_t i) {
  void* p;
  std::memcpy(&p, static_cast<const unsigned char*>(list) + kFirstFunction + i * sizeof(void*), sizeof p);
  return p;
}

// keyseal.def's EXPORTS, in order: the 68 functions of the 2.40 list, then the 24 that PKCS#11 3.0 adds.
std::vector<std::string> def_exports() {
  std::ifstream in(KS_DEF_PATH);
  std::vector<std::string> names;
  std::string line;
  bool exports = false;
  while (std::getline(in, line)) {
    line.erase(0, line.find_first_not_of(" \t"));
    line.erase(line.find_last_not_of(" \t\r") + 1);
    if (line.empty() || line[0] == ';') continue;
    if (line == "EXPORTS") exports = true;
    else if (exports) names.push_back(line);
  }
  return names;
}

// A store and config of the test's own, so that C_Initialize never touches the user's tokens.
class ModuleLoad : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("keyseal-abi-test-" + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "keyseal.conf") << "# ABI tests: no TPM, soft tokens in a private store\n";
    set_environment("KEYSEAL_STORE", (dir_ / "store").string());
    set_environment("KEYSEAL_CONF", (dir_ / "keyseal.conf").string());
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path dir_;
};

TEST_F(ModuleLoad, ExportsAreTheFunctionListsInOrder) {
  const std::vector<std::string> names = def_exports();
  ASSERT_EQ(names.size(), 92u) << "keyseal.def should list the 68 + 24 functions of the 3.0 function list";
  void* m = load_module(kModule);
  ASSERT_NE(m, nullptr) << last_loader_error();
  auto get_interface = reinterpret_cast<CK_C_GetInterface>(module_symbol(m, "C_GetInterface"));
  auto get_function_list = reinterpret_cast<CK_C_GetFunctionList>(module_symbol(m, "C_GetFunctionList"));
  ASSERT_NE(get_interface, nullptr);
  ASSERT_NE(get_function_list, nullptr);

  CK_VERSION v30{3, 0};
  CK_INTERFACE_PTR iface = nullptr;
  ASSERT_EQ(get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0), CKR_OK);
  ASSERT_NE(iface, nullptr);
  CK_FUNCTION_LIST_PTR list240 = nullptr;
  ASSERT_EQ(get_function_list(&list240), CKR_OK);
  ASSERT_NE(list240, nullptr);

  // Every export is the entry at the same index of the module's own 3.0 list (and of the 2.40 list for the
  // first 68), read at offsets computed by hand: a wrongly packed list or a missing export fails here.
  for (size_t i = 0; i < names.size(); ++i) {
    void* exported = module_symbol(m, names[i].c_str());
    EXPECT_NE(exported, nullptr) << names[i] << " is not exported";
    EXPECT_EQ(list_entry(iface->pFunctionList, i), exported) << names[i] << " at index " << i << " of the 3.0 list";
    if (i < 68) {
      EXPECT_EQ(list_entry(list240, i), exported) << names[i] << " at index " << i << " of the 2.40 list";
    }
  }
  EXPECT_TRUE(unload_module(m));
}

TEST_F(ModuleLoad, GetInterfaceThreeZero) {
  void* m = load_module(kModule);
  ASSERT_NE(m, nullptr) << last_loader_error();
  auto get_interface = reinterpret_cast<CK_C_GetInterface>(module_symbol(m, "C_GetInterface"));
  void* c_initialize = module_symbol(m, "C_Initialize");
  ASSERT_NE(get_interface, nullptr);
  ASSERT_NE(c_initialize, nullptr);

  CK_VERSION v30{3, 0};
  CK_INTERFACE_PTR iface = nullptr;
  ASSERT_EQ(get_interface((CK_UTF8CHAR_PTR) "PKCS 11", &v30, &iface, 0), CKR_OK);
  ASSERT_NE(iface, nullptr);
  EXPECT_STREQ(reinterpret_cast<const char*>(iface->pInterfaceName), "PKCS 11");
  EXPECT_EQ(iface->flags, CK_FLAGS{0});
  auto* list = static_cast<CK_FUNCTION_LIST_3_0*>(iface->pFunctionList);
  ASSERT_NE(list, nullptr);
  EXPECT_EQ(list->version.major, 3);
  EXPECT_EQ(list->version.minor, 0);
  EXPECT_EQ(reinterpret_cast<void*>(list->C_Initialize), c_initialize);
  EXPECT_EQ(reinterpret_cast<void*>(list->C_GetInterface), reinterpret_cast<void*>(get_interface));
  EXPECT_EQ(reinterpret_cast<void*>(list->C_MessageVerifyFinal), module_symbol(m, "C_MessageVerifyFinal"));

  // The list of interfaces is an array of CK_INTERFACE: the host steps through it with its own sizeof.
  auto get_list = reinterpret_cast<CK_C_GetInterfaceList>(module_symbol(m, "C_GetInterfaceList"));
  ASSERT_NE(get_list, nullptr);
  CK_ULONG n = 0;
  ASSERT_EQ(get_list(nullptr, &n), CKR_OK);
  ASSERT_EQ(n, 2u);
  std::vector<CK_INTERFACE> all(n);
  ASSERT_EQ(get_list(all.data(), &n), CKR_OK);
  const CK_VERSION expected[] = {{3, 0}, {2, 40}};
  for (CK_ULONG i = 0; i < n; ++i) {
    EXPECT_STREQ(reinterpret_cast<const char*>(all[i].pInterfaceName), "PKCS 11");
    auto* v = static_cast<const CK_VERSION*>(all[i].pFunctionList);
    ASSERT_NE(v, nullptr);
    EXPECT_EQ(v->major, expected[i].major) << "interface " << i;
    EXPECT_EQ(v->minor, expected[i].minor) << "interface " << i;
  }
  EXPECT_TRUE(unload_module(m));
}

// Five rounds of load, C_Initialize, threads calling C_GetInfo and C_GetSlotList, C_Finalize, unload. A crash
// (in a thread's exit after the unload, or at process exit through a handler left by an unloaded module)
// fails the test binary.
TEST_F(ModuleLoad, LoadUnloadRoundsWithThreads) {
  constexpr int kRounds = 5, kThreads = 4, kCalls = 50;
  for (int round = 0; round < kRounds; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    void* m = load_module(kModule);
    ASSERT_NE(m, nullptr) << last_loader_error();
    auto get_function_list = reinterpret_cast<CK_C_GetFunctionList>(module_symbol(m, "C_GetFunctionList"));
    ASSERT_NE(get_function_list, nullptr);
    CK_FUNCTION_LIST_PTR f = nullptr;
    ASSERT_EQ(get_function_list(&f), CKR_OK);
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    ASSERT_EQ(f->C_Initialize(&args), CKR_OK);

    std::atomic<int> failures{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
      threads.emplace_back([&] {
        for (int i = 0; i < kCalls; ++i) {
          CK_INFO info;
          if (f->C_GetInfo(&info) != CKR_OK || info.cryptokiVersion.major != 3) ++failures;
          CK_ULONG n = 0;
          if (f->C_GetSlotList(CK_FALSE, nullptr, &n) != CKR_OK) {
            ++failures;
            continue;
          }
          std::vector<CK_SLOT_ID> slots(n + 1);
          CK_ULONG got = n + 1;
          if (f->C_GetSlotList(CK_FALSE, slots.data(), &got) != CKR_OK || got != n) ++failures;
        }
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(failures.load(), 0);
    ASSERT_EQ(f->C_Finalize(nullptr), CKR_OK);
    ASSERT_TRUE(unload_module(m)) << last_loader_error();
    // Otherwise the rounds would not exercise unloading at all (e.g. a module pinned by its OpenSSL).
    EXPECT_FALSE(module_mapped(kModule)) << "the module stayed loaded after its last unload";
  }
}

}  // namespace
}  // namespace keyseal::test::abi
