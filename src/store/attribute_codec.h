// Versioned binary encoding of one object's attributes, as stored in the objects.attrs column (keyseal storage
// format; attribute types are PKCS#11 3.0 section 4 CK_ATTRIBUTE_TYPE values).
#pragma once
#include "common/error.h"
#include "common/secure_bytes.h"

#include <keyseal/pkcs11.h>

#include <vector>

namespace keyseal::store {

// One attribute as the store keeps it. `encrypted` says the value is ciphertext made by the backend (the store
// never encrypts or decrypts; it only keeps the flag next to the bytes).
struct StoredAttribute {
  CK_ATTRIBUTE_TYPE type;
  bool encrypted;
  SecureBytes value;
};

// Format version 1:
//   u8  version (= 1)
//   u32 record count                       (little-endian, like every integer below)
//   records, in strictly ascending type order:
//     u64 type | u8 flags (bit 0 = encrypted, other bits zero) | u32 value length | value bytes
// and nothing after the last record. The encoding is canonical: decode(b) succeeding implies encode(...) == b.
inline constexpr uint8_t kAttributeFormatVersion = 1;

// Sorts by type. Two attributes of one type, or a value longer than 4 GiB - 1, is a caller bug:
// Error(CKR_GENERAL_ERROR).
SecureBytes encode_attributes(const std::vector<StoredAttribute>& attrs);

// Any malformation (truncation, unknown version or flags, type out of CK_ATTRIBUTE_TYPE range, unsorted or
// repeated types, trailing bytes, lengths past the end) throws Error(CKR_DEVICE_ERROR, "corrupt object record:
// ..."). Never reads out of bounds; allocates no more than the blob's size implies. Result is sorted by type.
std::vector<StoredAttribute> decode_attributes(ByteView blob);

}  // namespace keyseal::store
