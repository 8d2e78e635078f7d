// The WebAuthn "tpm" attestation statement (W3C WebAuthn level 2 section 8.3) as ACME device attestation uses
// it, in CBOR (RFC 8949), definite lengths only. Written in CTAP2 canonical order (shorter keys first, then
// bytewise); read in any order, but strictly: no duplicate or unknown keys, no tags, floats or indefinite
// lengths, nothing after the object.
#include "attest/evidence.h"
#include "attest/tpm_structs.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/rsa.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <stdexcept>

namespace keyseal::attest {
namespace {

// ---- encoder ----

void head(Bytes& out, uint8_t major, uint64_t n) {
  const uint8_t m = static_cast<uint8_t>(major << 5);
  if (n < 24) {
    out.push_back(static_cast<uint8_t>(m | n));
    return;
  }
  int bytes = n <= 0xff ? 1 : n <= 0xffff ? 2 : n <= 0xffffffffULL ? 4 : 8;
  out.push_back(static_cast<uint8_t>(m | (bytes == 1 ? 24 : bytes == 2 ? 25 : bytes == 4 ? 26 : 27)));
  for (int i = bytes - 1; i >= 0; --i) out.push_back(static_cast<uint8_t>(n >> (8 * i)));
}
void text(Bytes& out, std::string_view s) {
  head(out, 3, s.size());
  out.insert(out.end(), s.begin(), s.end());
}
void bytes(Bytes& out, const Bytes& b) {
  head(out, 2, b.size());
  out.insert(out.end(), b.begin(), b.end());
}
void integer(Bytes& out, int64_t v) {
  if (v >= 0) head(out, 0, static_cast<uint64_t>(v));
  else head(out, 1, static_cast<uint64_t>(-1 - v));
}

// ---- decoder ----

struct Item {
  uint8_t major = 0;
  uint64_t n = 0;  // value (0, 1), length (2..5)
  Bytes data;      // 2, 3
  std::vector<Item> items;                   // 4
  std::vector<std::pair<Item, Item>> pairs;  // 5
  std::string str() const { return std::string(data.begin(), data.end()); }
};

class Decoder {
 public:
  explicit Decoder(const Bytes& b) : b_(b) {}
  Item document() {
    Item it = item(0);
    if (i_ != b_.size()) fail("trailing bytes after the attestation object");
    return it;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    throw std::invalid_argument("not a valid tpm attestation statement: " + why);
  }
  uint8_t byte() {
    if (i_ >= b_.size()) fail("truncated");
    return b_[i_++];
  }
  Item item(int depth) {
    if (depth > 8) fail("nesting too deep");
    const uint8_t ib = byte();
    Item it;
    it.major = ib >> 5;
    const uint8_t ai = ib & 31;
    if (ai < 24) {
      it.n = ai;
    } else if (ai <= 27) {
      const int len = 1 << (ai - 24);
      for (int k = 0; k < len; ++k) it.n = it.n << 8 | byte();
    } else {
      fail("indefinite length or reserved encoding");
    }
    switch (it.major) {
      case 0:
      case 1: break;
      case 2:
      case 3:
        if (it.n > b_.size() - i_) fail("truncated string");
        it.data.assign(b_.begin() + static_cast<ptrdiff_t>(i_), b_.begin() + static_cast<ptrdiff_t>(i_ + it.n));
        i_ += it.n;
        break;
      case 4:
        if (it.n > b_.size() - i_) fail("truncated array");
        for (uint64_t k = 0; k < it.n; ++k) it.items.push_back(item(depth + 1));
        break;
      case 5:
        if (it.n > b_.size() - i_) fail("truncated map");
        for (uint64_t k = 0; k < it.n; ++k) {
          Item key = item(depth + 1);
          Item val = item(depth + 1);
          if (key.major != 3) fail("a map key that is not a text string");
          for (const auto& [k2, v2] : it.pairs)
            if (k2.data == key.data) fail("duplicate key \"" + key.str() + "\"");
          it.pairs.emplace_back(std::move(key), std::move(val));
        }
        break;
      default: fail("tags and simple values are not used here");
    }
    return it;
  }
  const Bytes& b_;
  size_t i_ = 0;
};

// The map's values by key; unknown keys refused.
std::map<std::string, const Item*> members(const Item& map, std::initializer_list<std::string_view> allowed,
                                           const std::string& what) {
  if (map.major != 5) throw std::invalid_argument("tpm attestation statement: " + what + " is not a map");
  std::map<std::string, const Item*> out;
  for (const auto& [k, v] : map.pairs) {
    const std::string key = k.str();
    if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
      throw std::invalid_argument("tpm attestation statement: unknown key \"" + key + "\" in " + what);
    out[key] = &v;
  }
  return out;
}

const Item& need(const std::map<std::string, const Item*>& m, const std::string& key, uint8_t major) {
  auto it = m.find(key);
  if (it == m.end()) throw std::invalid_argument("tpm attestation statement: \"" + key + "\" is missing");
  if (it->second->major != major)
    throw std::invalid_argument("tpm attestation statement: \"" + key + "\" has the wrong type");
  return *it->second;
}

// ---- COSE algorithms of TPM signatures ----

struct Alg {
  TPMI_ALG_SIG_SCHEME scheme;
  TPMI_ALG_HASH hash;
  int64_t cose;
};
constexpr Alg kAlgs[] = {
    {TPM2_ALG_RSASSA, TPM2_ALG_SHA1, -65535}, {TPM2_ALG_RSASSA, TPM2_ALG_SHA256, -257},
    {TPM2_ALG_RSASSA, TPM2_ALG_SHA384, -258}, {TPM2_ALG_RSASSA, TPM2_ALG_SHA512, -259},
    {TPM2_ALG_RSAPSS, TPM2_ALG_SHA256, -37},  {TPM2_ALG_RSAPSS, TPM2_ALG_SHA384, -38},
    {TPM2_ALG_RSAPSS, TPM2_ALG_SHA512, -39},  {TPM2_ALG_ECDSA, TPM2_ALG_SHA256, -7},
    {TPM2_ALG_ECDSA, TPM2_ALG_SHA384, -35},   {TPM2_ALG_ECDSA, TPM2_ALG_SHA512, -36},
};

Bytes ecdsa_der(const TPMS_SIGNATURE_ECC& e) {
  ECDSA_SIG* s = ECDSA_SIG_new();
  ECDSA_SIG_set0(s, BN_bin2bn(e.signatureR.buffer, e.signatureR.size, nullptr),
                 BN_bin2bn(e.signatureS.buffer, e.signatureS.size, nullptr));
  unsigned char* der = nullptr;
  const int n = i2d_ECDSA_SIG(s, &der);
  ECDSA_SIG_free(s);
  if (n <= 0) throw std::invalid_argument("cannot encode the ECDSA signature");
  Bytes out(der, der + n);
  OPENSSL_free(der);
  return out;
}

void put_padded(TPM2B_ECC_PARAMETER& dst, const BIGNUM* v, size_t len) {
  if (static_cast<size_t>(BN_num_bytes(v)) > len || len > sizeof dst.buffer)
    throw std::invalid_argument("tpm attestation statement: an ECDSA value too large for the curve");
  dst.size = static_cast<UINT16>(len);
  BN_bn2binpad(v, dst.buffer, static_cast<int>(len));
}

// The AK's public area as its certificate gives it: the key, and the attributes an AK certificate vouches for
// (a CA issues EKU 2.23.133.8.3 only to a restricted signing key it saw resident in the TPM at enrolment).
TPMT_PUBLIC ak_from_cert(X509* cert, const Alg& alg) {
  TPMT_PUBLIC p{};
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
  EVP_PKEY* k = X509_get0_pubkey(cert);
  if (!k) throw std::invalid_argument("tpm attestation statement: the AK certificate's key is unreadable");
  if (EVP_PKEY_is_a(k, "RSA")) {
    if (alg.scheme == TPM2_ALG_ECDSA) throw std::invalid_argument("tpm attestation statement: alg does not fit the RSA AK");
    BIGNUM *n = nullptr, *e = nullptr;
    EVP_PKEY_get_bn_param(k, "n", &n);
    EVP_PKEY_get_bn_param(k, "e", &e);
    const bool fits = n && e && static_cast<size_t>(BN_num_bytes(n)) <= sizeof p.unique.rsa.buffer;
    if (fits) {
      p.type = TPM2_ALG_RSA;
      TPMS_RSA_PARMS& r = p.parameters.rsaDetail;
      r.symmetric.algorithm = TPM2_ALG_NULL;
      r.scheme.scheme = alg.scheme;
      r.scheme.details.anySig.hashAlg = alg.hash;
      r.keyBits = static_cast<UINT16>(BN_num_bits(n));
      r.exponent = BN_get_word(e) == 65537 ? 0 : static_cast<UINT32>(BN_get_word(e));
      p.unique.rsa.size = static_cast<UINT16>(BN_bn2bin(n, p.unique.rsa.buffer));
    }
    BN_free(n), BN_free(e);
    if (!fits) throw std::invalid_argument("tpm attestation statement: the AK certificate's RSA key is unusable");
    return p;
  }
  if (EVP_PKEY_is_a(k, "EC")) {
    if (alg.scheme != TPM2_ALG_ECDSA) throw std::invalid_argument("tpm attestation statement: alg does not fit the ECC AK");
    char group[64] = {};
    size_t glen = 0;
    EVP_PKEY_get_utf8_string_param(k, "group", group, sizeof group, &glen);
    const TPMI_ECC_CURVE curve = detail::curve_of_name(group);
    if (curve == TPM2_ECC_NONE) throw std::invalid_argument("tpm attestation statement: the AK's curve is unsupported");
    const size_t len = detail::curve_bytes(curve);
    BIGNUM *x = nullptr, *y = nullptr;
    EVP_PKEY_get_bn_param(k, "qx", &x);
    EVP_PKEY_get_bn_param(k, "qy", &y);
    p.type = TPM2_ALG_ECC;
    TPMS_ECC_PARMS& e = p.parameters.eccDetail;
    e.symmetric.algorithm = TPM2_ALG_NULL;
    e.scheme.scheme = TPM2_ALG_ECDSA;
    e.scheme.details.ecdsa.hashAlg = alg.hash;
    e.curveID = curve;
    e.kdf.scheme = TPM2_ALG_NULL;
    try {
      if (!x || !y) throw std::invalid_argument("tpm attestation statement: the AK certificate's EC point is unreadable");
      put_padded(p.unique.ecc.x, x, len);
      put_padded(p.unique.ecc.y, y, len);
    } catch (...) {
      BN_free(x), BN_free(y);
      throw;
    }
    BN_free(x), BN_free(y);
    return p;
  }
  throw std::invalid_argument("tpm attestation statement: the AK certificate's key is neither RSA nor EC");
}

}  // namespace

Bytes to_tpm_statement(const Evidence& e) {
  const TPMT_SIGNATURE sig = detail::parse_signature(e.certify_signature, "certify_signature");
  const Alg* alg = nullptr;
  TPMI_ALG_HASH hash = sig.signature.any.hashAlg;
  for (const Alg& a : kAlgs)
    if (a.scheme == sig.sigAlg && a.hash == hash) alg = &a;
  if (!alg) throw std::invalid_argument("certify_signature: no COSE algorithm for its scheme and hash");
  Bytes raw;
  if (sig.sigAlg == TPM2_ALG_ECDSA) {
    raw = ecdsa_der(sig.signature.ecdsa);  // WebAuthn wants an ECDSA-Sig-Value
  } else {
    const TPM2B_PUBLIC_KEY_RSA& s = sig.sigAlg == TPM2_ALG_RSASSA ? sig.signature.rsassa.sig : sig.signature.rsapss.sig;
    raw.assign(s.buffer, s.buffer + s.size);
  }
  Bytes out;
  head(out, 5, 3);
  text(out, "fmt");
  text(out, "tpm");
  text(out, "attStmt");
  head(out, 5, e.ak_certificates.empty() ? 5 : 6);
  text(out, "alg");
  integer(out, alg->cose);
  text(out, "sig");
  bytes(out, raw);
  text(out, "ver");
  text(out, "2.0");
  if (!e.ak_certificates.empty()) {
    text(out, "x5c");
    head(out, 4, e.ak_certificates.size());
    for (const Bytes& c : e.ak_certificates) bytes(out, c);
  }
  text(out, "pubArea");
  bytes(out, e.key_public);
  text(out, "certInfo");
  bytes(out, e.certify_info);
  text(out, "authData");
  bytes(out, {});
  return out;
}

Evidence from_tpm_statement(const Bytes& cbor) {
  const Item top = Decoder(cbor).document();
  const auto outer = members(top, {"fmt", "attStmt", "authData"}, "the attestation object");
  if (need(outer, "fmt", 3).str() != "tpm") throw std::invalid_argument("tpm attestation statement: fmt is not \"tpm\"");
  need(outer, "authData", 2);
  const auto st = members(need(outer, "attStmt", 5), {"ver", "alg", "x5c", "sig", "certInfo", "pubArea"}, "attStmt");
  if (need(st, "ver", 3).str() != "2.0") throw std::invalid_argument("tpm attestation statement: ver is not \"2.0\"");
  const Item& alg_item = need(st, "alg", 1);  // every TPM signature algorithm has a negative COSE number
  const Alg* alg = nullptr;
  for (const Alg& a : kAlgs)
    if (alg_item.n <= 0xffffffffULL && a.cose == -1 - static_cast<int64_t>(alg_item.n)) alg = &a;
  if (!alg) throw std::invalid_argument("tpm attestation statement: unsupported alg");

  Evidence e;
  e.key_public = need(st, "pubArea", 2).data;
  e.certify_info = need(st, "certInfo", 2).data;
  const TPMS_ATTEST info = detail::parse_attest(e.certify_info, "certInfo");
  detail::parse_public(e.key_public, "pubArea");
  e.nonce.assign(info.extraData.buffer, info.extraData.buffer + info.extraData.size);
  if (st.count("x5c")) {
    const Item& x5c = need(st, "x5c", 4);
    if (x5c.items.empty()) throw std::invalid_argument("tpm attestation statement: x5c is empty");
    for (const Item& c : x5c.items) {
      if (c.major != 2 || !detail::parse_cert(c.data))
        throw std::invalid_argument("tpm attestation statement: x5c holds an entry that is not a DER certificate");
      e.ak_certificates.push_back(c.data);
    }
  }

  const Bytes& raw = need(st, "sig", 2).data;
  TPMT_SIGNATURE sig{};
  sig.sigAlg = alg->scheme;
  TPMI_ECC_CURVE curve = TPM2_ECC_NONE;
  if (!e.ak_certificates.empty()) {
    const TPMT_PUBLIC ak = ak_from_cert(detail::parse_cert(e.ak_certificates[0]).get(), *alg);
    e.ak_public = detail::marshal(ak);
    if (ak.type == TPM2_ALG_ECC) curve = ak.parameters.eccDetail.curveID;
  }
  if (alg->scheme == TPM2_ALG_ECDSA) {
    const unsigned char* p = raw.data();
    ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(raw.size()));
    if (!s || p != raw.data() + raw.size()) {
      ECDSA_SIG_free(s);
      throw std::invalid_argument("tpm attestation statement: sig is not a DER ECDSA-Sig-Value");
    }
    // r and s as a TPM gives them: padded to the curve's size (or minimal when the curve is unknown).
    const BIGNUM *r = ECDSA_SIG_get0_r(s), *sv = ECDSA_SIG_get0_s(s);
    const size_t len = curve != TPM2_ECC_NONE ? detail::curve_bytes(curve)
                                                : static_cast<size_t>(std::max(BN_num_bytes(r), BN_num_bytes(sv)));
    sig.signature.ecdsa.hash = alg->hash;
    try {
      put_padded(sig.signature.ecdsa.signatureR, r, len);
      put_padded(sig.signature.ecdsa.signatureS, sv, len);
    } catch (...) {
      ECDSA_SIG_free(s);
      throw;
    }
    ECDSA_SIG_free(s);
  } else {
    TPMS_SIGNATURE_RSA& r = alg->scheme == TPM2_ALG_RSASSA ? sig.signature.rsassa : sig.signature.rsapss;
    if (raw.empty() || raw.size() > sizeof r.sig.buffer)
      throw std::invalid_argument("tpm attestation statement: sig has a bad size");
    r.hash = alg->hash;
    r.sig.size = static_cast<UINT16>(raw.size());
    std::memcpy(r.sig.buffer, raw.data(), raw.size());
  }
  e.certify_signature = detail::marshal(sig);
  return e;
}

}  // namespace keyseal::attest
