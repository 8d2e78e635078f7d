// Applies the attribute rulebook (attribute_policy_rules.cpp) to object creation, reads, C_SetAttributeValue
// and C_CopyObject (PKCS#11 3.0 base spec 4.1.1-4.1.3, footnotes 1-12 of the object attribute tables).
#include "core/attribute_policy.h"

#include "common/error.h"
#include "core/attribute_policy_rules.h"
#include "core/backend_attributes.h"

#include <cstdio>
#include <cstring>
#include <string>

namespace keyseal::core {

using namespace rules;

namespace {

// keyseal::require with a composed detail; the const char* overload keeps literals allocation-free.
void require(bool cond, CK_RV rv, const std::string& detail) {
  if (!cond) fail(rv, detail);
}
void require(bool cond, CK_RV rv, const char* detail) { keyseal::require(cond, rv, detail); }

std::string attr_name(CK_ATTRIBUTE_TYPE type) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "attribute 0x%lx", static_cast<unsigned long>(type));
  return buf;
}

bool is_key_class(CK_OBJECT_CLASS cls) {
  return cls == CKO_PUBLIC_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_SECRET_KEY;
}

CK_ULONG ulong_of(ByteView v) {
  CK_ULONG x = 0;
  std::memcpy(&x, v.data(), sizeof x);
  return x;
}

// Bit length of a big-endian unsigned integer (spec "Big integer"), leading zero bytes ignored.
CK_ULONG bit_length(ByteView n) {
  size_t i = 0;
  while (i < n.size() && n[i] == 0) ++i;
  if (i == n.size()) return 0;
  CK_ULONG bits = static_cast<CK_ULONG>(n.size() - i - 1) * 8;
  for (uint8_t top = n[i]; top != 0; top >>= 1) ++bits;
  return bits;
}

// The class and key/certificate type of an existing object; a stored object without them is broken state.
struct Kind {
  CK_OBJECT_CLASS cls;
  CK_ULONG subtype;
};

Kind kind_of(const AttributeMap& obj) {
  auto cls = get_ulong(obj, CKA_CLASS);
  require(cls.has_value(), CKR_GENERAL_ERROR, "stored object has no CKA_CLASS");
  CK_ATTRIBUTE_TYPE sub_attr = subtype_attribute(*cls);
  if (sub_attr == CK_UNAVAILABLE_INFORMATION) return {*cls, 0};
  auto sub = get_ulong(obj, sub_attr);
  require(sub.has_value(), CKR_GENERAL_ERROR, "stored object has no key or certificate type");
  return {*cls, *sub};
}

// Values that are well encoded but not valid for this attribute of this kind of object.
void check_value(const Kind& k, CK_ATTRIBUTE_TYPE type, ByteView v) {
  check_value_encoding(type, v);
  const bool aes = k.cls == CKO_SECRET_KEY && k.subtype == CKK_AES;
  switch (type) {
    case CKA_CERTIFICATE_CATEGORY:  // CK_CERTIFICATE_CATEGORY_UNSPECIFIED .. _OTHER_ENTITY
    case CKA_JAVA_MIDP_SECURITY_DOMAIN:  // CK_SECURITY_DOMAIN_UNSPECIFIED .. _THIRD_PARTY
      require(ulong_of(v) <= 3, CKR_ATTRIBUTE_VALUE_INVALID, "value out of range");
      break;
    case CKA_VALUE:
      if (aes) {
        require(v.size() == 16 || v.size() == 24 || v.size() == 32, CKR_ATTRIBUTE_VALUE_INVALID,
                "AES key value must be 16, 24 or 32 bytes");
      } else if (k.cls == CKO_SECRET_KEY || k.cls == CKO_PRIVATE_KEY) {
        require(!v.empty(), CKR_ATTRIBUTE_VALUE_INVALID, "empty key value");
      }
      break;
    case CKA_VALUE_LEN:
      if (aes) {
        CK_ULONG n = ulong_of(v);
        require(n == 16 || n == 24 || n == 32, CKR_ATTRIBUTE_VALUE_INVALID, "AES CKA_VALUE_LEN must be 16, 24 or 32");
      } else {
        require(ulong_of(v) > 0, CKR_ATTRIBUTE_VALUE_INVALID, "CKA_VALUE_LEN must be positive");
      }
      break;
    case CKA_MODULUS_BITS:
      require(ulong_of(v) > 0, CKR_ATTRIBUTE_VALUE_INVALID, "CKA_MODULUS_BITS must be positive");
      break;
    case CKA_MODULUS: case CKA_PUBLIC_EXPONENT: case CKA_PRIVATE_EXPONENT: case CKA_EC_PARAMS: case CKA_EC_POINT:
      require(!v.empty(), CKR_ATTRIBUTE_VALUE_INVALID, "empty key component");
      break;
    default:
      break;
  }
}

// Resolves CKA_CLASS or the key/certificate type of a new object (see check_new_object).
CK_ULONG resolve_type(AttributeMap& attrs, CK_ATTRIBUTE_TYPE type, std::optional<CK_ULONG> expected, Origin origin) {
  if (attrs.count(type) != 0) {
    auto v = get_ulong(attrs, type);
    require(v.has_value(), CKR_ATTRIBUTE_VALUE_INVALID, "type attribute must be a CK_ULONG");
    require(!expected || *v == *expected, CKR_TEMPLATE_INCONSISTENT,
            "template's " + attr_name(type) + " conflicts with the mechanism");
    return *v;
  }
  if ((origin == Origin::generate || origin == Origin::derive) && expected) {
    set_ulong(attrs, type, *expected);
    return *expected;
  }
  fail(CKR_TEMPLATE_INCOMPLETE, "template lacks " + attr_name(type));
}

// Which classes each creating function can make.
void check_origin_makes(Origin origin, CK_OBJECT_CLASS cls) {
  bool ok = true;
  switch (origin) {
    case Origin::create: case Origin::copy: break;
    case Origin::generate: ok = is_key_class(cls); break;
    case Origin::unwrap: ok = cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY; break;
    // CKM_HKDF_DATA derives a data object (2.43); the other derive mechanisms ask for a secret key.
    case Origin::derive: ok = cls == CKO_SECRET_KEY || cls == CKO_PRIVATE_KEY || cls == CKO_DATA; break;
  }
  require(ok, CKR_TEMPLATE_INCONSISTENT, "this function cannot create an object of this class");
}

// Footnote 2/4/6 for this origin: key material the creating function contributes itself.
bool forbidden_for(Origin origin, uint32_t notes) {
  switch (origin) {
    case Origin::create: return (notes & kNotOnCreate) != 0;
    case Origin::generate: case Origin::derive: return (notes & kNotOnGenerate) != 0;
    case Origin::unwrap: return (notes & kNotOnUnwrap) != 0;
    case Origin::copy: return false;
  }
  return false;
}

bool required_for(Origin origin, uint32_t notes) {
  switch (origin) {
    case Origin::create: return (notes & kMustOnCreate) != 0;
    case Origin::generate: return (notes & kMustOnGenerate) != 0;
    case Origin::unwrap: return (notes & kMustOnUnwrap) != 0;
    default: return false;  // derive: the mechanism decides (e.g. CKA_VALUE_LEN), checked by its caller
  }
}

// Rule 6 of 4.1.1: on C_CreateObject a value the token would derive anyway (footnote 2) is accepted when it
// equals what the key gives; pkcs11 tools commonly send CKA_VALUE_LEN with CKA_VALUE.
bool restates_derived_value(const AttributeMap& attrs, CK_ATTRIBUTE_TYPE type) {
  auto given = get_ulong(attrs, type);
  if (!given) return false;
  if (type == CKA_VALUE_LEN) {
    const SecureBytes* value = get_bytes(attrs, CKA_VALUE);
    return value && *given == value->size();
  }
  if (type == CKA_MODULUS_BITS) {
    const SecureBytes* modulus = get_bytes(attrs, CKA_MODULUS);
    return modulus && *given == bit_length(view(*modulus));
  }
  return false;
}

}  // namespace

void check_new_object(AttributeMap& attrs, Origin origin, bool so_session,
                      std::optional<CK_OBJECT_CLASS> expected_class, std::optional<CK_KEY_TYPE> expected_key_type) {
  Kind k{};
  k.cls = resolve_type(attrs, CKA_CLASS, expected_class, origin);
  check_class_supported(k.cls);
  check_origin_makes(origin, k.cls);
  CK_ATTRIBUTE_TYPE sub_attr = subtype_attribute(k.cls);
  if (sub_attr != CK_UNAVAILABLE_INFORMATION) {
    k.subtype = resolve_type(attrs, sub_attr, is_key_class(k.cls) ? expected_key_type : std::nullopt, origin);
  }
  const RuleSet rs = rules_for(k.cls, k.subtype);

  // 4.1.1 rule 1: every attribute must belong to the class and key type.
  for (const auto& [type, value] : attrs) {
    const Rule* r = rs.find(type);
    require(r != nullptr, CKR_ATTRIBUTE_TYPE_INVALID, attr_name(type) + " is not valid for this object");
    require((r->notes & kUnsupported) == 0, CKR_ATTRIBUTE_TYPE_INVALID, attr_name(type) + " is not supported");
  }
  // Rule 2: values.
  for (const auto& [type, value] : attrs) check_value(k, type, view(value));
  if (origin != Origin::copy) {
    for (const auto& [type, value] : attrs) {
      const uint32_t notes = rs.find(type)->notes;
      // Rule 3: attributes only the token sets (footnotes 2,4,6), and CKA_TRUSTED=true (footnote 10).
      require((notes & kTokenSet) != kTokenSet, CKR_ATTRIBUTE_READ_ONLY, attr_name(type) + " is set by the token");
      require(!((notes & kSoOnlyTrue) && value[0] != 0 && !so_session), CKR_ATTRIBUTE_READ_ONLY,
              "only the SO can set CKA_TRUSTED");
      // Footnotes 2/4/6 for this origin only.
      if (forbidden_for(origin, notes) && !(origin == Origin::create && restates_derived_value(attrs, type))) {
        fail(CKR_TEMPLATE_INCONSISTENT, attr_name(type) + " must not be given to this function");
      }
    }
    // Footnotes 1/3/5.
    rs.for_each([&](const Rule& r) {
      require(!required_for(origin, r.notes) || attrs.count(r.type) != 0, CKR_TEMPLATE_INCOMPLETE,
              "template lacks " + attr_name(r.type));
    });
  }
  if (k.cls == CKO_CERTIFICATE) {
    // 4.6.3 footnotes: CKA_VALUE non-empty unless CKA_URL is given; with a URL both key hashes are needed.
    const SecureBytes* url = get_bytes(attrs, CKA_URL);
    const SecureBytes* value = get_bytes(attrs, CKA_VALUE);
    if (!url || url->empty()) {
      require(!value || !value->empty(), CKR_ATTRIBUTE_VALUE_INVALID, "certificate CKA_VALUE is empty");
    } else {
      for (auto t : {CKA_HASH_OF_SUBJECT_PUBLIC_KEY, CKA_HASH_OF_ISSUER_PUBLIC_KEY}) {
        const SecureBytes* h = get_bytes(attrs, t);
        require(h && !h->empty(), CKR_TEMPLATE_INCOMPLETE, "a certificate given by URL needs the key hashes");
      }
    }
  }
  fill_defaults(attrs, k.cls, k.subtype);
  // 4.9: CKA_ALWAYS_AUTHENTICATE "may only be set to CK_TRUE when CKA_PRIVATE is also CK_TRUE".
  require(!(bool_or(attrs, CKA_ALWAYS_AUTHENTICATE, false) && !bool_or(attrs, CKA_PRIVATE, true)),
          CKR_TEMPLATE_INCONSISTENT, "CKA_ALWAYS_AUTHENTICATE needs CKA_PRIVATE");
}

void finish_new_object(AttributeMap& attrs, Origin origin, CK_MECHANISM_TYPE mechanism, std::string_view uid) {
  set_bytes(attrs, CKA_UNIQUE_ID, view(uid));
  const Kind k = kind_of(attrs);
  if (is_key_class(k.cls)) {
    if (origin == Origin::generate) {
      set_bool(attrs, CKA_LOCAL, true);
      set_ulong(attrs, CKA_KEY_GEN_MECHANISM, mechanism);
    } else if (origin == Origin::copy) {  // 4.7: a copy of a local key is local
      set_bool(attrs, CKA_LOCAL, bool_or(attrs, CKA_LOCAL, false));
      set_ulong(attrs, CKA_KEY_GEN_MECHANISM,
                get_ulong(attrs, CKA_KEY_GEN_MECHANISM).value_or(CK_UNAVAILABLE_INFORMATION));
    } else {
      set_bool(attrs, CKA_LOCAL, false);
      set_ulong(attrs, CKA_KEY_GEN_MECHANISM, CK_UNAVAILABLE_INFORMATION);
    }
  }
  if (k.cls == CKO_PRIVATE_KEY || k.cls == CKO_SECRET_KEY) {
    const bool sensitive = bool_or(attrs, CKA_SENSITIVE, false);
    const bool never_extractable_now = !bool_or(attrs, CKA_EXTRACTABLE, true);
    bool always_sensitive = false, never_extractable = false;
    switch (origin) {
      case Origin::generate:
        always_sensitive = sensitive;
        never_extractable = never_extractable_now;
        break;
      case Origin::derive: case Origin::copy:  // inherited (base key / source object) AND the new state
        always_sensitive = bool_or(attrs, CKA_ALWAYS_SENSITIVE, false) && sensitive;
        never_extractable = bool_or(attrs, CKA_NEVER_EXTRACTABLE, false) && never_extractable_now;
        break;
      case Origin::create: case Origin::unwrap:  // the key material has been outside the token
        break;
    }
    set_bool(attrs, CKA_ALWAYS_SENSITIVE, always_sensitive);
    set_bool(attrs, CKA_NEVER_EXTRACTABLE, never_extractable);
  }
  if (k.cls == CKO_SECRET_KEY) {
    if (const SecureBytes* value = get_bytes(attrs, CKA_VALUE)) set_ulong(attrs, CKA_VALUE_LEN, value->size());
  }
  if (k.cls == CKO_PUBLIC_KEY && k.subtype == CKK_RSA) {
    if (const SecureBytes* n = get_bytes(attrs, CKA_MODULUS)) {
      set_ulong(attrs, CKA_MODULUS_BITS, bit_length(view(*n)));
    }
  }
}

void inherit_from_base_key(AttributeMap& derived, const AttributeMap& base) {
  set_bool(derived, CKA_ALWAYS_SENSITIVE, bool_or(base, CKA_ALWAYS_SENSITIVE, false));
  set_bool(derived, CKA_NEVER_EXTRACTABLE, bool_or(base, CKA_NEVER_EXTRACTABLE, false));
}

bool is_secret_component(CK_OBJECT_CLASS cls, CK_ATTRIBUTE_TYPE type) {
  if (is_backend_secret_attr(type)) return true;
  if (cls == CKO_SECRET_KEY) return type == CKA_VALUE;
  if (cls != CKO_PRIVATE_KEY) return false;
  switch (type) {
    case CKA_PRIVATE_EXPONENT: case CKA_PRIME_1: case CKA_PRIME_2: case CKA_EXPONENT_1: case CKA_EXPONENT_2:
    case CKA_COEFFICIENT: case CKA_VALUE:
      return true;
    default:
      return false;
  }
}

// A private key component the object does not carry because its backend holds it (a TPM key): it exists,
// and it is sensitive.
static bool held_by_backend(const AttributeMap& obj, CK_ATTRIBUTE_TYPE type) {
  if (get_ulong(obj, CKA_CLASS).value_or(CKO_DATA) != CKO_PRIVATE_KEY) return false;
  if (!bool_or(obj, CKA_SENSITIVE, true) && bool_or(obj, CKA_EXTRACTABLE, false)) return false;
  switch (get_ulong(obj, CKA_KEY_TYPE).value_or(CKK_VENDOR_DEFINED)) {
    case CKK_RSA:
      return type == CKA_PRIVATE_EXPONENT || type == CKA_PRIME_1 || type == CKA_PRIME_2 ||
             type == CKA_EXPONENT_1 || type == CKA_EXPONENT_2 || type == CKA_COEFFICIENT;
    case CKK_EC:
    case CKK_EC_EDWARDS:
      return type == CKA_VALUE;
    default:
      return false;
  }
}

CK_RV check_read(const AttributeMap& obj, CK_ATTRIBUTE_TYPE type) {
  if (is_backend_attr(type)) return CKR_ATTRIBUTE_TYPE_INVALID;
  if (obj.count(type) == 0) return held_by_backend(obj, type) ? CKR_ATTRIBUTE_SENSITIVE : CKR_ATTRIBUTE_TYPE_INVALID;
  auto cls = get_ulong(obj, CKA_CLASS);
  if (!cls || !is_secret_component(*cls, type)) return CKR_OK;
  // Footnote 7; a missing flag counts as the restrictive value.
  if (bool_or(obj, CKA_SENSITIVE, true) || !bool_or(obj, CKA_EXTRACTABLE, false)) return CKR_ATTRIBUTE_SENSITIVE;
  return CKR_OK;
}

void check_modify(const AttributeMap& obj, CK_ATTRIBUTE_TYPE type, ByteView new_value, bool copying,
                  bool so_session) {
  const Kind k = kind_of(obj);
  const RuleSet rs = rules_for(k.cls, k.subtype);
  const Rule* r = rs.find(type);
  require(r != nullptr, CKR_ATTRIBUTE_TYPE_INVALID, attr_name(type) + " is not valid for this object");
  require((r->notes & kUnsupported) == 0, CKR_ATTRIBUTE_TYPE_INVALID, attr_name(type) + " is not supported");
  check_value(k, type, new_value);
  require((r->notes & kTokenSet) != kTokenSet, CKR_ATTRIBUTE_READ_ONLY, attr_name(type) + " is set by the token");

  // Footnote 8, plus the one-way attributes (11, 12, which imply changes in the allowed direction), the
  // SO-settable CKA_TRUSTED (10) and the four attributes C_CopyObject may also change (4.1.3).
  const bool copy_special =
      copying && (type == CKA_TOKEN || type == CKA_PRIVATE || type == CKA_MODIFIABLE || type == CKA_DESTROYABLE);
  const bool modifiable = (r->notes & (kModifiable | kFixedOnceTrue | kFixedOnceFalse)) != 0 || copy_special ||
                          ((r->notes & kSoOnlyTrue) && so_session);
  require(modifiable, CKR_ATTRIBUTE_READ_ONLY, attr_name(type) + " cannot be changed");

  if (!is_bool_attribute(type)) return;
  const bool now = bool_or(obj, type, false);
  const bool next = new_value[0] != 0;
  require(!((r->notes & kSoOnlyTrue) && next && !so_session), CKR_ATTRIBUTE_READ_ONLY,
          "only the SO can set CKA_TRUSTED");
  require(!((r->notes & kFixedOnceTrue) && now && !next), CKR_ATTRIBUTE_READ_ONLY,
          attr_name(type) + " cannot be changed once CK_TRUE");
  require(!((r->notes & kFixedOnceFalse) && !now && next), CKR_ATTRIBUTE_READ_ONLY,
          attr_name(type) + " cannot be changed once CK_FALSE");
  // 4.9: a copy must not become public while it needs re-authentication.
  require(!(type == CKA_PRIVATE && !next && bool_or(obj, CKA_ALWAYS_AUTHENTICATE, false)), CKR_TEMPLATE_INCONSISTENT,
          "CKA_ALWAYS_AUTHENTICATE needs CKA_PRIVATE");
}

bool is_modifiable(const AttributeMap& obj) {
  if (!bool_or(obj, CKA_MODIFIABLE, true)) return false;
  auto cls = get_ulong(obj, CKA_CLASS);
  return !(cls && *cls == CKO_CERTIFICATE && bool_or(obj, CKA_TRUSTED, false));
}

std::vector<CK_ATTRIBUTE_TYPE> public_attributes_on_private_key(CK_KEY_TYPE kt) {
  switch (kt) {
    case CKK_RSA: return {CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_PUBLIC_KEY_INFO};
    case CKK_EC: case CKK_EC_EDWARDS: return {CKA_EC_PARAMS, CKA_PUBLIC_KEY_INFO};
    default: return {};
  }
}

}  // namespace keyseal::core
