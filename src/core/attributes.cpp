// The attribute model: template parsing, typed accessors, value encodings and search matching
// (PKCS#11 3.0 base spec sections 4.1 and 5.7).
#include "core/attributes.h"

#include "common/error.h"
#include "core/attribute_policy.h"

#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

namespace keyseal::core {

namespace {

std::string hex_type(CK_ATTRIBUTE_TYPE type) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%lx", static_cast<unsigned long>(type));
  return buf;
}

}  // namespace

bool is_bool_attribute(CK_ATTRIBUTE_TYPE type) {
  switch (type) {
    case CKA_TOKEN: case CKA_PRIVATE: case CKA_MODIFIABLE: case CKA_COPYABLE: case CKA_DESTROYABLE:
    case CKA_TRUSTED: case CKA_SENSITIVE: case CKA_ENCRYPT: case CKA_DECRYPT: case CKA_WRAP:
    case CKA_UNWRAP: case CKA_SIGN: case CKA_SIGN_RECOVER: case CKA_VERIFY: case CKA_VERIFY_RECOVER:
    case CKA_DERIVE: case CKA_EXTRACTABLE: case CKA_LOCAL: case CKA_NEVER_EXTRACTABLE:
    case CKA_ALWAYS_SENSITIVE: case CKA_ALWAYS_AUTHENTICATE: case CKA_WRAP_WITH_TRUSTED:
    case CKA_RESET_ON_INIT: case CKA_HAS_RESET: case CKA_COLOR: case CKA_OTP_USER_FRIENDLY_MODE:
      return true;
    default:
      return false;
  }
}

bool is_ulong_attribute(CK_ATTRIBUTE_TYPE type) {
  switch (type) {
    case CKA_CLASS: case CKA_KEY_TYPE: case CKA_CERTIFICATE_TYPE: case CKA_CERTIFICATE_CATEGORY:
    case CKA_JAVA_MIDP_SECURITY_DOMAIN: case CKA_NAME_HASH_ALGORITHM: case CKA_MODULUS_BITS:
    case CKA_VALUE_BITS: case CKA_VALUE_LEN: case CKA_KEY_GEN_MECHANISM: case CKA_PRIME_BITS:
    case CKA_SUB_PRIME_BITS: case CKA_MECHANISM_TYPE: case CKA_HW_FEATURE_TYPE: case CKA_AUTH_PIN_FLAGS:
    case CKA_PIXEL_X: case CKA_PIXEL_Y: case CKA_RESOLUTION: case CKA_CHAR_ROWS: case CKA_CHAR_COLUMNS:
    case CKA_BITS_PER_PIXEL: case CKA_OTP_FORMAT: case CKA_OTP_LENGTH: case CKA_OTP_TIME_INTERVAL:
    case CKA_OTP_CHALLENGE_REQUIREMENT: case CKA_OTP_TIME_REQUIREMENT: case CKA_OTP_COUNTER_REQUIREMENT:
    case CKA_OTP_PIN_REQUIREMENT: case CKA_OTP_SERVICE_LOGO_TYPE:
      return true;
    default:
      return false;
  }
}

bool is_template_attribute(CK_ATTRIBUTE_TYPE type) {
  return type == CKA_WRAP_TEMPLATE || type == CKA_UNWRAP_TEMPLATE || type == CKA_DERIVE_TEMPLATE;
}

SecureBytes encode_template_value(const AttributeTemplate& nested) {
  AttributeMap m;
  for (const auto& [type, raw] : nested) {
    require(!is_template_attribute(type), CKR_ATTRIBUTE_VALUE_INVALID, "a template attribute inside a template");
    check_value_encoding(type, view(raw));
    SecureBytes value = raw;
    if (is_bool_attribute(type)) value[0] = value[0] != 0 ? CK_TRUE : CK_FALSE;
    auto [it, inserted] = m.emplace(type, value);
    require(inserted || equal_bytes(view(it->second), view(value)), CKR_ATTRIBUTE_VALUE_INVALID,
            "attribute " + hex_type(type) + " given twice with different values inside a template");
  }
  SecureBytes out;
  for (const auto& [type, value] : m) {
    require(value.size() <= 0xFFFFFFFFu, CKR_ATTRIBUTE_VALUE_INVALID, "nested attribute value too large");
    for (int i = 0; i < 8; ++i) out.push_back(static_cast<uint8_t>(static_cast<uint64_t>(type) >> (8 * i)));
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<uint8_t>(value.size() >> (8 * i)));
    out.insert(out.end(), value.begin(), value.end());
  }
  return out;
}

AttributeMap decode_template_value(ByteView v) {
  AttributeMap out;
  size_t pos = 0;
  auto le = [&](int bytes) {
    require(v.size() - pos >= static_cast<size_t>(bytes), CKR_ATTRIBUTE_VALUE_INVALID, "truncated template value");
    uint64_t x = 0;
    for (int i = 0; i < bytes; ++i) x |= static_cast<uint64_t>(v[pos + i]) << (8 * i);
    pos += bytes;
    return x;
  };
  while (pos < v.size()) {
    const uint64_t type = le(8);
    const uint64_t len = le(4);
    require(type <= std::numeric_limits<CK_ATTRIBUTE_TYPE>::max(), CKR_ATTRIBUTE_VALUE_INVALID,
            "nested attribute type out of range");
    require(len <= v.size() - pos, CKR_ATTRIBUTE_VALUE_INVALID, "nested attribute value past the end");
    const auto t = static_cast<CK_ATTRIBUTE_TYPE>(type);
    require(out.empty() || t > out.rbegin()->first, CKR_ATTRIBUTE_VALUE_INVALID, "nested types not ascending");
    require(!is_template_attribute(t), CKR_ATTRIBUTE_VALUE_INVALID, "a template attribute inside a template");
    const ByteView value = v.subspan(pos, static_cast<size_t>(len));
    check_value_encoding(t, value);
    out.emplace_hint(out.end(), t, to_bytes(value));
    pos += static_cast<size_t>(len);
  }
  return out;
}

void check_value_encoding(CK_ATTRIBUTE_TYPE type, ByteView value) {
  if (is_template_attribute(type)) {
    (void)decode_template_value(value);
  } else if (is_bool_attribute(type)) {
    require(value.size() == sizeof(CK_BBOOL), CKR_ATTRIBUTE_VALUE_INVALID, "CK_BBOOL attribute must be 1 byte");
  } else if (is_ulong_attribute(type)) {
    require(value.size() == sizeof(CK_ULONG), CKR_ATTRIBUTE_VALUE_INVALID,
            "CK_ULONG attribute must be sizeof(CK_ULONG) bytes");
  } else if (type == CKA_ALLOWED_MECHANISMS) {
    require(value.size() % sizeof(CK_MECHANISM_TYPE) == 0, CKR_ATTRIBUTE_VALUE_INVALID,
            "CKA_ALLOWED_MECHANISMS length is not a multiple of sizeof(CK_MECHANISM_TYPE)");
  } else if (type == CKA_START_DATE || type == CKA_END_DATE) {
    // CK_DATE is year[4] month[2] day[2] as ASCII digits; an empty value means "no date" (spec 3.3).
    require(value.empty() || value.size() == sizeof(CK_DATE), CKR_ATTRIBUTE_VALUE_INVALID,
            "CK_DATE attribute must be empty or 8 bytes");
    for (uint8_t c : value) require(c >= '0' && c <= '9', CKR_ATTRIBUTE_VALUE_INVALID, "CK_DATE must be digits");
  }
}

AttributeMap to_map(const AttributeTemplate& tmpl) {
  AttributeMap out;
  for (const auto& [type, raw] : tmpl) {
    if (is_bool_attribute(type) || is_ulong_attribute(type) || type == CKA_ALLOWED_MECHANISMS ||
        is_template_attribute(type)) {
      check_value_encoding(type, view(raw));
    }
    SecureBytes value = raw;
    if (is_bool_attribute(type)) value[0] = value[0] != 0 ? CK_TRUE : CK_FALSE;
    auto [it, inserted] = out.emplace(type, value);
    if (!inserted && !equal_bytes(view(it->second), view(value))) {
      fail(CKR_TEMPLATE_INCONSISTENT, "attribute " + hex_type(type) + " given twice with different values");
    }
  }
  return out;
}

std::optional<CK_ULONG> get_ulong(const AttributeMap& m, CK_ATTRIBUTE_TYPE type) {
  auto it = m.find(type);
  if (it == m.end() || it->second.size() != sizeof(CK_ULONG)) return std::nullopt;
  CK_ULONG v;
  std::memcpy(&v, it->second.data(), sizeof v);
  return v;
}

std::optional<bool> get_bool(const AttributeMap& m, CK_ATTRIBUTE_TYPE type) {
  auto it = m.find(type);
  if (it == m.end() || it->second.size() != sizeof(CK_BBOOL)) return std::nullopt;
  return it->second[0] != 0;
}

bool bool_or(const AttributeMap& m, CK_ATTRIBUTE_TYPE type, bool dflt) { return get_bool(m, type).value_or(dflt); }

const SecureBytes* get_bytes(const AttributeMap& m, CK_ATTRIBUTE_TYPE type) {
  auto it = m.find(type);
  return it == m.end() ? nullptr : &it->second;
}

SecureBytes ulong_bytes(CK_ULONG value) { return to_bytes(&value, sizeof value); }
SecureBytes bool_bytes(bool value) { return SecureBytes{static_cast<uint8_t>(value ? CK_TRUE : CK_FALSE)}; }

void set_ulong(AttributeMap& m, CK_ATTRIBUTE_TYPE type, CK_ULONG value) { m[type] = ulong_bytes(value); }
void set_bool(AttributeMap& m, CK_ATTRIBUTE_TYPE type, bool value) { m[type] = bool_bytes(value); }
void set_bytes(AttributeMap& m, CK_ATTRIBUTE_TYPE type, ByteView value) { m[type] = to_bytes(value); }

bool matches(const AttributeMap& object, const AttributeMap& search) {
  for (const auto& [type, wanted] : search) {
    auto it = object.find(type);
    if (it == object.end()) return false;
    if (check_read(object, type) != CKR_OK) return false;
    if (!equal_bytes(view(it->second), view(wanted))) return false;
  }
  return true;
}

}  // namespace keyseal::core
