// Words for object classes, key types and curves (PKCS#11 3.0 sections 4.2-4.9; curve OIDs from RFC 5480
// and RFC 8410) for the `list` output.
#include "cli/describe.h"

#include <cstdio>
#include <cstring>
#include <initializer_list>
#include <utility>

namespace keyseal::cli {
namespace {

std::string hex_value(const char* what, unsigned long v) {
  char buf[48];
  std::snprintf(buf, sizeof buf, "%s 0x%lx", what, v);
  return buf;
}

struct Curve {
  const char* name;
  unsigned bits;
  std::initializer_list<uint8_t> oid;  // OID content bytes, without tag and length
};

const Curve kCurves[] = {
    {"prime256v1", 256, {0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07}},
    {"secp384r1", 384, {0x2B, 0x81, 0x04, 0x00, 0x22}},
    {"secp521r1", 521, {0x2B, 0x81, 0x04, 0x00, 0x23}},
    {"secp256k1", 256, {0x2B, 0x81, 0x04, 0x00, 0x0A}},
    {"X25519", 255, {0x2B, 0x65, 0x6E}},
    {"X448", 448, {0x2B, 0x65, 0x6F}},
    {"Ed25519", 255, {0x2B, 0x65, 0x70}},
    {"Ed448", 448, {0x2B, 0x65, 0x71}},
};

}  // namespace

std::string class_name(CK_OBJECT_CLASS cls) {
  switch (cls) {
    case CKO_DATA: return "data";
    case CKO_CERTIFICATE: return "certificate";
    case CKO_PUBLIC_KEY: return "public key";
    case CKO_PRIVATE_KEY: return "private key";
    case CKO_SECRET_KEY: return "secret key";
    case CKO_HW_FEATURE: return "hardware feature";
    case CKO_DOMAIN_PARAMETERS: return "domain parameters";
    case CKO_MECHANISM: return "mechanism";
    default: return hex_value("class", cls);
  }
}

std::string key_type_name(CK_KEY_TYPE kt) {
  switch (kt) {
    case CKK_RSA: return "RSA";
    case CKK_DSA: return "DSA";
    case CKK_DH: return "DH";
    case CKK_EC: return "EC";
    case CKK_EC_EDWARDS: return "EC-Edwards";
    case CKK_EC_MONTGOMERY: return "EC-Montgomery";
    case CKK_GENERIC_SECRET: return "generic secret";
    case CKK_AES: return "AES";
    case CKK_DES3: return "DES3";
    case CKK_SHA256_HMAC: return "SHA256-HMAC";
    default: return hex_value("key type", kt);
  }
}

std::pair<std::string, unsigned> curve_of(std::span<const uint8_t> p) {
  // namedCurve: OBJECT IDENTIFIER (tag 6) with a short-form length.
  if (p.size() >= 2 && p[0] == 0x06 && p[1] < 0x80 && p.size() == 2u + p[1]) {
    const auto oid = p.subspan(2);
    for (const Curve& c : kCurves)
      if (oid.size() == c.oid.size() && std::memcmp(oid.data(), c.oid.begin(), oid.size()) == 0)
        return {c.name, c.bits};
  }
  // PKCS#11 3.0 also allows a PrintableString curve name (tag 0x13), e.g. "edwards25519".
  if (p.size() >= 2 && p[0] == 0x13 && p[1] < 0x80 && p.size() == 2u + p[1]) {
    const std::string name(reinterpret_cast<const char*>(p.data() + 2), p[1]);
    for (const Curve& c : kCurves)
      if (name == c.name) return {name, c.bits};
    if (name == "edwards25519" || name == "curve25519") return {name, 255};
    if (name == "edwards448" || name == "curve448") return {name, 448};
    return {name, 0};
  }
  return {"unknown curve", 0};
}

}  // namespace keyseal::cli
