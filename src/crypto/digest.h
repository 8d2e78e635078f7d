// Message digests (PKCS#11 3.0 section 5.10, mechanisms CKM_SHA_1, CKM_SHA224/256/384/512).
#pragma once
#include "common/operation.h"
#include "common/secure_bytes.h"

#include <keyseal/pkcs11.h>

#include <memory>

namespace keyseal::crypto {

size_t digest_size(CK_MECHANISM_TYPE m);                     // else CKR_MECHANISM_INVALID
std::unique_ptr<Operation> make_digest(CK_MECHANISM_TYPE m);  // run / absorb / finish
SecureBytes digest(CK_MECHANISM_TYPE m, ByteView data);

}  // namespace keyseal::crypto
