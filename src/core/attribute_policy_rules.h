// Internal to the attribute policy: the spec's attribute tables as data, one flag per table footnote
// (PKCS#11 3.0 base spec "Common footnotes for object attribute tables", footnotes 1-12).
#pragma once
#include "core/attributes.h"

#include <keyseal/pkcs11.h>

#include <array>
#include <cstdint>
#include <span>

namespace keyseal::core::rules {

// Named after the footnotes so a table row reads like the spec's.
enum Footnote : uint32_t {
  kMustOnCreate = 1u << 1,       // 1: MUST be specified for C_CreateObject
  kNotOnCreate = 1u << 2,        // 2: MUST not be specified for C_CreateObject
  kMustOnGenerate = 1u << 3,     // 3: MUST be specified for C_GenerateKey(Pair)
  kNotOnGenerate = 1u << 4,      // 4: MUST not be specified for C_GenerateKey(Pair)
  kMustOnUnwrap = 1u << 5,       // 5: MUST be specified for C_UnwrapKey
  kNotOnUnwrap = 1u << 6,        // 6: MUST not be specified for C_UnwrapKey
  kSensitive = 1u << 7,          // 7: not revealed while CKA_SENSITIVE or !CKA_EXTRACTABLE
  kModifiable = 1u << 8,         // 8: may be changed by C_SetAttributeValue / C_CopyObject
  kSoOnlyTrue = 1u << 10,        // 10: only the SO may set it to CK_TRUE
  kFixedOnceTrue = 1u << 11,     // 11: read-only once CK_TRUE
  kFixedOnceFalse = 1u << 12,    // 12: read-only once CK_FALSE
  kUnsupported = 1u << 20,       // ours: valid per spec but not supported yet
};
// Footnotes 2,4,6 together: only the token ever sets the attribute.
inline constexpr uint32_t kTokenSet = kNotOnCreate | kNotOnGenerate | kNotOnUnwrap;

struct Rule {
  CK_ATTRIBUTE_TYPE type;
  uint32_t notes;
};

// The rules of one (class, key type or certificate type): up to four spec tables stacked
// (common storage, class common, key common, key type).
struct RuleSet {
  std::array<std::span<const Rule>, 4> tables{};
  const Rule* find(CK_ATTRIBUTE_TYPE type) const {
    for (auto t : tables)
      for (const Rule& r : t)
        if (r.type == type) return &r;
    return nullptr;
  }
  template <class F>
  void for_each(F&& f) const {
    for (auto t : tables)
      for (const Rule& r : t) f(r);
  }
};

// CKA_KEY_TYPE for keys, CKA_CERTIFICATE_TYPE for certificates, nothing for data objects.
CK_ATTRIBUTE_TYPE subtype_attribute(CK_OBJECT_CLASS cls);

// Throws CKR_TEMPLATE_INCONSISTENT for an unsupported class, key type or certificate type;
// CKR_ATTRIBUTE_VALUE_INVALID for a class value the spec does not define. `subtype` is ignored for data.
RuleSet rules_for(CK_OBJECT_CLASS cls, CK_ULONG subtype);

// Checks the class value only (same errors as rules_for).
void check_class_supported(CK_OBJECT_CLASS cls);

// Adds every attribute the object lacks that has a default: the spec's stated defaults, and this token's
// choices where footnote 9 leaves them "token-specific". Values already present are kept.
void fill_defaults(AttributeMap& m, CK_OBJECT_CLASS cls, CK_ULONG subtype);

}  // namespace keyseal::core::rules
