// Names of the NCrypt/TBS codes the PCP backend meets, for its messages.
#include "pcp/provider.h"

#include <cstdio>

namespace keyseal::pcp {

std::string code_text(uint32_t c) {
  const char* name = nullptr;
  switch (c) {
    case code::kOk: name = "ERROR_SUCCESS"; break;
    case code::kBadKeyset: name = "NTE_BAD_KEYSET"; break;
    case code::kExists: name = "NTE_EXISTS"; break;
    case code::kNotSupported: name = "NTE_NOT_SUPPORTED"; break;
    case code::kInvalidParameter: name = "NTE_INVALID_PARAMETER"; break;
    case code::kBadData: name = "NTE_BAD_DATA"; break;
    case code::kPerm: name = "NTE_PERM"; break;
    case code::kNoMemory: name = "NTE_NO_MEMORY"; break;
    case code::kBufferTooSmall: name = "NTE_BUFFER_TOO_SMALL"; break;
    case code::kInternalError: name = "NTE_INTERNAL_ERROR"; break;
    case code::kDeviceNotReady: name = "NTE_DEVICE_NOT_READY"; break;
    case code::kDecryptionFailure: name = "NTE_DECRYPTION_FAILURE"; break;
    case code::kTpm12AuthFail: name = "TPM_E_AUTHFAIL"; break;
    case code::kTpmAuthFail: case code::kTpmAuthFailSession1: name = "TPM_20_E_AUTH_FAIL"; break;
    case code::kTpmBadAuth: name = "TPM_20_E_BAD_AUTH"; break;
    case code::kTpmLockout: name = "TPM_20_E_LOCKOUT"; break;
    case code::kTpm12DefendLock: name = "TPM_E_DEFEND_LOCK_RUNNING"; break;
    case code::kPcpDeviceNotReady: name = "TPM_E_PCP_DEVICE_NOT_READY"; break;
    case code::kPcpAuthenticationFailed: name = "TPM_E_PCP_AUTHENTICATION_FAILED"; break;
    case code::kTbsInternalError: name = "TBS_E_INTERNAL_ERROR"; break;
    case code::kTbsServiceNotRunning: name = "TBS_E_SERVICE_NOT_RUNNING"; break;
    case code::kTbsTpmNotFound: name = "TBS_E_TPM_NOT_FOUND"; break;
    default: break;
  }
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%08X", c);
  return name ? std::string(name) + " (" + hex + ")" : std::string(hex);
}

std::string Status::text() const { return (call.empty() ? std::string() : call + ": ") + code_text(code); }

namespace {
template <class T>
Result<T> unsupported(const char* call) {
  Result<T> r;
  r.status = Status{code::kNotSupported, call};
  return r;
}
}  // namespace

Status Provider::create_identity_key(const std::string&) { return Status{code::kNotSupported, "NCryptFinalizeKey"}; }
Result<std::vector<uint8_t>> Provider::key_blob(const std::string&) {
  return unsupported<std::vector<uint8_t>>("NCryptExportKey");
}
Result<std::vector<uint8_t>> Provider::identity_binding(const std::string&) {
  return unsupported<std::vector<uint8_t>>("NCryptGetProperty");
}
Result<std::vector<uint8_t>> Provider::key_claim(const std::string&, ByteView, const std::string&, ByteView) {
  return unsupported<std::vector<uint8_t>>("NCryptCreateClaim");
}
Result<std::vector<uint8_t>> Provider::ek_public() { return unsupported<std::vector<uint8_t>>("NCryptGetProperty"); }
Result<std::vector<std::vector<uint8_t>>> Provider::ek_certificates() {
  return unsupported<std::vector<std::vector<uint8_t>>>("NCryptGetProperty");
}
Result<SecureBytes> Provider::activate(const std::string&, ByteView) {
  return unsupported<SecureBytes>("NCryptSetProperty");
}

}  // namespace keyseal::pcp
