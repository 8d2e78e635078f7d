// Human text for CK_RV codes (PKCS#11 3.0 base spec section 5.1), used in every message the CLI prints:
// "keyseal: <what failed>: CKR_NAME (meaning)".
#pragma once
#include <keyseal/pkcs11.h>

#include <string>

namespace keyseal::cli {

// Short meaning of a return value ("the PIN is incorrect"); a generic text for codes it does not know.
std::string rv_meaning(CK_RV rv);

// "CKR_PIN_INCORRECT (the PIN is incorrect)".
std::string rv_text(CK_RV rv);

}  // namespace keyseal::cli
