// Key attestation with the TPM: the AK under the EK, TPM2_Certify, TPM2_CertifyCreation and
// TPM2_ActivateCredential (TPM 2.0 Part 3 sections 12.5, 18.2, 18.3, 24.1, 23.4; TCG EK Credential Profile 2.0).
//
// Object slots: a raw TPM holds about three transient objects and our storage parent may be one of them. Every
// exchange here therefore runs inside one Guard::retrying() run that makes what it needs from nothing (EK
// primary, AK loaded under it, the EK flushed as soon as it is not needed) and flushes all of it before it
// returns, so a retry after "slots full" or "handles flushed by another client" starts clean.
#include "tpm/attest.h"

#include "attest/ak_cert_file.h"

#include "common/log.h"
#include "crypto/digest.h"
#include "platform/files.h"
#include "tpm/ek_factor.h"
#include "tpm/pin_nv.h"
#include "tpm/probe.h"
#include "tpm/tss_errors.h"

#include <openssl/pem.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <memory>
#include <system_error>

namespace keyseal::tpm {

namespace {

using attest::Bytes;
namespace fs = std::filesystem;

constexpr size_t kNvChunk = 512;  // at most TPM2_PT_NV_BUFFER_MAX on every TPM (Part 2 minimum is 512... and up)
constexpr size_t kMaxNonce = 64;  // TPM2B_DATA holds a TPMT_HA: a SHA-512 digest

template <typename T, typename M>
Bytes marshal(const T& v, M fn) {
  Bytes b(sizeof(T) + 16);
  size_t off = 0;
  if (fn(&v, b.data(), b.size(), &off) != TSS2_RC_SUCCESS) fail(CKR_GENERAL_ERROR, "marshalling a TPM structure failed");
  b.resize(off);
  return b;
}

Bytes public_area(const TPM2B_PUBLIC& p) { return marshal(p.publicArea, Tss2_MU_TPMT_PUBLIC_Marshal); }

std::string hex(ByteView b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) s += d[c >> 4], s += d[c & 15];
  return s;
}

// The AK: a restricted signing key, ECDSA P-256 with SHA-256 where the TPM has that curve, else RSASSA 2048
// with SHA-256 (TCG EK Credential Profile's AK guidance). Empty authValue: it signs only TPM-made structures.
TPM2B_PUBLIC ak_template(const TpmInfo& info) {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT |
                       TPMA_OBJECT_NODA;
  if (info.has(TPM2_ALG_ECC) && info.curves.count(TPM2_ECC_NIST_P256)) {
    p.type = TPM2_ALG_ECC;
    TPMS_ECC_PARMS& e = p.parameters.eccDetail;
    e.symmetric.algorithm = TPM2_ALG_NULL;
    e.scheme.scheme = TPM2_ALG_ECDSA;
    e.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    e.curveID = TPM2_ECC_NIST_P256;
    e.kdf.scheme = TPM2_ALG_NULL;
  } else {
    p.type = TPM2_ALG_RSA;
    TPMS_RSA_PARMS& r = p.parameters.rsaDetail;
    r.symmetric.algorithm = TPM2_ALG_NULL;
    r.scheme.scheme = TPM2_ALG_RSASSA;
    r.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
    r.keyBits = 2048;
    r.exponent = 0;
  }
  return t;
}

// PolicyB of the EK Credential Profile as a SHA-384 digest (the authPolicy of the high-range SHA-384 templates).
constexpr uint8_t kPolicyBSha384[48] = {
    0xB2, 0x6E, 0x7D, 0x28, 0xD1, 0x1A, 0x50, 0xBC, 0x53, 0xD8, 0x82, 0xBC, 0xF5, 0xFD, 0x3A, 0x1A,
    0x07, 0x41, 0x48, 0xBB, 0x35, 0xD3, 0xB4, 0xE4, 0xCB, 0x1C, 0x0A, 0xD9, 0xBD, 0xE4, 0x19, 0xCA,
    0xCB, 0x47, 0xBA, 0x09, 0x69, 0x96, 0x46, 0x15, 0x0F, 0x9F, 0xC0, 0x00, 0xF3, 0xF8, 0x0E, 0x12};

// Every handle one exchange made, flushed when it ends (best effort: a failed run may have lost them).
struct Handles {
  Connection::Guard& g;
  ESYS_TR ek = ESYS_TR_NONE, ak = ESYS_TR_NONE, key = ESYS_TR_NONE, session = ESYS_TR_NONE;
  explicit Handles(Connection::Guard& gd) : g(gd) {}
  ~Handles() { release(); }
  void flush(ESYS_TR& h) noexcept {
    if (h != ESYS_TR_NONE && h != ESYS_TR_PASSWORD) g.flush(h);
    h = ESYS_TR_NONE;
  }
  void release() noexcept {
    flush(session), flush(key), flush(ak), flush(ek);
  }
};

// A policy session satisfying the EK's policy A: PolicySecret(TPM_RH_ENDORSEMENT) with its empty authValue.
TSS2_RC ek_session(Connection::Guard& g, ESYS_TR& s) {
  TPMT_SYM_DEF sym{};
  sym.algorithm = TPM2_ALG_NULL;
  TSS2_RC rc = Esys_StartAuthSession(g.ctx(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                     nullptr, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &s);
  if (rc != TSS2_RC_SUCCESS) return rc;
  TPM2B_TIMEOUT* timeout = nullptr;
  TPMT_TK_AUTH* ticket = nullptr;
  rc = Esys_PolicySecret(g.ctx(), ESYS_TR_RH_ENDORSEMENT, s, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, nullptr,
                         nullptr, nullptr, 0, &timeout, &ticket);
  Esys_Free(timeout), Esys_Free(ticket);
  return rc;
}

// The EK's user-role authorisation for TPM2_Create/Load under it and TPM2_ActivateCredential: the empty password
// when its template has userWithAuth (high range), else a fresh policy-A session (one command each).
TSS2_RC ek_auth(Connection::Guard& g, const TPM2B_PUBLIC& tmpl, ESYS_TR& s) {
  if (tmpl.publicArea.objectAttributes & TPMA_OBJECT_USERWITHAUTH) {
    s = ESYS_TR_PASSWORD;
    return TSS2_RC_SUCCESS;
  }
  return ek_session(g, s);
}

TSS2_RC create_ek(Connection::Guard& g, const TPM2B_PUBLIC& tmpl, ESYS_TR& h, TPM2B_PUBLIC* out) {
  TPM2B_AUTH empty{};
  TSS2_RC rc = Esys_TR_SetAuth(g.ctx(), ESYS_TR_RH_ENDORSEMENT, &empty);
  if (rc != TSS2_RC_SUCCESS) return rc;
  const TPM2B_SENSITIVE_CREATE sens{};
  const TPM2B_DATA outside{};
  const TPML_PCR_SELECTION no_pcrs{};
  TPM2B_PUBLIC* pub = nullptr;
  TPM2B_CREATION_DATA* cdata = nullptr;
  TPM2B_DIGEST* chash = nullptr;
  TPMT_TK_CREATION* ticket = nullptr;
  rc = Esys_CreatePrimary(g.ctx(), ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl,
                          &outside, &no_pcrs, &h, &pub, &cdata, &chash, &ticket);
  if (rc == TSS2_RC_SUCCESS && out && pub) *out = *pub;
  Esys_Free(pub), Esys_Free(cdata), Esys_Free(chash), Esys_Free(ticket);
  return rc;
}

// An EK certificate from NV, or nullopt when the index is not there. The indices are readable with their own
// (empty) authorisation (TPMA_NV_AUTHREAD) or the owner's.
std::optional<Bytes> read_nv(Connection::Guard& g, TPM2_HANDLE index) {
  ESYS_TR tr = ESYS_TR_NONE;
  TSS2_RC rc = Esys_TR_FromTPMPublic(g.ctx(), index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &tr);
  if (rc != TSS2_RC_SUCCESS) {
    if (is_connection_error(rc) && tpm_code(rc) == 0 && (rc & 0xFFFF) != TSS2_ESYS_RC_BAD_VALUE)
      g.check(rc, "TPM2_NV_ReadPublic (EK certificate)");
    return std::nullopt;
  }
  struct Close {
    ESYS_CONTEXT* c;
    ESYS_TR* t;
    ~Close() { Esys_TR_Close(c, t); }
  } close{g.ctx(), &tr};
  TPM2B_NV_PUBLIC* pub = nullptr;
  rc = Esys_NV_ReadPublic(g.ctx(), tr, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, nullptr);
  if (rc != TSS2_RC_SUCCESS) return std::nullopt;
  const size_t size = pub->nvPublic.dataSize;
  const TPMA_NV attrs = pub->nvPublic.attributes;
  Esys_Free(pub);
  const ESYS_TR auth = (attrs & TPMA_NV_AUTHREAD) ? tr : ESYS_TR_RH_OWNER;
  Bytes out;
  while (out.size() < size) {
    const auto n = static_cast<UINT16>(std::min(kNvChunk, size - out.size()));
    TPM2B_MAX_NV_BUFFER* data = nullptr;
    rc = Esys_NV_Read(g.ctx(), auth, tr, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                      static_cast<UINT16>(out.size()), &data);
    if (rc != TSS2_RC_SUCCESS) {
      log::warn("TPM attestation: the EK certificate at NV index " + hex(Bytes{uint8_t(index >> 24), uint8_t(index >> 16),
                                                                              uint8_t(index >> 8), uint8_t(index)}) +
                " could not be read: " + describe(rc));
      return std::nullopt;
    }
    out.insert(out.end(), data->buffer, data->buffer + data->size);
    Esys_Free(data);
  }
  // Some TPMs pad the index after the DER certificate: keep exactly the certificate.
  const unsigned char* p = out.data();
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(out.size()));
  if (!x) {
    log::warn("TPM attestation: NV index " + std::to_string(index) + " does not hold a DER certificate");
    return std::nullopt;
  }
  X509_free(x);
  out.resize(static_cast<size_t>(p - out.data()));
  return out;
}

Bytes read_file(const fs::path& f) {
  std::ifstream in(f, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), {});
}

// Publishes `data` as `f` unless it exists: another process's AK may have won the race, and it is as good.
void write_private(const fs::path& f, const Bytes& data) {
  try {
    (void)platform::write_private_file(f, data.data(), data.size(), false);
  } catch (const std::system_error& e) {
    fail(CKR_DEVICE_ERROR, e.what());
  }
}

std::string tcg_id(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "id:%08X", v);
  return b;
}

}  // namespace

TPM2B_PUBLIC ek_template_ecc_p384_high() {
  TPM2B_PUBLIC t{};
  TPMT_PUBLIC& p = t.publicArea;
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA384;
  p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                       TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED |
                       TPMA_OBJECT_DECRYPT;
  p.authPolicy.size = sizeof kPolicyBSha384;
  std::memcpy(p.authPolicy.buffer, kPolicyBSha384, sizeof kPolicyBSha384);
  TPMS_ECC_PARMS& e = p.parameters.eccDetail;
  e.symmetric.algorithm = TPM2_ALG_AES;
  e.symmetric.keyBits.aes = 256;
  e.symmetric.mode.aes = TPM2_ALG_CFB;
  e.scheme.scheme = TPM2_ALG_NULL;
  e.curveID = TPM2_ECC_NIST_P384;
  e.kdf.scheme = TPM2_ALG_NULL;
  // unique: x and y empty (the high-range templates leave them empty, unlike L-1/L-2's zero-filled ones)
  return t;
}

Attestation::Attestation(Connection::Guard& g, fs::path dir) : g_(g), dir_(std::move(dir)) {}

const Attestation::Ek& Attestation::ek() {
  if (ek_) return *ek_;
  const TpmInfo& info = g_.info();
  const bool rsa = info.has(TPM2_ALG_RSA) && info.rsa_bits.count(2048);
  const bool ecc = info.has(TPM2_ALG_ECC) && info.curves.count(TPM2_ECC_NIST_P256);
  const bool p384 = info.has(TPM2_ALG_ECC) && info.curves.count(TPM2_ECC_NIST_P384) && info.has(TPM2_ALG_SHA384);
  Ek e;
  // The EK whose certificate the manufacturer put in NV (low range RSA, then ECC P-256, then the high-range
  // P-384 one); without any, the one the EK factor uses.
  std::optional<Bytes> cert;
  if (rsa && (cert = read_nv(g_, kEkCertRsaIndex))) {
    e.tmpl = ek_template_rsa();
  } else if (ecc && (cert = read_nv(g_, kEkCertEccIndex))) {
    e.tmpl = ek_template_ecc();
  } else if (p384 && (cert = read_nv(g_, kEkCertEccP384Index))) {
    e.tmpl = ek_template_ecc_p384_high();
  } else if (ecc || rsa) {
    e.tmpl = ecc ? ek_template_ecc() : ek_template_rsa();
  } else {
    fail(CKR_DEVICE_ERROR, "this TPM has neither ECC NIST P-256 nor RSA 2048 for an endorsement key");
  }
  if (cert) e.certs.push_back(std::move(*cert));
  ek_ = std::move(e);
  return *ek_;
}

fs::path Attestation::ak_dir() {
  // Named after the EK itself, so the folder of another TPM (or of this one after its EK changed) is never used.
  const Bytes pub = public_area(ek_pub_);
  const SecureBytes d = crypto::digest(CKM_SHA256, ByteView(pub.data(), pub.size()));
  return dir_ / ("ek-" + hex(ByteView(d.data(), 8)));
}

void Attestation::ensure_ak() {
  if (have_ak_) return;
  const TPM2B_PUBLIC ek_tmpl = ek().tmpl;
  // The EK's public key first: it names the folder the AK blob is kept in.
  {
    Handles h(g_);
    g_.check(g_.retrying([&] {
               h.release();
               return create_ek(g_, ek_tmpl, h.ek, &ek_pub_);
             }),
             "TPM2_CreatePrimary (endorsement key)");
  }
  const fs::path dir = ak_dir();
  const fs::path blob = dir / "ak.blob";
  Bytes b = read_file(blob);
  if (!b.empty()) {
    size_t off = 0;
    ak_pub_ = TPM2B_PUBLIC{};
    ak_priv_ = TPM2B_PRIVATE{};
    if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(b.data(), b.size(), &off, &ak_pub_) == TSS2_RC_SUCCESS &&
        Tss2_MU_TPM2B_PRIVATE_Unmarshal(b.data(), b.size(), &off, &ak_priv_) == TSS2_RC_SUCCESS && off == b.size()) {
      have_ak_ = true;
      return;
    }
    // Not ours to repair silently: a damaged blob means another AK, and the CA's AK certificate is for the old.
    fail(CKR_DEVICE_ERROR, "the attestation key file " + blob.string() + " is damaged; remove it to make a new AK "
                           "(and enrol the new AK with the CA again)");
  }
  // First use with this TPM: TPM2_Create of the AK under the EK.
  const TPM2B_PUBLIC tmpl = ak_template(g_.info());
  const TPM2B_SENSITIVE_CREATE sens{};
  const TPM2B_DATA outside{};
  const TPML_PCR_SELECTION no_pcrs{};
  Handles h(g_);
  TPM2B_PUBLIC* pub = nullptr;
  TPM2B_PRIVATE* priv = nullptr;
  const TSS2_RC rc = g_.retrying([&] {
    h.release();
    Esys_Free(pub), Esys_Free(priv);
    pub = nullptr, priv = nullptr;
    TSS2_RC r = create_ek(g_, ek_tmpl, h.ek, nullptr);
    if (r == TSS2_RC_SUCCESS) r = ek_auth(g_, ek_tmpl, h.session);
    TPM2B_CREATION_DATA* cdata = nullptr;
    TPM2B_DIGEST* chash = nullptr;
    TPMT_TK_CREATION* ticket = nullptr;
    if (r == TSS2_RC_SUCCESS)
      r = Esys_Create(g_.ctx(), h.ek, h.session, ESYS_TR_NONE, ESYS_TR_NONE, &sens, &tmpl, &outside, &no_pcrs, &priv,
                      &pub, &cdata, &chash, &ticket);
    Esys_Free(cdata), Esys_Free(chash), Esys_Free(ticket);
    return r;
  });
  if (rc != TSS2_RC_SUCCESS) {
    Esys_Free(pub), Esys_Free(priv);
    g_.check(rc, "TPM2_Create (attestation key under the EK)");
  }
  ak_pub_ = *pub;
  ak_priv_ = *priv;
  Esys_Free(pub), Esys_Free(priv);
  b = marshal(ak_pub_, Tss2_MU_TPM2B_PUBLIC_Marshal);
  const Bytes p = marshal(ak_priv_, Tss2_MU_TPM2B_PRIVATE_Marshal);
  b.insert(b.end(), p.begin(), p.end());
  try {
    (void)platform::make_private_dir(dir_);
    (void)platform::make_private_dir(dir);
  } catch (const std::exception& e) {
    fail(CKR_DEVICE_ERROR, std::string("cannot make the attestation key folder: ") + e.what());
  }
  write_private(blob, b);
  // Whoever published first wins: use the AK in the file from now on.
  const Bytes kept = read_file(blob);
  TPM2B_PUBLIC kp{};  // (a TPM2B holding a structure unmarshals only into an empty one)
  TPM2B_PRIVATE kv{};
  size_t off = 0;
  if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(kept.data(), kept.size(), &off, &kp) != TSS2_RC_SUCCESS ||
      Tss2_MU_TPM2B_PRIVATE_Unmarshal(kept.data(), kept.size(), &off, &kv) != TSS2_RC_SUCCESS || off != kept.size())
    fail(CKR_DEVICE_ERROR, "the attestation key file " + blob.string() + " could not be read back");
  ak_pub_ = kp;
  ak_priv_ = kv;
  log::info("TPM attestation: made a new attestation key in " + dir.string());
  have_ak_ = true;
}

attest::AkInfo Attestation::ak_info() {
  ensure_ak();
  attest::AkInfo a;
  a.ak_public = public_area(ak_pub_);
  a.ek_public = public_area(ek_pub_);
  a.ek_certificates = ek().certs;
  std::string why;
  a.ak_certificates = attest::load_ak_certificates(ak_dir(), a.ak_public, &why);
  if (!why.empty()) log::warn("TPM attestation: " + why);
  const TpmInfo& info = g_.info();
  a.tpm_manufacturer = tcg_id(info.manufacturer);
  a.tpm_model = info.vendor_string;
  a.tpm_firmware = tcg_id(info.firmware1);
  return a;
}

std::optional<Bytes> Attestation::activate(const attest::Credential& c) {
  ensure_ak();
  TPM2B_ID_OBJECT blob{};
  TPM2B_ENCRYPTED_SECRET secret{};
  size_t off = 0;
  if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(c.credential_blob.data(), c.credential_blob.size(), &off, &blob) !=
          TSS2_RC_SUCCESS ||
      off != c.credential_blob.size())
    fail(CKR_ARGUMENTS_BAD, "the credential blob is not a TPM2B_ID_OBJECT");
  off = 0;
  if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(c.encrypted_secret.data(), c.encrypted_secret.size(), &off,
                                               &secret) != TSS2_RC_SUCCESS ||
      off != c.encrypted_secret.size())
    fail(CKR_ARGUMENTS_BAD, "the encrypted secret is not a TPM2B_ENCRYPTED_SECRET");
  const TPM2B_PUBLIC ek_tmpl = ek().tmpl;
  Handles h(g_);
  TPM2B_DIGEST* out = nullptr;
  const TSS2_RC rc = g_.retrying([&] {
    h.release();
    TSS2_RC r = create_ek(g_, ek_tmpl, h.ek, nullptr);
    if (r == TSS2_RC_SUCCESS) r = ek_auth(g_, ek_tmpl, h.session);
    if (r == TSS2_RC_SUCCESS)
      r = Esys_Load(g_.ctx(), h.ek, h.session, ESYS_TR_NONE, ESYS_TR_NONE, &ak_priv_, &ak_pub_, &h.ak);
    h.flush(h.session);
    if (r == TSS2_RC_SUCCESS) r = ek_auth(g_, ek_tmpl, h.session);  // a policy session serves one command
    if (r == TSS2_RC_SUCCESS)
      r = Esys_ActivateCredential(g_.ctx(), h.ak, h.ek, ESYS_TR_PASSWORD, h.session, ESYS_TR_NONE, &blob, &secret,
                                  &out);
    return r;
  });
  if (rc != TSS2_RC_SUCCESS) {
    if (is_connection_error(rc)) g_.check(rc, "TPM2_ActivateCredential");
    log::info("TPM attestation: the TPM refused the credential: " + describe(rc));
    return std::nullopt;
  }
  Bytes s(out->buffer, out->buffer + out->size);
  Esys_Free(out);
  return s;
}

void Attestation::store_ak_certificates(const std::vector<Bytes>& der) {
  ensure_ak();
  try {
    attest::store_ak_certificates(ak_dir(), public_area(ak_pub_), der);
  } catch (const std::invalid_argument& e) {
    fail(CKR_ARGUMENTS_BAD, e.what());
  } catch (const std::system_error& e) {
    fail(CKR_DEVICE_ERROR, std::string("cannot keep the AK certificates: ") + e.what());
  }
}

attest::Evidence Attestation::certify(const TPM2B_PUBLIC& pub, const TPM2B_PRIVATE& priv, ByteView auth,
                                      const std::optional<Creation>& creation, ByteView nonce) {
  require(nonce.size() <= kMaxNonce, CKR_ATTRIBUTE_VALUE_INVALID, "the attestation nonce is longer than 64 bytes");
  attest::AkInfo ak = ak_info();
  TPM2B_DATA q{};
  q.size = static_cast<UINT16>(nonce.size());
  if (!nonce.empty()) std::memcpy(q.buffer, nonce.data(), nonce.size());
  TPMT_SIG_SCHEME scheme{};
  scheme.scheme = TPM2_ALG_NULL;  // the AK's own scheme
  TPM2B_AUTH key_auth{};
  key_auth.size = static_cast<UINT16>(std::min(auth.size(), sizeof key_auth.buffer));
  if (key_auth.size) std::memcpy(key_auth.buffer, auth.data(), key_auth.size);
  const TPM2B_PUBLIC ek_tmpl = ek().tmpl;
  Handles h(g_);
  TPM2B_ATTEST* info = nullptr;
  TPMT_SIGNATURE* sig = nullptr;
  TPM2B_ATTEST* cinfo = nullptr;
  TPMT_SIGNATURE* csig = nullptr;
  auto free_out = [&] {
    Esys_Free(info), Esys_Free(sig), Esys_Free(cinfo), Esys_Free(csig);
    info = nullptr, sig = nullptr, cinfo = nullptr, csig = nullptr;
  };
  const TSS2_RC rc = g_.retrying([&] {
    h.release();
    free_out();
    TSS2_RC r = create_ek(g_, ek_tmpl, h.ek, nullptr);
    if (r == TSS2_RC_SUCCESS) r = ek_auth(g_, ek_tmpl, h.session);
    if (r == TSS2_RC_SUCCESS)
      r = Esys_Load(g_.ctx(), h.ek, h.session, ESYS_TR_NONE, ESYS_TR_NONE, &ak_priv_, &ak_pub_, &h.ak);
    h.flush(h.session);
    h.flush(h.ek);  // room for the key: a raw TPM has about three slots and the storage parent holds one
    if (r == TSS2_RC_SUCCESS)
      r = Esys_Load(g_.ctx(), g_.parent(), ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &priv, &pub, &h.key);
    if (r == TSS2_RC_SUCCESS) r = Esys_TR_SetAuth(g_.ctx(), h.key, &key_auth);
    if (r == TSS2_RC_SUCCESS)
      r = Esys_Certify(g_.ctx(), h.key, h.ak, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, &q, &scheme, &info,
                       &sig);
    if (r == TSS2_RC_SUCCESS && creation) {
      const TSS2_RC c = Esys_CertifyCreation(g_.ctx(), h.ak, h.key, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &q,
                                             &creation->hash, &scheme, &creation->ticket, &cinfo, &csig);
      // A ticket the TPM no longer accepts (e.g. the owner hierarchy was cleared and the key re-made elsewhere
      // cannot happen, but a damaged record can) leaves the creation unproven rather than failing the whole.
      if (c != TSS2_RC_SUCCESS) {
        if (is_connection_error(c)) return c;
        log::warn("TPM attestation: TPM2_CertifyCreation failed: " + describe(c));
      }
    }
    return r;
  }, true);
  secure_wipe(&key_auth, sizeof key_auth);
  if (rc != TSS2_RC_SUCCESS) {
    free_out();
    g_.check(rc, "TPM2_Certify");
  }
  attest::Evidence e;
  e.nonce.assign(nonce.begin(), nonce.end());
  e.key_public = public_area(pub);
  e.certify_info.assign(info->attestationData, info->attestationData + info->size);
  e.certify_signature = marshal(*sig, Tss2_MU_TPMT_SIGNATURE_Marshal);
  e.origin = (pub.publicArea.objectAttributes & TPMA_OBJECT_SENSITIVEDATAORIGIN) ? attest::kOriginGenerated
                                                                                 : attest::kOriginImported;
  if (cinfo && csig) {
    e.creation_info.assign(cinfo->attestationData, cinfo->attestationData + cinfo->size);
    e.creation_signature = marshal(*csig, Tss2_MU_TPMT_SIGNATURE_Marshal);
  }
  free_out();
  e.ak_public = std::move(ak.ak_public);
  e.ek_public = std::move(ak.ek_public);
  e.ek_certificates = std::move(ak.ek_certificates);
  e.ak_certificates = std::move(ak.ak_certificates);
  e.tpm_manufacturer = std::move(ak.tpm_manufacturer);
  e.tpm_model = std::move(ak.tpm_model);
  e.tpm_firmware = std::move(ak.tpm_firmware);
  return e;
}

}  // namespace keyseal::tpm
