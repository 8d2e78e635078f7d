// Concurrency (PKCS#11 3.0 sections 2.5 and 5.4: applications and threads, CKF_OS_LOCKING_OK, fork): many
// threads opening sessions and signing, concurrent C_Initialize, a forked child, and two processes on one token.
#include "harness.h"
#include "keys.h"
#include "ops.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <set>
#include <thread>

namespace keyseal::conformance {
namespace {

TEST_F(Concurrency, ThreadsOpenAndCloseSessions) {
  constexpr int kThreads = 8, kRounds = 40;
  std::atomic<int> errors{0};
  std::mutex mu;
  std::set<CK_SESSION_HANDLE> live;
  std::atomic<int> duplicates{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        CK_SESSION_HANDLE h;
        CK_FLAGS flags = CKF_SERIAL_SESSION | ((i + t) % 2 ? CKF_RW_SESSION : 0);
        if (p11()->C_OpenSession(slot(), flags, nullptr, nullptr, &h) != CKR_OK) {
          ++errors;
          continue;
        }
        {
          std::lock_guard lock(mu);
          if (!live.insert(h).second) ++duplicates;
        }
        CK_SESSION_INFO si;
        if (p11()->C_GetSessionInfo(h, &si) != CKR_OK) ++errors;
        {
          std::lock_guard lock(mu);
          live.erase(h);
        }
        if (p11()->C_CloseSession(h) != CKR_OK) ++errors;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(duplicates.load(), 0) << "two live sessions shared a handle";
}

TEST_F(Concurrency, ThreadsSignWithOneKey) {
  KeyPair kp;
  CK_MECHANISM_TYPE mech;
  if (has_mechanism(CKM_ECDSA) && has_mechanism(CKM_EC_KEY_PAIR_GEN)) {
    kp = ec_key_pair(curves()[0]);
    mech = CKM_ECDSA;
  } else if (has_mechanism(CKM_SHA256_RSA_PKCS) && has_mechanism(CKM_RSA_PKCS_KEY_PAIR_GEN)) {
    kp = rsa_key_pair();
    mech = CKM_SHA256_RSA_PKCS;
  } else {
    GTEST_SKIP() << "needs ECDSA or SHA256_RSA_PKCS";
  }
  ASSERT_OK(kp.rv);
  constexpr int kThreads = 4, kRounds = 25;
  std::atomic<int> failures{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      Session s(false);
      if (s.open_rv() != CKR_OK) {
        ++failures;
        return;
      }
      for (int i = 0; i < kRounds; ++i) {
        Bytes data(32, uint8_t(t * 31 + i)), sig;
        if (sign(s, Mech(mech), kp.priv, data, sig) != CKR_OK) ++failures;
        else if (verify(s, Mech(mech), kp.pub, data, sig) != CKR_OK) ++failures;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(Concurrency, ThreadsInitializeAtOnceWithOsLocking) {
  // In fresh processes, so that a module that crashes here fails this test only; races need several tries.
  for (int attempt = 0; attempt < 12; ++attempt) {
    int rc = run_child_task("concurrent-init", {});
    ASSERT_EQ(rc, 0) << "attempt " << attempt << ": "
                     << (rc == -1 ? "the child was killed by a signal (crash)" : rc == -3 ? "the child hung" : "");
  }
}

TEST_F(Concurrency, TwoProcessesShareOneToken) {
  std::string mine = unique_label("parent"), theirs = unique_label("child");
  Template t;
  t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, true).add(CKA_LABEL, mine).add(CKA_VALUE, "first process");
  CK_OBJECT_HANDLE h;
  ASSERT_OK(p11()->C_CreateObject(session_, t.data(), t.size(), &h));
  EXPECT_EQ(run_child_task("find-token-object", {mine}), 0) << "the second process does not see our token object";
  EXPECT_EQ(run_child_task("create-token-object", {theirs}), 0) << "the second process could not write";
  CK_RV rv;
  auto found = find_objects(session_, Template().add_ulong(CKA_CLASS, CKO_DATA).add(CKA_LABEL, theirs), &rv);
  EXPECT_OK(rv);
  EXPECT_EQ(found.size(), 1u) << "we do not see the second process's token object";
  for (auto o : found) p11()->C_DestroyObject(session_, o);
  EXPECT_OK(p11()->C_DestroyObject(session_, h));
}

TEST_F(Concurrency, TokenStaysVisibleWhileAnotherProcessWrites) {
  // Section 2.5.1: several applications may use one token; one's writes must not hide the token from another.
  // The race is timing-dependent, so the pair of processes is started several times.
  for (int attempt = 0; attempt < 40; ++attempt) {
    int writer = spawn_child_task("churn", {"20"});
    ASSERT_GT(writer, 0);
    int watcher = run_child_task("watch", {"20"}, 120);
    int writer_rc = wait_child_task(writer, 120);
    ASSERT_EQ(writer_rc, 0) << "attempt " << attempt << ": the writing process failed";
    ASSERT_EQ(watcher, 0) << "attempt " << attempt << ": the watching process lost the token while another wrote";
  }
}

}  // namespace
}  // namespace keyseal::conformance
