// TSS2_RC -> CK_RV, once for the whole TPM backend (PKCS#11 3.0 section 5.1; TPM 2.0 Part 2 section 6.6,
// TSS 2.0 "TSS2_RC" layer encoding).
#include "tpm/tss_errors.h"

#include <tss2/tss2_rc.h>
#include <tss2/tss2_tpm2_types.h>

#include <cstdio>

namespace keyseal::tpm {

namespace {
constexpr TSS2_RC kLayerMask = 0xFF0000;
}

TSS2_RC tpm_code(TSS2_RC rc) {
  const TSS2_RC layer = rc & kLayerMask;
  if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER) return 0;
  const TSS2_RC r = rc & 0xFFF;
  if (r & TPM2_RC_FMT1) return TPM2_RC_FMT1 | (r & 0x3F);
  return r;
}

bool is_connection_error(TSS2_RC rc) {
  if (rc == TSS2_RC_SUCCESS) return false;
  const TSS2_RC layer = rc & kLayerMask;
  if (layer == TSS2_TPM_RC_LAYER || layer == TSS2_RESMGR_TPM_RC_LAYER) return false;
  // ESYS argument checks do not break the connection; everything else (TCTI, SYS, ESYS sequencing,
  // malformed or missing responses, a resource manager that went away) does.
  const TSS2_RC base = rc & 0xFFFF;
  if (layer == TSS2_ESAPI_RC_LAYER &&
      (base == TSS2_BASE_RC_BAD_REFERENCE || base == TSS2_BASE_RC_BAD_VALUE || base == TSS2_BASE_RC_BAD_SIZE ||
       base == TSS2_BASE_RC_BAD_TR || base == TSS2_BASE_RC_MULTIPLE_DECRYPT_SESSIONS ||
       base == TSS2_BASE_RC_MULTIPLE_ENCRYPT_SESSIONS || base == TSS2_BASE_RC_NO_DECRYPT_PARAM ||
       base == TSS2_BASE_RC_NO_ENCRYPT_PARAM || base == TSS2_BASE_RC_MEMORY))
    return false;
  return true;
}

CK_RV rv_for(TSS2_RC rc) {
  if (is_connection_error(rc)) return CKR_DEVICE_ERROR;
  if ((rc & 0xFFFF) == TSS2_BASE_RC_MEMORY && (rc & kLayerMask) != TSS2_TPM_RC_LAYER) return CKR_HOST_MEMORY;
  switch (tpm_code(rc)) {
    case TPM2_RC_AUTH_FAIL:
    case TPM2_RC_BAD_AUTH:
      return CKR_PIN_INCORRECT;
    case TPM2_RC_LOCKOUT:
      return CKR_PIN_LOCKED;
    case TPM2_RC_OBJECT_MEMORY:
    case TPM2_RC_SESSION_MEMORY:
    case TPM2_RC_MEMORY:
    case TPM2_RC_OBJECT_HANDLES:
    case TPM2_RC_SESSION_HANDLES:
      return CKR_DEVICE_MEMORY;
    case TPM2_RC_KEY_SIZE:
      return CKR_KEY_SIZE_RANGE;
    case TPM2_RC_CURVE:
      return CKR_CURVE_NOT_SUPPORTED;
    case TPM2_RC_ECC_POINT:
      return CKR_MECHANISM_PARAM_INVALID;
    case TPM2_RC_POLICY_FAIL:
    case TPM2_RC_PCR_CHANGED:
      return CKR_FUNCTION_FAILED;  // callers with a policy refine this and log which PCRs differ
    default:
      return CKR_DEVICE_ERROR;  // the TPM refused for a reason PKCS#11 has no name for
  }
}

std::string describe(TSS2_RC rc) {
  char hex[16];
  std::snprintf(hex, sizeof hex, "0x%X", static_cast<unsigned>(rc));
  const char* text = Tss2_RC_Decode(rc);
  return std::string(text ? text : "unknown") + " (" + hex + ")";
}

void throw_tss(TSS2_RC rc, const std::string& what) { throw TssError(rv_for(rc), what + ": " + describe(rc), rc); }

}  // namespace keyseal::tpm
