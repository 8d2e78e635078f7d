// Files on POSIX: O_EXCL creation at 0600, link(2) as the no-replace rename, directory fsync, statvfs/access
// write checks, stat-based ownership check, flock.
#include "platform/files.h"

#include <cerrno>
#include <cstdio>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <system_error>
#include <unistd.h>

namespace keyseal::platform {
namespace {

[[noreturn]] void throw_errno(const std::string& what, const std::filesystem::path& p) {
  throw std::system_error(errno, std::generic_category(), what + " " + p.string());
}

void sync_dir(const std::filesystem::path& file) {
  auto dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
}

}  // namespace

bool create_new_private_file(const std::filesystem::path& file) {
  int fd = ::open(file.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
    return true;
  }
  if (errno == EEXIST) return false;
  throw_errno("cannot create", file);
}

bool publish_no_replace(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::link(from.c_str(), to.c_str()) != 0) {
    if (errno == EEXIST) return false;
    throw_errno("cannot create", to);
  }
  // Make the new name durable; without this a power loss could lose a file that was reported created.
  sync_dir(to);
  return true;
}

void publish_replacing(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) throw_errno("cannot replace", to);
  sync_dir(to);
}

MakeDir make_private_dir(const std::filesystem::path& dir) {
  if (::mkdir(dir.c_str(), 0700) == 0) return MakeDir::made;
  const int err = errno;
  struct stat st {};
  if (err == EEXIST) return ::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode) ? MakeDir::existed : MakeDir::not_a_directory;
  errno = err;
  throw_errno("cannot create directory", dir);
}

void remove_quietly(const std::filesystem::path& file) noexcept { ::unlink(file.c_str()); }

bool storage_writable(const std::filesystem::path& file) {
  const std::filesystem::path dir = file.parent_path().empty() ? std::filesystem::path(".") : file.parent_path();
  struct statvfs vfs {};
  if (::statvfs(dir.c_str(), &vfs) == 0 && (vfs.f_flag & ST_RDONLY)) return false;
  return ::access(file.c_str(), W_OK) == 0 && ::access(dir.c_str(), W_OK) == 0;
}

std::string dir_access_problem(const std::filesystem::path& dir) {
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) return {};
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  if (st.st_mode & (S_IWGRP | S_IWOTH))
    return "token store " + dir.string() + " has mode " + mode +
           ": other users can delete or replace its token files (chmod 700 it)";
  if (st.st_uid != ::geteuid())
    return "token store " + dir.string() + " belongs to uid " + std::to_string(st.st_uid) + ", not to uid " +
           std::to_string(::geteuid());
  return {};
}

FileLock::~FileLock() {
  unlock();
  if (handle_ >= 0) ::close(static_cast<int>(handle_));
}

void FileLock::open() {
  if (handle_ >= 0) return;
  int fd = ::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw_errno("cannot open lock file", file_);
  handle_ = fd;
}

void FileLock::lock() {
  open();
  while (::flock(static_cast<int>(handle_), LOCK_EX) != 0) {
    if (errno != EINTR) throw_errno("cannot lock", file_);
  }
  held_ = true;
}

bool FileLock::try_lock() {
  open();
  if (::flock(static_cast<int>(handle_), LOCK_EX | LOCK_NB) == 0) return held_ = true;
  if (errno == EWOULDBLOCK) return false;
  throw_errno("cannot lock", file_);
}

void FileLock::unlock() noexcept {
  if (held_ && handle_ >= 0) ::flock(static_cast<int>(handle_), LOCK_UN);
  held_ = false;
}

}  // namespace keyseal::platform
