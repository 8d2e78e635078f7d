// Files on Windows: CreateFileW(CREATE_NEW), MoveFileExW(WRITE_THROUGH) without REPLACE_EXISTING as the
// no-replace publication, attribute-based write checks, LockFileEx. Files are opened with FILE_SHARE_DELETE
// so that others can still delete or rename them while we hold them.
#include "platform/files.h"

#include "platform/paths.h"

#include <windows.h>

#include <system_error>

namespace keyseal::platform {
namespace {

[[noreturn]] void throw_last(const std::string& what, const std::filesystem::path& p) {
  throw std::system_error(static_cast<int>(GetLastError()), std::system_category(), what + " " + path_to_utf8(p));
}

HANDLE as_handle(std::intptr_t h) { return reinterpret_cast<HANDLE>(h); }

}  // namespace

bool create_new_private_file(const std::filesystem::path& file) {
  HANDLE h = CreateFileW(file.c_str(), GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr,
                         CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h != INVALID_HANDLE_VALUE) {
    CloseHandle(h);
    return true;
  }
  if (GetLastError() == ERROR_FILE_EXISTS || GetLastError() == ERROR_ALREADY_EXISTS) return false;
  throw_last("cannot create", file);
}

bool publish_no_replace(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (MoveFileExW(from.c_str(), to.c_str(), MOVEFILE_WRITE_THROUGH)) return true;
  if (GetLastError() == ERROR_ALREADY_EXISTS || GetLastError() == ERROR_FILE_EXISTS) return false;
  throw_last("cannot create", to);
}

void publish_replacing(const std::filesystem::path& from, const std::filesystem::path& to) {
  if (!MoveFileExW(from.c_str(), to.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH))
    throw_last("cannot replace", to);
}

MakeDir make_private_dir(const std::filesystem::path& dir) {
  if (CreateDirectoryW(dir.c_str(), nullptr)) return MakeDir::made;
  if (GetLastError() == ERROR_ALREADY_EXISTS) {
    const DWORD a = GetFileAttributesW(dir.c_str());
    return a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY) ? MakeDir::existed : MakeDir::not_a_directory;
  }
  // A drive root or a folder we may not create in but that exists (ERROR_ACCESS_DENIED on C:\).
  const DWORD a = GetFileAttributesW(dir.c_str());
  if (a != INVALID_FILE_ATTRIBUTES && (a & FILE_ATTRIBUTE_DIRECTORY)) return MakeDir::existed;
  throw_last("cannot create directory", dir);
}

void remove_quietly(const std::filesystem::path& file) noexcept { DeleteFileW(file.c_str()); }

bool storage_writable(const std::filesystem::path& file) {
  const DWORD a = GetFileAttributesW(file.c_str());
  if (a == INVALID_FILE_ATTRIBUTES || (a & FILE_ATTRIBUTE_READONLY)) return false;
  const std::filesystem::path dir = file.parent_path().empty() ? std::filesystem::path(L".") : file.parent_path();
  const DWORD d = GetFileAttributesW(dir.c_str());
  return d != INVALID_FILE_ATTRIBUTES && (d & FILE_ATTRIBUTE_DIRECTORY);
}

std::string dir_access_problem(const std::filesystem::path&) { return {}; }

FileLock::~FileLock() {
  unlock();
  if (handle_ != -1) CloseHandle(as_handle(handle_));
}

void FileLock::open() {
  if (handle_ != -1) return;
  HANDLE h = CreateFileW(file_.c_str(), GENERIC_READ | GENERIC_WRITE,
                         FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE, nullptr, OPEN_ALWAYS,
                         FILE_ATTRIBUTE_NORMAL, nullptr);
  if (h == INVALID_HANDLE_VALUE) throw_last("cannot open lock file", file_);
  handle_ = reinterpret_cast<std::intptr_t>(h);
}

void FileLock::lock() {
  open();
  OVERLAPPED o{};
  if (!LockFileEx(as_handle(handle_), LOCKFILE_EXCLUSIVE_LOCK, 0, 1, 0, &o)) throw_last("cannot lock", file_);
  held_ = true;
}

bool FileLock::try_lock() {
  open();
  OVERLAPPED o{};
  if (LockFileEx(as_handle(handle_), LOCKFILE_EXCLUSIVE_LOCK | LOCKFILE_FAIL_IMMEDIATELY, 0, 1, 0, &o))
    return held_ = true;
  if (GetLastError() == ERROR_LOCK_VIOLATION || GetLastError() == ERROR_IO_PENDING) return false;
  throw_last("cannot lock", file_);
}

void FileLock::unlock() noexcept {
  if (held_ && handle_ != -1) {
    OVERLAPPED o{};
    UnlockFileEx(as_handle(handle_), 0, 1, 0, &o);
  }
  held_ = false;
}

}  // namespace keyseal::platform
