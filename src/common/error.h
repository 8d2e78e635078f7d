// The module's one error type: a CK_RV with a human detail. Thrown below the ABI, caught once in pkcs11/.
#pragma once
#include <keyseal/pkcs11.h>

#include <stdexcept>
#include <string>

namespace keyseal {

struct Error : std::exception {
  CK_RV rv;
  std::string detail;
  Error(CK_RV r, std::string d) : rv(r), detail(std::move(d)) {}
  const char* what() const noexcept override { return detail.c_str(); }
};

[[noreturn]] inline void fail(CK_RV rv, std::string detail) { throw Error(rv, std::move(detail)); }

inline void require(bool cond, CK_RV rv, const char* detail) {
  if (!cond) fail(rv, detail);
}
inline void require(bool cond, CK_RV rv, const std::string& detail) {  // off the hot paths: builds the string
  if (!cond) fail(rv, detail);
}

// Name of a CK_RV for logs ("CKR_PIN_INCORRECT"); unknown values print as hex.
std::string rv_name(CK_RV rv);

}  // namespace keyseal
