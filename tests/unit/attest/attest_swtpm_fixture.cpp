// The attest.swtpm suites' shared fixture: the two swtpms and their ESAPI contexts, the test AK CA, and the
// World of keys and attestations made once per suite (see attest_swtpm_fixture.h).
#include "attest_swtpm_fixture.h"

#include "tpm/ek_factor.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_tctildr.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace keyseal::attest::testing {
namespace {

void check_rc(TSS2_RC rc, const char* what) {
  if (rc != TSS2_RC_SUCCESS) throw std::runtime_error(std::string(what) + " failed: 0x" + std::to_string(rc));
}
#define CHECK_RC(call) check_rc((call), #call)

// ---- templates ----

// The TCG EK Credential Profile's templates L-1 (RSA 2048) and L-2 (ECC NIST P-256), tpm/'s (tpm/ek_factor.h).
// Still checked against an outside reference: TPM A's L-1 EK must be the key swtpm_setup certified at 0x01c00002,
// or the good evidence fails ek_certificate_matches.
TPM2B_PUBLIC ek_template(TPMI_ALG_PUBLIC type) {
  return type == TPM2_ALG_RSA ? tpm::ek_template_rsa() : tpm::ek_template_ecc();
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

// The certificates of a PEM file, as DER; none when it cannot be read.
std::vector<Bytes> pem_certs(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return certificates_from_pem(std::string(std::istreambuf_iterator<char>(in), {}));
}

}  // namespace

// ---- Tpm ----

Tpm::Tpm(bool ek_certs) {
  if (ek_certs) sw_.provision_ek_certs();
  sw_.start();
  CHECK_RC(Tss2_TctiLdr_Initialize(sw_.tcti().c_str(), &tcti_));
  CHECK_RC(Esys_Initialize(&ctx_, tcti_, nullptr));
}
Tpm::~Tpm() {
  Esys_Finalize(&ctx_);
  Tss2_TctiLdr_Finalize(&tcti_);
}

TSS2_RC Tpm::with_ek_session(const std::function<TSS2_RC(ESYS_TR)>& fn) {
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

ESYS_TR Tpm::create_ek(TPMI_ALG_PUBLIC type, Bytes* pub) {
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

Blob Tpm::create(ESYS_TR ek, const TPM2B_PUBLIC& tmpl) {
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

ESYS_TR Tpm::load(ESYS_TR ek, const Blob& b) {
  ESYS_TR h = ESYS_TR_NONE;
  CHECK_RC(with_ek_session([&](ESYS_TR s) {
    return Esys_Load(ctx_, ek, s, ESYS_TR_NONE, ESYS_TR_NONE, &b.priv, &b.pub, &h);
  }));
  return h;
}

Attest Tpm::certify(ESYS_TR key, ESYS_TR signer, const Bytes& nonce, const TPMT_SIG_SCHEME& scheme) {
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
Attest Tpm::certify(ESYS_TR key, ESYS_TR signer, const Bytes& nonce) {
  return certify(key, signer, nonce, TPMT_SIG_SCHEME{.scheme = TPM2_ALG_NULL, .details = {}});
}

Attest Tpm::certify_creation(ESYS_TR signer, ESYS_TR key, const Blob& b, const Bytes& nonce) {
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

std::optional<Bytes> Tpm::activate(ESYS_TR ak, ESYS_TR ek, const Credential& c, bool ek_policy) {
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

Bytes Tpm::read_public(TPM2_HANDLE handle) {
  ESYS_TR h = ESYS_TR_NONE;
  CHECK_RC(Esys_TR_FromTPMPublic(ctx_, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h));
  TPM2B_PUBLIC* p = nullptr;
  CHECK_RC(Esys_ReadPublic(ctx_, h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &p, nullptr, nullptr));
  const Bytes out = pub_bytes(*p);
  Esys_Free(p);
  Esys_TR_Close(ctx_, &h);
  return out;
}

Bytes Tpm::nv_read(TPM2_HANDLE index) {
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

void Tpm::flush(ESYS_TR& h) {
  if (h != ESYS_TR_NONE) Esys_FlushContext(ctx_, h);
  h = ESYS_TR_NONE;
}

// ---- TestCa ----

TestCa::TestCa() {
  key_.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  cert_.reset(make(key_.get(), "keyseal test AK CA", true, false));
}

Bytes TestCa::root() const { return der(cert_.get()); }

Bytes TestCa::issue(EVP_PKEY* subject, bool ak_eku, const std::function<void(X509*)>& extra) const {
  detail::Cert c(make(subject, "", false, ak_eku, extra));
  return der(c.get());
}

Bytes TestCa::der(X509* c) {
  unsigned char* d = nullptr;
  const int n = i2d_X509(c, &d);
  Bytes out(d, d + n);
  OPENSSL_free(d);
  return out;
}

X509* TestCa::make(EVP_PKEY* subject, const std::string& cn, bool ca, bool ak_eku,
                   const std::function<void(X509*)>& extra) const {
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

// ---- World ----

World::World() {
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

Evidence World::good() const {
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

std::optional<Bytes> World::activate(const Credential& c, TPMI_ALG_PUBLIC ek_type) {
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

std::optional<Bytes> World::activate_p384(const Credential& c) {
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

Bytes World::ek_public(TPMI_ALG_PUBLIC type) {
  Bytes pub;
  ESYS_TR ek = a.create_ek(type, &pub);
  a.flush(ek);
  return pub;
}

VerifyOptions World::options(bool with_activation) {
  VerifyOptions o;
  o.roots = roots_a;
  o.nonce = kNonce;
  if (with_activation) o.activate = [this](const Credential& c) { return activate(c); };
  return o;
}

// ---- AttestSwtpm ----

void AttestSwtpm::SetUpTestSuite() {
  try {
    world_ = new World();
  } catch (const std::exception& e) {
    setup_error_ = e.what();
  }
}

void AttestSwtpm::TearDownTestSuite() {
  delete world_;
  world_ = nullptr;
}

void AttestSwtpm::SetUp() { ASSERT_TRUE(world_) << "swtpm set-up failed: " << setup_error_; }

std::string AttestSwtpm::describe(const Report& r) {
  std::string s;
  for (const Check& c : r.checks) s += (c.ok ? "ok   " : "FAIL ") + c.name + ": " + c.detail + "\n";
  return s;
}

void AttestSwtpm::expect_fails(const Report& r, const std::string& name) {
  const Check* c = r.find(name);
  ASSERT_TRUE(c) << name;
  EXPECT_FALSE(c->ok) << describe(r);
  EXPECT_FALSE(r.ok());
}

void AttestSwtpm::expect_passes(const Report& r, const std::string& name) {
  const Check* c = r.find(name);
  ASSERT_TRUE(c) << name;
  EXPECT_TRUE(c->ok) << describe(r);
}

World* AttestSwtpm::world_ = nullptr;
std::string AttestSwtpm::setup_error_;

}  // namespace keyseal::attest::testing
