// The factor provider of a soft token on Linux: fingerprint::linux_sources (DMI, machine-id, disk, MACs, CPU).
#include "fingerprint/linux_sources.h"
#include "softtoken/fp_binding.h"

namespace keyseal::softtoken {

FactorProvider linux_factor_provider() {
  return [](const std::filesystem::path& dir) { return fingerprint::read_factors(fingerprint::linux_sources(dir)); };
}

FactorProvider default_factor_provider() { return linux_factor_provider(); }

}  // namespace keyseal::softtoken
