// The TPM's endorsement key as a hardware-fingerprint factor (issue 5, item 1), from the TCG EK Credential
// Profile's default templates (L-2 ECC NIST P-256, else L-1 RSA 2048) in the endorsement hierarchy.
#pragma once
#include "fingerprint/factor.h"

#include <tss2/tss2_tpm2_types.h>

#include <memory>
#include <string>
#include <string_view>

namespace keyseal::tpm {

inline constexpr std::string_view kEkFactorId = fingerprint::kTpmEkFactorId;

// A fingerprint factor from this TPM's endorsement key: SHA-256 over a fixed label and the EK's public point
// (x || y) from TPM2_CreatePrimary in the endorsement hierarchy with the EK Credential Profile's template L-2
// (ECC NIST P-256), or over another fixed label and the modulus from template L-1 (RSA 2048) when the TPM
// has no P-256. The primary is flushed at once.
// read(): nullopt when no TPM answers on `tcti`, when the endorsement hierarchy needs an authorization or on
// any other TPM error (a missing factor is normal); never throws. The value is cached per process per TCTI
// after the first success (the EK changes only with TPM2_ChangeEPS). strength_bits(): 128.
std::unique_ptr<fingerprint::FactorSource> ek_factor_source(std::string tcti);

// The EK Credential Profile 2.0 default templates (section 2.2.1.4): L-2 (ECC NIST P-256) and L-1 (RSA 2048).
// Policy A (PolicySecret(TPM_RH_ENDORSEMENT)) authorises their use.
TPM2B_PUBLIC ek_template_ecc();
TPM2B_PUBLIC ek_template_rsa();
TPM2B_PUBLIC ek_common(TPMI_ALG_PUBLIC type);

// Tests only: forgets every cached EK value (a new swtpm may reuse an earlier one's TCTI string).
void forget_cached_ek_for_tests();

}  // namespace keyseal::tpm
