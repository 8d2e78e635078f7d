// The soft token's machine on Windows (see windows_machine.h); also this platform's default factors.
#include "softtoken/windows_machine.h"

#include "fingerprint/windows_sources.h"
#include "softtoken/dpapi_wrapper.h"

namespace keyseal::softtoken {

FactorProvider windows_factor_provider(const std::filesystem::path& store_dir) {
  return [store_dir](const std::filesystem::path& dir) {
    return fingerprint::read_factors(fingerprint::windows_sources(dir.empty() ? store_dir : dir));
  };
}

FactorProvider default_factor_provider() { return windows_factor_provider(); }

Machine windows_machine(const std::filesystem::path& store_dir) {
  return Machine(windows_factor_provider(store_dir), nullptr, dpapi_wrapper());
}

}  // namespace keyseal::softtoken
