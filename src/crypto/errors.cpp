// The one place where OpenSSL failures become PKCS#11 return values (PKCS#11 3.0 section 5.1 error codes).
// Call sites pass the CK_RV the spec names for their failure; allocation failure always wins.
#include "common/log.h"
#include "crypto/ossl.h"

#include <openssl/err.h>

#include <string>

namespace keyseal::crypto {

[[noreturn]] void ossl_fail(CK_RV rv, const char* what) {
  bool out_of_memory = false;
  std::string reasons;
  unsigned long e;
  while ((e = ERR_get_error()) != 0) {
    if (ERR_GET_REASON(e) == ERR_R_MALLOC_FAILURE) out_of_memory = true;
    if (log::enabled(log::Level::debug)) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      if (!reasons.empty()) reasons += "; ";
      reasons += buf;
    }
  }
  if (out_of_memory) rv = CKR_HOST_MEMORY;
  if (log::enabled(log::Level::debug))
    log::debug(std::string("crypto: ") + what + " failed (" + rv_name(rv) + "): " + reasons);
  fail(rv, what);
}

}  // namespace keyseal::crypto
