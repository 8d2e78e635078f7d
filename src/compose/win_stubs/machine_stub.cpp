// TEMPORARY STUB (see win_stubs/*/): drop this folder once helpers c and d's code is merged.
#include "softtoken/windows_machine.h"

namespace keyseal::softtoken {
softtoken::Machine windows_machine(const std::filesystem::path&) {
  return softtoken::Machine([](const std::filesystem::path&) { return std::vector<fingerprint::Factor>{}; });
}
}  // namespace keyseal::softtoken
