// The JSON documents of attestation (RFC 8259), written and read here with a small strict reader: one value,
// no trailing garbage, no duplicate keys, no unknown fields, every required field present and of its type.
//
// Evidence (`keyseal attest`, CKA_KEYSEAL_ATTESTATION):
//   "version"             number 1 (required)
//   "origin"              "generated", "imported" or "generated-fixedtpm" (required)
//   "nonce"               hex, TPMS_ATTEST.extraData asked for, 0..64 bytes (required, may be "")
//   "key_public"          hex, marshalled TPMT_PUBLIC of the attested key (required)
//   "key_name"            hex, its TPM name (written for the reader; when read it must equal name_of(key_public))
//   "certify_info"        hex, marshalled TPMS_ATTEST of TPM2_Certify (required)
//   "certify_signature"   hex, marshalled TPMT_SIGNATURE by the AK over certify_info (required)
//   "creation_info"       hex, marshalled TPMS_ATTEST of TPM2_CertifyCreation (optional, default "")
//   "creation_signature"  hex, marshalled TPMT_SIGNATURE over creation_info (optional, default "")
//   "ak_public"           hex, marshalled TPMT_PUBLIC of the AK (required)
//   "ak_name"             hex, its TPM name (written for the reader; checked when read)
//   "ek_public"           hex, marshalled TPMT_PUBLIC of the EK (required, may be "" when unknown)
//   "ek_certificates"     array of base64 DER certificates (required, may be [])
//   "ak_certificates"     array of base64 DER certificates, AK certificate first (optional, default [])
//   "tpm_manufacturer", "tpm_model", "tpm_firmware"   strings, informational (optional, default "")
// AkInfo (`keyseal attest-ak`): "ak_public", "ak_name" (written; checked when read), "ek_public",
//   "ek_certificates" (required), "ak_certificates" and the three "tpm_*" strings (optional).
// Credential (`keyseal make-credential`): "credential_blob" (marshalled TPM2B_ID_OBJECT) and "encrypted_secret"
//   (marshalled TPM2B_ENCRYPTED_SECRET), both hex and required.
// Hex is written lowercase; either case is read.
#include "attest/evidence.h"
#include "attest/tpm_structs.h"

#include <algorithm>
#include <map>
#include <memory>
#include <stdexcept>
#include <variant>

namespace keyseal::attest {
namespace {

using detail::base64;
using detail::hex;

// ---- the reader ----

struct Value;
using Object = std::map<std::string, Value, std::less<>>;
using Array = std::vector<Value>;
struct Value {
  // null, bool, number (kept as its text), string, array, object
  std::variant<std::monostate, bool, double, std::string, std::shared_ptr<Array>, std::shared_ptr<Object>> v;
};

class Reader {
 public:
  explicit Reader(std::string_view t) : t_(t) {}

  Value document() {
    Value v = value(0);
    skip_ws();
    if (i_ != t_.size()) fail("trailing characters after the document");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument("not a valid JSON document: " + why + " at offset " + std::to_string(i_));
  }
  void skip_ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    skip_ws();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) fail(std::string("expected '") + c + "'");
  }
  bool literal(std::string_view word) {
    if (t_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }

  Value value(int depth) {
    if (depth > 32) fail("nesting too deep");
    skip_ws();
    if (i_ >= t_.size()) fail("unexpected end");
    const char c = t_[i_];
    if (c == '{') return object(depth);
    if (c == '[') return array(depth);
    if (c == '"') return Value{string()};
    if (literal("true")) return Value{true};
    if (literal("false")) return Value{false};
    if (literal("null")) return Value{};
    if (c == '-' || (c >= '0' && c <= '9')) return Value{number()};
    fail("unexpected character");
  }

  Value object(int depth) {
    ++i_;
    auto obj = std::make_shared<Object>();
    if (eat('}')) return Value{obj};
    do {
      skip_ws();
      if (i_ >= t_.size() || t_[i_] != '"') fail("expected a member name");
      std::string key = string();
      expect(':');
      Value v = value(depth + 1);
      if (!obj->emplace(key, std::move(v)).second) fail("duplicate member \"" + key + "\"");
    } while (eat(','));
    expect('}');
    return Value{obj};
  }

  Value array(int depth) {
    ++i_;
    auto arr = std::make_shared<Array>();
    if (eat(']')) return Value{arr};
    do arr->push_back(value(depth + 1));
    while (eat(','));
    expect(']');
    return Value{arr};
  }

  double number() {
    const size_t start = i_;
    auto digits = [&] {
      const size_t s = i_;
      while (i_ < t_.size() && t_[i_] >= '0' && t_[i_] <= '9') ++i_;
      return i_ - s;
    };
    if (t_[i_] == '-') ++i_;
    if (i_ < t_.size() && t_[i_] == '0') {
      ++i_;
    } else if (digits() == 0) {
      fail("bad number");
    }
    if (i_ < t_.size() && t_[i_] == '.') {
      ++i_;
      if (digits() == 0) fail("bad number");
    }
    if (i_ < t_.size() && (t_[i_] == 'e' || t_[i_] == 'E')) {
      ++i_;
      if (i_ < t_.size() && (t_[i_] == '+' || t_[i_] == '-')) ++i_;
      if (digits() == 0) fail("bad number");
    }
    try {
      return std::stod(std::string(t_.substr(start, i_ - start)));
    } catch (const std::out_of_range&) {
      fail("number out of range");
    }
  }

  unsigned hex4() {
    if (i_ + 4 > t_.size()) fail("short \\u escape");
    unsigned v = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = t_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= unsigned(c - '0');
      else if (c >= 'a' && c <= 'f') v |= unsigned(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') v |= unsigned(c - 'A' + 10);
      else fail("bad \\u escape");
    }
    return v;
  }

  static void utf8(std::string& s, unsigned cp) {
    if (cp < 0x80) {
      s += char(cp);
    } else if (cp < 0x800) {
      s += char(0xc0 | cp >> 6), s += char(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      s += char(0xe0 | cp >> 12), s += char(0x80 | (cp >> 6 & 0x3f)), s += char(0x80 | (cp & 0x3f));
    } else {
      s += char(0xf0 | cp >> 18), s += char(0x80 | (cp >> 12 & 0x3f)), s += char(0x80 | (cp >> 6 & 0x3f));
      s += char(0x80 | (cp & 0x3f));
    }
  }

  std::string string() {
    ++i_;  // the opening quote
    std::string s;
    while (true) {
      if (i_ >= t_.size()) fail("unterminated string");
      const unsigned char c = static_cast<unsigned char>(t_[i_++]);
      if (c == '"') return s;
      if (c < 0x20) fail("control character in a string");
      if (c != '\\') {
        s += char(c);
        continue;
      }
      if (i_ >= t_.size()) fail("unterminated string");
      switch (t_[i_++]) {
        case '"': s += '"'; break;
        case '\\': s += '\\'; break;
        case '/': s += '/'; break;
        case 'b': s += '\b'; break;
        case 'f': s += '\f'; break;
        case 'n': s += '\n'; break;
        case 'r': s += '\r'; break;
        case 't': s += '\t'; break;
        case 'u': {
          unsigned cp = hex4();
          if (cp >= 0xd800 && cp < 0xdc00) {  // a surrogate pair
            if (!literal("\\u")) fail("lone surrogate");
            const unsigned lo = hex4();
            if (lo < 0xdc00 || lo >= 0xe000) fail("lone surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp < 0xe000) {
            fail("lone surrogate");
          }
          utf8(s, cp);
          break;
        }
        default: fail("bad escape");
      }
    }
  }

  std::string_view t_;
  size_t i_ = 0;
};

// Field access with the document's rules: each field read is ticked off, and leftovers are unknown fields.
class Fields {
 public:
  Fields(std::string_view text, std::string doc) : doc_(std::move(doc)) {
    Value v = Reader(text).document();
    auto* o = std::get_if<std::shared_ptr<Object>>(&v.v);
    if (!o) throw std::invalid_argument(doc_ + ": the document is not a JSON object");
    obj_ = *o;
  }

  const Value* get(const std::string& name, bool required) {
    auto it = obj_->find(name);
    if (it == obj_->end()) {
      if (required) throw std::invalid_argument(doc_ + ": field \"" + name + "\" is missing");
      return nullptr;
    }
    seen_.push_back(name);
    return &it->second;
  }

  std::string str(const std::string& name, bool required = true) {
    const Value* v = get(name, required);
    if (!v) return "";
    auto* s = std::get_if<std::string>(&v->v);
    if (!s) throw std::invalid_argument(doc_ + ": field \"" + name + "\" is not a string");
    return *s;
  }

  Bytes bytes(const std::string& name, bool required = true) {
    const std::string s = str(name, required);
    auto b = detail::unhex(s);
    if (!b) throw std::invalid_argument(doc_ + ": field \"" + name + "\" is not hex bytes");
    return *b;
  }

  std::vector<Bytes> certs(const std::string& name, bool required = true) {
    const Value* v = get(name, required);
    if (!v) return {};
    auto* a = std::get_if<std::shared_ptr<Array>>(&v->v);
    if (!a) throw std::invalid_argument(doc_ + ": field \"" + name + "\" is not an array");
    std::vector<Bytes> out;
    for (const Value& e : **a) {
      auto* s = std::get_if<std::string>(&e.v);
      auto der = s ? detail::unbase64(*s) : std::nullopt;
      if (!der || der->empty())
        throw std::invalid_argument(doc_ + ": field \"" + name + "\" holds an entry that is not base64 DER");
      out.push_back(std::move(*der));
    }
    return out;
  }

  double number(const std::string& name) {
    const Value* v = get(name, true);
    auto* d = std::get_if<double>(&v->v);
    if (!d) throw std::invalid_argument(doc_ + ": field \"" + name + "\" is not a number");
    return *d;
  }

  // A convenience name written beside a public area must be that area's name.
  void name_matches(const std::string& name, const Bytes& pub) {
    if (!obj_->contains(name)) return;
    const Bytes given = bytes(name);
    Bytes computed;
    try {
      computed = name_of(pub);
    } catch (const std::invalid_argument&) {
      // reported by whoever parses the public area
    }
    if (given != computed) throw std::invalid_argument(doc_ + ": field \"" + name + "\" is not the name of its key");
  }

  void done() {
    for (const auto& [k, v] : *obj_)
      if (std::find(seen_.begin(), seen_.end(), k) == seen_.end())
        throw std::invalid_argument(doc_ + ": unknown field \"" + k + "\"");
  }

 private:
  std::string doc_;
  std::shared_ptr<Object> obj_;
  std::vector<std::string> seen_;
};

// ---- the writer ----

std::string quoted(std::string_view s) {
  std::string out = "\"";
  for (const char ch : s) {
    const unsigned char c = static_cast<unsigned char>(ch);
    if (c == '"') out += "\\\"";
    else if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else if (c < 0x20 || c == 0x7f) {
      static const char d[] = "0123456789abcdef";
      out += "\\u00";
      out += d[c >> 4];
      out += d[c & 15];
    } else out += ch;
  }
  return out + "\"";
}

class Writer {
 public:
  void field(std::string_view name, const std::string& raw_json) {
    out_ += first_ ? "{\n  " : ",\n  ";
    first_ = false;
    out_ += quoted(name) + ": " + raw_json;
  }
  void str(std::string_view name, std::string_view v) { field(name, quoted(v)); }
  void bytes(std::string_view name, const Bytes& b) { field(name, "\"" + hex(b) + "\""); }
  void certs(std::string_view name, const std::vector<Bytes>& certs) {
    std::string a = "[";
    for (size_t i = 0; i < certs.size(); ++i) a += (i ? ",\n    \"" : "\n    \"") + base64(certs[i]) + "\"";
    field(name, a + (certs.empty() ? "]" : "\n  ]"));
  }
  // The name of a public area, when it parses (a malformed one is written without its name).
  void name_of_public(std::string_view name, const Bytes& pub) {
    try {
      bytes(name, attest::name_of(pub));
    } catch (const std::exception&) {
    }
  }
  std::string finish() { return (first_ ? std::string("{") : out_ + "\n") + "}\n"; }

 private:
  std::string out_;
  bool first_ = true;
};

}  // namespace

std::string to_json(const Evidence& e) {
  Writer w;
  w.field("version", "1");
  w.str("origin", e.origin);
  w.bytes("nonce", e.nonce);
  w.bytes("key_public", e.key_public);
  w.name_of_public("key_name", e.key_public);
  w.bytes("certify_info", e.certify_info);
  w.bytes("certify_signature", e.certify_signature);
  w.bytes("creation_info", e.creation_info);
  w.bytes("creation_signature", e.creation_signature);
  w.bytes("ak_public", e.ak_public);
  w.name_of_public("ak_name", e.ak_public);
  w.bytes("ek_public", e.ek_public);
  w.certs("ek_certificates", e.ek_certificates);
  w.certs("ak_certificates", e.ak_certificates);
  w.str("tpm_manufacturer", e.tpm_manufacturer);
  w.str("tpm_model", e.tpm_model);
  w.str("tpm_firmware", e.tpm_firmware);
  return w.finish();
}

Evidence from_json(std::string_view text) {
  Fields f(text, "attestation evidence");
  if (f.number("version") != 1) throw std::invalid_argument("attestation evidence: unsupported \"version\"");
  Evidence e;
  e.origin = f.str("origin");
  if (e.origin != kOriginGenerated && e.origin != kOriginImported && e.origin != kOriginGeneratedFixedTpm)
    throw std::invalid_argument(
        "attestation evidence: field \"origin\" is not \"generated\", \"imported\" or \"generated-fixedtpm\"");
  e.nonce = f.bytes("nonce");
  if (e.nonce.size() > 64) throw std::invalid_argument("attestation evidence: field \"nonce\" is longer than 64 bytes");
  e.key_public = f.bytes("key_public");
  e.certify_info = f.bytes("certify_info");
  e.certify_signature = f.bytes("certify_signature");
  e.creation_info = f.bytes("creation_info", false);
  e.creation_signature = f.bytes("creation_signature", false);
  e.ak_public = f.bytes("ak_public");
  e.ek_public = f.bytes("ek_public");
  e.ek_certificates = f.certs("ek_certificates");
  e.ak_certificates = f.certs("ak_certificates", false);
  e.tpm_manufacturer = f.str("tpm_manufacturer", false);
  e.tpm_model = f.str("tpm_model", false);
  e.tpm_firmware = f.str("tpm_firmware", false);
  const std::pair<const char*, const Bytes*> nonempty[] = {{"key_public", &e.key_public},
      {"certify_info", &e.certify_info}, {"certify_signature", &e.certify_signature}, {"ak_public", &e.ak_public}};
  for (const auto& [field, b] : nonempty)
    if (b->empty()) throw std::invalid_argument(std::string("attestation evidence: field \"") + field + "\" is empty");
  f.name_matches("key_name", e.key_public);
  f.name_matches("ak_name", e.ak_public);
  f.done();
  return e;
}

std::string to_json(const AkInfo& a) {
  Writer w;
  w.bytes("ak_public", a.ak_public);
  w.name_of_public("ak_name", a.ak_public);
  w.bytes("ek_public", a.ek_public);
  w.certs("ek_certificates", a.ek_certificates);
  w.certs("ak_certificates", a.ak_certificates);
  w.str("tpm_manufacturer", a.tpm_manufacturer);
  w.str("tpm_model", a.tpm_model);
  w.str("tpm_firmware", a.tpm_firmware);
  return w.finish();
}

AkInfo ak_info_from_json(std::string_view text) {
  Fields f(text, "AK document");
  AkInfo a;
  a.ak_public = f.bytes("ak_public");
  a.ek_public = f.bytes("ek_public");
  if (a.ak_public.empty()) throw std::invalid_argument("AK document: field \"ak_public\" is empty");
  if (a.ek_public.empty()) throw std::invalid_argument("AK document: field \"ek_public\" is empty");
  a.ek_certificates = f.certs("ek_certificates");
  a.ak_certificates = f.certs("ak_certificates", false);
  a.tpm_manufacturer = f.str("tpm_manufacturer", false);
  a.tpm_model = f.str("tpm_model", false);
  a.tpm_firmware = f.str("tpm_firmware", false);
  f.name_matches("ak_name", a.ak_public);
  f.done();
  return a;
}

std::string to_json(const Credential& c) {
  Writer w;
  w.bytes("credential_blob", c.credential_blob);
  w.bytes("encrypted_secret", c.encrypted_secret);
  return w.finish();
}

Credential credential_from_json(std::string_view text) {
  Fields f(text, "credential");
  Credential c;
  c.credential_blob = f.bytes("credential_blob");
  c.encrypted_secret = f.bytes("encrypted_secret");
  if (c.credential_blob.empty() || c.encrypted_secret.empty())
    throw std::invalid_argument("credential: an empty field");
  f.done();
  return c;
}

}  // namespace keyseal::attest
