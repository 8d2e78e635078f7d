// ClientLock: a flock-guarded lock file per raw TPM, with a generation counter in its first 8 bytes (see
// client_lock.h).
#include "tpm/client_lock.h"

#include "common/log.h"

#include <cerrno>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <functional>
#include <sys/file.h>
#include <unistd.h>

namespace keyseal::tpm {
namespace {

// A resource manager gives each connection its own view of the TPM's objects: no coordination needed.
bool through_resource_manager(const std::string& tcti) {
  if (tcti.find("tpmrm") != std::string::npos || tcti.rfind("tabrmd", 0) == 0) return true;
  std::error_code ec;
  return tcti.empty() && std::filesystem::exists("/dev/tpmrm0", ec);  // the tss2 default tries it first
}

}  // namespace

ClientLock::ClientLock(const std::string& tcti) : enabled_(!through_resource_manager(tcti)) {
  if (!enabled_) return;
  const char* run = std::getenv("XDG_RUNTIME_DIR");
  const std::string dir = run && *run ? run : "/tmp";
  path_ = dir + "/keyseal-tpm-" + std::to_string(std::hash<std::string>{}(tcti)) + ".lock";
}

ClientLock::~ClientLock() {
  if (fd_ >= 0 && pid_ == ::getpid()) ::close(fd_);
}

bool ClientLock::open_file() {
  if (fd_ >= 0 && pid_ == ::getpid()) return true;
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  pid_ = ::getpid();
  if (fd_ < 0) {
    log::warn("cannot open the TPM client lock " + path_ + ": processes sharing this TPM are not coordinated");
    enabled_ = false;
  }
  return fd_ >= 0;
}

uint64_t ClientLock::acquire() {
  if (!enabled_ || !open_file()) return 0;
  while (::flock(fd_, LOCK_EX) != 0) {
    if (errno != EINTR) return 0;
  }
  held_ = true;
  uint64_t gen = 0;
  if (::pread(fd_, &gen, sizeof gen, 0) != static_cast<ssize_t>(sizeof gen)) gen = 0;
  return gen;
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
