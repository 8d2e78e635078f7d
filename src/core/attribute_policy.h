// The per-attribute rulebook for creating, reading, modifying and copying objects (PKCS#11 3.0 base spec
// 4.1-4.10 and the table footnotes 1-12; current-mechanisms spec 2.1.2/2.1.3 RSA, 2.3 EC/Edwards, 2.8 AES,
// 2.2 generic secret; base spec 4.5 data objects, 4.6.3 X.509 certificates).
#pragma once
#include "core/attributes.h"

#include <optional>
#include <string_view>
#include <vector>

namespace keyseal::core {

enum class Origin { create, generate, copy, unwrap, derive };

// Step 1, before the backend runs: validates what the CALLER supplied for a new object and fills defaults.
// Error codes (spec 4.1.1):
//  - CKA_CLASS / CKA_KEY_TYPE / CKA_CERTIFICATE_TYPE missing for create/unwrap -> CKR_TEMPLATE_INCOMPLETE;
//    for generate/derive a missing one is taken from expected_*; a value conflicting with expected_* ->
//    CKR_TEMPLATE_INCONSISTENT.
//  - a class this token does not support (CKO_HW_FEATURE, vendor classes ...), key type or certificate type
//    it does not support, or a class that the origin cannot make (C_GenerateKey making a certificate) ->
//    CKR_TEMPLATE_INCONSISTENT; a CKA_CLASS value the spec does not define -> CKR_ATTRIBUTE_VALUE_INVALID.
//  - attributes not valid for the class/key type -> CKR_ATTRIBUTE_TYPE_INVALID (CKA_WRAP_TEMPLATE belongs to
//    public and secret keys, CKA_UNWRAP_TEMPLATE and CKA_DERIVE_TEMPLATE to private and secret keys).
//  - attributes only the token sets (footnotes 2,4,6 together: CKA_UNIQUE_ID, CKA_LOCAL,
//    CKA_KEY_GEN_MECHANISM, CKA_ALWAYS_SENSITIVE, CKA_NEVER_EXTRACTABLE) -> CKR_ATTRIBUTE_READ_ONLY (spec
//    4.1.1 rule 3; the CKA_UNIQUE_ID text names this code explicitly); CKA_TRUSTED=true outside an SO
//    session (footnote 10) -> CKR_ATTRIBUTE_READ_ONLY.
//  - attributes forbidden for this origin only (footnote 2 on create, 4 on generate and derive, 6 on
//    unwrap: key material the function itself contributes) -> CKR_TEMPLATE_INCONSISTENT. Exception per
//    rule 6: CKA_VALUE_LEN / CKA_MODULUS_BITS on create are accepted when they equal what the value gives.
//  - required attributes missing (footnote 1 on create, 3 on generate, 5 on unwrap) ->
//    CKR_TEMPLATE_INCOMPLETE; values of the wrong size/range (AES key 16/24/32 bytes, CK_DATE ...) ->
//    CKR_ATTRIBUTE_VALUE_INVALID; CKA_ALWAYS_AUTHENTICATE=true with CKA_PRIVATE=false ->
//    CKR_TEMPLATE_INCONSISTENT (spec 4.9).
// Origin::copy only checks validity and encodings: a copy is the source map plus check_modify(copying=true)
// per template attribute, then finish_new_object(copy).
void check_new_object(AttributeMap& attrs, Origin origin, bool so_session,
                      std::optional<CK_OBJECT_CLASS> expected_class = std::nullopt,
                      std::optional<CK_KEY_TYPE> expected_key_type = std::nullopt);

// Step 2, after the backend produced the key material: sets CKA_UNIQUE_ID = uid; for keys CKA_LOCAL and
// CKA_KEY_GEN_MECHANISM (generate: true/mechanism; copy: kept from the source; else false/
// CK_UNAVAILABLE_INFORMATION); for private and secret keys CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE
// (generate: CKA_SENSITIVE / !CKA_EXTRACTABLE; derive: the base key's flags (see inherit_from_base_key,
// false when not recorded) AND the new key's; copy: source AND current; create/unwrap: false). Derived
// values: CKA_VALUE_LEN of secret keys from CKA_VALUE, CKA_MODULUS_BITS of RSA public keys from CKA_MODULUS.
void finish_new_object(AttributeMap& attrs, Origin origin, CK_MECHANISM_TYPE mechanism, std::string_view uid);

// For C_DeriveKey: records the base key's CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE on the new key's map
// (call after check_new_object, before finish_new_object), as the derive mechanisms specify.
void inherit_from_base_key(AttributeMap& derived, const AttributeMap& base);

// C_GetAttributeValue per attribute: CKR_OK; CKR_ATTRIBUTE_TYPE_INVALID (not present on the object);
// CKR_ATTRIBUTE_SENSITIVE (secret component while CKA_SENSITIVE or !CKA_EXTRACTABLE: footnote 7).
CK_RV check_read(const AttributeMap& obj, CK_ATTRIBUTE_TYPE type);

// C_SetAttributeValue (copying=false) and C_CopyObject template (copying=true), one attribute. Throws:
// CKR_ATTRIBUTE_TYPE_INVALID (not valid for the object's class/type), CKR_ATTRIBUTE_VALUE_INVALID (bad
// encoding), CKR_ATTRIBUTE_READ_ONLY (not footnote 8 "modifiable"; copying adds CKA_TOKEN, CKA_PRIVATE,
// CKA_MODIFIABLE, CKA_DESTROYABLE (spec 4.1.3); one-way rules: CKA_SENSITIVE and CKA_WRAP_WITH_TRUSTED
// false->true only (footnote 11), CKA_EXTRACTABLE and CKA_COPYABLE true->false only (footnote 12);
// CKA_TRUSTED: SO session only (footnote 10)).
void check_modify(const AttributeMap& obj, CK_ATTRIBUTE_TYPE type, ByteView new_value, bool copying,
                  bool so_session);

// False when C_SetAttributeValue must fail as a whole with CKR_ACTION_PROHIBITED: CKA_MODIFIABLE=false, or
// a certificate with CKA_TRUSTED=true ("trusted certificates cannot be modified", spec 4.6.2).
bool is_modifiable(const AttributeMap& obj);

// Attribute values that are secret key material, stored encrypted: private key components (footnote 7 in
// the RSA/EC private key tables) and CKA_VALUE of private (EC) and secret keys.
bool is_secret_component(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type);

// Public attributes a private key carries for consumers (OpenSSL engine and Java read them there), to be
// copied from the public side after generation: RSA {CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PUBLIC_KEY_INFO};
// EC and Edwards {CKA_EC_PARAMS, CKA_PUBLIC_KEY_INFO}. CKA_EC_POINT is not a private key attribute in 3.0
// (check_new_object rejects it there); consumers get the point from CKA_PUBLIC_KEY_INFO or the public key.
// Copy CKA_PUBLIC_KEY_INFO only if the public side has a non-empty one. Other key types: empty.
std::vector<CK_ATTRIBUTE_TYPE> public_attributes_on_private_key(CK_KEY_TYPE kt);

}  // namespace keyseal::core
