// Tasks run in a second process of this program (--child-task): concurrent C_Initialize with
// CKF_OS_LOCKING_OK (PKCS#11 3.0 section 5.4 / 2.5.2) and two processes sharing one token (section 2.5.1).
#include "harness.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace keyseal::conformance {

namespace {

int fail(const std::string& msg) {
  std::fprintf(stderr, "child task: %s\n", msg.c_str());
  return 1;
}

// Eight threads call C_Initialize at once: exactly one gets CKR_OK, the others CKR_CRYPTOKI_ALREADY_INITIALIZED.
int concurrent_init() {
  constexpr int kThreads = 8;
  std::vector<CK_RV> rvs(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i)
    threads.emplace_back([&, i] {
      ready++;
      while (ready.load() < kThreads) {
      }
      rvs[i] = initialize_os_locking();
    });
  for (auto& t : threads) t.join();
  int ok = 0;
  for (auto rv : rvs) {
    if (rv == CKR_OK) ++ok;
    else if (rv != CKR_CRYPTOKI_ALREADY_INITIALIZED) return fail("C_Initialize returned " + rv_name(rv));
  }
  if (ok != 1) return fail("C_Initialize returned CKR_OK " + std::to_string(ok) + " times, expected once");
  CK_INFO info;
  if (CK_RV rv = p11()->C_GetInfo(&info); rv != CKR_OK) return fail("C_GetInfo: " + rv_name(rv));
  if (CK_RV rv = p11()->C_Finalize(nullptr); rv != CKR_OK) return fail("C_Finalize: " + rv_name(rv));
  return 0;
}

// Creates (or finds) a token data object labelled args[0], in this second process.
int token_object(const std::vector<std::string>& args, bool create) {
  if (args.empty()) return fail("missing label");
  if (CK_RV rv = initialize_os_locking(); rv != CKR_OK) return fail("C_Initialize: " + rv_name(rv));
  CK_SESSION_HANDLE s;
  if (CK_RV rv = p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s); rv != CKR_OK)
    return fail("C_OpenSession: " + rv_name(rv));
  if (CK_RV rv = login_user(s); rv != CKR_OK) return fail("C_Login: " + rv_name(rv));
  int rc = 0;
  if (create) {
    Template t;
    t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, true).add(CKA_LABEL, args[0]).add(CKA_VALUE, "second process");
    CK_OBJECT_HANDLE h;
    if (CK_RV rv = p11()->C_CreateObject(s, t.data(), t.size(), &h); rv != CKR_OK)
      rc = fail("C_CreateObject: " + rv_name(rv));
  } else {
    CK_RV rv;
    auto found = find_objects(s, Template().add_ulong(CKA_CLASS, CKO_DATA).add(CKA_LABEL, args[0]), &rv);
    if (rv != CKR_OK) rc = fail("find: " + rv_name(rv));
    else if (found.size() != 1) rc = fail("found " + std::to_string(found.size()) + " objects, expected 1");
  }
  p11()->C_CloseSession(s);
  p11()->C_Finalize(nullptr);
  return rc;
}

// Creates and destroys token objects args[0] times (a second process rewriting the token's storage).
int churn(const std::vector<std::string>& args) {
  int rounds = args.empty() ? 40 : std::atoi(args[0].c_str());
  if (CK_RV rv = initialize_os_locking(); rv != CKR_OK) return fail("C_Initialize: " + rv_name(rv));
  CK_SESSION_HANDLE s;
  if (CK_RV rv = p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s); rv != CKR_OK)
    return fail("C_OpenSession: " + rv_name(rv));
  if (CK_RV rv = login_user(s); rv != CKR_OK) return fail("C_Login: " + rv_name(rv));
  for (int i = 0; i < rounds; ++i) {
    Template t;
    t.add_ulong(CKA_CLASS, CKO_DATA).add(CKA_TOKEN, true).add(CKA_LABEL, "churn").add(CKA_VALUE, Bytes(512, uint8_t(i)));
    CK_OBJECT_HANDLE h;
    if (CK_RV rv = p11()->C_CreateObject(s, t.data(), t.size(), &h); rv != CKR_OK) return fail("create: " + rv_name(rv));
    if (CK_RV rv = p11()->C_DestroyObject(s, h); rv != CKR_OK) return fail("destroy: " + rv_name(rv));
  }
  p11()->C_Finalize(nullptr);
  return 0;
}

// Starts the library args[0] times and checks each time that the token under test is present and initialised.
int watch(const std::vector<std::string>& args) {
  int rounds = args.empty() ? 40 : std::atoi(args[0].c_str());
  for (int i = 0; i < rounds; ++i) {
    if (CK_RV rv = initialize_os_locking(); rv != CKR_OK) return fail("C_Initialize: " + rv_name(rv));
    CK_TOKEN_INFO ti;
    CK_RV rv = p11()->C_GetTokenInfo(slot(), &ti);
    if (rv != CKR_OK) return fail("round " + std::to_string(i) + ": C_GetTokenInfo: " + rv_name(rv));
    if (!(ti.flags & CKF_TOKEN_INITIALIZED)) return fail("round " + std::to_string(i) + ": token not initialised");
    CK_SESSION_HANDLE s;
    rv = p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &s);
    if (rv != CKR_OK) return fail("round " + std::to_string(i) + ": C_OpenSession: " + rv_name(rv));
    p11()->C_Finalize(nullptr);
  }
  return 0;
}

}  // namespace

int run_child_task_main(const std::string& name, const std::vector<std::string>& args) {
  if (name == "concurrent-init") return concurrent_init();
  if (name == "create-token-object") return token_object(args, true);
  if (name == "find-token-object") return token_object(args, false);
  if (name == "churn") return churn(args);
  if (name == "watch") return watch(args);
  return fail("unknown task " + name);
}

}  // namespace keyseal::conformance
