// A reader/writer lock for the module's lifecycle, slot and session locks. On POSIX it is std::shared_mutex.
// On Windows it is an SRWLOCK: mingw-w64's std::shared_mutex sits on winpthreads' rwlock, which loses wake-ups
// when readers and a writer race (threads that C_Initialize at once with OS locking hung under wine; the
// reports are msys2/MINGW-packages #3319 and #25193). Both meet the standard's SharedMutex requirements, so
// std::shared_lock and std::unique_lock work on either.
#pragma once

#ifndef _WIN32
#include <shared_mutex>
#endif

namespace keyseal::platform {

#ifndef _WIN32

using SharedMutex = std::shared_mutex;

#else

class SharedMutex {
 public:
  SharedMutex() noexcept = default;  // SRWLOCK_INIT is all zero
  SharedMutex(const SharedMutex&) = delete;
  SharedMutex& operator=(const SharedMutex&) = delete;

  void lock() noexcept;
  bool try_lock() noexcept;
  void unlock() noexcept;
  void lock_shared() noexcept;
  bool try_lock_shared() noexcept;
  void unlock_shared() noexcept;

 private:
  void* srw_ = nullptr;  // the SRWLOCK itself: one pointer-sized word, zero when free
};

#endif

}  // namespace keyseal::platform
