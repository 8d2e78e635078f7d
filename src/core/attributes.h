// The attribute model: an object is a map from CK_ATTRIBUTE_TYPE to its value bytes (PKCS#11 3.0 base spec
// section 4 "Objects", 4.1 templates; C_FindObjects matching, section 5.7).
#pragma once
#include "common/secure_bytes.h"

#include <keyseal/pkcs11.h>

#include <map>
#include <optional>
#include <utility>
#include <vector>

namespace keyseal::core {

// Values are kept in the caller's native encoding (CK_ULONG as sizeof(CK_ULONG) host-order bytes), so a map
// can be handed back to C_GetAttributeValue unchanged. CK_BBOOL values are normalised to 0/1 by to_map().
using AttributeMap = std::map<CK_ATTRIBUTE_TYPE, SecureBytes>;
using AttributeTemplate = std::vector<std::pair<CK_ATTRIBUTE_TYPE, SecureBytes>>;

// Parses a caller's template (already copied out of C memory by the ABI layer) into a map.
//  - the same type twice with different values -> CKR_TEMPLATE_INCONSISTENT (spec 4.1.1 rule 5); the same
//    value twice is accepted as if given once (rule 6 encourages this).
//  - CK_BBOOL values not 1 byte, CK_ULONG values not sizeof(CK_ULONG) bytes, CKA_ALLOWED_MECHANISMS not a
//    multiple of sizeof(CK_MECHANISM_TYPE) -> CKR_ATTRIBUTE_VALUE_INVALID.
AttributeMap to_map(const std::vector<std::pair<CK_ATTRIBUTE_TYPE, SecureBytes>>& tmpl);

std::optional<CK_ULONG> get_ulong(const AttributeMap& m, CK_ATTRIBUTE_TYPE type);
std::optional<bool> get_bool(const AttributeMap& m, CK_ATTRIBUTE_TYPE type);
bool bool_or(const AttributeMap& m, CK_ATTRIBUTE_TYPE type, bool dflt);
const SecureBytes* get_bytes(const AttributeMap& m, CK_ATTRIBUTE_TYPE type);  // nullptr if absent
void set_ulong(AttributeMap& m, CK_ATTRIBUTE_TYPE type, CK_ULONG value);
void set_bool(AttributeMap& m, CK_ATTRIBUTE_TYPE type, bool value);
void set_bytes(AttributeMap& m, CK_ATTRIBUTE_TYPE type, ByteView value);

// Encodings, for callers that build values by hand (tests, the ABI layer).
SecureBytes ulong_bytes(CK_ULONG value);
SecureBytes bool_bytes(bool value);

// The attribute's data type per the spec tables: CK_BBOOL, or CK_ULONG-sized (CK_ULONG, CK_OBJECT_CLASS,
// CK_KEY_TYPE, CK_CERTIFICATE_TYPE, CK_MECHANISM_TYPE ...).
bool is_bool_attribute(CK_ATTRIBUTE_TYPE type);
bool is_ulong_attribute(CK_ATTRIBUTE_TYPE type);

// Checks a single value's encoding (the size rules of to_map(), plus CK_DATE: empty or 8 ASCII digits).
// Throws CKR_ATTRIBUTE_VALUE_INVALID.
void check_value_encoding(CK_ATTRIBUTE_TYPE type, ByteView value);

// CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_DERIVE_TEMPLATE: CKF_ARRAY_ATTRIBUTE values that are themselves
// templates (base spec 4.7.2, 4.9, 4.10). CKA_ALLOWED_MECHANISMS has the array bit too but holds mechanism types.
bool is_template_attribute(CK_ATTRIBUTE_TYPE type);

// A template-valued attribute is kept in an AttributeMap (and so in the token's records) as a canonical byte
// string, not as the caller's CK_ATTRIBUTE array, whose pointers mean nothing after the call:
//   per nested attribute, in strictly ascending type order: u64 type | u32 value length | value bytes
// (little-endian; an empty string is the empty template). encode_template_value() checks each nested value
// like to_map() (and normalises CK_BBOOL); a nested template attribute, a bad nested encoding or one type
// twice with different values -> CKR_ATTRIBUTE_VALUE_INVALID (the outer attribute's value is what is wrong).
SecureBytes encode_template_value(const AttributeTemplate& nested);
// Parses what encode_template_value() made; anything else -> CKR_ATTRIBUTE_VALUE_INVALID. Never reads out of
// bounds.
AttributeMap decode_template_value(ByteView value);

// Does the object match a search template (C_FindObjects: every attribute present and byte-equal)? An empty
// search matches everything. A search on a value the caller could not read (check_read() !=
// CKR_OK, e.g. CKA_VALUE of a sensitive key) never matches: otherwise C_FindObjects would be an oracle
// that confirms guesses of secret key material.
bool matches(const AttributeMap& object, const AttributeMap& search);

}  // namespace keyseal::core
