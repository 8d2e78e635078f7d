// Key attestation through the Platform Crypto Provider (issue 14; docs/design/pcp-attestation.md): what the PCP
// token's vendor attributes and the Windows composition's attest commands use. Built from keyseal_attest
// (pcp_attest.cpp) where that library exists; elsewhere (pcp_attest_none.cpp) there is no TPM public area and
// the rest answers CKR_FUNCTION_NOT_SUPPORTED. Throws keyseal::Error.
#pragma once
#include "attest/evidence.h"
#include "pcp/provider.h"

#include <filesystem>
#include <optional>
#include <string>

namespace keyseal::pcp {

// The AIK of this user's keyseal attestations. PCP keys are per user, so one name serves every user.
inline constexpr char kAikName[] = "keyseal-ak";

// CKA_KEYSEAL_TPM_PUBLIC: the key's TPMT_PUBLIC from its PCP key blob; nullopt where attestation is not built.
std::optional<SecureBytes> key_tpm_public(Provider& p, const std::string& key);
// `ak_dir` below: where this user's AIK certificate chain is kept (attest/ak_cert_file.h; the composition uses
// <store>/pcp-ak); empty: none is kept.
//
// CKA_KEYSEAL_ATTESTATION: the JSON evidence of NCryptCreateClaim(key, AIK, nonce) with the AIK (made on first
// use), the EK and its certificates, and the AIK's certificate chain when one is kept for this AIK.
SecureBytes key_attestation(Provider& p, const std::string& key, ByteView key_auth, ByteView nonce,
                            const std::filesystem::path& ak_dir);
// `keyseal attest-ak`: the AIK (made on first use) with the EK and its certificates (and its own, when kept).
attest::AkInfo ak_info(Provider& p, const std::filesystem::path& ak_dir);
// `keyseal attest-ak --store-cert`: keeps the chain a CA issued for the AIK (the first certificate's key must be
// the AIK's: CKR_ARGUMENTS_BAD otherwise; CKR_DEVICE_ERROR when it cannot be written).
void store_ak_certificates(Provider& p, const std::filesystem::path& ak_dir, const std::vector<attest::Bytes>& chain);
// `keyseal attest-ak --activate`: TPM2_ActivateCredential with the AIK; nullopt when the TPM refused it.
std::optional<attest::Bytes> activate_credential(Provider& p, const attest::Credential& c);

}  // namespace keyseal::pcp
