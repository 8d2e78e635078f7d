// The one place TSS2 return codes become CK_RVs (PKCS#11 3.0 section 5.1 return values; TPM 2.0 Part 2
// section 6.6 response codes). A connection-level failure (TCTI, ESYS state) is told apart so the
// connection can be dropped and re-established on the next call.
#pragma once
#include "common/error.h"

#include <tss2/tss2_common.h>

#include <string>

namespace keyseal::tpm {

// A failed TSS call: the CK_RV it maps to, plus the raw code for callers that refine the mapping.
struct TssError : Error {
  TSS2_RC tss_rc;
  TssError(CK_RV r, std::string d, TSS2_RC rc) : Error(r, std::move(d)), tss_rc(rc) {}
};

// The TPM response code with the handle/session/parameter number removed (format-one codes become
// TPM2_RC_FMT1 + error number), or 0 when rc did not come from the TPM itself.
TSS2_RC tpm_code(TSS2_RC rc);
// Not a TPM answer: TCTI or ESYS/SYS failure, after which the connection is not trusted.
bool is_connection_error(TSS2_RC rc);
// Default mapping: auth failure -> CKR_PIN_INCORRECT, lockout -> CKR_PIN_LOCKED, no TPM -> CKR_DEVICE_ERROR,
// out of TPM memory -> CKR_DEVICE_MEMORY, unsupported size/curve -> CKR_KEY_SIZE_RANGE/CKR_CURVE_NOT_SUPPORTED.
CK_RV rv_for(TSS2_RC rc);
std::string describe(TSS2_RC rc);  // Tss2_RC_Decode text with the hex code

[[noreturn]] void throw_tss(TSS2_RC rc, const std::string& what);

}  // namespace keyseal::tpm
