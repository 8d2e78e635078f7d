// Key attestation through the Platform Crypto Provider (issue 14; docs/design/pcp-attestation.md): what the PCP
// token's vendor attributes and the Windows composition's attest commands use. Built from keyseal_attest
// (pcp_attest.cpp) where that library exists; elsewhere (pcp_attest_none.cpp) there is no TPM public area and
// the rest answers CKR_FUNCTION_NOT_SUPPORTED. Throws keyseal::Error.
#pragma once
#include "attest/evidence.h"
#include "pcp/provider.h"

#include <optional>
#include <string>

namespace keyseal::pcp {

// The AIK of this user's keyseal attestations. PCP keys are per user, so one name serves every user.
inline constexpr char kAikName[] = "keyseal-ak";

// CKA_KEYSEAL_TPM_PUBLIC: the key's TPMT_PUBLIC from its PCP key blob; nullopt where attestation is not built.
std::optional<SecureBytes> key_tpm_public(Provider& p, const std::string& key);
// CKA_KEYSEAL_ATTESTATION: the JSON evidence of NCryptCreateClaim(key, AIK, nonce) with the AIK (made on first
// use), the EK and its certificates.
SecureBytes key_attestation(Provider& p, const std::string& key, ByteView key_auth, ByteView nonce);
// `keyseal attest-ak`: the AIK (made on first use) with the EK and its certificates.
attest::AkInfo ak_info(Provider& p);
// `keyseal attest-ak --activate`: TPM2_ActivateCredential with the AIK; nullopt when the TPM refused it.
std::optional<attest::Bytes> activate_credential(Provider& p, const attest::Credential& c);

}  // namespace keyseal::pcp
