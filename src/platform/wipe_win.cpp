// secure_wipe on Windows: SecureZeroMemory (a volatile write loop the compiler keeps).
#include "platform/wipe.h"

#include <windows.h>

namespace keyseal::platform {

void secure_wipe(void* p, std::size_t n) noexcept {
  if (p && n) SecureZeroMemory(p, n);
}

}  // namespace keyseal::platform
