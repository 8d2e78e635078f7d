// Module configuration: where tokens live and how new tokens derive their keys. Sources, strongest first:
// environment (KEYSEAL_STORE, KEYSEAL_BACKEND, KEYSEAL_TCTI, KEYSEAL_TPM_PCRS, KEYSEAL_LOG), the file named by KEYSEAL_CONF, then defaults
// (platform::default_store_dir: $XDG_DATA_HOME/keyseal, else ~/.local/share/keyseal; %LOCALAPPDATA%\keyseal).
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

namespace keyseal::core {

struct Config {
  std::filesystem::path store_dir;
  std::string config_file;          // empty when none was used
  uint32_t argon2_t_cost = 3;       // parameters for NEW tokens; existing tokens keep theirs
  uint32_t argon2_m_cost_kib = 65536;
  uint32_t argon2_lanes = 1;
  uint32_t max_pin_attempts = 10;
  std::string backend = "auto";     // kind of NEW tokens: "auto" (the TPM when one answers), "soft" or "tpm"
  std::string tcti;                 // how to reach the TPM (tss2 TCTI string); empty: the tss2 default
  std::string tpm_pcrs;             // NEW TPM tokens bound to these PCRs, e.g. "sha256:0,7"; empty: none
};

// Reads the environment and the config file. A config file that cannot be read or has a bad line throws
// Error(CKR_ARGUMENTS_BAD) with the file and line in the detail.
// File format: `key = value` lines, '#' comments. Keys: store, argon2_t_cost, argon2_m_cost_kib,
// argon2_lanes, max_pin_attempts, backend (auto|soft|tpm), tcti, tpm_pcrs.
Config load_config();

}  // namespace keyseal::core
