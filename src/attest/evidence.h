// Key attestation evidence (issue 14): what `keyseal attest` and the CKA_KEYSEAL_ATTESTATION attribute produce,
// and what the verifier checks. Pure data and software (OpenSSL, tss2-mu for unmarshalling): no TPM is needed to
// serialise or verify evidence, so a CA runs the same code.
//
// TPM structures are kept marshalled exactly as the TPM produced them (TPM 2.0 Part 2): the verifier re-parses
// them itself rather than trusting any decoded field, and a signature is checked over the bytes signed.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyseal::attest {

using Bytes = std::vector<uint8_t>;

// Where the attested key came from, as its holder claims it (the verifier checks the claim: "generated" needs
// sensitiveDataOrigin and, when creation evidence is present, a TPM2_CertifyCreation over the same name).
inline constexpr std::string_view kOriginGenerated = "generated";  // made inside the TPM by keyseal
inline constexpr std::string_view kOriginImported = "imported";    // an outside key moved into the TPM
// Made inside a TPM reached through an interface that offers no TPM2_CertifyCreation (the Windows Platform Crypto
// Provider): the verifier takes fixedTPM + fixedParent + sensitiveDataOrigin, certified by the AK, as the proof
// of origin when no creation evidence is present (verify(), check "creation").
inline constexpr std::string_view kOriginGeneratedFixedTpm = "generated-fixedtpm";

struct Evidence {
  Bytes nonce;                 // the caller's qualifying data (TPMS_ATTEST.extraData), 0..64 bytes
  Bytes key_public;            // marshalled TPMT_PUBLIC of the attested key
  Bytes certify_info;          // marshalled TPMS_ATTEST from TPM2_Certify(key, AK, nonce)
  Bytes certify_signature;     // marshalled TPMT_SIGNATURE by the AK over certify_info
  std::string origin;          // kOriginGenerated, kOriginImported or kOriginGeneratedFixedTpm
  Bytes creation_info;         // marshalled TPMS_ATTEST from TPM2_CertifyCreation; empty when not available
  Bytes creation_signature;    // marshalled TPMT_SIGNATURE by the AK over creation_info
  Bytes ak_public;             // marshalled TPMT_PUBLIC of the attestation key
  Bytes ek_public;             // marshalled TPMT_PUBLIC of the endorsement key the AK was made under
  std::vector<Bytes> ek_certificates;  // DER, as read from the TPM's NV (RSA 0x01c00002, ECC 0x01c0000a)
  std::vector<Bytes> ak_certificates;  // DER: the AK's certificate (from enrolment) first, then its issuers
  std::string tpm_manufacturer;        // informational only (TPM2_GetCapability), never trusted by verify()
  std::string tpm_model;
  std::string tpm_firmware;
};

// JSON: one object whose byte fields are lowercase hex and certificates base64 DER (docs/attestation.md).
std::string to_json(const Evidence& e);
// Throws std::invalid_argument with a message naming the field when the text is not such a document.
Evidence from_json(std::string_view text);
// The WebAuthn/ACME "tpm" attestation object (CBOR map: fmt "tpm", attStmt {ver "2.0", alg, x5c, sig,
// certInfo, pubArea}, authData empty). x5c is present only when ak_certificates is not empty.
Bytes to_tpm_statement(const Evidence& e);
// The fields a "tpm" statement carries (nonce from certInfo, key_public, certify_*, ak_certificates);
// ak_public is taken from the first x5c certificate's key. Throws std::invalid_argument when malformed.
Evidence from_tpm_statement(const Bytes& cbor);

// TPM2_MakeCredential done in software by a verifier (TPM 2.0 Part 1 section 24): `secret` for the object
// named `ak_name`, readable only by TPM2_ActivateCredential with the EK `ek_public` (marshalled TPMT_PUBLIC,
// RSA or ECC) in the TPM that holds it.
struct Credential {
  Bytes credential_blob;   // marshalled TPM2B_ID_OBJECT
  Bytes encrypted_secret;  // marshalled TPM2B_ENCRYPTED_SECRET
};
Credential make_credential(const Bytes& ek_public, const Bytes& ak_name, const Bytes& secret);

// What `keyseal attest-ak` shows a CA before enrolment: the AK and the EK it was made under.
struct AkInfo {
  Bytes ak_public;                     // marshalled TPMT_PUBLIC
  Bytes ek_public;                     // marshalled TPMT_PUBLIC
  std::vector<Bytes> ek_certificates;  // DER
  std::vector<Bytes> ak_certificates;  // DER, when an AK certificate was stored after enrolment
  std::string tpm_manufacturer, tpm_model, tpm_firmware;
};
std::string to_json(const AkInfo& a);        // adds "ak_name" (hex) for the reader's convenience
AkInfo ak_info_from_json(std::string_view text);
std::string to_json(const Credential& c);    // {"credential_blob": hex, "encrypted_secret": hex}
Credential credential_from_json(std::string_view text);

// The TPM name of a marshalled TPMT_PUBLIC: nameAlg (2 bytes) || H_nameAlg(public).
Bytes name_of(const Bytes& tpmt_public);

// True when the DER certificate's public key is the key of the marshalled TPMT_PUBLIC (an EK certificate and
// ek_public, an AK certificate and ak_public); false when either does not parse.
bool certificate_holds_key(const Bytes& certificate, const Bytes& tpmt_public);

struct Check {
  std::string name;    // stable identifier (see verify())
  bool ok = false;
  std::string detail;  // human-readable reason, both when it passes and when it fails
};

struct Report {
  std::vector<Check> checks;
  bool ok() const;  // every check passed (and there is at least one)
  const Check* find(std::string_view name) const;
};

struct VerifyOptions {
  std::vector<Bytes> roots;           // DER certificates trusted as roots for EK and AK certificates
  std::optional<Bytes> nonce;         // expected nonce; nullopt: the evidence's own nonce is reported, unchecked
  // Credential activation by the TPM that claims to hold the AK: given a credential made for the AK's name
  // with the EK's public key, returns the secret it recovered (nullopt: activation failed). Used for
  // "ak_bound_to_ek" when no AK certificate chaining to `roots` is present.
  std::function<std::optional<Bytes>(const Credential&)> activate;
};

// Checks, each reported (names are stable; tests use them):
//   ek_certificate_chain      an EK certificate chains to `roots`
//   ek_certificate_matches    that certificate's public key is ek_public
//   ak_attributes             the AK is restricted, signing only, fixedTPM, fixedParent, sensitiveDataOrigin
//   ak_bound_to_ek            an AK certificate (EKU 2.23.133.8.3) chaining to `roots` names ak_public's key,
//                             or `activate` recovered a fresh secret made for the AK with ek_public
//   attest_magic              certify_info.magic is TPM_GENERATED_VALUE
//   attest_type               certify_info.type is TPM_ST_ATTEST_CERTIFY
//   attest_signature          certify_signature verifies with ak_public over certify_info
//   nonce                     certify_info.extraData equals options.nonce
//   attested_name             the certified name equals name_of(key_public)
//   key_fixed_tpm             key_public has fixedTPM
//   key_fixed_parent          key_public has fixedParent
//   key_sensitive_data_origin key_public has sensitiveDataOrigin (fails for origin "imported", saying so)
//   key_use                   key_public allows signing or decryption and is not restricted
//   creation                  for origin "generated": creation_info is a TPM_ST_ATTEST_CREATION signed by the AK
//                             over name_of(key_public); absent creation evidence fails. For origin
//                             "generated-fixedtpm" with no creation evidence: passes when key_public has
//                             fixedTPM, fixedParent and sensitiveDataOrigin ("not needed: fixedTPM"), else fails;
//                             creation evidence present is checked as for "generated"
Report verify(const Evidence& e, const VerifyOptions& o);

}  // namespace keyseal::attest

// ---- certificates from PEM (src/attest/pem.cpp) ----
namespace keyseal::attest {

// The certificates of PEM text ("CERTIFICATE" blocks), in order, as DER, up to the first that does not parse;
// other blocks and the text around them are skipped. Empty when there is none. Leaves OpenSSL's error queue empty.
std::vector<Bytes> certificates_from_pem(std::string_view pem);

}  // namespace keyseal::attest
