// The verifier against real TPM output: a swtpm manufactured with EK certificates by its own swtpm-localca,
// driven through ESAPI directly (test code only): EK from the TCG default template, an AK under it with a
// PolicySecret(TPM_RH_ENDORSEMENT) session, keys certified by the AK. verify() passes evidence built from
// that, and each check fails on evidence broken in its way. make_credential is checked against the TPM's own
// TPM2_ActivateCredential for RSA and ECC EKs.
//
// One pair of swtpms for the whole suite (RSA key generation in swtpm is slow): TPM A holds the keys, TPM B is
// "another machine". swtpm has three transient object slots, so objects are flushed as soon as they are used.
#include "attest/evidence.h"
#include "attest/tpm_structs.h"
#include "swtpm_fixture.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include <cstring>
#include <fstream>
#include <functional>
#include <iterator>
#include <memory>
#include <sys/wait.h>

namespace keyseal::attest {
namespace {

using tpm::testing::Swtpm;

constexpr uint8_t kPolicyA[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC,
                                  0x8D, 0x46, 0xA5, 0xD7, 0x24, 0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52,
                                  0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};

#define TSS_OK(call) ASSERT_EQ((call), TSS2_RC_SUCCESS) << #call
void check_rc(TSS2_RC rc, const char* what) {
  if (rc != TSS2_RC_SUCCESS) throw std::runtime_error(std::string(what) + " failed: 0x" + std::to_string(rc));
}
#define CHECK_RC(call) check_rc((call), #call)

// ---- templates ----

TPM2B_PUBLIC ek_template(TPMI_ALG_PUBLIC type) {  // TCG EK Credential Profile templates L-1 and L-2
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = type;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
  p.authPolicy.size = sizeof kPolicyA;
  std::memcpy(p.authPolicy.buffer, kPolicyA, sizeof kPolicyA);
  if (type == TPM2_ALG_RSA) {
    TPMS_RSA_PARMS& r = p.parameters.rsaDetail;
    r.symmetric = {TPM2_ALG_AES, {.aes = 128}, {.aes = TPM2_ALG_CFB}};
    r.scheme.scheme = TPM2_ALG_NULL;
    r.keyBits = 2048;
    p.unique.rsa.size = 256;
  } else {
    TPMS_ECC_PARMS& e = p.parameters.eccDetail;
    e.symmetric = {TPM2_ALG_AES, {.aes = 128}, {.aes = TPM2_ALG_CFB}};
    e.scheme.scheme = TPM2_ALG_NULL;
    e.curveID = TPM2_ECC_NIST_P256;
    e.kdf.scheme = TPM2_ALG_NULL;
    p.unique.ecc.x.size = 32;
    p.unique.ecc.y.size = 32;
  }
  return t;
}

constexpr TPMA_OBJECT kResident = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN;

TPM2B_PUBLIC ecc_template(TPMA_OBJECT attrs, TPMI_ALG_SIG_SCHEME scheme) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = attrs | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
  TPMS_ECC_PARMS& e = p.parameters.eccDetail;
  e.symmetric.algorithm = TPM2_ALG_NULL;
  e.scheme.scheme = scheme;
  e.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  e.curveID = TPM2_ECC_NIST_P256;
  e.kdf.scheme = TPM2_ALG_NULL;
  return t;
}

TPM2B_PUBLIC rsa_ak_template() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_RSA;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = kResident | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
  TPMS_RSA_PARMS& r = p.parameters.rsaDetail;
  r.symmetric.algorithm = TPM2_ALG_NULL;
  r.scheme.scheme = TPM2_ALG_RSASSA;
  r.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
  r.keyBits = 2048;
  return t;
}

Bytes pub_bytes(const TPM2B_PUBLIC& p) { return detail::marshal(p.publicArea); }
Bytes tpm2b_bytes(const uint8_t* b, size_t n) { return Bytes(b, b + n); }

struct Attest {
  Bytes info, sig;
};

struct Blob {  // a created object, to load again
  TPM2B_PRIVATE priv{};
  TPM2B_PUBLIC pub{};
  TPM2B_DIGEST creation_hash{};
  TPMT_TK_CREATION ticket{};
};

// One swtpm with an ESAPI context of its own.
class Tpm {
 public:
  explicit Tpm(bool ek_certs) {
    if (ek_certs) sw_.provision_ek_certs();
    sw_.start();
    CHECK_RC(Tss2_TctiLdr_Initialize(sw_.tcti().c_str(), &tcti_));
    CHECK_RC(Esys_Initialize(&ctx_, tcti_, nullptr));
  }
  ~Tpm() {
    Esys_Finalize(&ctx_);
    Tss2_TctiLdr_Finalize(&tcti_);
  }
  ESYS_CONTEXT* ctx() { return ctx_; }
  const Swtpm& swtpm() const { return sw_; }

  // Runs fn with a policy session satisfying the EK's PolicySecret(TPM_RH_ENDORSEMENT); the session is used once.
  TSS2_RC with_ek_session(const std::function<TSS2_RC(ESYS_TR)>& fn) {
    const TPMT_SYM_DEF none{.algorithm = TPM2_ALG_NULL, .keyBits = {}, .mode = {}};
    ESYS_TR s = ESYS_TR_NONE;
    CHECK_RC(Esys_StartAuthSession(ctx_, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                   nullptr, TPM2_SE_POLICY, &none, TPM2_ALG_SHA256, &s));
    TPM2B_TIMEOUT* timeout = nullptr;
    TPMT_TK_AUTH* ticket = nullptr;
    CHECK_RC(Esys_PolicySecret(ctx_, ESYS_TR_RH_ENDORSEMENT, s, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                               nullptr, nullptr, nullptr, 0, &timeout, &ticket));
    Esys_Free(timeout), Esys_Free(ticket);
    CHECK_RC(Esys_TRSess_SetAttributes(ctx_, s, 0, TPMA_SESSION_CONTINUESESSION));  // flushed by its use
    const TSS2_RC rc = fn(s);
    if (rc != TSS2_RC_SUCCESS) Esys_FlushContext(ctx_, s);
    return rc;
  }

  ESYS_TR create_ek(TPMI_ALG_PUBLIC type, Bytes* pub) {
    const TPM2B_SENSITIVE_CREATE sens{};
    const TPM2B_DATA outside{};
    const TPML_PCR_SELECTION pcrs{};
    const TPM2B_PUBLIC tmpl = ek_template(type);
    ESYS_TR h = ESYS_TR_NONE;
    TPM2B_PUBLIC* out = nullptr;
    TPM2B_CREATION_DATA* cd = nullptr;
    TPM2B_DIGEST* ch = nullptr;
    TPMT_TK_CREATION* tk = nullptr;
    CHECK_RC(Esys_CreatePrimary(ctx_, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                                &tmpl, &outside, &pcrs, &h, &out, &cd, &ch, &tk));
    *pub = pub_bytes(*out);
    Esys_Free(out), Esys_Free(cd), Esys_Free(ch), Esys_Free(tk);
    return h;
  }

  Blob create(ESYS_TR ek, const TPM2B_PUBLIC& tmpl) {
    const TPM2B_SENSITIVE_CREATE sens{};
    const TPM2B_DATA outside{};
    const TPML_PCR_SELECTION pcrs{};
    TPM2B_PRIVATE* priv = nullptr;
    TPM2B_PUBLIC* pub = nullptr;
    TPM2B_CREATION_DATA* cd = nullptr;
    TPM2B_DIGEST* ch = nullptr;
    TPMT_TK_CREATION* tk = nullptr;
    CHECK_RC(with_ek_session([&](ESYS_TR s) {
      return Esys_Create(ctx_, ek, s, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside, &pcrs, &priv, &pub, &cd,
                         &ch, &tk);
    }));
    Blob b{*priv, *pub, *ch, *tk};
    Esys_Free(priv), Esys_Free(pub), Esys_Free(cd), Esys_Free(ch), Esys_Free(tk);
    return b;
  }

  ESYS_TR load(ESYS_TR ek, const Blob& b) {
    ESYS_TR h = ESYS_TR_NONE;
    CHECK_RC(with_ek_session([&](ESYS_TR s) {
      return Esys_Load(ctx_, ek, s, ESYS_TR_NONE, ESYS_TR_NONE, &b.priv, &b.pub, &h);
    }));
    return h;
  }

  Attest certify(ESYS_TR key, ESYS_TR signer, const Bytes& nonce, const TPMT_SIG_SCHEME& scheme) {
    TPM2B_DATA q{};
    q.size = static_cast<UINT16>(nonce.size());
    std::memcpy(q.buffer, nonce.data(), nonce.size());
    TPM2B_ATTEST* info = nullptr;
    TPMT_SIGNATURE* sig = nullptr;
    CHECK_RC(Esys_Certify(ctx_, key, signer, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, &q, &scheme, &info, &sig));
    Attest a{tpm2b_bytes(info->attestationData, info->size), detail::marshal(*sig)};
    Esys_Free(info), Esys_Free(sig);
    return a;
  }
  Attest certify(ESYS_TR key, ESYS_TR signer, const Bytes& nonce) {
    return certify(key, signer, nonce, TPMT_SIG_SCHEME{.scheme = TPM2_ALG_NULL, .details = {}});
  }

  Attest certify_creation(ESYS_TR signer, ESYS_TR key, const Blob& b, const Bytes& nonce) {
    TPM2B_DATA q{};
    q.size = static_cast<UINT16>(nonce.size());
    std::memcpy(q.buffer, nonce.data(), nonce.size());
    const TPMT_SIG_SCHEME null{.scheme = TPM2_ALG_NULL, .details = {}};
    TPM2B_ATTEST* info = nullptr;
    TPMT_SIGNATURE* sig = nullptr;
    CHECK_RC(Esys_CertifyCreation(ctx_, signer, key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &q,
                                  &b.creation_hash, &null, &b.ticket, &info, &sig));
    Attest a{tpm2b_bytes(info->attestationData, info->size), detail::marshal(*sig)};
    Esys_Free(info), Esys_Free(sig);
    return a;
  }

  // TPM2_ActivateCredential with the AK and EK loaded; nullopt when the TPM refuses. An EK of a default template
  // takes the PolicySecret session; swtpm's persistent P-384 EK (userWithAuth) the empty password.
  std::optional<Bytes> activate(ESYS_TR ak, ESYS_TR ek, const Credential& c, bool ek_policy = true) {
    TPM2B_ID_OBJECT blob{};
    TPM2B_ENCRYPTED_SECRET secret{};
    size_t off = 0;
    if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(c.credential_blob.data(), c.credential_blob.size(), &off, &blob) ||
        off != c.credential_blob.size())
      return std::nullopt;
    off = 0;
    if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(c.encrypted_secret.data(), c.encrypted_secret.size(), &off, &secret) ||
        off != c.encrypted_secret.size())
      return std::nullopt;
    TPM2B_DIGEST* out = nullptr;
    const TSS2_RC rc =
        ek_policy ? with_ek_session([&](ESYS_TR s) {
          return Esys_ActivateCredential(ctx_, ak, ek, ESYS_TR_PASSWORD, s, ESYS_TR_NONE, &blob, &secret, &out);
        })
                  : Esys_ActivateCredential(ctx_, ak, ek, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, &blob,
                                            &secret, &out);
    if (rc != TSS2_RC_SUCCESS) return std::nullopt;
    Bytes got(out->buffer, out->buffer + out->size);
    Esys_Free(out);
    return got;
  }

  Bytes read_public(TPM2_HANDLE handle) {
    ESYS_TR h = ESYS_TR_NONE;
    CHECK_RC(Esys_TR_FromTPMPublic(ctx_, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h));
    TPM2B_PUBLIC* p = nullptr;
    CHECK_RC(Esys_ReadPublic(ctx_, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &p, nullptr, nullptr));
    const Bytes out = pub_bytes(*p);
    Esys_Free(p);
    Esys_TR_Close(ctx_, &h);
    return out;
  }

  Bytes nv_read(TPM2_HANDLE index) {
    ESYS_TR nv = ESYS_TR_NONE;
    CHECK_RC(Esys_TR_FromTPMPublic(ctx_, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv));
    TPM2B_NV_PUBLIC* np = nullptr;
    CHECK_RC(Esys_NV_ReadPublic(ctx_, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &np, nullptr));
    const uint16_t size = np->nvPublic.dataSize;
    Esys_Free(np);
    Bytes out;
    while (out.size() < size) {
      const uint16_t n = static_cast<uint16_t>(std::min<size_t>(512, size - out.size()));
      TPM2B_MAX_NV_BUFFER* d = nullptr;
      CHECK_RC(Esys_NV_Read(ctx_, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                            static_cast<uint16_t>(out.size()), &d));
      out.insert(out.end(), d->buffer, d->buffer + d->size);
      Esys_Free(d);
    }
    Esys_TR_Close(ctx_, &nv);
    return out;
  }

  void flush(ESYS_TR& h) {
    if (h != ESYS_TR_NONE) Esys_FlushContext(ctx_, h);
    h = ESYS_TR_NONE;
  }

 private:
  Swtpm sw_;
  TSS2_TCTI_CONTEXT* tcti_ = nullptr;
  ESYS_CONTEXT* ctx_ = nullptr;
};

// A DER certificate from a PEM file's certificates.
std::vector<Bytes> pem_certs(const std::filesystem::path& p) {
  std::vector<Bytes> out;
  FILE* f = std::fopen(p.c_str(), "r");
  if (!f) return out;
  while (X509* c = PEM_read_X509(f, nullptr, nullptr, nullptr)) {
    unsigned char* der = nullptr;
    const int n = i2d_X509(c, &der);
    out.emplace_back(der, der + n);
    OPENSSL_free(der);
    X509_free(c);
  }
  ERR_clear_error();
  std::fclose(f);
  return out;
}

// A small test CA that issues AK certificates.
class TestCa {
 public:
  TestCa() {
    key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    cert_.reset(make(key_.get(), "keyseal test AK CA", true, false));
  }
  Bytes root() const { return der(cert_.get()); }
  // A certificate for `subject` (with EKU 2.23.133.8.3 when `ak_eku`).
  Bytes issue(EVP_PKEY* subject, bool ak_eku, const std::function<void(X509*)>& extra = {}) const {
    detail::Cert c(make(subject, "", false, ak_eku, extra));
    return der(c.get());
  }

 private:
  static Bytes der(X509* c) {
    unsigned char* d = nullptr;
    const int n = i2d_X509(c, &d);
    Bytes out(d, d + n);
    OPENSSL_free(d);
    return out;
  }
  X509* make(EVP_PKEY* subject, const std::string& cn, bool ca, bool ak_eku,
             const std::function<void(X509*)>& extra = {}) const {
    X509* c = X509_new();
    X509_set_version(c, 2);
    static long serial = 1;
    ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
    X509_gmtime_adj(X509_getm_notBefore(c), -60);
    X509_gmtime_adj(X509_getm_notAfter(c), 3600);
    X509_set_pubkey(c, subject);
    X509_NAME* name = X509_NAME_new();
    if (!cn.empty()) X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_subject_name(c, name);
    X509_set_issuer_name(c, ca ? name : X509_get_subject_name(cert_.get()));
    X509_NAME_free(name);
    X509V3_CTX v3;
    X509V3_set_ctx(&v3, ca ? c : cert_.get(), c, nullptr, nullptr, 0);
    auto ext = [&](int nid, const char* value) {
      X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
      X509_add_ext(c, e, -1);
      X509_EXTENSION_free(e);
    };
    ext(NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    ext(NID_key_usage, ca ? "critical,keyCertSign" : "critical,digitalSignature");
    if (!ca) ext(NID_subject_alt_name, "DNS:ak.invalid");
    if (ak_eku) ext(NID_ext_key_usage, "2.23.133.8.3");
    if (extra) extra(c);
    X509_sign(c, key_.get(), EVP_sha256());
    return c;
  }
  detail::Pkey key_;
  detail::Cert cert_;
};

Bytes unhex_for_test(std::string_view s) { return *detail::unhex(s); }

const Bytes kNonce = {0x6b, 0x65, 0x79, 0x73, 0x65, 0x61, 0x6c, 0x01, 0x02, 0x03};

// Everything the suite's tests share, made once.
struct World {
  Tpm a{true}, b{true};
  Blob ak_blob, key_blob;
  Bytes ek_pub, ek_p384_pub, ak_pub, ak_b_pub, ak_rsa_pub, key_pub, key2_pub, dup_pub, ext_pub;
  Attest key_certify, key_creation, key2_creation, dup_certify, ext_certify, ak_self_certify, self_signed_certify,
      rsa_certify;
  std::vector<Bytes> ek_certs, roots_a, roots_b;
  TestCa ca;

  World() {
    ESYS_TR ek = a.create_ek(TPM2_ALG_RSA, &ek_pub);
    ak_blob = a.create(ek, ecc_template(kResident | TPMA_OBJECT_RESTRICTED, TPM2_ALG_ECDSA));
    ak_pub = pub_bytes(ak_blob.pub);
    ESYS_TR ak = a.load(ek, ak_blob);

    key_blob = a.create(ek, ecc_template(kResident, TPM2_ALG_NULL));
    key_pub = pub_bytes(key_blob.pub);
    ESYS_TR key = a.load(ek, key_blob);
    key_certify = a.certify(key, ak, kNonce);
    key_creation = a.certify_creation(ak, key, key_blob, kNonce);
    const TPMT_SIG_SCHEME ecdsa{.scheme = TPM2_ALG_ECDSA, .details = {.ecdsa = {.hashAlg = TPM2_ALG_SHA256}}};
    self_signed_certify = a.certify(key, key, kNonce, ecdsa);  // "AK" that is an ordinary signing key
    a.flush(key);

    const Blob key2 = a.create(ek, ecc_template(kResident, TPM2_ALG_NULL));
    key2_pub = pub_bytes(key2.pub);
    ESYS_TR k2 = a.load(ek, key2);
    key2_creation = a.certify_creation(ak, k2, key2, kNonce);
    a.flush(k2);

    // Duplicable: made in the TPM, but may leave it (no fixedTPM, no fixedParent).
    const Blob dup = a.create(ek, ecc_template(TPMA_OBJECT_SENSITIVEDATAORIGIN, TPM2_ALG_NULL));
    dup_pub = pub_bytes(dup.pub);
    ESYS_TR d = a.load(ek, dup);
    dup_certify = a.certify(d, ak, kNonce);
    a.flush(d);

    // Imported: a key made by OpenSSL, loaded into the TPM's null hierarchy with its private part.
    {
      detail::Pkey k(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
      BIGNUM *x = nullptr, *y = nullptr, *priv = nullptr;
      EVP_PKEY_get_bn_param(k.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
      EVP_PKEY_get_bn_param(k.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
      EVP_PKEY_get_bn_param(k.get(), OSSL_PKEY_PARAM_PRIV_KEY, &priv);
      TPM2B_PUBLIC pub = ecc_template(0, TPM2_ALG_NULL);
      pub.publicArea.unique.ecc.x.size = 32;
      pub.publicArea.unique.ecc.y.size = 32;
      BN_bn2binpad(x, pub.publicArea.unique.ecc.x.buffer, 32);
      BN_bn2binpad(y, pub.publicArea.unique.ecc.y.buffer, 32);
      TPM2B_SENSITIVE sens{};
      sens.sensitiveArea.sensitiveType = TPM2_ALG_ECC;
      sens.sensitiveArea.sensitive.ecc.size = 32;
      BN_bn2binpad(priv, sens.sensitiveArea.sensitive.ecc.buffer, 32);
      BN_free(x), BN_free(y), BN_clear_free(priv);
      ESYS_TR ext = ESYS_TR_NONE;
      CHECK_RC(Esys_LoadExternal(a.ctx(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &pub, ESYS_TR_RH_NULL, &ext));
      ext_pub = pub_bytes(pub);
      ext_certify = a.certify(ext, ak, kNonce);
      a.flush(ext);
    }

    ak_self_certify = a.certify(ak, ak, kNonce);  // a restricted key, attested

    // An RSASSA AK for the RSA signature path.
    a.flush(ak);
    const Blob ak_rsa = a.create(ek, rsa_ak_template());
    ak_rsa_pub = pub_bytes(ak_rsa.pub);
    ESYS_TR akr = a.load(ek, ak_rsa);
    key = a.load(ek, key_blob);
    rsa_certify = a.certify(key, akr, kNonce);
    a.flush(key);
    a.flush(akr);
    a.flush(ek);

    // swtpm_setup's EKs: RSA 2048 (template L-1, certificate at 0x01c00002) and ECC P-384 (persistent at
    // 0x81010016, certificate at 0x01c00016).
    ek_certs = {a.nv_read(0x01c00002), a.nv_read(0x01c00016)};
    ek_p384_pub = a.read_public(0x81010016);
    roots_a = pem_certs(a.swtpm().ek_ca_pem());
    roots_b = pem_certs(b.swtpm().ek_ca_pem());

    // TPM B: an AK of its own under its own EK.
    Bytes ek_b_pub;
    ESYS_TR ek_b = b.create_ek(TPM2_ALG_RSA, &ek_b_pub);
    ak_b_pub = pub_bytes(b.create(ek_b, ecc_template(kResident | TPMA_OBJECT_RESTRICTED, TPM2_ALG_ECDSA)).pub);
    b.flush(ek_b);
  }

  Evidence good() const {
    Evidence e;
    e.nonce = kNonce;
    e.key_public = key_pub;
    e.certify_info = key_certify.info;
    e.certify_signature = key_certify.sig;
    e.origin = std::string(kOriginGenerated);
    e.creation_info = key_creation.info;
    e.creation_signature = key_creation.sig;
    e.ak_public = ak_pub;
    e.ek_public = ek_pub;
    e.ek_certificates = ek_certs;
    return e;
  }

  // Credential activation in TPM A with its EK (RSA, or ECC from template L-2) and its AK.
  std::optional<Bytes> activate(const Credential& c, TPMI_ALG_PUBLIC ek_type = TPM2_ALG_RSA) {
    Bytes pub;
    ESYS_TR ek = a.create_ek(TPM2_ALG_RSA, &pub);
    ESYS_TR ak = a.load(ek, ak_blob);  // the AK's parent; the activating EK may be another
    if (ek_type != TPM2_ALG_RSA) {
      a.flush(ek);
      ek = a.create_ek(ek_type, &pub);
    }
    std::optional<Bytes> got;
    try {
      got = a.activate(ak, ek, c);
    } catch (...) {
    }
    a.flush(ak);
    a.flush(ek);
    return got;
  }
  // The same with swtpm's persistent P-384 EK (SHA-384 name algorithm, AES-256-CFB).
  std::optional<Bytes> activate_p384(const Credential& c) {
    Bytes pub;
    ESYS_TR ek = a.create_ek(TPM2_ALG_RSA, &pub);
    ESYS_TR ak = a.load(ek, ak_blob);
    a.flush(ek);
    ESYS_TR p384 = ESYS_TR_NONE;
    CHECK_RC(Esys_TR_FromTPMPublic(a.ctx(), 0x81010016, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &p384));
    std::optional<Bytes> got;
    try {
      got = a.activate(ak, p384, c, false);
    } catch (...) {
    }
    Esys_TR_Close(a.ctx(), &p384);
    a.flush(ak);
    return got;
  }
  Bytes ek_public(TPMI_ALG_PUBLIC type) {
    Bytes pub;
    ESYS_TR ek = a.create_ek(type, &pub);
    a.flush(ek);
    return pub;
  }

  VerifyOptions options(bool with_activation = true) {
    VerifyOptions o;
    o.roots = roots_a;
    o.nonce = kNonce;
    if (with_activation) o.activate = [this](const Credential& c) { return activate(c); };
    return o;
  }
};

class AttestSwtpm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    try {
      world_ = new World();
    } catch (const std::exception& e) {
      setup_error_ = e.what();
    }
  }
  static void TearDownTestSuite() {
    delete world_;
    world_ = nullptr;
  }
  void SetUp() override { ASSERT_TRUE(world_) << "swtpm set-up failed: " << setup_error_; }

  static std::string describe(const Report& r) {
    std::string s;
    for (const Check& c : r.checks) s += (c.ok ? "ok   " : "FAIL ") + c.name + ": " + c.detail + "\n";
    return s;
  }
  // The named check failed (and so the report).
  static void expect_fails(const Report& r, const std::string& name) {
    const Check* c = r.find(name);
    ASSERT_TRUE(c) << name;
    EXPECT_FALSE(c->ok) << describe(r);
    EXPECT_FALSE(r.ok());
  }
  static void expect_passes(const Report& r, const std::string& name) {
    const Check* c = r.find(name);
    ASSERT_TRUE(c) << name;
    EXPECT_TRUE(c->ok) << describe(r);
  }

  static World* world_;
  static std::string setup_error_;
};
World* AttestSwtpm::world_ = nullptr;
std::string AttestSwtpm::setup_error_;

const char* const kAllChecks[] = {"ek_certificate_chain", "ek_certificate_matches", "ak_attributes", "ak_bound_to_ek",
                                  "attest_magic", "attest_type", "attest_signature", "nonce", "attested_name",
                                  "key_fixed_tpm", "key_fixed_parent", "key_sensitive_data_origin", "key_use",
                                  "creation"};

TEST_F(AttestSwtpm, GoodEvidencePassesEveryCheck) {
  const Report r = verify(world_->good(), world_->options());
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_EQ(r.checks.size(), std::size(kAllChecks));
  for (const char* name : kAllChecks) expect_passes(r, name);
}

TEST_F(AttestSwtpm, GoodEvidenceSurvivesJson) {
  const Evidence e = from_json(to_json(world_->good()));
  EXPECT_EQ(to_json(e), to_json(world_->good()));
  const Report r = verify(e, world_->options());
  EXPECT_TRUE(r.ok()) << describe(r);
}

TEST_F(AttestSwtpm, RsassaAkPassesToo) {
  Evidence e = world_->good();
  e.ak_public = world_->ak_rsa_pub;
  e.certify_info = world_->rsa_certify.info;
  e.certify_signature = world_->rsa_certify.sig;
  e.origin = "";  // no creation evidence by this AK
  e.creation_info.clear();
  e.creation_signature.clear();
  const VerifyOptions o = world_->options(false);
  const Report r = verify(e, o);
  expect_passes(r, "attest_signature");
  expect_passes(r, "ak_attributes");
  expect_passes(r, "attested_name");
}

TEST_F(AttestSwtpm, EkCertificateFromAnotherRootFails) {
  VerifyOptions o = world_->options();
  o.roots = world_->roots_b;
  expect_fails(verify(world_->good(), o), "ek_certificate_chain");
}

TEST_F(AttestSwtpm, NoEkCertificateFails) {
  Evidence e = world_->good();
  e.ek_certificates.clear();
  expect_fails(verify(e, world_->options()), "ek_certificate_chain");
}

TEST_F(AttestSwtpm, EkCertificateOfAnotherKeyFails) {
  Evidence e = world_->good();
  e.ek_public = world_->ek_public(TPM2_ALG_ECC);  // this TPM's L-2 EK: no certificate for it
  const Report r = verify(e, world_->options(false));
  expect_passes(r, "ek_certificate_chain");
  expect_fails(r, "ek_certificate_matches");
}

TEST_F(AttestSwtpm, AkThatIsNotRestrictedFails) {
  Evidence e = world_->good();
  e.ak_public = world_->key_pub;  // an ordinary signing key certified the key itself
  e.certify_info = world_->self_signed_certify.info;
  e.certify_signature = world_->self_signed_certify.sig;
  const Report r = verify(e, world_->options(false));
  expect_passes(r, "attest_signature");
  expect_fails(r, "ak_attributes");
}

TEST_F(AttestSwtpm, AkOfAnotherTpmFailsActivation) {
  Evidence e = world_->good();
  e.ak_public = world_->ak_b_pub;  // claims TPM B's AK is under TPM A's EK
  expect_fails(verify(e, world_->options()), "ak_bound_to_ek");
}

TEST_F(AttestSwtpm, NoActivationAndNoAkCertificateFails) {
  expect_fails(verify(world_->good(), world_->options(false)), "ak_bound_to_ek");
}

TEST_F(AttestSwtpm, AkCertificateBindsTheAk) {
  Evidence e = world_->good();
  const detail::Pkey ak_key = detail::key_of(detail::parse_public(world_->ak_pub, "ak"));
  e.ak_certificates = {world_->ca.issue(ak_key.get(), true)};
  VerifyOptions o = world_->options(false);
  o.roots.push_back(world_->ca.root());
  const Report r = verify(e, o);
  EXPECT_TRUE(r.ok()) << describe(r);
}

TEST_F(AttestSwtpm, AkCertificateForAnotherKeyFails) {
  Evidence e = world_->good();
  const detail::Pkey other = detail::key_of(detail::parse_public(world_->ak_b_pub, "ak"));
  e.ak_certificates = {world_->ca.issue(other.get(), true)};
  VerifyOptions o = world_->options(false);
  o.roots.push_back(world_->ca.root());
  expect_fails(verify(e, o), "ak_bound_to_ek");
}

TEST_F(AttestSwtpm, AkCertificateWithoutAkEkuFails) {
  Evidence e = world_->good();
  const detail::Pkey ak_key = detail::key_of(detail::parse_public(world_->ak_pub, "ak"));
  e.ak_certificates = {world_->ca.issue(ak_key.get(), false)};
  VerifyOptions o = world_->options(false);
  o.roots.push_back(world_->ca.root());
  expect_fails(verify(e, o), "ak_bound_to_ek");
}

TEST_F(AttestSwtpm, FlippedMagicFails) {
  Evidence e = world_->good();
  e.certify_info[0] ^= 0x01;
  const Report r = verify(e, world_->options(false));
  expect_fails(r, "attest_magic");
  expect_fails(r, "attest_signature");
}

TEST_F(AttestSwtpm, OtherTypeFails) {
  Evidence e = world_->good();
  e.certify_info = world_->key_creation.info;  // a real TPMS_ATTEST of another type, signed by the AK
  e.certify_signature = world_->key_creation.sig;
  const Report r = verify(e, world_->options(false));
  expect_passes(r, "attest_magic");
  expect_passes(r, "attest_signature");
  expect_fails(r, "attest_type");
}

TEST_F(AttestSwtpm, FlippedTypeFails) {
  Evidence e = world_->good();
  e.certify_info[5] ^= 0x02;
  expect_fails(verify(e, world_->options(false)), "attest_type");
}

TEST_F(AttestSwtpm, FlippedSignatureFails) {
  Evidence e = world_->good();
  e.certify_signature.back() ^= 0x01;
  const Report r = verify(e, world_->options(false));
  expect_passes(r, "attest_magic");
  expect_fails(r, "attest_signature");
}

TEST_F(AttestSwtpm, SignatureOverChangedInfoFails) {
  Evidence e = world_->good();
  e.certify_info.back() ^= 0x01;  // inside the certified name: still parses
  expect_fails(verify(e, world_->options(false)), "attest_signature");
}

TEST_F(AttestSwtpm, WrongNonceFails) {
  VerifyOptions o = world_->options(false);
  o.nonce = Bytes{1, 2, 3};
  expect_fails(verify(world_->good(), o), "nonce");
}

TEST_F(AttestSwtpm, NoExpectedNonceIsReportedNotChecked) {
  VerifyOptions o = world_->options();
  o.nonce.reset();
  const Report r = verify(world_->good(), o);
  EXPECT_TRUE(r.ok()) << describe(r);
  EXPECT_NE(r.find("nonce")->detail.find(detail::hex(kNonce)), std::string::npos);
}

TEST_F(AttestSwtpm, OtherKeysPublicAreaFailsTheName) {
  Evidence e = world_->good();
  e.key_public = world_->key2_pub;
  expect_fails(verify(e, world_->options(false)), "attested_name");
}

TEST_F(AttestSwtpm, DuplicableKeyFailsFixedTpmAndFixedParent) {
  Evidence e = world_->good();
  e.key_public = world_->dup_pub;
  e.certify_info = world_->dup_certify.info;
  e.certify_signature = world_->dup_certify.sig;
  e.creation_info.clear();
  e.creation_signature.clear();
  const Report r = verify(e, world_->options(false));
  expect_passes(r, "attest_signature");
  expect_passes(r, "attested_name");
  expect_passes(r, "key_sensitive_data_origin");
  expect_fails(r, "key_fixed_tpm");
  expect_fails(r, "key_fixed_parent");
}

TEST_F(AttestSwtpm, ImportedKeyIsReportedImported) {
  Evidence e = world_->good();
  e.key_public = world_->ext_pub;
  e.certify_info = world_->ext_certify.info;
  e.certify_signature = world_->ext_certify.sig;
  e.origin = std::string(kOriginImported);
  e.creation_info.clear();
  e.creation_signature.clear();
  const Report r = verify(e, world_->options(false));
  expect_passes(r, "attest_signature");
  expect_passes(r, "attested_name");
  expect_fails(r, "key_fixed_tpm");
  expect_fails(r, "key_fixed_parent");
  expect_fails(r, "key_sensitive_data_origin");
  EXPECT_NE(r.find("key_sensitive_data_origin")->detail.find("imported"), std::string::npos);
  expect_fails(r, "creation");
}

TEST_F(AttestSwtpm, ImportedKeyClaimedGeneratedFails) {
  Evidence e = world_->good();
  e.key_public = world_->ext_pub;
  e.certify_info = world_->ext_certify.info;
  e.certify_signature = world_->ext_certify.sig;
  const Report r = verify(e, world_->options(false));
  expect_fails(r, "key_sensitive_data_origin");
  expect_fails(r, "creation");  // the creation evidence is the other key's
}

TEST_F(AttestSwtpm, RestrictedKeyFailsKeyUse) {
  Evidence e = world_->good();
  e.key_public = world_->ak_pub;
  e.certify_info = world_->ak_self_certify.info;
  e.certify_signature = world_->ak_self_certify.sig;
  const Report r = verify(e, world_->options(false));
  expect_passes(r, "attested_name");
  expect_fails(r, "key_use");
}

TEST_F(AttestSwtpm, GeneratedWithoutCreationEvidenceFails) {
  Evidence e = world_->good();
  e.creation_info.clear();
  e.creation_signature.clear();
  expect_fails(verify(e, world_->options(false)), "creation");
}

TEST_F(AttestSwtpm, CreationEvidenceOfAnotherKeyFails) {
  Evidence e = world_->good();
  e.creation_info = world_->key2_creation.info;
  e.creation_signature = world_->key2_creation.sig;
  expect_fails(verify(e, world_->options(false)), "creation");
}

TEST_F(AttestSwtpm, CreationSignatureFlippedFails) {
  Evidence e = world_->good();
  e.creation_signature.back() ^= 0x01;
  expect_fails(verify(e, world_->options(false)), "creation");
}

TEST_F(AttestSwtpm, TpmStatementWithAkCertificateVerifies) {
  Evidence e = world_->good();
  const detail::Pkey ak_key = detail::key_of(detail::parse_public(world_->ak_pub, "ak"));
  e.ak_certificates = {world_->ca.issue(ak_key.get(), true)};
  const Bytes cbor = to_tpm_statement(e);
  const Evidence back = from_tpm_statement(cbor);
  EXPECT_EQ(back.nonce, kNonce);
  EXPECT_EQ(back.certify_signature, e.certify_signature);  // r and s padded as the TPM gave them
  EXPECT_EQ(to_tpm_statement(back), cbor);
  VerifyOptions o;
  o.roots = {world_->ca.root()};
  o.nonce = kNonce;
  const Report r = verify(back, o);
  EXPECT_TRUE(r.ok()) << describe(r);
  // Without the AK CA among the roots nothing vouches for the TPM.
  o.roots = world_->roots_a;
  const Report r2 = verify(back, o);
  expect_fails(r2, "ak_bound_to_ek");
  expect_fails(r2, "ek_certificate_chain");
}

TEST_F(AttestSwtpm, TpmStatementWithRsassaSignature) {
  Evidence e = world_->good();
  e.ak_public = world_->ak_rsa_pub;
  e.certify_info = world_->rsa_certify.info;
  e.certify_signature = world_->rsa_certify.sig;
  const detail::Pkey ak_key = detail::key_of(detail::parse_public(world_->ak_rsa_pub, "ak"));
  e.ak_certificates = {world_->ca.issue(ak_key.get(), true)};
  const Evidence back = from_tpm_statement(to_tpm_statement(e));
  EXPECT_EQ(back.certify_signature, e.certify_signature);
  VerifyOptions o;
  o.roots = {world_->ca.root()};
  o.nonce = kNonce;
  const Report r = verify(back, o);
  EXPECT_TRUE(r.ok()) << describe(r);
}

TEST_F(AttestSwtpm, MakeCredentialRsaEkActivates) {
  const Bytes secret = {0x73, 0x65, 0x63, 0x72, 0x65, 0x74, 0x21, 0x00, 0xff};
  const Credential c = make_credential(world_->ek_pub, name_of(world_->ak_pub), secret);
  EXPECT_EQ(world_->activate(c, TPM2_ALG_RSA), secret);
  // The same credential through its JSON document.
  EXPECT_EQ(world_->activate(credential_from_json(to_json(c)), TPM2_ALG_RSA), secret);
}

TEST_F(AttestSwtpm, MakeCredentialEccEkActivates) {
  const Bytes ecc_ek = world_->ek_public(TPM2_ALG_ECC);
  const Bytes secret(32, 0x5a);
  EXPECT_EQ(world_->activate(make_credential(ecc_ek, name_of(world_->ak_pub), secret), TPM2_ALG_ECC), secret);
}

TEST_F(AttestSwtpm, CredentialForAnotherNameFails) {
  const Bytes secret(16, 0x11);
  EXPECT_FALSE(world_->activate(make_credential(world_->ek_pub, name_of(world_->ak_b_pub), secret), TPM2_ALG_RSA));
  const Bytes ecc_ek = world_->ek_public(TPM2_ALG_ECC);
  EXPECT_FALSE(world_->activate(make_credential(ecc_ek, name_of(world_->key_pub), secret), TPM2_ALG_ECC));
  // Made with TPM B's EK: TPM A cannot open it.
  Bytes ek_b;
  ESYS_TR h = world_->b.create_ek(TPM2_ALG_RSA, &ek_b);
  world_->b.flush(h);
  EXPECT_FALSE(world_->activate(make_credential(ek_b, name_of(world_->ak_pub), secret), TPM2_ALG_RSA));
}

TEST_F(AttestSwtpm, EkCertificateKeyIsTheDefaultTemplateEk) {
  // swtpm_setup's RSA EK is the L-1 template's: the certificate read from NV holds our EK.
  detail::Cert c = detail::parse_cert(world_->ek_certs.at(0));
  ASSERT_TRUE(c);
  EXPECT_TRUE(detail::same_key(c.get(), detail::parse_public(world_->ek_pub, "ek")));
}

TEST_F(AttestSwtpm, MakeCredentialP384EkActivates) {
  const Bytes secret(48, 0xa5);  // up to the SHA-384 digest size
  EXPECT_EQ(world_->activate_p384(make_credential(world_->ek_p384_pub, name_of(world_->ak_pub), secret)), secret);
  EXPECT_FALSE(world_->activate_p384(make_credential(world_->ek_p384_pub, name_of(world_->key_pub), secret)));
  EXPECT_THROW(make_credential(world_->ek_p384_pub, name_of(world_->ak_pub), Bytes(49, 1)), std::invalid_argument);
}

TEST_F(AttestSwtpm, EccEkWithItsCertificatePassesEveryCheck) {
  Evidence e = world_->good();
  e.ek_public = world_->ek_p384_pub;  // the second EK certificate (ECC) is the one that matches
  VerifyOptions o = world_->options(false);
  o.activate = [](const Credential& c) { return world_->activate_p384(c); };
  const Report r = verify(e, o);
  EXPECT_TRUE(r.ok()) << describe(r);
  // Activation through the RSA EK cannot open a credential made for the P-384 EK.
  expect_fails(verify(e, world_->options()), "ak_bound_to_ek");
}

// EK certificates carry TPM-specific extensions; the TCG profile's subjectDirectoryAttributes may be critical,
// and OpenSSL does not process it. Such a certificate still chains; another unknown critical extension does not.
TEST_F(AttestSwtpm, CriticalTpmExtensionsOfEkCertificates) {
  const detail::Cert real = detail::parse_cert(world_->ek_certs.at(0));
  const int at = X509_get_ext_by_NID(real.get(), NID_subject_directory_attributes, -1);
  ASSERT_GE(at, 0) << "swtpm's EK certificate has subjectDirectoryAttributes";
  const detail::Pkey ek_key = detail::key_of(detail::parse_public(world_->ek_pub, "ek"));
  auto sda_critical = [&](X509* c) {
    X509_EXTENSION* e = X509_EXTENSION_dup(X509_get_ext(real.get(), at));
    X509_EXTENSION_set_critical(e, 1);
    X509_add_ext(c, e, -1);
    X509_EXTENSION_free(e);
  };
  auto unknown_critical = [&](X509* c) {
    ASN1_OBJECT* oid = OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1);
    ASN1_OCTET_STRING* v = ASN1_OCTET_STRING_new();
    const unsigned char null[] = {0x05, 0x00};
    ASN1_OCTET_STRING_set(v, null, sizeof null);
    X509_EXTENSION* e = X509_EXTENSION_create_by_OBJ(nullptr, oid, 1, v);
    X509_add_ext(c, e, -1);
    X509_EXTENSION_free(e);
    ASN1_OCTET_STRING_free(v);
    ASN1_OBJECT_free(oid);
  };
  Evidence e = world_->good();
  VerifyOptions o = world_->options(false);
  o.roots = {world_->ca.root()};
  e.ek_certificates = {world_->ca.issue(ek_key.get(), false, sda_critical)};
  Report r = verify(e, o);
  expect_passes(r, "ek_certificate_chain");
  expect_passes(r, "ek_certificate_matches");
  e.ek_certificates = {world_->ca.issue(ek_key.get(), false, unknown_critical)};
  r = verify(e, o);
  expect_fails(r, "ek_certificate_chain");
  EXPECT_NE(r.find("ek_certificate_chain")->detail.find("critical"), std::string::npos) << describe(r);
}

// ---- the CLI commands on files, as a CA runs them ----

struct CliRun {
  int rc = -1;
  std::string out;
};
CliRun run(const std::string& args) {
  CliRun r;
  FILE* p = ::popen((std::string(KEYSEAL_CLI) + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class AttestCli : public AttestSwtpm {
 protected:
  void SetUp() override {
    AttestSwtpm::SetUp();
    std::string tmpl = (std::filesystem::temp_directory_path() / "keyseal-attest-cli-XXXXXX").string();
    ASSERT_TRUE(::mkdtemp(tmpl.data()));
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& data) {
    const std::filesystem::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << data;
    return p.string();
  }
  std::string write(const std::string& name, const Bytes& data) { return write(name, std::string(data.begin(), data.end())); }
  std::string write_pem(const std::string& name, const std::vector<Bytes>& certs) {
    std::string pem;
    for (const Bytes& der : certs) {
      const unsigned char* p = der.data();
      X509* c = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
      BIO* bio = BIO_new(BIO_s_mem());
      PEM_write_bio_X509(bio, c);
      char* text = nullptr;
      const long n = BIO_get_mem_data(bio, &text);
      pem.append(text, static_cast<size_t>(n));
      BIO_free(bio);
      X509_free(c);
    }
    return write(name, pem);
  }
  Evidence with_ak_certificate() {
    Evidence e = world_->good();
    const detail::Pkey ak_key = detail::key_of(detail::parse_public(world_->ak_pub, "ak"));
    e.ak_certificates = {world_->ca.issue(ak_key.get(), true)};
    return e;
  }
  std::filesystem::path dir_;
};

TEST_F(AttestCli, VerifyAttestationJson) {
  const std::string ev = write("evidence.json", to_json(with_ak_certificate()));
  const std::string ek_roots = world_->a.swtpm().ek_ca_pem().string();
  const std::string ak_root = write_pem("ak-ca.pem", {world_->ca.root()});
  const std::string nonce = detail::hex(kNonce);
  CliRun r = run("verify-attestation --roots " + ek_roots + " --roots " + ak_root + " --nonce " + nonce + " " + ev);
  EXPECT_EQ(r.rc, 0) << r.out;
  for (const char* name : kAllChecks) EXPECT_NE(r.out.find(std::string("ok   ") + name + ": "), std::string::npos) << name;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;

  r = run("verify-attestation --roots " + ek_roots + " --roots " + ak_root + " --nonce 00 " + ev);
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL nonce: "), std::string::npos) << r.out;

  // Another TPM's CA: neither the EK certificate nor (without the AK CA) the AK certificate chains.
  const std::string other_roots = world_->b.swtpm().ek_ca_pem().string();
  r = run("verify-attestation --roots " + other_roots + " " + ev);
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL ek_certificate_chain: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL ak_bound_to_ek: "), std::string::npos) << r.out;

  r = run("verify-attestation --roots " + ek_roots + " " + write("bad.json", std::string("{\"version\": 1}")));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("is missing"), std::string::npos) << r.out;
  r = run("verify-attestation --roots " + ev + " " + ev);  // not a certificate file
  EXPECT_EQ(r.rc, 1) << r.out;
  r = run("verify-attestation " + ev);
  EXPECT_EQ(r.rc, 2) << r.out;
}

TEST_F(AttestCli, VerifyAttestationTpmStatement) {
  const std::string st = write("statement.cbor", to_tpm_statement(with_ak_certificate()));
  const std::string ak_root = write_pem("ak-ca.pem", {world_->ca.root()});
  CliRun r = run("verify-attestation --format tpm --roots " + ak_root + " --nonce " + detail::hex(kNonce) + " " + st);
  EXPECT_EQ(r.rc, 0) << r.out;
  r = run("verify-attestation --format json --roots " + ak_root + " " + st);  // CBOR is no JSON
  EXPECT_EQ(r.rc, 1) << r.out;
}

TEST_F(AttestCli, MakeCredentialIsActivatedByTheTpm) {
  AkInfo ak;
  ak.ak_public = world_->ak_pub;
  ak.ek_public = world_->ek_pub;
  ak.ek_certificates = world_->ek_certs;
  const std::string ak_json = write("ak.json", to_json(ak));
  const std::string ek_cert = write_pem("ek.pem", world_->ek_certs);
  const std::string out = (dir_ / "credential.json").string();
  CliRun r = run("make-credential --ak " + ak_json + " --ek-cert " + ek_cert + " --secret 00112233445566778899 --out " + out);
  ASSERT_EQ(r.rc, 0) << r.out;
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(world_->activate(credential_from_json(text)), unhex_for_test("00112233445566778899"));

  // Standard output without --out.
  r = run("make-credential --ak " + ak_json + " --secret 0102");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(world_->activate(credential_from_json(r.out)), (Bytes{1, 2}));

  // An EK certificate of another key (TPM B's localca root) is refused.
  const std::string other = write_pem("other.pem", world_->roots_b);
  r = run("make-credential --ak " + ak_json + " --ek-cert " + other + " --secret 01");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("not the EK"), std::string::npos) << r.out;
  r = run("make-credential --ak " + write("bad.json", std::string("{}")) + " --secret 01");
  EXPECT_EQ(r.rc, 1) << r.out;
}

}  // namespace
}  // namespace keyseal::attest
