// CKA_EC_PARAMS and CKA_EC_POINT encodings (PKCS#11 3.0 current mechanisms 2.3.3 and 2.3.5): the named
// curves we support, the DER OCTET STRING around points, and minimal DER parsing for both.
#include "crypto/key_state.h"

#include <cstring>

namespace keyseal::crypto {
namespace {

const uint8_t kOidP256[] = {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const uint8_t kOidP384[] = {0x2b, 0x81, 0x04, 0x00, 0x22};
const uint8_t kOidP521[] = {0x2b, 0x81, 0x04, 0x00, 0x23};
const uint8_t kOidEd25519[] = {0x2b, 0x65, 0x70};
const uint8_t kOidEd25519Gnu[] = {0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01};  // GnuPG's OID
const uint8_t kOidEd448[] = {0x2b, 0x65, 0x71};  // id-Ed448, 1.3.101.113 (RFC 8410)

// One DER TLV that must span all of v. Returns false if v is not exactly one well-formed TLV.
bool parse_tlv(ByteView v, uint8_t& tag, ByteView& content) {
  if (v.size() < 2) return false;
  tag = v[0];
  size_t len = v[1];
  size_t hdr = 2;
  if (len & 0x80) {
    size_t nbytes = len & 0x7f;
    if (nbytes == 0 || nbytes > 4 || v.size() < 2 + nbytes || v[2] == 0) return false;
    len = 0;
    for (size_t i = 0; i < nbytes; ++i) len = (len << 8) | v[2 + i];
    if (len < 0x80) return false;  // DER: minimal length encoding
    hdr += nbytes;
  }
  if (v.size() - hdr != len) return false;
  content = v.subspan(hdr);
  return true;
}

bool same(ByteView a, const uint8_t* b, size_t n) { return a.size() == n && std::memcmp(a.data(), b, n) == 0; }

}  // namespace

const CurveInfo& curve_info(Curve c) {
  static const CurveInfo p256{"prime256v1", 256, 32}, p384{"secp384r1", 384, 48}, p521{"secp521r1", 521, 66},
      ed{"ED25519", 255, 32}, ed448{"ED448", 448, 57};
  switch (c) {
    case Curve::p256: return p256;
    case Curve::p384: return p384;
    case Curve::p521: return p521;
    case Curve::ed25519: return ed;
    case Curve::ed448: return ed448;
    default: fail(CKR_GENERAL_ERROR, "curve_info: no curve");
  }
}

Curve ec_params_curve(ByteView ec_params) {
  uint8_t tag = 0;
  ByteView c;
  if (!parse_tlv(ec_params, tag, c)) fail(CKR_DOMAIN_PARAMS_INVALID, "CKA_EC_PARAMS is not DER");
  if (tag == 0x06) {
    if (c.empty()) fail(CKR_DOMAIN_PARAMS_INVALID, "empty OID in CKA_EC_PARAMS");
    if (same(c, kOidP256, sizeof kOidP256)) return Curve::p256;
    if (same(c, kOidP384, sizeof kOidP384)) return Curve::p384;
    if (same(c, kOidP521, sizeof kOidP521)) return Curve::p521;
    if (same(c, kOidEd25519, sizeof kOidEd25519) || same(c, kOidEd25519Gnu, sizeof kOidEd25519Gnu))
      return Curve::ed25519;
    if (same(c, kOidEd448, sizeof kOidEd448)) return Curve::ed448;
    fail(CKR_CURVE_NOT_SUPPORTED, "curve not supported");
  }
  if (tag == 0x13) {  // PrintableString curve name (PKCS#11 3.0 Edwards curves)
    static const char name[] = "edwards25519", name448[] = "edwards448";
    if (same(c, reinterpret_cast<const uint8_t*>(name), sizeof name - 1)) return Curve::ed25519;
    if (same(c, reinterpret_cast<const uint8_t*>(name448), sizeof name448 - 1)) return Curve::ed448;
    fail(CKR_CURVE_NOT_SUPPORTED, "curve not supported");
  }
  if (tag == 0x30) fail(CKR_CURVE_NOT_SUPPORTED, "explicit EC domain parameters are not supported");
  fail(CKR_DOMAIN_PARAMS_INVALID, "CKA_EC_PARAMS is neither a namedCurve OID nor a curve name");
}

size_t ec_params_bits(ByteView ec_params) { return curve_info(ec_params_curve(ec_params)).bits; }

bool ec_params_is_ed25519(ByteView ec_params) { return ec_params_curve(ec_params) == Curve::ed25519; }

bool is_edwards(Curve c) { return c == Curve::ed25519 || c == Curve::ed448; }

bool ec_params_is_edwards(ByteView ec_params) { return is_edwards(ec_params_curve(ec_params)); }

SecureBytes ec_params_der(Curve c) {
  auto oid = [](const uint8_t* p, size_t n) {
    SecureBytes out{0x06, static_cast<uint8_t>(n)};
    out.insert(out.end(), p, p + n);
    return out;
  };
  switch (c) {
    case Curve::p256: return oid(kOidP256, sizeof kOidP256);
    case Curve::p384: return oid(kOidP384, sizeof kOidP384);
    case Curve::p521: return oid(kOidP521, sizeof kOidP521);
    case Curve::ed25519: return oid(kOidEd25519, sizeof kOidEd25519);
    case Curve::ed448: return oid(kOidEd448, sizeof kOidEd448);
    default: fail(CKR_GENERAL_ERROR, "ec_params_der: no curve");
  }
}

SecureBytes der_octet_string(ByteView raw) {
  SecureBytes out{0x04};
  size_t n = raw.size();
  if (n < 0x80) {
    out.push_back(static_cast<uint8_t>(n));
  } else {
    uint8_t len[4];
    size_t k = 0;
    for (size_t x = n; x; x >>= 8) len[k++] = static_cast<uint8_t>(x & 0xff);
    out.push_back(static_cast<uint8_t>(0x80 | k));
    while (k) out.push_back(len[--k]);
  }
  out.insert(out.end(), raw.begin(), raw.end());
  return out;
}

SecureBytes unwrap_ec_point(ByteView ec_params, ByteView v) {
  Curve c = ec_params_curve(ec_params);
  const CurveInfo& ci = curve_info(c);
  bool ed = is_edwards(c);
  size_t raw_len = ed ? ci.field_bytes : 1 + 2 * ci.field_bytes;
  auto fits = [&](ByteView r) { return r.size() == raw_len && (ed || r[0] == 0x04); };
  uint8_t tag = 0;
  ByteView inner;
  if (parse_tlv(v, tag, inner) && tag == 0x04 && fits(inner)) return to_bytes(inner);
  if (fits(v)) return to_bytes(v);
  fail(CKR_ATTRIBUTE_VALUE_INVALID, "EC point does not fit the curve");
}

}  // namespace keyseal::crypto
