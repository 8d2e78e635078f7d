// The TPM client lock file (issue 11 item 8), played as another user would attack it: a symlink planted at the
// lock path, a lock directory of another owner or mode, a lock held forever. No TPM needed: the lock is a file.
#include "common/error.h"
#include "tpm/client_lock.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

namespace keyseal::tpm::testing {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

const std::string kTcti = "swtpm:host=127.0.0.1,port=2321";  // a raw TPM: the lock is in use

// The lock file's name for a TCTI string, as client_lock.cpp makes it.
std::string lock_name(const std::string& tcti) {
  return "keyseal-tpm-" + std::to_string(std::hash<std::string>{}(tcti)) + ".lock";
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

// A scratch directory (mode 0700, ours), with XDG_RUNTIME_DIR saved and restored around each test.
class ClientLockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/keyseal-lock-test-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    if (const char* x = std::getenv("XDG_RUNTIME_DIR")) saved_xdg_ = x;
  }
  void TearDown() override {
    if (saved_xdg_)
      ::setenv("XDG_RUNTIME_DIR", saved_xdg_->c_str(), 1);
    else
      ::unsetenv("XDG_RUNTIME_DIR");
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  ClientLock::Options options(fs::path runtime, std::chrono::milliseconds wait = 200ms) {
    ClientLock::Options o;
    o.runtime_dir = runtime.string();
    o.tmp_dir = (dir_ / "tmp").string();
    o.max_wait = wait;
    fs::create_directory(o.tmp_dir);
    return o;
  }
  fs::path own_tmp_dir() const { return dir_ / "tmp" / ("keyseal-" + std::to_string(::geteuid())); }

  fs::path dir_;
  std::optional<std::string> saved_xdg_;
};

CK_RV acquire_rv(ClientLock& l) {
  try {
    l.acquire();
    l.release();
    return CKR_OK;
  } catch (const Error& e) {
    return e.rv;
  }
}

// Through XDG_RUNTIME_DIR, as the module finds it. A symlink at the lock's path (pointing where the victim may
// write and the attacker may not) is refused, and its target is neither created nor written.
TEST_F(ClientLockTest, SymlinkAtLockPathIsNotFollowed) {
  ::setenv("XDG_RUNTIME_DIR", dir_.c_str(), 1);
  const fs::path target = dir_ / "victim-file";
  fs::create_symlink(target, dir_ / lock_name(kTcti));
  ClientLock lock(kTcti);
  ASSERT_TRUE(lock.enabled());
  bool threw = false;
  try {
    lock.acquire();
    lock.bump();
    lock.release();
  } catch (const Error& e) {
    threw = true;
    EXPECT_EQ(e.rv, CKR_DEVICE_ERROR);
    EXPECT_NE(e.detail.find(lock_name(kTcti)), std::string::npos) << e.detail;
  }
  EXPECT_TRUE(threw);
  EXPECT_FALSE(fs::exists(target)) << "the lock followed the symlink and created its target";

  // An existing target keeps its content (no truncation, no generation written into it).
  std::ofstream(target) << "precious";
  ClientLock again(kTcti);
  EXPECT_EQ(acquire_rv(again), CKR_DEVICE_ERROR);
  std::ifstream in(target);
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(content, "precious");
}

// /tmp/keyseal-<uid> made beforehand by another user (here: chowned to nobody), or open to others, or a
// symlink to a directory of ours, is refused with an error naming it.
TEST_F(ClientLockTest, LockDirectoryOfAnotherOwnerOrModeIsRefused) {
  ::unsetenv("XDG_RUNTIME_DIR");
  ClientLock::Options o = options("");
  const fs::path d = own_tmp_dir();
  auto check_refused = [&](const char* what) {
    ClientLock lock(kTcti, o);
    try {
      lock.acquire();
      ADD_FAILURE() << what << ": accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.rv, CKR_DEVICE_ERROR) << what;
      EXPECT_NE(e.detail.find(d.string()), std::string::npos) << what << ": " << e.detail;
    }
    EXPECT_FALSE(fs::exists(d / lock_name(kTcti))) << what;
  };

  ASSERT_EQ(::mkdir(d.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(d.c_str(), 0777), 0);
  check_refused("mode 0777");
  ASSERT_EQ(::chmod(d.c_str(), 0750), 0);
  check_refused("mode 0750");
  ASSERT_EQ(::chmod(d.c_str(), 0700), 0);
  if (::geteuid() == 0) {  // playing another user needs chown
    ASSERT_EQ(::chown(d.c_str(), 65534, 65534), 0);
    check_refused("owned by uid 65534");
  }
  fs::remove(d);
  const fs::path elsewhere = dir_ / "elsewhere";
  ASSERT_EQ(::mkdir(elsewhere.c_str(), 0700), 0);
  fs::create_directory_symlink(elsewhere, d);
  check_refused("a symlink");
  EXPECT_FALSE(fs::exists(elsewhere / lock_name(kTcti)));
}

// An XDG_RUNTIME_DIR that is not ours and 0700 is passed over for /tmp/keyseal-<uid>, which is made 0700 even
// under a umask that would take the owner's bits away.
TEST_F(ClientLockTest, UnsafeRuntimeDirFallsBackToPrivateTmpDir) {
  const fs::path xdg = dir_ / "xdg";
  ASSERT_EQ(::mkdir(xdg.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(xdg.c_str(), 0755), 0);
  const mode_t old_mask = ::umask(0277);
  ClientLock lock(kTcti, options(xdg));
  const CK_RV rv = acquire_rv(lock);
  ::umask(old_mask);
  ASSERT_EQ(rv, CKR_OK);
  EXPECT_EQ(fs::path(lock.path()).parent_path(), own_tmp_dir());
  EXPECT_EQ(mode_of(own_tmp_dir()), 0700u);
  EXPECT_EQ(mode_of(lock.path()) & 077u, 0u);
  EXPECT_FALSE(fs::exists(xdg / lock_name(kTcti)));

  // A good XDG_RUNTIME_DIR is used.
  ASSERT_EQ(::chmod(xdg.c_str(), 0700), 0);
  ClientLock good(kTcti, options(xdg));
  ASSERT_EQ(acquire_rv(good), CKR_OK);
  EXPECT_EQ(good.path(), (xdg / lock_name(kTcti)).string());
}

// A lock held by someone else (another descriptor: flock locks belong to the open file) ends in a bounded wait
// and an error naming the file, instead of hanging; once released, the next client gets in and sees the
// generation the other one wrote.
TEST_F(ClientLockTest, HeldLockGivesAnErrorAfterABoundedWait) {
  ClientLock holder(kTcti, options(dir_));
  ClientLock waiter(kTcti, options(dir_, 50ms));
  ASSERT_EQ(holder.acquire(), 0u);
  EXPECT_EQ(holder.bump(), 1u);
  try {
    waiter.acquire();
    ADD_FAILURE() << "acquired a lock another client holds";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv, CKR_DEVICE_ERROR);
    EXPECT_NE(e.detail.find(holder.path()), std::string::npos) << e.detail;
    EXPECT_NE(e.detail.find("held by another process"), std::string::npos) << e.detail;
  }
  holder.release();
  EXPECT_EQ(waiter.acquire(), 1u);
  waiter.release();
}

// The same holds across processes: a child holding the lock makes the parent's acquire fail in bounded time.
TEST_F(ClientLockTest, LockHeldByAnotherProcess) {
  ClientLock::Options o = options(dir_, 50ms);
  int to_parent[2], to_child[2];
  ASSERT_EQ(::pipe(to_parent), 0);
  ASSERT_EQ(::pipe(to_child), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ClientLock child(kTcti, o);
    char c = child.acquire() == 0 ? 'y' : 'n';
    (void)!::write(to_parent[1], &c, 1);
    (void)!::read(to_child[0], &c, 1);  // hold until the parent is done
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(to_parent[0], &c, 1), 1);
  ASSERT_EQ(c, 'y');
  ClientLock parent(kTcti, o);
  EXPECT_EQ(acquire_rv(parent), CKR_DEVICE_ERROR);
  (void)!::write(to_child[1], "x", 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_EQ(acquire_rv(parent), CKR_OK);
  for (int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) ::close(fd);
}

}  // namespace
}  // namespace keyseal::tpm::testing
