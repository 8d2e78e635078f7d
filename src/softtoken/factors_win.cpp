// The default factor provider on Windows: none. The module and the CLI bind soft tokens through
// compose::this_machine() (softtoken::windows_machine: the Windows factors and DPAPI), never through a
// default-made Machine; this default only serves code that asks for no machine in particular.
#include "softtoken/fp_binding.h"

namespace keyseal::softtoken {

FactorProvider default_factor_provider() {
  return [](const std::filesystem::path&) { return std::vector<fingerprint::Factor>{}; };
}

}  // namespace keyseal::softtoken
