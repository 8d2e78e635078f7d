// The CLI's failure kinds and exit codes: usage errors exit 2, failed operations exit 1. PKCS#11 failures
// travel as keyseal::Error{rv, what-failed}; main() prints "keyseal: <what failed>: CKR_NAME (meaning)".
#pragma once
#include "common/error.h"

#include <keyseal/pkcs11.h>

#include <stdexcept>
#include <string>

namespace keyseal::cli {

constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;
constexpr int kExitUsage = 2;

// Bad command line: unknown option, missing value, bad number. Exit code 2.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An operation failed for a reason that has no CK_RV (dlopen failed, PINs differ). Exit code 1.
struct Failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Throws keyseal::Error(rv, what) unless rv is CKR_OK; `what` names the call and its object.
inline void check(CK_RV rv, const std::string& what) {
  if (rv != CKR_OK) throw Error(rv, what);
}

}  // namespace keyseal::cli
