// The fork rule (PKCS#11 3.0 sections 2.5.1 and 5.4: a forked child is a new application whose C_Initialize
// must succeed). POSIX only: Windows has no fork (see fork_win.cpp).
#include "harness.h"
#include "keys.h"
#include "ops.h"

#include <csignal>
#include <sys/wait.h>
#include <unistd.h>

namespace keyseal::conformance {
namespace {

TEST_F(Concurrency, ForkedChildInitializes) {
  fflush(nullptr);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    // Section 5.4 / 2.5.1: the child is a new application; its C_Initialize must succeed.
    int code = 0;
    CK_RV rv = initialize_os_locking();
    if (rv == CKR_CRYPTOKI_ALREADY_INITIALIZED) code = 10;
    else if (rv != CKR_OK) code = 11;
    CK_SESSION_HANDLE s;
    if (!code && p11()->C_OpenSession(slot(), CKF_SERIAL_SESSION, nullptr, nullptr, &s) != CKR_OK) code = 12;
    if (!code && login_user(s) != CKR_OK) code = 13;
    Bytes r(16);
    if (!code && p11()->C_GenerateRandom(s, r.data(), r.size()) != CKR_OK) code = 14;
    if (!code && p11()->C_Finalize(nullptr) != CKR_OK) code = 15;
    _exit(code);
  }
  int status = 0;
  for (int i = 0; i < 600 && waitpid(pid, &status, WNOHANG) == 0; ++i) usleep(50000);
  if (waitpid(pid, &status, WNOHANG) == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL() << "the forked child hung";
  }
  ASSERT_TRUE(WIFEXITED(status)) << "the forked child crashed";
  int code = WEXITSTATUS(status);
  EXPECT_NE(code, 10) << "C_Initialize in a forked child returned CKR_CRYPTOKI_ALREADY_INITIALIZED";
  EXPECT_EQ(code, 0) << "forked child failed at step " << code
                     << " (11 init, 12 open session, 13 login, 14 random, 15 finalize)";
  // The parent is unaffected.
  CK_SESSION_INFO si;
  EXPECT_OK(p11()->C_GetSessionInfo(session_, &si));
}

}  // namespace
}  // namespace keyseal::conformance
