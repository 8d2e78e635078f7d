// Files: private exclusive creation, atomic publication under a name without replacing what is there,
// write access checks, the store directory's ownership check, and an inter-process lock on a file.
// Failures the caller reports are std::system_error with the OS error and the path in what().
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>

namespace keyseal::platform {

// Creates `file` new and empty, readable and writable by this user only (0600; on Windows the folder's
// ACL). false when a file of that name exists; throws std::system_error on any other failure.
bool create_new_private_file(const std::filesystem::path& file);

// Gives the complete file `from` the name `to`, atomically and only if `to` does not exist (POSIX: link(2)
// then fsync of the directory; Windows: MoveFileExW without REPLACE_EXISTING, with WRITE_THROUGH). false
// when `to` exists. `from` may be left behind (POSIX) or gone (Windows): the caller removes it either way.
// Throws std::system_error on any other failure.
bool publish_no_replace(const std::filesystem::path& from, const std::filesystem::path& to);

// Gives the complete file `from` the name `to`, atomically, replacing a file of that name (POSIX: rename(2) then
// fsync of the directory; Windows: MoveFileExW with REPLACE_EXISTING and WRITE_THROUGH). Throws std::system_error
// on failure; `from` is then left for the caller to remove.
void publish_replacing(const std::filesystem::path& from, const std::filesystem::path& to);

// Writes `size` bytes to a new private file beside `file` (named after this process) and publishes it as `file`:
// replacing what is there (publish_replacing) when `replace`, else only if `file` does not exist
// (publish_no_replace). The temporary file is gone afterwards either way. false when `file` existed and was
// kept; throws std::system_error when the file cannot be created, written or published.
bool write_private_file(const std::filesystem::path& file, const void* data, std::size_t size, bool replace);

// Makes one directory that only this user can enter (0700; on Windows the parent's ACL, which in the user's
// profile is the user's). Throws std::system_error when it neither exists nor can be made.
enum class MakeDir { made, existed, not_a_directory };
MakeDir make_private_dir(const std::filesystem::path& dir);

// Removes a file if it is there; errors ignored (cleanup paths).
void remove_quietly(const std::filesystem::path& file) noexcept;

// Whether `file` and the folder that holds it (where SQLite keeps its -wal and -shm files) can be written:
// false on a read-only mount, a write-protected file or missing write permission.
bool storage_writable(const std::filesystem::path& file);

// Why a store directory is open to other users ("" when it is fine or does not exist): POSIX checks group/other
// write bits and the owner; Windows relies on the per-user profile's ACL and says "".
std::string dir_access_problem(const std::filesystem::path& dir);

// An exclusive inter-process lock on a lock file (flock on POSIX, LockFileEx on Windows): held from lock()
// to unlock() or destruction. The file is created (private) if missing and never deleted. Not for use
// across fork(): a child opens its own.
class FileLock {
 public:
  explicit FileLock(std::filesystem::path file) : file_(std::move(file)) {}
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

  // Blocks until the lock is held. Throws std::system_error when the file cannot be opened or locked.
  void lock();
  // Takes the lock only if it is free now; false when another holder has it.
  bool try_lock();
  void unlock() noexcept;
  bool held() const { return held_; }

 private:
  void open();
  std::filesystem::path file_;
  std::intptr_t handle_ = -1;  // a descriptor (POSIX) or a HANDLE (Windows); -1 when not open
  bool held_ = false;
};

}  // namespace keyseal::platform
