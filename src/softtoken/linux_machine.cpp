// The soft token's machine on Linux (issue 12: the platform default CMake picks): the Linux factor sources.
// No OS secret layer (Linux has no per-user secret protection like DPAPI); the TPM sealer is injected by
// tpm/ where one is configured.
#include "fingerprint/linux_sources.h"
#include "softtoken/fp_binding.h"

namespace keyseal::softtoken {

FactorProvider linux_factor_provider() {
  return [](const std::filesystem::path& dir) { return fingerprint::read_factors(fingerprint::linux_sources(dir)); };
}

FactorProvider default_factor_provider() { return linux_factor_provider(); }

}  // namespace keyseal::softtoken
