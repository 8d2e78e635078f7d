// PKCS#12 (RFC 7292) and PEM (RFC 7468) reading with OpenSSL 3 into PKCS#11 attribute values (PKCS#11 3.0
// sections 4.6.3 X.509 certificates, 4.8/4.9 RSA, EC and Edwards keys), and SPKI/certificate PEM writing.
#include "cli/pem_p12.h"

#include "cli/errors.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include <algorithm>
#include <cctype>
#include <exception>
#include <memory>
#include <string_view>

namespace keyseal::cli {
namespace {

template <class T, void (*F)(T*)>
struct Deleter {
  void operator()(T* p) const { F(p); }
};
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using PKeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using P12Ptr = std::unique_ptr<PKCS12, Deleter<PKCS12, PKCS12_free>>;
using PubkeyPtr = std::unique_ptr<X509_PUBKEY, Deleter<X509_PUBKEY, X509_PUBKEY_free>>;
using ObjPtr = std::unique_ptr<ASN1_OBJECT, Deleter<ASN1_OBJECT, ASN1_OBJECT_free>>;
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_clear_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using OctetPtr = std::unique_ptr<ASN1_OCTET_STRING, Deleter<ASN1_OCTET_STRING, ASN1_OCTET_STRING_free>>;

void free_x509_stack(STACK_OF(X509)* s) { sk_X509_pop_free(s, X509_free); }
using X509StackPtr = std::unique_ptr<STACK_OF(X509), Deleter<STACK_OF(X509), free_x509_stack>>;

// DER of Ed25519's AlgorithmIdentifier OID 1.3.101.112 (RFC 8410), used as CKA_EC_PARAMS.
constexpr uint8_t kEd25519Oid[] = {0x06, 0x03, 0x2B, 0x65, 0x70};
constexpr uint8_t kEd448Oid[] = {0x06, 0x03, 0x2B, 0x65, 0x71};  // id-Ed448, 1.3.101.113

// The first queued OpenSSL error as text (and the queue cleared), for messages.
std::string ossl_reason() {
  const unsigned long e = ERR_peek_last_error();
  std::string why;
  if (e != 0) {
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    why = std::string(": ") + buf;
  }
  ERR_clear_error();
  return why;
}

[[noreturn]] void ossl_fail(const std::string& what) { throw Failure(what + ossl_reason()); }

BioPtr mem_bio(ByteView data) {
  BioPtr b(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (!b) ossl_fail("out of memory");
  return b;
}

template <class F>
Bytes to_der(F encode) {
  unsigned char* out = nullptr;
  const int n = encode(&out);
  if (n <= 0) ossl_fail("cannot DER-encode");
  Bytes der(out, out + n);
  OPENSSL_free(out);
  return der;
}

std::string bio_text(BIO* b) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(b, &p);
  return std::string(p, static_cast<size_t>(n));
}

Bytes der_octet_string(ByteView raw) {
  Bytes out{0x04};
  if (raw.size() < 0x80) {
    out.push_back(static_cast<uint8_t>(raw.size()));
  } else {
    out.push_back(0x81);  // every point here is under 256 bytes (P-521 uncompressed: 133)
    out.push_back(static_cast<uint8_t>(raw.size()));
  }
  out.insert(out.end(), raw.begin(), raw.end());
  return out;
}

// Bytes of a parameter the key must have; `secret` values are held in SecureBytes by the caller.
SecureBytes bn_param(const EVP_PKEY* k, const char* name, size_t pad_to = 0) {
  BIGNUM* raw = nullptr;
  if (!EVP_PKEY_get_bn_param(k, name, &raw)) ossl_fail(std::string("the key has no ") + name);
  BnPtr bn(raw);
  const size_t n = std::max(pad_to, static_cast<size_t>(BN_num_bytes(bn.get())));
  SecureBytes out(n);
  if (BN_bn2binpad(bn.get(), out.data(), static_cast<int>(n)) < 0) ossl_fail(std::string("cannot encode ") + name);
  return out;
}

Bytes public_bytes(const SecureBytes& s) { return Bytes(s.begin(), s.end()); }

Bytes spki_of(EVP_PKEY* k) {
  return to_der([&](unsigned char** out) { return i2d_PUBKEY(k, out); });
}

KeyMaterial rsa_material(EVP_PKEY* k) {
  BIGNUM* third = nullptr;
  if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_FACTOR3, &third)) {
    BN_clear_free(third);
    throw Failure("multi-prime RSA keys are not supported");
  }
  ERR_clear_error();
  KeyMaterial m;
  m.alg = KeyAlg::rsa;
  m.bits = static_cast<unsigned>(EVP_PKEY_get_bits(k));
  m.modulus = public_bytes(bn_param(k, OSSL_PKEY_PARAM_RSA_N));
  m.public_exponent = public_bytes(bn_param(k, OSSL_PKEY_PARAM_RSA_E));
  m.private_exponent = bn_param(k, OSSL_PKEY_PARAM_RSA_D);
  m.prime_1 = bn_param(k, OSSL_PKEY_PARAM_RSA_FACTOR1);
  m.prime_2 = bn_param(k, OSSL_PKEY_PARAM_RSA_FACTOR2);
  m.exponent_1 = bn_param(k, OSSL_PKEY_PARAM_RSA_EXPONENT1);
  m.exponent_2 = bn_param(k, OSSL_PKEY_PARAM_RSA_EXPONENT2);
  m.coefficient = bn_param(k, OSSL_PKEY_PARAM_RSA_COEFFICIENT1);
  m.spki = spki_of(k);
  return m;
}

KeyMaterial ec_material(EVP_PKEY* k) {
  char group[64] = {};
  if (!EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, nullptr))
    throw Failure("EC keys with explicit curve parameters are not supported; use a named curve" + ossl_reason());
  const int nid = OBJ_txt2nid(group);
  if (nid != NID_X9_62_prime256v1 && nid != NID_secp384r1 && nid != NID_secp521r1)
    throw Failure(std::string("EC curve ") + group + " is not supported (P-256, P-384 and P-521 are)");
  KeyMaterial m;
  m.alg = KeyAlg::ec;
  m.bits = static_cast<unsigned>(EVP_PKEY_get_bits(k));
  m.ec_params = to_der([&](unsigned char** out) { return i2d_ASN1_OBJECT(OBJ_nid2obj(nid), out); });
  // PKCS#11 wants the uncompressed point, whatever form the file used.
  EVP_PKEY_set_utf8_string_param(k, OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
                                 OSSL_PKEY_EC_POINT_CONVERSION_FORMAT_UNCOMPRESSED);
  uint8_t point[160];
  size_t point_len = 0;
  if (!EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, point, sizeof point, &point_len))
    ossl_fail("cannot read the EC public point");
  m.ec_point = der_octet_string(ByteView(point, point_len));
  m.value = bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, (m.bits + 7) / 8);
  m.spki = spki_of(k);
  return m;
}

// Ed25519 (32-byte keys) and Ed448 (57-byte keys): CKA_VALUE is the RFC 8032 private key, CKA_EC_POINT the
// public key in an OCTET STRING, CKA_EC_PARAMS the RFC 8410 OID.
KeyMaterial eddsa_material(EVP_PKEY* k, bool ed448) {
  KeyMaterial m;
  m.alg = ed448 ? KeyAlg::ed448 : KeyAlg::ed25519;
  m.bits = ed448 ? 448 : 255;
  if (ed448)
    m.ec_params.assign(std::begin(kEd448Oid), std::end(kEd448Oid));
  else
    m.ec_params.assign(std::begin(kEd25519Oid), std::end(kEd25519Oid));
  const size_t key_len = ed448 ? 57 : 32;
  uint8_t pub[57];
  size_t pub_len = key_len;
  m.value.resize(key_len);
  size_t priv_len = m.value.size();
  if (!EVP_PKEY_get_raw_public_key(k, pub, &pub_len) || !EVP_PKEY_get_raw_private_key(k, m.value.data(), &priv_len))
    ossl_fail(ed448 ? "cannot read the Ed448 key" : "cannot read the Ed25519 key");
  m.ec_point = der_octet_string(ByteView(pub, pub_len));
  m.spki = spki_of(k);
  return m;
}

KeyMaterial material_of(EVP_PKEY* k) {
  switch (EVP_PKEY_get_base_id(k)) {
    case EVP_PKEY_RSA: return rsa_material(k);
    case EVP_PKEY_EC: return ec_material(k);
    case EVP_PKEY_ED25519: return eddsa_material(k, false);
    case EVP_PKEY_ED448: return eddsa_material(k, true);
    default: {
      const char* name = EVP_PKEY_get0_type_name(k);
      throw Failure(std::string("keys of type ") + (name ? name : "unknown") +
                    " are not supported (RSA, EC P-256/P-384/P-521, Ed25519 and Ed448 are)");
    }
  }
}

Certificate certificate_of(X509* x) {
  Certificate c;
  c.der = to_der([&](unsigned char** out) { return i2d_X509(x, out); });
  c.subject = to_der([&](unsigned char** out) { return i2d_X509_NAME(X509_get_subject_name(x), out); });
  c.issuer = to_der([&](unsigned char** out) { return i2d_X509_NAME(X509_get_issuer_name(x), out); });
  c.serial = to_der([&](unsigned char** out) { return i2d_ASN1_INTEGER(X509_get0_serialNumber(x), out); });
  c.spki = to_der([&](unsigned char** out) { return i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), out); });
  const X509_NAME* subject = X509_get_subject_name(x);
  const int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (i >= 0) {
    unsigned char* utf8 = nullptr;
    const int n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i)));
    if (n > 0) c.common_name.assign(reinterpret_cast<char*>(utf8), static_cast<size_t>(n));
    OPENSSL_free(utf8);
  }
  return c;
}

// Calls the PasswordSource at most once and keeps the answer; a C callback must not throw, so an exception
// from the source is kept and rethrown by the caller.
struct PasswordCache {
  const PasswordSource& source;
  std::optional<SecureBytes> value;
  std::exception_ptr error;

  const SecureBytes* get() {
    if (!value && !error) {
      try {
        value = source();
      } catch (...) {
        error = std::current_exception();
      }
    }
    return value ? &*value : nullptr;
  }
  void rethrow() {
    if (error) std::rethrow_exception(error);
  }
};

extern "C" int pem_password_cb(char* buf, int size, int /*rwflag*/, void* u) {
  const SecureBytes* pw = static_cast<PasswordCache*>(u)->get();
  if (!pw || pw->size() > static_cast<size_t>(size)) return -1;
  std::copy(pw->begin(), pw->end(), buf);
  return static_cast<int>(pw->size());
}

bool is_pem(ByteView data) {
  const std::string_view text(reinterpret_cast<const char*>(data.data()), data.size());
  return text.find("-----BEGIN ") != std::string_view::npos;
}

// Drops OpenSSL's "no more PEM blocks" error; any other error is a real one.
bool pem_end_reached() {
  const unsigned long e = ERR_peek_last_error();
  if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
    ERR_clear_error();
    return true;
  }
  return e == 0;
}

void read_pem(ByteView data, PasswordCache& pw, PKeyPtr& key, std::vector<X509Ptr>& certs) {
  {
    BioPtr b = mem_bio(data);
    while (X509* x = PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr)) certs.emplace_back(x);
    if (!pem_end_reached()) ossl_fail("cannot read a certificate in the PEM file");
  }
  BioPtr b = mem_bio(data);
  key.reset(PEM_read_bio_PrivateKey(b.get(), nullptr, pem_password_cb, &pw));
  pw.rethrow();
  if (!key) {
    if (pem_end_reached()) return;
    if (pw.value) ossl_fail("cannot decrypt the private key (wrong password?)");
    ossl_fail("cannot read the private key in the PEM file");
  }
  PKeyPtr another(PEM_read_bio_PrivateKey(b.get(), nullptr, pem_password_cb, &pw));
  pw.rethrow();
  if (another) throw Failure("the PEM file holds more than one private key; import them one at a time");
  ERR_clear_error();
}

void read_p12(PKCS12* p12, PasswordCache& pw, PKeyPtr& key, std::vector<X509Ptr>& certs, std::string& name) {
  // Empty and absent passwords are different in PKCS#12 MACs; openssl's tools try both, so do we.
  SecureBytes pass;  // NUL-terminated copy of the asked password, wiped when freed
  const char* pass_ptr = nullptr;
  if (PKCS12_mac_present(p12)) {
    if (PKCS12_verify_mac(p12, nullptr, 0)) {
      pass_ptr = nullptr;
    } else if (PKCS12_verify_mac(p12, "", 0)) {
      pass_ptr = "";
    } else {
      ERR_clear_error();
      const SecureBytes* given = pw.get();
      pw.rethrow();
      pass.assign(given->begin(), given->end());
      pass.push_back('\0');
      pass_ptr = reinterpret_cast<const char*>(pass.data());
      if (!PKCS12_verify_mac(p12, pass_ptr, static_cast<int>(given->size()))) {
        ERR_clear_error();
        throw Failure("wrong PKCS#12 password (the file's integrity check failed)");
      }
    }
  } else {
    pass_ptr = "";
  }
  EVP_PKEY* k = nullptr;
  X509* cert = nullptr;
  STACK_OF(X509)* ca = nullptr;
  const int ok = PKCS12_parse(p12, pass_ptr, &k, &cert, &ca);
  key.reset(k);
  X509StackPtr chain(ca);
  if (cert) {
    int len = 0;
    if (const unsigned char* alias = X509_alias_get0(cert, &len); alias && len > 0)
      name.assign(reinterpret_cast<const char*>(alias), static_cast<size_t>(len));
    certs.emplace_back(cert);
  }
  if (!ok) ossl_fail("cannot read the PKCS#12 file");
  while (chain && sk_X509_num(chain.get()) > 0) certs.emplace_back(sk_X509_shift(chain.get()));
}

}  // namespace

KeyFile read_key_file(ByteView data, const PasswordSource& password) {
  ERR_clear_error();
  PasswordCache pw{password, std::nullopt, nullptr};
  PKeyPtr key;
  std::vector<X509Ptr> certs;
  KeyFile out;
  if (is_pem(data)) {
    read_pem(data, pw, key, certs);
  } else {
    const unsigned char* p = data.data();
    P12Ptr p12(d2i_PKCS12(nullptr, &p, static_cast<long>(data.size())));
    if (p12) {
      read_p12(p12.get(), pw, key, certs, out.friendly_name);
    } else {
      ERR_clear_error();
      p = data.data();
      key.reset(d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(data.size())));
      if (!key) ossl_fail("the file is neither PEM, PKCS#12 nor a DER private key");
    }
  }
  if (!key) throw Failure("the file holds no private key");
  out.key = material_of(key.get());
  for (auto it = certs.begin(); it != certs.end(); ++it) {
    if (EVP_PKEY_eq(X509_get0_pubkey(it->get()), key.get()) == 1) {
      std::rotate(certs.begin(), it, it + 1);  // the key's certificate first, the others keep their order
      out.key_cert_count = 1;
      break;
    }
  }
  ERR_clear_error();
  for (const auto& x : certs) out.certs.push_back(certificate_of(x.get()));
  return out;
}

Certificate read_certificate(ByteView data) {
  ERR_clear_error();
  X509Ptr x;
  if (is_pem(data)) {
    BioPtr b = mem_bio(data);
    x.reset(PEM_read_bio_X509(b.get(), nullptr, nullptr, nullptr));
  } else {
    const unsigned char* p = data.data();
    x.reset(d2i_X509(nullptr, &p, static_cast<long>(data.size())));
  }
  if (!x) ossl_fail("the file holds no X.509 certificate (PEM or DER)");
  return certificate_of(x.get());
}

Bytes key_id_from_spki(ByteView spki) {
  const unsigned char* p = spki.data();
  PubkeyPtr xpk(d2i_X509_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
  const unsigned char* bits = nullptr;
  int len = 0;
  if (!xpk || !X509_PUBKEY_get0_param(nullptr, &bits, &len, nullptr, xpk.get())) ossl_fail("bad public key");
  Bytes md(EVP_MAX_MD_SIZE);
  unsigned int md_len = 0;
  if (!EVP_Digest(bits, static_cast<size_t>(len), md.data(), &md_len, EVP_sha1(), nullptr)) ossl_fail("SHA-1");
  md.resize(md_len);
  return md;
}

Bytes spki_from_rsa(ByteView modulus, ByteView public_exponent) {
  BnPtr n(BN_bin2bn(modulus.data(), static_cast<int>(modulus.size()), nullptr));
  BnPtr e(BN_bin2bn(public_exponent.data(), static_cast<int>(public_exponent.size()), nullptr));
  if (!n || !e || !BN_is_odd(n.get()) || !BN_is_odd(e.get()) || BN_is_one(e.get()) || BN_cmp(e.get(), n.get()) >= 0)
    throw Failure("invalid RSA public key (CKA_MODULUS / CKA_PUBLIC_EXPONENT)" + ossl_reason());
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()))
    ossl_fail("cannot build the RSA public key");
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "RSA", nullptr));
  EVP_PKEY* k = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0)
    ossl_fail("invalid RSA public key");
  PKeyPtr key(k);
  return spki_of(key.get());
}

Bytes spki_from_ec(ByteView ec_params, ByteView ec_point) {
  const bool ed25519 = equal_bytes(ec_params, ByteView(kEd25519Oid)) ||
                       (ec_params.size() == 14 && ec_params[0] == 0x13 && ec_params[1] == 12 &&
                        std::equal(ec_params.begin() + 2, ec_params.end(), "edwards25519"));
  const bool ed448 = equal_bytes(ec_params, ByteView(kEd448Oid)) ||
                     (ec_params.size() == 12 && ec_params[0] == 0x13 && ec_params[1] == 10 &&
                      std::equal(ec_params.begin() + 2, ec_params.end(), "edwards448"));
  const bool ed = ed25519 || ed448;
  size_t field = 32;
  int nid = NID_undef;
  if (!ed) {
    const unsigned char* p = ec_params.data();
    ObjPtr oid(d2i_ASN1_OBJECT(nullptr, &p, static_cast<long>(ec_params.size())));
    nid = oid ? OBJ_obj2nid(oid.get()) : NID_undef;
    if (nid == NID_X9_62_prime256v1) field = 32;
    else if (nid == NID_secp384r1) field = 48;
    else if (nid == NID_secp521r1) field = 66;
    else throw Failure("unsupported CKA_EC_PARAMS" + ossl_reason());
  }
  // A raw point has a known size; anything else should be the DER OCTET STRING around one.
  const size_t raw_size = ed448 ? 57 : ed25519 ? 32 : 1 + 2 * field;
  Bytes point(ec_point.begin(), ec_point.end());
  if (point.size() != raw_size || (!ed && point[0] != 0x04)) {
    const unsigned char* p = ec_point.data();
    OctetPtr os(d2i_ASN1_OCTET_STRING(nullptr, &p, static_cast<long>(ec_point.size())));
    if (!os || p != ec_point.data() + ec_point.size()) ossl_fail("CKA_EC_POINT is not a point nor an OCTET STRING");
    point.assign(ASN1_STRING_get0_data(os.get()), ASN1_STRING_get0_data(os.get()) + ASN1_STRING_length(os.get()));
  }
  PKeyPtr key;
  if (ed25519) {
    if (point.size() != 32) throw Failure("an Ed25519 public key has 32 bytes");
    key.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, point.data(), point.size()));
  } else if (ed448) {
    if (point.size() != 57) throw Failure("an Ed448 public key has 57 bytes");
    key.reset(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED448, nullptr, point.data(), point.size()));
  } else {
    ParamBldPtr bld(OSSL_PARAM_BLD_new());
    if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, OBJ_nid2sn(nid), 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()))
      ossl_fail("cannot build the EC public key");
    ParamPtr params(OSSL_PARAM_BLD_to_param(bld.get()));
    PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr));
    EVP_PKEY* k = nullptr;
    if (params && ctx && EVP_PKEY_fromdata_init(ctx.get()) > 0 &&
        EVP_PKEY_fromdata(ctx.get(), &k, EVP_PKEY_PUBLIC_KEY, params.get()) > 0)
      key.reset(k);
  }
  if (!key) ossl_fail("invalid EC public key");
  return spki_of(key.get());
}

bool same_public_key(ByteView spki_a, ByteView spki_b) {
  const unsigned char* pa = spki_a.data();
  const unsigned char* pb = spki_b.data();
  PKeyPtr a(d2i_PUBKEY(nullptr, &pa, static_cast<long>(spki_a.size())));
  PKeyPtr b(d2i_PUBKEY(nullptr, &pb, static_cast<long>(spki_b.size())));
  const bool same = a && b && EVP_PKEY_eq(a.get(), b.get()) == 1;
  ERR_clear_error();
  return same;
}

std::string public_key_pem(ByteView spki) {
  const unsigned char* p = spki.data();
  PKeyPtr k(d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size())));
  if (!k) ossl_fail("the public key is not a valid SubjectPublicKeyInfo");
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || !PEM_write_bio_PUBKEY(out.get(), k.get())) ossl_fail("cannot write PEM");
  return bio_text(out.get());
}

std::string certificate_pem(ByteView der) {
  const unsigned char* p = der.data();
  X509Ptr x(d2i_X509(nullptr, &p, static_cast<long>(der.size())));
  if (!x) ossl_fail("the certificate is not valid DER");
  BioPtr out(BIO_new(BIO_s_mem()));
  if (!out || !PEM_write_bio_X509(out.get(), x.get())) ossl_fail("cannot write PEM");
  return bio_text(out.get());
}

std::optional<Bytes> parse_hex(std::string_view text) {
  Bytes out;
  int high = -1;
  for (const char ch : text) {
    if (ch == ':' || ch == ' ') {
      if (high >= 0) return std::nullopt;  // separators only between whole bytes
      continue;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (!std::isxdigit(c)) return std::nullopt;
    const int v = std::isdigit(c) ? c - '0' : std::tolower(c) - 'a' + 10;
    if (high < 0) {
      high = v;
    } else {
      out.push_back(static_cast<uint8_t>(high << 4 | v));
      high = -1;
    }
  }
  if (high >= 0 || out.empty()) return std::nullopt;
  return out;
}

}  // namespace keyseal::cli
