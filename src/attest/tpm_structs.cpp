// TPM structures for the verifier: tss2-mu unmarshalling that must consume every byte (trailing bytes would be
// outside what the TPM signed or hashed), TPM keys as OpenSSL keys, and signature verification.
#include "attest/tpm_structs.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include <cctype>
#include <stdexcept>

namespace keyseal::attest {
namespace detail {

namespace {

template <class T, class F>
T unmarshal(const Bytes& b, const std::string& what, F fn) {
  T out{};
  size_t off = 0;
  if (b.empty() || fn(b.data(), b.size(), &off, &out) != TSS2_RC_SUCCESS)
    throw std::invalid_argument(what + " is not a valid marshalled structure");
  if (off != b.size()) throw std::invalid_argument(what + " has " + std::to_string(b.size() - off) + " trailing bytes");
  return out;
}

template <class T, class F>
Bytes marshal_with(const T& v, F fn) {
  Bytes out(sizeof(T) + 64);
  size_t off = 0;
  if (fn(&v, out.data(), out.size(), &off) != TSS2_RC_SUCCESS) throw std::invalid_argument("cannot marshal");
  out.resize(off);
  return out;
}

struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
};

Pkey from_params(const char* type, OSSL_PARAM_BLD* bld) {
  OSSL_PARAM* params = OSSL_PARAM_BLD_to_param(bld);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr);
  EVP_PKEY* key = nullptr;
  const bool ok = params && ctx && EVP_PKEY_fromdata_init(ctx) == 1 &&
                  EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) == 1;
  EVP_PKEY_CTX_free(ctx);
  OSSL_PARAM_free(params);
  if (!ok) {
    EVP_PKEY_free(key);
    throw std::invalid_argument(std::string("not a valid ") + type + " public key");
  }
  return Pkey(key);
}

}  // namespace

TPMT_PUBLIC parse_public(const Bytes& b, const std::string& what) {
  return unmarshal<TPMT_PUBLIC>(b, what, Tss2_MU_TPMT_PUBLIC_Unmarshal);
}
TPMS_ATTEST parse_attest(const Bytes& b, const std::string& what) {
  return unmarshal<TPMS_ATTEST>(b, what, Tss2_MU_TPMS_ATTEST_Unmarshal);
}
TPMT_SIGNATURE parse_signature(const Bytes& b, const std::string& what) {
  return unmarshal<TPMT_SIGNATURE>(b, what, Tss2_MU_TPMT_SIGNATURE_Unmarshal);
}
Bytes marshal(const TPMT_PUBLIC& p) { return marshal_with(p, Tss2_MU_TPMT_PUBLIC_Marshal); }
Bytes marshal(const TPMT_SIGNATURE& s) { return marshal_with(s, Tss2_MU_TPMT_SIGNATURE_Marshal); }

const EVP_MD* md_of(TPMI_ALG_HASH alg) {
  switch (alg) {
    case TPM2_ALG_SHA1: return EVP_sha1();
    case TPM2_ALG_SHA256: return EVP_sha256();
    case TPM2_ALG_SHA384: return EVP_sha384();
    case TPM2_ALG_SHA512: return EVP_sha512();
    default: return nullptr;
  }
}

size_t digest_size(TPMI_ALG_HASH alg) {
  const EVP_MD* md = md_of(alg);
  return md ? static_cast<size_t>(EVP_MD_get_size(md)) : 0;
}

const char* curve_name(TPMI_ECC_CURVE curve) {
  switch (curve) {
    case TPM2_ECC_NIST_P256: return "P-256";
    case TPM2_ECC_NIST_P384: return "P-384";
    case TPM2_ECC_NIST_P521: return "P-521";
    default: return nullptr;
  }
}

size_t curve_bytes(TPMI_ECC_CURVE curve) {
  switch (curve) {
    case TPM2_ECC_NIST_P256: return 32;
    case TPM2_ECC_NIST_P384: return 48;
    case TPM2_ECC_NIST_P521: return 66;
    default: return 0;
  }
}

TPMI_ECC_CURVE curve_of_name(const std::string& group) {
  if (group == "prime256v1" || group == "P-256" || group == "secp256r1") return TPM2_ECC_NIST_P256;
  if (group == "secp384r1" || group == "P-384") return TPM2_ECC_NIST_P384;
  if (group == "secp521r1" || group == "P-521") return TPM2_ECC_NIST_P521;
  return TPM2_ECC_NONE;
}

Pkey key_of(const TPMT_PUBLIC& p) {
  std::unique_ptr<OSSL_PARAM_BLD, decltype(&OSSL_PARAM_BLD_free)> bld(OSSL_PARAM_BLD_new(), OSSL_PARAM_BLD_free);
  if (p.type == TPM2_ALG_RSA) {
    const TPM2B_PUBLIC_KEY_RSA& n = p.unique.rsa;
    if (n.size == 0) throw std::invalid_argument("RSA public area without a modulus");
    BIGNUM* bn_n = BN_bin2bn(n.buffer, n.size, nullptr);
    BIGNUM* bn_e = BN_new();
    BN_set_word(bn_e, p.parameters.rsaDetail.exponent == 0 ? 65537 : p.parameters.rsaDetail.exponent);
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n);
    OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e);
    try {
      Pkey k = from_params("RSA", bld.get());
      BN_free(bn_n), BN_free(bn_e);
      return k;
    } catch (...) {
      BN_free(bn_n), BN_free(bn_e);
      throw;
    }
  }
  if (p.type == TPM2_ALG_ECC) {
    const char* group = curve_name(p.parameters.eccDetail.curveID);
    const size_t len = curve_bytes(p.parameters.eccDetail.curveID);
    const TPMS_ECC_POINT& q = p.unique.ecc;
    if (!group) throw std::invalid_argument("ECC public area with an unsupported curve");
    if (q.x.size == 0 || q.x.size > len || q.y.size == 0 || q.y.size > len)
      throw std::invalid_argument("ECC public area with a bad point");
    Bytes point(1 + 2 * len, 0);
    point[0] = 0x04;  // uncompressed, coordinates right-aligned
    std::copy(q.x.buffer, q.x.buffer + q.x.size, point.begin() + 1 + len - q.x.size);
    std::copy(q.y.buffer, q.y.buffer + q.y.size, point.begin() + 1 + 2 * len - q.y.size);
    OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
    OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
    return from_params("EC", bld.get());
  }
  throw std::invalid_argument("public area is neither RSA nor ECC");
}

bool same_key(X509* cert, const TPMT_PUBLIC& p) {
  EVP_PKEY* ck = X509_get0_pubkey(cert);
  if (!ck) return false;
  try {
    Pkey k = key_of(p);
    return EVP_PKEY_eq(ck, k.get()) == 1;
  } catch (const std::invalid_argument&) {
    return false;
  }
}

std::string verify_signature(const TPMT_PUBLIC& key, const TPMT_SIGNATURE& sig, const Bytes& data) {
  Pkey k;
  try {
    k = key_of(key);
  } catch (const std::invalid_argument& e) {
    return std::string("the AK's public area: ") + e.what();
  }
  TPMI_ALG_HASH hash = TPM2_ALG_NULL;
  Bytes raw;
  int padding = 0;
  switch (sig.sigAlg) {
    case TPM2_ALG_RSASSA:
    case TPM2_ALG_RSAPSS: {
      if (key.type != TPM2_ALG_RSA) return "an RSA signature from a non-RSA key";
      const TPMS_SIGNATURE_RSA& r = sig.sigAlg == TPM2_ALG_RSASSA ? sig.signature.rsassa : sig.signature.rsapss;
      hash = r.hash;
      raw.assign(r.sig.buffer, r.sig.buffer + r.sig.size);
      padding = sig.sigAlg == TPM2_ALG_RSASSA ? RSA_PKCS1_PADDING : RSA_PKCS1_PSS_PADDING;
      break;
    }
    case TPM2_ALG_ECDSA: {
      if (key.type != TPM2_ALG_ECC) return "an ECDSA signature from a non-ECC key";
      const TPMS_SIGNATURE_ECC& e = sig.signature.ecdsa;
      hash = e.hash;
      ECDSA_SIG* s = ECDSA_SIG_new();
      ECDSA_SIG_set0(s, BN_bin2bn(e.signatureR.buffer, e.signatureR.size, nullptr),
                     BN_bin2bn(e.signatureS.buffer, e.signatureS.size, nullptr));
      unsigned char* der = nullptr;
      const int n = i2d_ECDSA_SIG(s, &der);
      ECDSA_SIG_free(s);
      if (n <= 0) return "cannot encode the ECDSA signature";
      raw.assign(der, der + n);
      OPENSSL_free(der);
      break;
    }
    default: return "signature algorithm 0x" + hex(Bytes{uint8_t(sig.sigAlg >> 8), uint8_t(sig.sigAlg)}) +
                    " is not RSASSA, RSAPSS or ECDSA";
  }
  const EVP_MD* md = md_of(hash);
  if (!md) return "unsupported signature hash";
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  EVP_PKEY_CTX* pctx = nullptr;
  if (EVP_DigestVerifyInit(ctx.get(), &pctx, md, nullptr, k.get()) != 1) return "cannot start verification";
  if (padding != 0) {
    if (EVP_PKEY_CTX_set_rsa_padding(pctx, padding) != 1) return "cannot set the RSA padding";
    // TPMs differ in PSS salt length (digest size, or the maximum): accept what the signature says.
    if (padding == RSA_PKCS1_PSS_PADDING && EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) != 1)
      return "cannot set the PSS salt length";
  }
  if (EVP_DigestVerify(ctx.get(), raw.data(), raw.size(), data.data(), data.size()) != 1) {
    ERR_clear_error();
    return "the signature does not verify";
  }
  return "";
}

Cert parse_cert(const Bytes& der) {
  const unsigned char* p = der.data();
  X509* c = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (!c) {
    ERR_clear_error();
    return nullptr;
  }
  if (p != der.data() + der.size()) {
    X509_free(c);
    return nullptr;
  }
  return Cert(c);
}

std::string hex(const uint8_t* p, size_t n) {
  static const char digits[] = "0123456789abcdef";
  std::string s;
  s.reserve(2 * n);
  for (size_t i = 0; i < n; ++i) s += digits[p[i] >> 4], s += digits[p[i] & 15];
  return s;
}

std::optional<Bytes> unhex(std::string_view s) {
  if (s.size() % 2) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  Bytes out(s.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    const int hi = nibble(s[2 * i]), lo = nibble(s[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string base64(const Bytes& b) {
  std::string s(4 * ((b.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(s.data()), b.data(), static_cast<int>(b.size()));
  s.resize(static_cast<size_t>(n));
  return s;
}

std::optional<Bytes> unbase64(std::string_view s) {
  if (s.size() % 4) return std::nullopt;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '/' || c == '=')) return std::nullopt;
  Bytes out(s.size() / 4 * 3);
  const int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  if (n < 0) return std::nullopt;
  size_t pad = 0;
  if (!s.empty() && s.back() == '=') ++pad;
  if (s.size() > 1 && s[s.size() - 2] == '=') ++pad;
  out.resize(static_cast<size_t>(n) - pad);
  if (base64(out) != s) return std::nullopt;  // canonical only: no '=' inside, no stray bits
  return out;
}

Bytes random_bytes(size_t n) {
  Bytes b(n);
  if (RAND_bytes(b.data(), static_cast<int>(n)) != 1) throw std::runtime_error("RAND_bytes failed");
  return b;
}

}  // namespace detail

Bytes name_of(const Bytes& tpmt_public) {
  const TPMT_PUBLIC p = detail::parse_public(tpmt_public, "public area");
  const EVP_MD* md = detail::md_of(p.nameAlg);
  if (!md) throw std::invalid_argument("public area with an unsupported name algorithm");
  Bytes name(2 + static_cast<size_t>(EVP_MD_get_size(md)));
  name[0] = static_cast<uint8_t>(p.nameAlg >> 8);
  name[1] = static_cast<uint8_t>(p.nameAlg);
  unsigned int n = 0;
  if (EVP_Digest(tpmt_public.data(), tpmt_public.size(), name.data() + 2, &n, md, nullptr) != 1)
    throw std::runtime_error("digest failed");
  return name;
}

}  // namespace keyseal::attest
