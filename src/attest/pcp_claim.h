// The Windows Platform Crypto Provider's attestation blobs (docs/design/pcp-attestation.md), both ways: the
// parser that turns an NCryptCreateClaim claim into Evidence (portable; a CA can run it), and the builders the
// fake provider uses to emit the same layouts. PCP headers are little-endian 32-bit words; the TPM structures
// inside are TPM wire format. Sections are found by the sizes in their headers, never by fixed offsets, and
// every size is checked against the bytes that remain: a malformed blob throws std::invalid_argument naming the
// field, it never reads out of bounds.
#pragma once
#include "attest/evidence.h"

namespace keyseal::attest {

inline constexpr uint32_t kKastMagic = 0x5453414B;  // "KAST": KeyAttestationStatement ([MS-WCCE] 2.2.2.5)
inline constexpr uint32_t kKadsMagic = 0x5344414B;  // "KADS": PCP_KEY_ATTESTATION_BLOB
inline constexpr uint32_t kPcpmMagic = 0x4D504350;  // "PCPM": PCP key blob (BCRYPT_OPAQUE_KEY_BLOB)
inline constexpr uint32_t kRsa1Magic = 0x31415352;  // "RSA1": BCRYPT_RSAPUBLIC_BLOB

// The marshalled TPMT_PUBLIC of the TCG default EK template L-1 (RSA 2048, AES-128-CFB, the standard policy)
// whose unique is `modulus` (256 bytes): the EK public area a PCP's BCRYPT_RSAPUBLIC_BLOB stands for.
Bytes ek_public_from_modulus(const Bytes& modulus);
// The same from PCP_EKPUB's BCRYPT_RSAPUBLIC_BLOB; the exponent must be 65537 (the template's).
Bytes ek_public_from_rsa_blob(const Bytes& blob);
Bytes rsa_public_blob(const Bytes& modulus, const Bytes& exponent);  // builds a BCRYPT_RSAPUBLIC_BLOB

// PCP_TPM12_IDBINDING (TPM2B_PUBLIC || TPM2B_CREATION_DATA || TPM2B_ATTEST || TPMT_SIGNATURE): the AIK's
// marshalled TPMT_PUBLIC, exactly as it stands in the blob.
Bytes ak_public_from_id_binding(const Bytes& id_binding);

// The key's marshalled TPMT_PUBLIC from a PCP key blob ("PCPM", NCryptExportKey(BCRYPT_OPAQUE_KEY_BLOB)).
Bytes key_public_from_pcp_key_blob(const Bytes& pcpm);

// The sections of a claim, each checked for size and magic.
struct PcpClaim {
  Bytes id_binding;      // may be empty (a PCP may leave it out)
  Bytes key_attest;      // raw TPMS_ATTEST
  Bytes signature;       // raw RSA signature bytes
  Bytes key_public;      // marshalled TPMT_PUBLIC from the PCPM blob's TPM2B_PUBLIC
  Bytes aik_opaque;
};
PcpClaim parse_pcp_claim(const Bytes& claim);

// Evidence from a claim: the signature wrapped as TPMT_SIGNATURE (RSASSA, SHA-1: the PCP AIK's scheme), nonce
// from the TPMS_ATTEST's extraData, key_public from the PCPM blob, ak_public from the claim's idBinding or else
// `id_binding` (the AIK's PCP_TPM12_IDBINDING; when both are present they must name the same AIK), ek_public
// rebuilt from `ek_rsa_blob`, origin kOriginGeneratedFixedTpm (the PCP offers no TPM2_CertifyCreation).
Evidence evidence_from_pcp_claim(const Bytes& claim, const Bytes& id_binding, const Bytes& ek_rsa_blob,
                                 std::vector<Bytes> ek_certificates);

// Builders (the fake provider): a PCPM blob around a TPM2B_PUBLIC and TPM2B_PRIVATE, a KADS, and a KAST.
Bytes pcp_key_blob(const Bytes& tpm2b_public, const Bytes& tpm2b_private);
Bytes pcp_claim_blob(const Bytes& id_binding, const Bytes& key_attest, const Bytes& signature, const Bytes& key_blob);

}  // namespace keyseal::attest
