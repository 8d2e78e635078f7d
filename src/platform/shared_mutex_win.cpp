// platform::SharedMutex on Windows: the SRWLOCK API on a word the class keeps (SRWLOCK is one pointer).
#include "platform/shared_mutex.h"

#include <windows.h>

static_assert(sizeof(SRWLOCK) == sizeof(void*), "SRWLOCK is one pointer-sized word");

namespace keyseal::platform {
namespace {
PSRWLOCK srw(void** p) { return reinterpret_cast<PSRWLOCK>(p); }
}  // namespace

void SharedMutex::lock() noexcept { AcquireSRWLockExclusive(srw(&srw_)); }
bool SharedMutex::try_lock() noexcept { return TryAcquireSRWLockExclusive(srw(&srw_)) != 0; }
void SharedMutex::unlock() noexcept { ReleaseSRWLockExclusive(srw(&srw_)); }
void SharedMutex::lock_shared() noexcept { AcquireSRWLockShared(srw(&srw_)); }
bool SharedMutex::try_lock_shared() noexcept { return TryAcquireSRWLockShared(srw(&srw_)) != 0; }
void SharedMutex::unlock_shared() noexcept { ReleaseSRWLockShared(srw(&srw_)); }

}  // namespace keyseal::platform
