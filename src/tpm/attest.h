// Key attestation with the TPM (issue 14): an attestation key (AK) under the endorsement key, TPM2_Certify and
// TPM2_CertifyCreation of token keys by the AK, and TPM2_ActivateCredential so a CA can tell that the AK lives
// in the TPM whose EK certificate it trusts (TPM 2.0 Part 1 sections 24 and 36; Part 3 sections 12.5, 18.2,
// 18.3). The evidence is the software structure of attest/evidence.h: checking it needs no TPM.
#pragma once
#include "attest/evidence.h"
#include "common/secure_bytes.h"
#include "tpm/connection.h"

#include <filesystem>
#include <optional>
#include <vector>

namespace keyseal::tpm {

// TCG EK Credential Profile 2.0 section 2.2.1.5: the NV indices of the EK certificates.
inline constexpr TPM2_HANDLE kEkCertRsaIndex = 0x01c00002;
inline constexpr TPM2_HANDLE kEkCertEccIndex = 0x01c0000a;
// The high range (section 2.2.1.5.2): the certificate of the ECC NIST P-384 EK of template H-3.
inline constexpr TPM2_HANDLE kEkCertEccP384Index = 0x01c00016;

// Template H-3 of the EK Credential Profile: ECC NIST P-384, SHA-384 name, AES-256-CFB, userWithAuth with the
// empty authValue (so it is used as a parent with a password, no policy session), PolicyB for admin roles.
TPM2B_PUBLIC ek_template_ecc_p384_high();

// The AK of one TPM as kept by one user. `dir` is the user's store directory's "tpm-ak" folder: the AK blob
// lives in a sub-folder named after the EK (so another TPM, or this one after TPM2_Clear/ChangeEPS, gets its
// own), with the AK certificate chain a CA issued at enrolment. Nothing there is secret: the blob is only
// usable inside the TPM that made it, and a substituted blob cannot pass a verifier (the AK's attributes are
// checked, and an AK certificate names one key).
class Attestation {
 public:
  Attestation(Connection::Guard& g, std::filesystem::path dir);

  // The AK, made on first use (TPM2_Create under the EK with PolicySecret(TPM_RH_ENDORSEMENT)), the EK and its
  // certificates from NV, and the stored AK certificates. Throws keyseal::Error (CKR_DEVICE_ERROR ...).
  attest::AkInfo ak_info();
  // TPM2_ActivateCredential of a CA's credential with the AK and the EK: the secret, or nullopt when the TPM
  // refuses it (made for another AK name or another EK).
  std::optional<attest::Bytes> activate(const attest::Credential& c);
  // Keeps the AK's certificate (first) and its issuers, DER; refused (CKR_ARGUMENTS_BAD) when the first
  // certificate's key is not the AK's.
  void store_ak_certificates(const std::vector<attest::Bytes>& der);
  // TPM2_Certify of `key` by the AK with `nonce` (at most 64 bytes) as qualifying data, and TPM2_CertifyCreation
  // when `creation` is known. `auth` is the key's authValue (Certify needs the key's admin authorisation).
  attest::Evidence certify(const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv, ByteView auth,
                           const std::optional<Creation>& creation, ByteView nonce);

 private:
  struct Ek {
    TPM2B_PUBLIC tmpl{};
    std::vector<attest::Bytes> certs;
  };
  const Ek& ek();
  void ensure_ak();
  std::filesystem::path ak_dir();

  Connection::Guard& g_;
  std::filesystem::path dir_;
  std::optional<Ek> ek_;
  TPM2B_PUBLIC ek_pub_{};  // the EK as the TPM made it (after ensure_ak)
  TPM2B_PUBLIC ak_pub_{};
  TPM2B_PRIVATE ak_priv_{};
  bool have_ak_ = false;
};

}  // namespace keyseal::tpm
