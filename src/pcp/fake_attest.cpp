// FakeProvider's attestation: what a PCP over a TPM 2.0 answers, emulated in software. TPM structures are built
// with tss2-mu and the layouts of src/attest/pcp_claim.h, so a claim from here parses and verifies like one from
// a real PCP (docs/design/pcp-attestation.md). The TPM-side details a PCP hides (the SRK, clock values, the PCP
// user-key policy digest) are fixed stand-ins.
#include "attest/pcp_claim.h"
#include "attest/tpm_structs.h"
#include "pcp/fake_provider_key.h"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <tss2/tss2_mu.h>

#include <cstring>
#include <stdexcept>

namespace keyseal::pcp {

using namespace fake_detail;
using attest::Bytes;

namespace {

inline constexpr uint32_t kTpmIntegrity = 0x8028009F;  // TPM_20_E_INTEGRITY: the credential's HMAC is wrong
constexpr TPMA_OBJECT kAikAttributes = 0x00050472;      // the PCP AIK's (design doc)

Bytes sha256(const Bytes& in) {
  Bytes out(32);
  EVP_Digest(in.data(), in.size(), out.data(), nullptr, EVP_sha256(), nullptr);
  return out;
}

Bytes name_sha256(const char* what) {  // a fixed stand-in TPM name: nameAlg SHA-256 || SHA-256(what)
  Bytes n{0x00, 0x0B};
  const Bytes h = sha256(Bytes(what, what + std::strlen(what)));
  n.insert(n.end(), h.begin(), h.end());
  return n;
}

template <class T, class F>
Bytes mu(const T& v, F fn) {
  Bytes out(sizeof(T) + 64);
  size_t off = 0;
  if (fn(&v, out.data(), out.size(), &off) != 0) throw std::runtime_error("tss2-mu marshal failed");
  out.resize(off);
  return out;
}

Bytes tpm2b(const Bytes& b) {
  Bytes out{static_cast<uint8_t>(b.size() >> 8), static_cast<uint8_t>(b.size())};
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

template <size_t N>
void set2b(uint16_t& size, uint8_t (&buffer)[N], const Bytes& b) {
  if (b.size() > N) throw std::invalid_argument("too long for its TPM2B");
  size = static_cast<uint16_t>(b.size());
  if (!b.empty()) std::memcpy(buffer, b.data(), b.size());  // an empty vector's data() may be null
}

Bytes bn_param(EVP_PKEY* p, const char* name) {
  BIGNUM* b = nullptr;
  if (EVP_PKEY_get_bn_param(p, name, &b) != 1) throw std::runtime_error("cannot read a key parameter");
  SecureBytes v = bn_bytes(b);
  BN_free(b);
  return Bytes(v.begin(), v.end());
}

// The marshalled TPMT_PUBLIC the TPM holds for `p`: nameAlg SHA-256 and `attrs`; RSA with `scheme` (NULL for
// keys), ECC with a NULL scheme.
Bytes tpmt_public(EVP_PKEY* p, KeyAlg alg, TPMA_OBJECT attrs, TPMI_ALG_RSA_SCHEME scheme) {
  TPMT_PUBLIC t{};
  t.nameAlg = TPM2_ALG_SHA256;
  t.objectAttributes = attrs;
  if (alg == KeyAlg::rsa) {
    t.type = TPM2_ALG_RSA;
    t.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
    t.parameters.rsaDetail.scheme.scheme = scheme;
    if (scheme == TPM2_ALG_RSASSA) t.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA1;
    const Bytes n = bn_param(p, OSSL_PKEY_PARAM_RSA_N);
    t.parameters.rsaDetail.keyBits = static_cast<uint16_t>(8 * n.size());
    const Bytes e = bn_param(p, OSSL_PKEY_PARAM_RSA_E);
    t.parameters.rsaDetail.exponent = e == Bytes{0x01, 0x00, 0x01} ? 0 : 1;  // the PCP only makes 65537
    set2b(t.unique.rsa.size, t.unique.rsa.buffer, n);
  } else {
    const bool p256 = alg == KeyAlg::ecdsa_p256;
    const size_t len = p256 ? 32 : 48;
    t.type = TPM2_ALG_ECC;
    t.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    t.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
    t.parameters.eccDetail.curveID = p256 ? TPM2_ECC_NIST_P256 : TPM2_ECC_NIST_P384;
    t.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    uint8_t pt[1 + 2 * 48];
    size_t n = 0;
    if (EVP_PKEY_get_octet_string_param(p, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, pt, sizeof pt, &n) != 1 ||
        n != 1 + 2 * len)
      throw std::runtime_error("cannot read the EC point");
    set2b(t.unique.ecc.x.size, t.unique.ecc.x.buffer, Bytes(pt + 1, pt + 1 + len));
    set2b(t.unique.ecc.y.size, t.unique.ecc.y.buffer, Bytes(pt + 1 + len, pt + 1 + 2 * len));
  }
  return attest::detail::marshal(t);
}

// RSASSA PKCS#1 v1.5 over SHA-1(data) by `key`, as the PCP AIK signs: the raw signature.
Bytes sign_sha1(EVP_PKEY* key, const Bytes& data) {
  uint8_t d[20];
  EVP_Digest(data.data(), data.size(), d, nullptr, EVP_sha1(), nullptr);
  CtxPtr ctx(EVP_PKEY_CTX_new(key, nullptr));
  size_t n = 0;
  if (!ctx || EVP_PKEY_sign_init(ctx.get()) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) != 1 ||
      EVP_PKEY_CTX_set_signature_md(ctx.get(), EVP_sha1()) != 1 ||
      EVP_PKEY_sign(ctx.get(), nullptr, &n, d, sizeof d) != 1)
    throw std::runtime_error("AIK signing failed");
  Bytes sig(n);
  if (EVP_PKEY_sign(ctx.get(), sig.data(), &n, d, sizeof d) != 1) throw std::runtime_error("AIK signing failed");
  sig.resize(n);
  return sig;
}

Bytes tpmt_signature_sha1(const Bytes& raw) {
  TPMT_SIGNATURE s{};
  s.sigAlg = TPM2_ALG_RSASSA;
  s.signature.rsassa.hash = TPM2_ALG_SHA1;
  set2b(s.signature.rsassa.sig.size, s.signature.rsassa.sig.buffer, raw);
  return attest::detail::marshal(s);
}

struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using X509Ptr = std::unique_ptr<X509, X509Free>;

// A certificate for `subject_key` named `cn`, issued by (`issuer`, `issuer_key`), or self-signed when issuer is
// null. A CA gets basicConstraints CA:TRUE and keyCertSign; an EK certificate keyEncipherment; an AK certificate
// (`ak`) digitalSignature and the EKU tcg-kp-AIKCertificate (2.23.133.8.3).
X509Ptr make_cert(const char* cn, EVP_PKEY* subject_key, X509* issuer, EVP_PKEY* issuer_key, long serial,
                  bool ak = false) {
  X509Ptr c(X509_new());
  const bool ca = issuer == nullptr;
  bool ok = c && X509_set_version(c.get(), 2) == 1 && ASN1_INTEGER_set(X509_get_serialNumber(c.get()), serial) == 1 &&
            X509_gmtime_adj(X509_getm_notBefore(c.get()), -3600) && X509_gmtime_adj(X509_getm_notAfter(c.get()), 86400L * 3650);
  X509_NAME* name = X509_NAME_new();
  ok = ok && name &&
       (!*cn ||  // an AK certificate's subject is empty
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn), -1, -1, 0) == 1) &&
       X509_set_subject_name(c.get(), name) == 1 &&
       X509_set_issuer_name(c.get(), ca ? name : X509_get_subject_name(issuer)) == 1 &&
       X509_set_pubkey(c.get(), subject_key) == 1;
  X509_NAME_free(name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, ca ? c.get() : issuer, c.get(), nullptr, nullptr, 0);
  const char* usage = ca ? "critical,keyCertSign,cRLSign" : ak ? "critical,digitalSignature" : "critical,keyEncipherment";
  const char* ext[][2] = {{"basicConstraints", ca ? "critical,CA:TRUE" : "critical,CA:FALSE"},
                          {"keyUsage", usage},
                          {"extendedKeyUsage", ak ? "2.23.133.8.3" : nullptr}};
  for (const auto& [n, v] : ext) {
    if (!v) continue;
    X509_EXTENSION* x = ok ? X509V3_EXT_conf(nullptr, &v3, n, v) : nullptr;
    ok = x && X509_add_ext(c.get(), x, -1) == 1;
    X509_EXTENSION_free(x);
  }
  ok = ok && X509_sign(c.get(), ca ? subject_key : issuer_key, EVP_sha256()) > 0;
  if (!ok) throw std::runtime_error("cannot make the fake EK certificates");
  return c;
}

Bytes der(X509* c) {
  unsigned char* p = nullptr;
  const int n = i2d_X509(c, &p);
  if (n <= 0) throw std::runtime_error("cannot encode a certificate");
  Bytes out(p, p + n);
  OPENSSL_free(p);
  return out;
}

using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;

// The TPMT_PUBLIC the PCP makes for a user key: nameAlg SHA-256, fixedTPM, fixedParent, sensitiveDataOrigin,
// userWithAuth and the usage asked for. (A real PCP key also carries its PolicyOR authPolicy; none here.)
Bytes user_key_public(EVP_PKEY* key, const KeySpec& spec) {
  TPMA_OBJECT attrs = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                      TPMA_OBJECT_USERWITHAUTH;
  if (spec.sign) attrs |= TPMA_OBJECT_SIGN_ENCRYPT;
  if (spec.decrypt) attrs |= TPMA_OBJECT_DECRYPT;
  return tpmt_public(key, spec.alg, attrs, TPM2_ALG_NULL);
}

// The PCPM blob NCryptExportKey(BCRYPT_OPAQUE_KEY_BLOB) answers: the public area and an opaque private part.
Bytes opaque_key_blob(const Bytes& pub) {
  return attest::pcp_key_blob(tpm2b(pub), tpm2b(attest::detail::random_bytes(96)));
}

}  // namespace

struct FakeProvider::Attestation {
  struct Aik {
    Pkey key;
    Bytes pub;         // marshalled TPMT_PUBLIC
    Bytes id_binding;  // PCP_TPM12_IDBINDING
  };
  Pkey ek;
  Bytes ek_public;  // marshalled TPMT_PUBLIC (template L-1)
  Bytes ek_blob;    // BCRYPT_RSAPUBLIC_BLOB
  Bytes ek_cert, root;
  Pkey ca;            // the test CA's key: it issued the EK certificate, and AK certificates after enrolment
  X509Ptr root_cert;
  long serial = 2;
  std::map<std::string, Aik> aiks;
  uint64_t clock = 5000;
  const Bytes srk_name = name_sha256("keyseal fake PCP storage root key");

  Attestation() {
    ek.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
    ca.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
    if (!ek || !ca) throw std::runtime_error("fake EK key generation failed");
    const Bytes n = bn_param(ek.get(), OSSL_PKEY_PARAM_RSA_N);
    ek_public = attest::ek_public_from_modulus(n);
    ek_blob = attest::rsa_public_blob(n, bn_param(ek.get(), OSSL_PKEY_PARAM_RSA_E));
    root_cert = make_cert("keyseal fake PCP EK root CA", ca.get(), nullptr, nullptr, 1);
    X509Ptr ek_c = make_cert("keyseal fake PCP EK", ek.get(), root_cert.get(), ca.get(), serial);
    root = der(root_cert.get());
    ek_cert = der(ek_c.get());
  }

  // TPMS_ATTEST fields every attestation shares: the signer's name, the nonce, the clock.
  TPMS_ATTEST attest_header(TPMI_ST_ATTEST type, const Bytes& signer_name, const Bytes& nonce) {
    TPMS_ATTEST a{};
    a.magic = TPM2_GENERATED_VALUE;
    a.type = type;
    set2b(a.qualifiedSigner.size, a.qualifiedSigner.name, signer_name);
    set2b(a.extraData.size, a.extraData.buffer, nonce);
    a.clockInfo.clock = clock += 17;
    a.clockInfo.resetCount = 3;
    a.clockInfo.restartCount = 0;
    a.clockInfo.safe = 1;
    a.firmwareVersion = 0x0007005500000002ull;
    return a;
  }

  // The AIK's creation data, TPM2_CertifyCreation over it by the AIK itself, and the binding blob the PCP keeps.
  Bytes make_id_binding(EVP_PKEY* key, const Bytes& pub) {
    // TPMS_CREATION_DATA, marshalled here (attest/mu, which stands in for tss2-mu on Windows, has only the
    // verifier's structures): no PCRs, empty pcrDigest, locality 0, parent SHA-256, parent name and qualified
    // name the SRK's, empty outsideInfo.
    Bytes cd;
    auto put16 = [&cd](size_t v) { cd.push_back(uint8_t(v >> 8)), cd.push_back(uint8_t(v)); };
    cd.insert(cd.end(), {0, 0, 0, 0});  // pcrSelect.count
    put16(0);                          // pcrDigest
    cd.push_back(0);                   // locality
    put16(TPM2_ALG_SHA256);            // parentNameAlg
    for (int i = 0; i < 2; ++i) put16(srk_name.size()), cd.insert(cd.end(), srk_name.begin(), srk_name.end());
    put16(0);  // outsideInfo
    const Bytes cd_bytes = tpm2b(cd);
    TPMS_ATTEST a = attest_header(TPM2_ST_ATTEST_CREATION, attest::name_of(pub), {});
    set2b(a.attested.creation.objectName.size, a.attested.creation.objectName.name, attest::name_of(pub));
    set2b(a.attested.creation.creationHash.size, a.attested.creation.creationHash.buffer,
          sha256(Bytes(cd_bytes.begin() + 2, cd_bytes.end())));
    const Bytes info = mu(a, Tss2_MU_TPMS_ATTEST_Marshal);
    Bytes out = tpm2b(pub);
    out.insert(out.end(), cd_bytes.begin(), cd_bytes.end());
    const Bytes info2b = tpm2b(info);
    out.insert(out.end(), info2b.begin(), info2b.end());
    const Bytes sig = tpmt_signature_sha1(sign_sha1(key, info));
    out.insert(out.end(), sig.begin(), sig.end());
    return out;
  }
};

FakeProvider::Attestation& FakeProvider::attestation() {
  if (!att_) att_ = std::make_shared<Attestation>();
  return *att_;
}

std::vector<uint8_t> FakeProvider::ek_root() {
  std::lock_guard g(mu_);
  return attestation().root;
}

std::vector<uint8_t> FakeProvider::issue_ak_certificate(const std::string& aik) {
  std::lock_guard g(mu_);
  Attestation& a = attestation();
  auto it = a.aiks.find(aik);
  if (it == a.aiks.end()) return {};
  X509Ptr c = make_cert("", it->second.key.get(), a.root_cert.get(), a.ca.get(), ++a.serial, true);
  return der(c.get());
}

Status FakeProvider::create_identity_key(const std::string& name) {
  std::lock_guard g(mu_);
  Status s = gate("NCryptFinalizeKey");
  if (!s.ok()) return s;
  if (name.empty()) return st(code::kInvalidParameter, "NCryptCreatePersistedKey");
  Attestation& a = attestation();
  if (keys_.count(name) || a.aiks.count(name)) return st(code::kExists, "NCryptCreatePersistedKey");
  Attestation::Aik aik;
  aik.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}));
  if (!aik.key) return st(code::kInternalError, "NCryptFinalizeKey");
  aik.pub = tpmt_public(aik.key.get(), KeyAlg::rsa, kAikAttributes, TPM2_ALG_RSASSA);
  aik.id_binding = a.make_id_binding(aik.key.get(), aik.pub);
  a.aiks.emplace(name, std::move(aik));
  return st(code::kOk, "NCryptFinalizeKey");
}

Result<std::vector<uint8_t>> FakeProvider::key_blob(const std::string& key) {
  std::lock_guard g(mu_);
  Result<std::vector<uint8_t>> r;
  r.status = gate("NCryptExportKey");
  if (!r.ok()) return r;
  auto k = keys_.find(key);
  if (k == keys_.end()) r.status = st(code::kBadKeyset, "NCryptOpenKey");
  else r.value = opaque_key_blob(user_key_public(k->second->pkey.get(), k->second->spec));
  return r;
}

Result<std::vector<uint8_t>> FakeProvider::identity_binding(const std::string& aik) {
  std::lock_guard g(mu_);
  Result<std::vector<uint8_t>> r;
  r.status = gate("NCryptGetProperty");
  if (!r.ok()) return r;
  Attestation& a = attestation();
  auto it = a.aiks.find(aik);
  if (it == a.aiks.end()) r.status = st(keys_.count(aik) ? code::kInvalidParameter : code::kBadKeyset, "NCryptGetProperty");
  else r.value = it->second.id_binding;
  return r;
}

Result<std::vector<uint8_t>> FakeProvider::key_claim(const std::string& key, ByteView key_auth, const std::string& aik,
                                                     ByteView nonce) {
  std::lock_guard g(mu_);
  Result<std::vector<uint8_t>> r;
  r.status = gate("NCryptCreateClaim");
  if (!r.ok()) return r;
  Attestation& a = attestation();
  auto k = keys_.find(key);
  auto ai = a.aiks.find(aik);
  if (k == keys_.end() || (ai == a.aiks.end() && !keys_.count(aik))) {
    r.status = st(code::kBadKeyset, "NCryptOpenKey");
    return r;
  }
  // The authority must be an identity key and the nonce fit TPM2_Certify's qualifyingData (a guess at the
  // PCP's code: NTE_INVALID_PARAMETER, design doc "open questions").
  if (ai == a.aiks.end() || nonce.size() > 64) {
    r.status = st(code::kInvalidParameter, "NCryptCreateClaim");
    return r;
  }
  r.status = check_auth(*k->second, key_auth, "NCryptCreateClaim");
  if (!r.ok()) return r;
  const Bytes pub = user_key_public(k->second->pkey.get(), k->second->spec);
  const Bytes name = attest::name_of(pub);
  Bytes qn_in = a.srk_name;  // qualifiedName = nameAlg || H(parent's qualified name || name)
  qn_in.insert(qn_in.end(), name.begin(), name.end());
  Bytes qn{0x00, 0x0B};
  const Bytes h = sha256(qn_in);
  qn.insert(qn.end(), h.begin(), h.end());

  TPMS_ATTEST at = a.attest_header(TPM2_ST_ATTEST_CERTIFY, attest::name_of(ai->second.pub),
                                   Bytes(nonce.begin(), nonce.end()));
  set2b(at.attested.certify.name.size, at.attested.certify.name.name, name);
  set2b(at.attested.certify.qualifiedName.size, at.attested.certify.qualifiedName.name, qn);
  const Bytes info = mu(at, Tss2_MU_TPMS_ATTEST_Marshal);
  const Bytes sig = sign_sha1(ai->second.key.get(), info);
  r.value = attest::pcp_claim_blob(ai->second.id_binding, info, sig, opaque_key_blob(pub));
  ++uses_;
  return r;
}

Result<std::vector<uint8_t>> FakeProvider::ek_public() {
  std::lock_guard g(mu_);
  Result<std::vector<uint8_t>> r;
  r.status = gate("NCryptGetProperty");
  if (r.ok()) r.value = attestation().ek_blob;
  return r;
}

Result<std::vector<std::vector<uint8_t>>> FakeProvider::ek_certificates() {
  std::lock_guard g(mu_);
  Result<std::vector<std::vector<uint8_t>>> r;
  r.status = gate("NCryptGetProperty");
  if (r.ok()) r.value = {attestation().ek_cert};
  return r;
}

Result<SecureBytes> FakeProvider::activate(const std::string& aik, ByteView blob) {
  std::lock_guard g(mu_);
  Result<SecureBytes> r;
  r.status = gate("NCryptSetProperty");
  if (!r.ok()) return r;
  Attestation& a = attestation();
  auto it = a.aiks.find(aik);
  if (it == a.aiks.end()) {
    r.status = st(keys_.count(aik) ? code::kInvalidParameter : code::kBadKeyset, "NCryptSetProperty");
    return r;
  }
  // TPM2B_ID_OBJECT || TPM2B_ENCRYPTED_SECRET, found by their sizes.
  attest::Credential c;
  const size_t n1 = blob.size() >= 2 ? size_t(blob[0]) << 8 | blob[1] : 0;
  const size_t n2 = blob.size() >= 4 + n1 ? size_t(blob[2 + n1]) << 8 | blob[3 + n1] : 0;
  if (blob.size() < 4 || n1 == 0 || n2 == 0 || blob.size() != 4 + n1 + n2) {
    r.status = st(code::kInvalidParameter, "NCryptSetProperty");
    return r;
  }
  c.credential_blob.assign(blob.begin(), blob.begin() + static_cast<ptrdiff_t>(2 + n1));
  c.encrypted_secret.assign(blob.begin() + static_cast<ptrdiff_t>(2 + n1), blob.end());
  const TPMT_PUBLIC ek = attest::detail::parse_public(a.ek_public, "ek_public");
  std::optional<Bytes> secret =
      attest::detail::activate_credential(a.ek.get(), ek, attest::name_of(it->second.pub), c);
  if (!secret) {
    r.status = st(kTpmIntegrity, "NCryptGetProperty");
    return r;
  }
  r.value = SecureBytes(secret->begin(), secret->end());
  OPENSSL_cleanse(secret->data(), secret->size());
  return r;
}

}  // namespace keyseal::pcp
