// secure_wipe on POSIX: explicit_bzero (glibc, the BSDs).
#include "platform/wipe.h"

#include <string.h>

namespace keyseal::platform {

void secure_wipe(void* p, std::size_t n) noexcept {
  if (p && n) explicit_bzero(p, n);
}

}  // namespace keyseal::platform
