// The module's composition, filled in once per platform (compose_linux.cpp, compose_win.cpp): which token
// kinds exist here, what "this machine" is to a soft token, and the TPM facts the CLI shows. pkcs11/ and cli/
// ask here instead of reaching into softtoken/, tpm/ or pcp/ themselves.
#pragma once
#include "attest/evidence.h"
#include "core/backend.h"
#include "core/config.h"
#include "softtoken/fp_binding.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace keyseal::compose {

struct Backends {
  std::vector<std::shared_ptr<core::Backend>> backends;  // the kind for new tokens first
  std::string unavailable;                               // why a token kind is missing here ("" if none is)
};

// The token kinds available now, the kind for new tokens first (config `backend`: auto = the TPM when one
// answers), and why the TPM is missing when it is. Never throws for a missing TPM.
Backends make_backends(const core::Config& config);

// This machine as soft tokens see it: the fingerprint factors of this platform and, where a TPM is expected
// (Linux), its sealer. Linux: the /sys, /etc and disk factors plus the TPM's EK; Windows: the Windows factors
// with the DPAPI layer.
softtoken::Machine this_machine(const core::Config& config);

// "" when a soft token can be bound to this machine's TPM here (`keyseal bind-tpm`, `init --bind-tpm`);
// else a sentence saying why not (no TPM configured or found; not available on this platform).
std::string tpm_binding_unavailable(const core::Config& config);

// How the module reaches the TPM, for `keyseal status`'s configuration section: the tcti on Linux (the
// configured one or tss2's default), TBS on Windows (where the tcti setting means nothing).
std::string tpm_connection(const core::Config& config);

// The TPM section of `keyseal status`, as "key: value" lines in order ("present", then "why" or "ready",
// "manufacturer", ...). Never throws.
std::vector<std::pair<std::string, std::string>> tpm_status(const core::Config& config);

// This user's TPM attestation key (tpm/attest.h; docs/attestation.md), kept in the store directory's "tpm-ak"
// folder: its public area with the EK's and the EK certificates (made on first use), TPM2_ActivateCredential of
// a CA's credential (nullopt: the TPM refused it), and the AK certificate chain a CA issued (the AK's first).
// Throws keyseal::Error: CKR_DEVICE_ERROR without a TPM, CKR_FUNCTION_NOT_SUPPORTED where not built (Windows).
attest::AkInfo attestation_key(const core::Config& config);
std::optional<attest::Bytes> activate_credential(const core::Config& config, const attest::Credential& c);
void store_ak_certificates(const core::Config& config, const std::vector<attest::Bytes>& chain);

}  // namespace keyseal::compose
