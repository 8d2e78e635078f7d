// The TPM 2.0 token backend (issue 4): the entry points the module and `keyseal status` use. The backend
// itself (class TpmBackend) is in tpm/tpm_token.h; everything TSS-specific stays inside src/tpm/.
#pragma once
#include "core/backend.h"

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace keyseal::tpm {

struct Options {
  std::string tcti;  // "swtpm:host=127.0.0.1,port=N", "device:/dev/tpmrm0", "mssim:...", "tabrmd:"; empty = tss2 default
  std::string pcrs;  // for NEW tokens: "" or e.g. "sha256:0,7" — the token's keys/master key bound to these PCR values
  std::filesystem::path attest_dir{};  // the user's attestation-key folder (store dir's "tpm-ak"); empty: none
};

// Connects and probes the TPM once; nullptr (and `why` = a one-line reason) when no TPM answers. Never throws.
std::shared_ptr<core::Backend> connect_backend(const Options& o, std::string& why);

struct Status {  // for `keyseal status`, like Windows Get-Tpm
  bool present = false, ready = false;
  std::string why;  // why: when not present/ready
  std::string manufacturer;  // decoded: "IBM (software TPM)", "Infineon", "Intel", "AMD", "STMicro", "Nuvoton", else the 4 chars
  std::string vendor_string, firmware, spec_level;  // firmware as the TPM reports it ("8217.4131.22.13104"); spec "2.0 rev 1.59"
  std::vector<std::string> pcr_banks;  // "sha1", "sha256", ...
  std::string lockout;  // e.g. "not in lockout, 0 of 32 failures, recovery 600 s"
};
Status probe_status(const std::string& tcti);  // never throws

}  // namespace keyseal::tpm
