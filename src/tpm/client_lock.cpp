// ClientLock: a flock-guarded lock file per raw TPM in a directory private to this user, with a generation
// counter in its first 8 bytes (see client_lock.h).
#include "tpm/client_lock.h"

#include "common/error.h"
#include "common/log.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <sys/file.h>
#include <sys/stat.h>
#include <thread>
#include <unistd.h>

namespace keyseal::tpm {
namespace {

// A resource manager gives each connection its own view of the TPM's objects: no coordination needed.
bool through_resource_manager(const std::string& tcti) {
  if (tcti.find("tpmrm") != std::string::npos || tcti.rfind("tabrmd", 0) == 0) return true;
  std::error_code ec;
  return tcti.empty() && std::filesystem::exists("/dev/tpmrm0", ec);  // the tss2 default tries it first
}

std::string octal_mode(mode_t m) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(m & 07777));
  return buf;
}

// Closes a descriptor on every path out of the directory checks.
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Opens `dir` without following a symlink at its last component and checks that only we can enter it: a
// directory, owned by our effective uid, mode exactly 0700. `made_here`: we just created it, so a umask that
// took bits away is corrected first. Returns -1 with `why` set otherwise.
int open_private_dir(const std::string& dir, bool made_here, std::string& why) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) {
    why = errno == ELOOP || errno == ENOTDIR ? "not a directory (or a symlink)" : std::strerror(errno);
    return -1;
  }
  struct stat st {};
  if (made_here) (void)::fchmod(fd, 0700);
  if (::fstat(fd, &st) != 0) {
    why = std::strerror(errno);
  } else if (!S_ISDIR(st.st_mode)) {
    why = "not a directory";
  } else if (st.st_uid != ::geteuid()) {
    why = "owned by uid " + std::to_string(st.st_uid) + ", not by us (uid " + std::to_string(::geteuid()) + ")";
  } else if ((st.st_mode & 07777) != 0700) {
    why = "mode " + octal_mode(st.st_mode) + " instead of 0700";
  } else {
    return fd;
  }
  ::close(fd);
  return -1;
}

}  // namespace

ClientLock::ClientLock(const std::string& tcti, Options opt)
    : enabled_(!through_resource_manager(tcti)), opt_(std::move(opt)) {
  if (!enabled_) return;
  name_ = "keyseal-tpm-" + std::to_string(std::hash<std::string>{}(tcti)) + ".lock";
}

ClientLock::~ClientLock() {
  if (fd_ >= 0 && pid_ == ::getpid()) ::close(fd_);
}

// Chooses the directory and opens the file in it relative to the checked directory descriptor, so nothing can
// be swapped between the check and the open. Failures throw: an unsafe lock file is never used, and running
// uncoordinated would let another process of ours flush our objects under us.
void ClientLock::open_file() {
  if (fd_ >= 0 && pid_ == ::getpid()) return;
  fd_ = -1;  // an inherited descriptor shares the parent's lock: the parent keeps it, the child opens its own
  std::string dir, why;
  Fd dfd;
  std::string runtime = opt_.runtime_dir;
  if (runtime.empty()) {
    const char* env = std::getenv("XDG_RUNTIME_DIR");
    runtime = env ? env : "";
  }
  if (!runtime.empty() && runtime[0] == '/') {
    dfd.fd = open_private_dir(runtime, false, why);
    if (dfd.fd >= 0)
      dir = runtime;
    else
      log::info("XDG_RUNTIME_DIR " + runtime + " not used for the TPM client lock: " + why);
  }
  if (dfd.fd < 0) {
    dir = opt_.tmp_dir + "/keyseal-" + std::to_string(::geteuid());
    const bool made = ::mkdir(dir.c_str(), 0700) == 0;
    if (!made && errno != EEXIST)
      fail(CKR_DEVICE_ERROR, "cannot create the TPM client lock directory " + dir + ": " + std::strerror(errno));
    dfd.fd = open_private_dir(dir, made, why);
    if (dfd.fd < 0)
      fail(CKR_DEVICE_ERROR, "the TPM client lock directory " + dir + " is refused: " + why +
                                 " (another user may have made it; remove it, or set XDG_RUNTIME_DIR to a directory "
                                 "of yours with mode 0700)");
  }
  path_ = dir + "/" + name_;
  const int fd = ::openat(dfd.fd, name_.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    const int err = errno;
    fail(CKR_DEVICE_ERROR, "cannot open the TPM client lock " + path_ + ": " +
                               (err == ELOOP ? std::string("it is a symlink") : std::strerror(err)));
  }
  struct stat st {};
  const bool ok = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() && (st.st_mode & 077) == 0;
  if (!ok) {
    ::close(fd);
    fail(CKR_DEVICE_ERROR, "the TPM client lock " + path_ + " is refused: not a regular file of ours with mode 0600");
  }
  fd_ = fd;
  pid_ = ::getpid();
}

namespace {

// Waiters announce themselves with a shared OFD lock on one byte past the generation (independent of the flock;
// released with the descriptor if the process dies), so that a client coming back for its next exchange lets
// them in first instead of winning every race against their polling.
constexpr off_t kWaitingByte = 64;

bool set_waiting(int fd, bool on) {
  struct flock fl {};
  fl.l_type = on ? F_RDLCK : F_UNLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = kWaitingByte;
  fl.l_len = 1;
  return ::fcntl(fd, F_OFD_SETLK, &fl) == 0;
}

bool others_waiting(int fd) {
  struct flock fl {};
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  fl.l_start = kWaitingByte;
  fl.l_len = 1;
  return ::fcntl(fd, F_OFD_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
}

struct Waiting {
  int fd;
  explicit Waiting(int f) : fd(f) { (void)set_waiting(fd, true); }
  ~Waiting() { (void)set_waiting(fd, false); }
};

}  // namespace

uint64_t ClientLock::acquire() {
  if (!enabled_) return 0;
  open_file();
  const bool queue_behind = others_waiting(fd_);
  if (queue_behind || ::flock(fd_, LOCK_EX | LOCK_NB) != 0) wait_for_lock(queue_behind);
  held_ = true;
  uint64_t gen = 0;
  if (::pread(fd_, &gen, sizeof gen, 0) != static_cast<ssize_t>(sizeof gen)) gen = 0;
  return gen;
}

// flock has no timeout: poll without blocking until max_wait has passed. The pause stays short (at most 0.5 ms)
// because the lock changes hands between TPM exchanges of a few milliseconds; a client that found others
// waiting sleeps one full pause before its first try, so they get the lock before it does.
void ClientLock::wait_for_lock(bool queue_behind) {
  constexpr std::chrono::microseconds kMaxPause{500};
  const auto deadline = std::chrono::steady_clock::now() + opt_.max_wait;
  Waiting announce(fd_);
  std::chrono::microseconds pause = queue_behind ? kMaxPause : std::chrono::microseconds{50};
  for (;;) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline)
      fail(CKR_DEVICE_ERROR, "the TPM client lock " + path_ +
                                 " is held by another process (of this user, sharing the TPM) for more than " +
                                 std::to_string(opt_.max_wait.count()) + " ms; a hung keyseal client?");
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, kMaxPause);
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) return;
    const int err = errno;
    if (err != EWOULDBLOCK && err != EINTR)
      fail(CKR_DEVICE_ERROR, "cannot lock the TPM client lock " + path_ + ": " + std::strerror(err));
  }
}

void ClientLock::release() noexcept {
  if (!held_) return;
  held_ = false;
  ::flock(fd_, LOCK_UN);
}

uint64_t ClientLock::bump() {
  if (!held_) return 0;
  uint64_t gen = 0;
  if (::pread(fd_, &gen, sizeof gen, 0) != static_cast<ssize_t>(sizeof gen)) gen = 0;
  ++gen;
  if (::pwrite(fd_, &gen, sizeof gen, 0) != static_cast<ssize_t>(sizeof gen))
    log::warn("cannot write the TPM client lock " + path_);
  return gen;
}

}  // namespace keyseal::tpm
