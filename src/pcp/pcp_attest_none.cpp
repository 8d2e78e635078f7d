// pcp/attestation.h where keyseal_attest is not built: no attestation.
#include "common/error.h"
#include "pcp/attestation.h"

namespace keyseal::pcp {

namespace {
[[noreturn]] void unavailable() { fail(CKR_FUNCTION_NOT_SUPPORTED, "TPM key attestation is not available in this build"); }
}  // namespace

std::optional<SecureBytes> key_tpm_public(Provider&, const std::string&) { return std::nullopt; }
SecureBytes key_attestation(Provider&, const std::string&, ByteView, ByteView, const std::filesystem::path&) {
  unavailable();
}
attest::AkInfo ak_info(Provider&, const std::filesystem::path&) { unavailable(); }
void store_ak_certificates(Provider&, const std::filesystem::path&, const std::vector<attest::Bytes>&) { unavailable(); }
std::optional<attest::Bytes> activate_credential(Provider&, const attest::Credential&) { unavailable(); }

}  // namespace keyseal::pcp
