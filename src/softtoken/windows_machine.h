// The soft token's machine on Windows (issue 12, item 3): the Windows factor sources and the DPAPI layer; no
// TPM sealer (the Windows TPM token goes through the Platform Crypto Provider, not through a soft token's
// share). Windows only.
#pragma once
#include <filesystem>

#include "softtoken/fp_binding.h"

namespace keyseal::softtoken {

// fingerprint::windows_sources(dir) for the token's directory (an empty dir falls back to `store_dir`).
FactorProvider windows_factor_provider(const std::filesystem::path& store_dir = {});

// Windows factors + DPAPI wrapper, no TPM sealer. `store_dir` is where tokens live (%LOCALAPPDATA%\keyseal):
// the disk factor follows each token's own directory, and store_dir stands in when none is given.
Machine windows_machine(const std::filesystem::path& store_dir);

}  // namespace keyseal::softtoken
