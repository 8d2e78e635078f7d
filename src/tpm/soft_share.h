// The TPM's part in binding a soft token to this machine (issue 5): the TPM share of the token's binding secret,
// sealed by this TPM (TPM 2.0 Part 1 section 27.8 sealed data, under the storage parent), and the machine view
// the module and the CLI give soft tokens: the Linux fingerprint factors plus the TPM's endorsement key.
#pragma once
#include "softtoken/fp_binding.h"

#include <memory>
#include <string>

namespace keyseal::tpm {

// Whether keyseal looks for a TPM at all: a TCTI is configured, or /dev/tpmrm0 or /dev/tpm0 exists. Without
// one no connection is tried (the tss2 default TCTI would probe and print to stderr).
bool tpm_expected(const std::string& tcti);

// Seals a soft token's TPM share on the TPM at `tcti`: a keyed-hash sealed-data object with an empty
// authValue and noDA (the PIN is checked by the soft token's own KDF, not here), fixedTPM|fixedParent, under
// the storage parent, whose name the record keeps. unseal() gives nullopt for a record made under another
// parent (another TPM, or this one after TPM2_Clear) or that this TPM refuses to load; CKR_DEVICE_ERROR when
// the TPM does not answer. The connection is the process-wide one (Connection::shared).
std::shared_ptr<softtoken::TpmSealer> make_sealer(const std::string& tcti);

// This machine as soft tokens see it: the Linux factors, plus, where a TPM is expected, the EK factor and
// the sealer.
softtoken::Machine this_machine(const std::string& tcti);

}  // namespace keyseal::tpm
