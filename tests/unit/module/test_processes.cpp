// Threads and processes (PKCS#11 3.0 sections 5.1 and 5.4.1): many threads signing on their own sessions,
// threads racing C_Initialize, a forked child that must call C_Initialize again, and a second process changing
// the token while this one uses it.
#include "fixture.h"
#include "forked_child.h"
#include "platform/env.h"
#include "platform/paths.h"

#include <atomic>
#include <cstring>
#include <set>
#include <filesystem>
#include <functional>
#include <mutex>
#include <thread>

namespace keyseal::test {
namespace {

// Runs fn in a forked child; the child's exit status is 0 when fn returns true.
bool in_child(const std::function<bool()>& fn) {
  ForkedChild child([&](const std::function<void()>&) { return fn() ? 0 : 1; });
  return child.wait() == 0;
}

TEST_F(ModuleTest, ForkedChildMustInitializeAgain) {
  if (!ForkedChild::available()) GTEST_SKIP() << "Windows has no fork(): the fork rule (PKCS#11 3.0 section 5.4, a child calls C_Initialize again) does not apply";
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [pub, priv] = ec_pair(s, true, "forked", kP256);
  EXPECT_TRUE(in_child([&] {
    CK_ULONG n = 0;
    if (C_GetSlotList(CK_TRUE, nullptr, &n) != CKR_CRYPTOKI_NOT_INITIALIZED) return false;
    if (C_Initialize(nullptr) != CKR_OK) return false;
    CK_SESSION_HANDLE cs;
    if (C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &cs) != CKR_OK) return false;
    if (C_Login(cs, CKU_USER, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin)) != CKR_OK) return false;
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_ID, (void*)"forked", 6}};
    CK_OBJECT_HANDLE h;
    CK_ULONG found = 0;
    if (C_FindObjectsInit(cs, t, 2) != CKR_OK || C_FindObjects(cs, &h, 1, &found) != CKR_OK || found != 1) return false;
    CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
    CK_BYTE hash[32] = {1}, sig[64];
    CK_ULONG len = sizeof sig;
    return C_SignInit(cs, &m, h) == CKR_OK && C_Sign(cs, hash, 32, sig, &len) == CKR_OK && C_Finalize(nullptr) == CKR_OK;
  }));
  // The parent is untouched by the child.
  CK_MECHANISM m{CKM_ECDSA_SHA256, nullptr, 0};
  auto msg = bytes_of("parent still works");
  EXPECT_EQ(verify(s, m, pub, msg, sign(s, m, priv, msg)), CKR_OK);
}

TEST_F(ModuleTest, AnotherProcessChangesTheToken) {
  // On Windows the conformance suite's Concurrency.TwoProcessesShareOneToken covers this with CreateProcess.
  if (!ForkedChild::available()) GTEST_SKIP() << "the second process is a forked child; Windows has no fork()";
  CK_SESSION_HANDLE s = open();
  login_user(s);
  CK_OBJECT_CLASS cls = CKO_DATA;
  EXPECT_TRUE(find(s, {attr(CKA_CLASS, &cls, sizeof cls)}).empty());
  ASSERT_TRUE(in_child([&] {
    if (C_Initialize(nullptr) != CKR_OK) return false;
    CK_SESSION_HANDLE cs;
    if (C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &cs) != CKR_OK) return false;
    if (C_Login(cs, CKU_USER, (CK_UTF8CHAR_PTR)kUserPin, strlen(kUserPin)) != CKR_OK) return false;
    CK_BBOOL yes = CK_TRUE;
    for (int i = 0; i < 20; ++i) {
      CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_TOKEN, &yes, 1}, {CKA_LABEL, (void*)"from child", 10}};
      CK_OBJECT_HANDLE h;
      if (C_CreateObject(cs, t, 3, &h) != CKR_OK) return false;
    }
    return C_Finalize(nullptr) == CKR_OK;
  }));
  auto found = find(s, {attr(CKA_CLASS, &cls, sizeof cls)});
  ASSERT_EQ(found.size(), 20u);
  EXPECT_EQ(get(s, found[0], CKA_LABEL), bytes_of("from child"));
  // The child deletes one; this process no longer sees it.
  ASSERT_TRUE(in_child([&] {
    if (C_Initialize(nullptr) != CKR_OK) return false;
    CK_SESSION_HANDLE cs;
    if (C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &cs) != CKR_OK) return false;
    CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}};
    CK_OBJECT_HANDLE h;
    CK_ULONG n = 0;
    if (C_FindObjectsInit(cs, t, 1) != CKR_OK || C_FindObjects(cs, &h, 1, &n) != CKR_OK || n != 1) return false;
    C_FindObjectsFinal(cs);
    return C_DestroyObject(cs, h) == CKR_OK && C_Finalize(nullptr) == CKR_OK;
  }));
  EXPECT_EQ(find(s, {attr(CKA_CLASS, &cls, sizeof cls)}).size(), 19u);
}

using Concurrency = ModuleTest;

TEST_F(Concurrency, ThreadsSignOnTheirOwnSessions) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [pub, priv] = ec_pair(s, true, "shared", kP256);
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<CK_SESSION_HANDLE> handles;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        CK_SESSION_HANDLE ts;
        if (C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &ts) != CKR_OK) {
          ++failures;
          continue;
        }
        {
          std::lock_guard<std::mutex> g(mu);
          if (!handles.insert(ts).second) ++failures;  // session handles are never handed out twice
        }
        CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
        CK_BYTE hash[32] = {static_cast<CK_BYTE>(t)}, sig[64];
        for (int i = 0; i < 5; ++i) {
          CK_ULONG len = sizeof sig;
          if (C_SignInit(ts, &m, priv) != CKR_OK || C_Sign(ts, hash, 32, sig, &len) != CKR_OK) ++failures;
          if (C_VerifyInit(ts, &m, pub) != CKR_OK || C_Verify(ts, hash, 32, sig, len) != CKR_OK) ++failures;
        }
        if (C_CloseSession(ts) != CKR_OK) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(handles.size(), 80u);
}

TEST_F(Concurrency, ObjectsChangeWhileOthersSign) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [pub, priv] = ec_pair(s, true, "signer", kP256);
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::thread writer([&] {
    CK_SESSION_HANDLE ws;
    if (C_OpenSession(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &ws) != CKR_OK) ++failures;
    CK_OBJECT_CLASS cls = CKO_DATA;
    CK_BBOOL yes = CK_TRUE;
    for (int i = 0; i < 40; ++i) {
      CK_ATTRIBUTE t[] = {{CKA_CLASS, &cls, sizeof cls}, {CKA_TOKEN, &yes, 1}};
      CK_OBJECT_HANDLE h;
      if (C_CreateObject(ws, t, 2, &h) != CKR_OK || C_DestroyObject(ws, h) != CKR_OK) ++failures;
    }
    stop = true;
  });
  std::thread signer([&] {
    CK_SESSION_HANDLE ss;
    if (C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, &ss) != CKR_OK) ++failures;
    CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
    CK_BYTE hash[32] = {9}, sig[64];
    do {
      CK_ULONG len = sizeof sig;
      if (C_SignInit(ss, &m, priv) != CKR_OK || C_Sign(ss, hash, 32, sig, &len) != CKR_OK) ++failures;
    } while (!stop);
  });
  writer.join();
  signer.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST(ConcurrencyInit, ThreadsRaceCInitialize) {
  const auto dir = platform::make_temp_dir("keyseal-init-race-");
  platform::set_env("KEYSEAL_STORE", platform::path_to_utf8(dir));
  platform::unset_env("KEYSEAL_CONF");
  for (int round = 0; round < 10; ++round) {
    std::atomic<int> ok{0}, already{0}, other{0};
    std::vector<std::thread> threads;
    CK_C_INITIALIZE_ARGS args{};
    args.flags = CKF_OS_LOCKING_OK;
    for (int t = 0; t < 8; ++t)
      threads.emplace_back([&] {
        const CK_RV rv = C_Initialize(&args);
        (rv == CKR_OK ? ok : rv == CKR_CRYPTOKI_ALREADY_INITIALIZED ? already : other)++;
      });
    for (auto& th : threads) th.join();
    EXPECT_EQ(ok.load(), 1);
    EXPECT_EQ(already.load(), 7);
    EXPECT_EQ(other.load(), 0);
    ASSERT_EQ(C_Finalize(nullptr), CKR_OK);
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace keyseal::test
