// Coordination between the processes that share a TPM without a resource manager (a raw /dev/tpm0, an
// swtpm or mssim socket): each TPM exchange holds an exclusive flock on a per-TPM lock file, so no other
// client flushes our objects in the middle of one, and the file carries a generation number that a client
// bumps whenever it flushes objects that are not its own, so the others know to reload theirs before they
// use a handle that may now name someone else's object. Through /dev/tpmrm0 or tabrmd it does nothing.
#pragma once
#include <cstdint>
#include <string>
#include <sys/types.h>

namespace keyseal::tpm {

class ClientLock {
 public:
  explicit ClientLock(const std::string& tcti);
  ~ClientLock();
  ClientLock(const ClientLock&) = delete;
  ClientLock& operator=(const ClientLock&) = delete;

  bool enabled() const { return enabled_; }
  // Takes the lock (blocking) and returns the current generation; 0 when disabled or unavailable.
  uint64_t acquire();
  void release() noexcept;
  // Under the lock: another client's objects were flushed. Returns the new generation.
  uint64_t bump();

 private:
  bool open_file();
  bool enabled_ = false;
  std::string path_;
  int fd_ = -1;
  pid_t pid_ = 0;  // flock belongs to the open file, which a forked child shares: it opens its own
  bool held_ = false;
};

}  // namespace keyseal::tpm
