// Facts about a key object that several operations need: its size in the unit the mechanism table uses, and
// its public key loaded for crypto/ (cached in the object).
#pragma once
#include "core/object.h"
#include "crypto/keys.h"

#include <keyseal/pkcs11.h>

namespace keyseal::core {

// Bits for RSA and EC keys, bytes for secret keys (PKCS#11 mechanism info units).
CK_ULONG key_size(const Object& key);
// The public key of a public-key object (RSA, EC, Ed25519), loaded once.
const crypto::PKey& public_pkey(const Object& key);
CK_ULONG rsa_modulus_bits(ByteView modulus);

}  // namespace keyseal::core

#include "core/mechanisms.h"
namespace keyseal::core {
// Checks a key against a mechanism row and a usage attribute (CKA_SIGN, CKA_WRAP...; 0 for none): class, key
// type, usage flag, CKA_ALLOWED_MECHANISMS and the size range. Throws CKR_KEY_TYPE_INCONSISTENT,
// CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_MECHANISM_INVALID or CKR_KEY_SIZE_RANGE.
void check_key_for(const Object& key, const MechanismRow& row, CK_ATTRIBUTE_TYPE usage);
}  // namespace keyseal::core
