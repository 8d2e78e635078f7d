// OpenSSL 3 implementations of the cross-checks in ossl.h: the module's signatures are verified, and its
// decryption and ECDH are fed, by an implementation that shares no code with the module under test.
#include "ossl.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <memory>

namespace keyseal::conformance::ossl {
namespace {

struct Free {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(EVP_PKEY_CTX* p) const { EVP_PKEY_CTX_free(p); }
  void operator()(EVP_MD_CTX* p) const { EVP_MD_CTX_free(p); }
  void operator()(OSSL_PARAM_BLD* p) const { OSSL_PARAM_BLD_free(p); }
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(ECDSA_SIG* p) const { ECDSA_SIG_free(p); }
};
template <class T>
using Ptr = std::unique_ptr<T, Free>;

Ptr<EVP_PKEY> rsa_public(const Bytes& n, const Bytes& e) {
  Ptr<BIGNUM> bn(BN_bin2bn(n.data(), (int)n.size(), nullptr)), be(BN_bin2bn(e.data(), (int)e.size(), nullptr));
  Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn.get());
  OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, be.get());
  Ptr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld.get()));
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    return nullptr;
  return Ptr<EVP_PKEY>(pkey);
}

Ptr<EVP_PKEY> ec_public(int nid, const Bytes& point) {
  Ptr<OSSL_PARAM_BLD> bld(OSSL_PARAM_BLD_new());
  OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0);
  OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size());
  Ptr<OSSL_PARAM> params(OSSL_PARAM_BLD_to_param(bld.get()));
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
  EVP_PKEY* pkey = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    return nullptr;
  return Ptr<EVP_PKEY>(pkey);
}

const EVP_MD* md_of(CK_MECHANISM_TYPE m) {
  auto name = digest_name(m);
  return name.empty() ? nullptr : EVP_get_digestbyname(name.c_str());
}

}  // namespace

std::string last_error() {
  unsigned long e = ERR_get_error();
  char buf[256] = "no OpenSSL error";
  if (e) ERR_error_string_n(e, buf, sizeof buf);
  ERR_clear_error();
  return buf;
}

std::string digest_name(CK_MECHANISM_TYPE d) {
  switch (d) {
    case CKM_MD5: return "MD5";
    case CKM_SHA_1: return "SHA1";
    case CKM_SHA224: return "SHA224";
    case CKM_SHA256: return "SHA256";
    case CKM_SHA384: return "SHA384";
    case CKM_SHA512: return "SHA512";
    default: return "";
  }
}

Bytes digest(CK_MECHANISM_TYPE m, const Bytes& data) {
  const EVP_MD* md = md_of(m);
  if (!md) return {};
  Bytes out(EVP_MAX_MD_SIZE);
  unsigned len = 0;
  EVP_Digest(data.data(), data.size(), out.data(), &len, md, nullptr);
  out.resize(len);
  return out;
}

bool rsa_verify(const Bytes& n, const Bytes& e, const std::string& padding, CK_MECHANISM_TYPE digest_mech,
                CK_MECHANISM_TYPE mgf_digest, int salt_len, const Bytes& data, const Bytes& sig, bool prehashed,
                std::string* err) {
  auto key = rsa_public(n, e);
  if (!key) return *err = "cannot build RSA key: " + last_error(), false;
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  if (padding == "none") {
    // Raw RSA: recover the message representative and compare it with the (left-padded) input.
    Bytes out(n.size() + 1);
    size_t len = out.size();
    if (EVP_PKEY_verify_recover_init(ctx.get()) <= 0 ||
        EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_NO_PADDING) <= 0 ||
        EVP_PKEY_verify_recover(ctx.get(), out.data(), &len, sig.data(), sig.size()) <= 0)
      return *err = "recover failed: " + last_error(), false;
    out.resize(len);
    Bytes expect(out.size() > data.size() ? out.size() - data.size() : 0, 0);
    expect.insert(expect.end(), data.begin(), data.end());
    if (out != expect) return *err = "raw RSA representative differs", false;
    return true;
  }
  Bytes hash = prehashed || digest_mech == 0 ? data : digest(digest_mech, data);
  if (EVP_PKEY_verify_init(ctx.get()) <= 0) return *err = last_error(), false;
  if (padding == "pkcs1") {
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING);
    if (digest_mech) EVP_PKEY_CTX_set_signature_md(ctx.get(), md_of(digest_mech));
  } else {
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING);
    EVP_PKEY_CTX_set_signature_md(ctx.get(), md_of(digest_mech));
    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md_of(mgf_digest));
    EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), salt_len);
  }
  int r = EVP_PKEY_verify(ctx.get(), sig.data(), sig.size(), hash.data(), hash.size());
  if (r != 1) return *err = "OpenSSL rejects the signature: " + last_error(), false;
  return true;
}

Bytes rsa_encrypt(const Bytes& n, const Bytes& e, const std::string& padding, CK_MECHANISM_TYPE digest_mech,
                  CK_MECHANISM_TYPE mgf_digest, const Bytes& label, const Bytes& pt, std::string* err) {
  auto key = rsa_public(n, e);
  if (!key) return *err = "cannot build RSA key", Bytes{};
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  if (EVP_PKEY_encrypt_init(ctx.get()) <= 0) return *err = last_error(), Bytes{};
  if (padding == "oaep") {
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING);
    EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md_of(digest_mech));
    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md_of(mgf_digest));
    if (!label.empty()) {
      auto* copy = static_cast<unsigned char*>(OPENSSL_memdup(label.data(), label.size()));
      EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), copy, (int)label.size());
    }
  } else {
    EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING);
  }
  size_t len = 0;
  if (EVP_PKEY_encrypt(ctx.get(), nullptr, &len, pt.data(), pt.size()) <= 0) return *err = last_error(), Bytes{};
  Bytes out(len);
  if (EVP_PKEY_encrypt(ctx.get(), out.data(), &len, pt.data(), pt.size()) <= 0) return *err = last_error(), Bytes{};
  out.resize(len);
  return out;
}

Bytes unwrap_octet_string(const Bytes& der, bool* was_wrapped) {
  if (was_wrapped) *was_wrapped = false;
  if (der.size() < 2 || der[0] != 0x04) return der;
  size_t len = der[1], hdr = 2;
  if (len & 0x80) {
    size_t nb = len & 0x7f;
    if (nb == 0 || nb > 2 || der.size() < 2 + nb) return der;
    len = 0;
    for (size_t i = 0; i < nb; ++i) len = len << 8 | der[2 + i];
    hdr = 2 + nb;
  }
  if (hdr + len != der.size()) return der;
  if (was_wrapped) *was_wrapped = true;
  return Bytes(der.begin() + hdr, der.end());
}

bool ecdsa_verify(int nid, const Bytes& ec_point, CK_MECHANISM_TYPE digest_mech, const Bytes& data, const Bytes& sig,
                  std::string* err) {
  auto key = ec_public(nid, unwrap_octet_string(ec_point));
  if (!key) return *err = "cannot build EC key: " + last_error(), false;
  if (sig.size() % 2) return *err = "odd signature length", false;
  size_t half = sig.size() / 2;
  Ptr<ECDSA_SIG> es(ECDSA_SIG_new());
  ECDSA_SIG_set0(es.get(), BN_bin2bn(sig.data(), (int)half, nullptr), BN_bin2bn(sig.data() + half, (int)half, nullptr));
  unsigned char* der = nullptr;
  int der_len = i2d_ECDSA_SIG(es.get(), &der);
  Bytes der_sig(der, der + der_len);
  OPENSSL_free(der);
  Bytes hash = digest_mech ? digest(digest_mech, data) : data;
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(key.get(), nullptr));
  if (EVP_PKEY_verify_init(ctx.get()) <= 0) return *err = last_error(), false;
  if (EVP_PKEY_verify(ctx.get(), der_sig.data(), der_sig.size(), hash.data(), hash.size()) != 1)
    return *err = "OpenSSL rejects the ECDSA signature: " + last_error(), false;
  return true;
}

bool rsa_private_attributes(const Bytes& der, std::vector<std::pair<CK_ATTRIBUTE_TYPE, Bytes>>& out) {
  const unsigned char* p = der.data();
  Ptr<EVP_PKEY> key(d2i_AutoPrivateKey(nullptr, &p, (long)der.size()));
  if (!key) return false;
  const std::pair<CK_ATTRIBUTE_TYPE, const char*> names[] = {
      {CKA_MODULUS, OSSL_PKEY_PARAM_RSA_N},          {CKA_PUBLIC_EXPONENT, OSSL_PKEY_PARAM_RSA_E},
      {CKA_PRIVATE_EXPONENT, OSSL_PKEY_PARAM_RSA_D}, {CKA_PRIME_1, OSSL_PKEY_PARAM_RSA_FACTOR1},
      {CKA_PRIME_2, OSSL_PKEY_PARAM_RSA_FACTOR2},    {CKA_EXPONENT_1, OSSL_PKEY_PARAM_RSA_EXPONENT1},
      {CKA_EXPONENT_2, OSSL_PKEY_PARAM_RSA_EXPONENT2}, {CKA_COEFFICIENT, OSSL_PKEY_PARAM_RSA_COEFFICIENT1}};
  for (auto& [type, name] : names) {
    BIGNUM* bn = nullptr;
    if (!EVP_PKEY_get_bn_param(key.get(), name, &bn)) return false;
    Bytes v(BN_num_bytes(bn));
    BN_bn2bin(bn, v.data());
    BN_free(bn);
    out.emplace_back(type, v);
  }
  return true;
}

Certificate self_signed_certificate(const std::string& cn) {
  Certificate c;
  Ptr<EVP_PKEY> key(EVP_EC_gen("P-256"));
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 0x4b53);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400L * 365);
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key.get());
  X509_sign(x, key.get(), EVP_sha256());
  auto to_der = [](auto* obj, auto fn) {
    unsigned char* p = nullptr;
    int n = fn(obj, &p);
    Bytes out(p, p + (n > 0 ? n : 0));
    OPENSSL_free(p);
    return out;
  };
  c.der = to_der(x, i2d_X509);
  c.subject = to_der(X509_get_subject_name(x), i2d_X509_NAME);
  c.issuer = to_der(X509_get_issuer_name(x), i2d_X509_NAME);
  c.serial = to_der(X509_get_serialNumber(x), i2d_ASN1_INTEGER);
  X509_free(x);
  return c;
}

Bytes certificate_subject(const Bytes& der) {
  const unsigned char* p = der.data();
  X509* x = d2i_X509(nullptr, &p, (long)der.size());
  if (!x) return {};
  unsigned char* out = nullptr;
  int n = i2d_X509_NAME(X509_get_subject_name(x), &out);
  Bytes subject(out, out + (n > 0 ? n : 0));
  OPENSSL_free(out);
  X509_free(x);
  return subject;
}

namespace {
bool eddsa_verify(int type, const Bytes& pub, const Bytes& data, const Bytes& sig, std::string* err) {
  Ptr<EVP_PKEY> key(EVP_PKEY_new_raw_public_key(type, nullptr, pub.data(), pub.size()));
  if (!key) return *err = "cannot build the EdDSA key: " + last_error(), false;
  Ptr<EVP_MD_CTX> ctx(EVP_MD_CTX_new());
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key.get()) <= 0) return *err = last_error(), false;
  if (EVP_DigestVerify(ctx.get(), sig.data(), sig.size(), data.data(), data.size()) != 1)
    return *err = "OpenSSL rejects the EdDSA signature: " + last_error(), false;
  return true;
}
}  // namespace

bool ed25519_verify(const Bytes& pub, const Bytes& data, const Bytes& sig, std::string* err) {
  return eddsa_verify(EVP_PKEY_ED25519, pub, data, sig, err);
}

bool ed448_verify(const Bytes& pub, const Bytes& data, const Bytes& sig, std::string* err) {
  return eddsa_verify(EVP_PKEY_ED448, pub, data, sig, err);
}

EcPeer::~EcPeer() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey)); }

bool ec_peer_generate(int nid, EcPeer& peer) {
  EVP_PKEY* k = EVP_EC_gen(OBJ_nid2sn(nid));
  if (!k) return false;
  peer.pkey = k;
  size_t len = 0;
  EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, nullptr, 0, &len);
  peer.public_point.resize(len);
  EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, peer.public_point.data(), len, &len);
  return true;
}

Bytes ecdh(const EcPeer& peer, int nid, const Bytes& peer_point, std::string* err) {
  auto other = ec_public(nid, unwrap_octet_string(peer_point));
  if (!other) return *err = "cannot build peer key: " + last_error(), Bytes{};
  Ptr<EVP_PKEY_CTX> ctx(EVP_PKEY_CTX_new(static_cast<EVP_PKEY*>(peer.pkey), nullptr));
  size_t len = 0;
  if (EVP_PKEY_derive_init(ctx.get()) <= 0 || EVP_PKEY_derive_set_peer(ctx.get(), other.get()) <= 0 ||
      EVP_PKEY_derive(ctx.get(), nullptr, &len) <= 0)
    return *err = last_error(), Bytes{};
  Bytes out(len);
  if (EVP_PKEY_derive(ctx.get(), out.data(), &len) <= 0) return *err = last_error(), Bytes{};
  out.resize(len);
  return out;
}

}  // namespace keyseal::conformance::ossl
