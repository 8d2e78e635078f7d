// RFC 7512 `pkcs11:` URI building: percent-encoding of path attributes and the token/object URI layout.
#include "cli/uri.h"

namespace keyseal::cli {
namespace {

constexpr char kHex[] = "0123456789ABCDEF";

bool path_char_allowed(unsigned char c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-': case '.': case '_': case '~':                               // RFC 3986 unreserved
    case ':': case '[': case ']': case '@': case '!': case '$': case '&':  // RFC 7512 pk11-path-res-avail
    case '\'': case '(': case ')': case '*': case '+': case ',': case '=':
      return true;
    default:
      return false;
  }
}

void append_pct(std::string& out, unsigned char c) {
  out += '%';
  out += kHex[c >> 4];
  out += kHex[c & 0x0F];
}

}  // namespace

std::string pct_encode_path(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if (path_char_allowed(c)) out += ch;
    else append_pct(out, c);
  }
  return out;
}

std::string pct_encode_all(std::span<const uint8_t> bytes) {
  std::string out;
  out.reserve(bytes.size() * 3);
  for (const uint8_t b : bytes) append_pct(out, b);
  return out;
}

std::string hex(std::span<const uint8_t> bytes) {
  static constexpr char lower[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (const uint8_t b : bytes) {
    out += lower[b >> 4];
    out += lower[b & 0x0F];
  }
  return out;
}

std::string trim_padded(const CK_UTF8CHAR* field, size_t width) {
  size_t n = width;
  while (n > 0 && (field[n - 1] == ' ' || field[n - 1] == '\0')) --n;
  return std::string(reinterpret_cast<const char*>(field), n);
}

std::optional<std::string_view> uri_type(CK_OBJECT_CLASS cls) {
  switch (cls) {
    case CKO_PRIVATE_KEY: return "private";
    case CKO_PUBLIC_KEY: return "public";
    case CKO_CERTIFICATE: return "cert";
    case CKO_SECRET_KEY: return "secret-key";
    case CKO_DATA: return "data";
    default: return std::nullopt;
  }
}

std::string token_uri(const CK_TOKEN_INFO& info) {
  // No model=: a soft token's model carries its binding strength, which can change over the token's life.
  return "pkcs11:manufacturer=" + pct_encode_path(trim_padded(info.manufacturerID, sizeof info.manufacturerID)) +
         ";serial=" + pct_encode_path(trim_padded(info.serialNumber, sizeof info.serialNumber)) +
         ";token=" + pct_encode_path(trim_padded(info.label, sizeof info.label));
}

std::string object_uri(const ObjectUriParts& parts) {
  std::string uri = "pkcs11:token=" + pct_encode_path(parts.token);
  if (parts.label) uri += ";object=" + pct_encode_path(*parts.label);
  if (parts.id) uri += ";id=" + pct_encode_all(*parts.id);
  if (const auto t = uri_type(parts.cls)) uri += ";type=" + std::string(*t);
  return uri;
}

}  // namespace keyseal::cli
