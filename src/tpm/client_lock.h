// Coordination between the processes that share a TPM without a resource manager (a raw /dev/tpm0, an
// swtpm or mssim socket): each TPM exchange holds an exclusive flock on a per-TPM lock file, so no other
// client flushes our objects in the middle of one, and the file carries a generation number that a client
// bumps whenever it flushes objects that are not its own, so the others know to reload theirs before they
// use a handle that may now name someone else's object. Through /dev/tpmrm0 or tabrmd it does nothing.
//
// The file lives in a directory only this user can enter: $XDG_RUNTIME_DIR when it is ours and 0700, else
// /tmp/keyseal-<euid>, made 0700 and checked (a directory, not a symlink, ours, mode exactly 0700). Another
// user can therefore neither hold our lock nor plant a symlink for us to follow; what they can still do is
// take the /tmp name first, which is refused with CKR_DEVICE_ERROR (a denial of service, never a write
// through their file). Processes of one user coordinate only if they agree on XDG_RUNTIME_DIR.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <sys/types.h>

namespace keyseal::tpm {

class ClientLock {
 public:
  // The longest a TPM exchange of another process of ours may keep us waiting. The longest exchange held
  // under the lock is an RSA key generation inside the TPM, which takes tens of seconds on slow TPMs; a
  // holder stuck for longer than this is a hung process, reported rather than waited for forever.
  static constexpr std::chrono::milliseconds kDefaultMaxWait{60'000};

  struct Options {
    std::string runtime_dir;       // "" = $XDG_RUNTIME_DIR
    std::string tmp_dir = "/tmp";  // where keyseal-<euid> is made when runtime_dir is unusable
    std::chrono::milliseconds max_wait = kDefaultMaxWait;
  };

  explicit ClientLock(const std::string& tcti) : ClientLock(tcti, Options{}) {}
  ClientLock(const std::string& tcti, Options opt);
  ~ClientLock();
  ClientLock(const ClientLock&) = delete;
  ClientLock& operator=(const ClientLock&) = delete;

  bool enabled() const { return enabled_; }
  // Takes the lock and returns the current generation; 0 when disabled. Throws Error(CKR_DEVICE_ERROR) when
  // the lock directory or file is not safely ours, or when another process held the lock for max_wait.
  uint64_t acquire();
  void release() noexcept;
  // Under the lock: another client's objects were flushed. Returns the new generation.
  uint64_t bump();
  // The lock file's path, once acquire() has chosen the directory ("" before).
  const std::string& path() const { return path_; }

 private:
  void open_file();
  void wait_for_lock(bool queue_behind);
  bool enabled_ = false;
  Options opt_;
  std::string name_;  // file name inside the directory: one per TCTI string
  std::string path_;
  int fd_ = -1;
  pid_t pid_ = 0;  // flock belongs to the open file, which a forked child shares: it opens its own
  bool held_ = false;
};

}  // namespace keyseal::tpm
