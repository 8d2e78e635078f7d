// RFC 7512 `pkcs11:` URIs for tokens and objects, with the RFC's percent-encoding rules (section 2.3), and
// the helpers that turn CK_TOKEN_INFO's blank-padded fields (PKCS#11 3.0 section 3.2) into strings.
#pragma once
#include <keyseal/pkcs11.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace keyseal::cli {

// Percent-encodes a path attribute value: keeps RFC 3986 unreserved characters and RFC 7512's
// pk11-path-res-avail (":[]@!$&'()*+,="), encodes every other byte as %XX (upper-case hex).
std::string pct_encode_path(std::string_view value);

// Encodes every byte as %XX, as RFC 7512 recommends for binary values such as CKA_ID.
std::string pct_encode_all(std::span<const uint8_t> bytes);

// Lower-case hex without separators ("01a2"), for display.
std::string hex(std::span<const uint8_t> bytes);

// A fixed-width, blank-padded CK_UTF8CHAR field with trailing blanks (and NULs) removed.
std::string trim_padded(const CK_UTF8CHAR* field, size_t width);

// The RFC 7512 "type" value of an object class, or nothing for classes the RFC does not name.
std::optional<std::string_view> uri_type(CK_OBJECT_CLASS cls);

// pkcs11:model=...;manufacturer=...;serial=...;token=...
std::string token_uri(const CK_TOKEN_INFO& info);

struct ObjectUriParts {
  std::string token;               // token label, unpadded
  std::optional<std::string> label;  // CKA_LABEL, when present
  std::optional<std::span<const uint8_t>> id;  // CKA_ID, when present (may be empty)
  CK_OBJECT_CLASS cls;
};
// pkcs11:token=...;object=...;id=%xx;type=...
std::string object_uri(const ObjectUriParts& parts);

}  // namespace keyseal::cli
