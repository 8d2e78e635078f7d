// Copying arguments out of and results into the caller's memory (PKCS#11 3.0 sections 5.2 conventions, 5.7
// templates, and the mechanism parameter structures of the current mechanisms specification). The only code
// besides the entry points that touches raw C pointers.
#pragma once
#include "common/mechanism_params.h"
#include "core/attributes.h"
#include "core/object.h"
#include "core/session.h"

#include <keyseal/pkcs11.h>

#include <utility>
#include <vector>

namespace keyseal::pkcs11 {

using Template = std::vector<std::pair<CK_ATTRIBUTE_TYPE, SecureBytes>>;

// Input bytes; NULL with a non-zero length is CKR_ARGUMENTS_BAD.
ByteView input(const void* p, CK_ULONG len);
Template read_template(const CK_ATTRIBUTE* t, CK_ULONG n);
core::AttributeMap read_map(const CK_ATTRIBUTE* t, CK_ULONG n);
MechanismParams read_mechanism(const CK_MECHANISM* m);

// The output-buffer convention: NULL buffer asks the length; *len is the capacity otherwise.
core::OutSpec out_spec(const void* out, const CK_ULONG* len);
CK_RV put_output(const core::OutResult& r, CK_BYTE_PTR out, CK_ULONG_PTR len);
CK_RV put_bytes(ByteView bytes, CK_BYTE_PTR out, CK_ULONG_PTR len);  // whole-result functions (C_WrapKey)
// C_GetAttributeValue's per-attribute rules.
CK_RV get_attributes(const core::Object& obj, CK_ATTRIBUTE_PTR t, CK_ULONG n);

}  // namespace keyseal::pkcs11
