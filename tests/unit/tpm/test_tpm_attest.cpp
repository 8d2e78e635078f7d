// TPM side of key attestation (tpm/attest.h) against swtpm: the AK made once under the EK and kept in its
// folder, TPM2_Certify and TPM2_CertifyCreation of generated keys, imported keys reported as such, and
// TPM2_ActivateCredential of credentials the TPM itself made with TPM2_MakeCredential (the software
// make_credential of attest/ is checked against this same activation in tests/unit/attest).
#include "crypto/digest.h"
#include "crypto/random.h"
#include "tpm/attest.h"
#include "tpm/key_blobs.h"
#include "tpm_test_util.h"

#include <tss2/tss2_mu.h>

#include <fstream>

namespace keyseal::tpm::testing {
namespace {

namespace fs = std::filesystem;
using attest::Bytes;

class TpmAttestTest : public SwtpmTest {
 protected:
  void SetUp() override {
    SwtpmTest::SetUp();
    dir_ = swtpm_.dir() / "tpm-ak";
  }
  std::shared_ptr<Connection> conn() { return Connection::shared(swtpm_.tcti()); }
  attest::Evidence certify(const KeyPair& k, ByteView nonce) {
    const KeyBlobs b = blobs_of(k.priv);
    auto c = conn();
    auto g = c->lock();
    Attestation a(g, dir_);
    return a.certify(b.pub, b.priv, view(b.auth), creation_of(k.priv), nonce);
  }
  fs::path dir_;
};

TPMS_ATTEST parse_attest(const Bytes& b) {
  TPMS_ATTEST a{};
  size_t off = 0;
  EXPECT_EQ(Tss2_MU_TPMS_ATTEST_Unmarshal(b.data(), b.size(), &off, &a), TSS2_RC_SUCCESS);
  EXPECT_EQ(off, b.size());
  return a;
}

TPMT_PUBLIC parse_public(const Bytes& b) {
  TPMT_PUBLIC p{};
  size_t off = 0;
  EXPECT_EQ(Tss2_MU_TPMT_PUBLIC_Unmarshal(b.data(), b.size(), &off, &p), TSS2_RC_SUCCESS);
  EXPECT_EQ(off, b.size());
  return p;
}

// nameAlg || SHA-256(TPMT_PUBLIC), computed here independently of attest::name_of.
Bytes name_of_public(const Bytes& pub) {
  const SecureBytes d = crypto::digest(CKM_SHA256, ByteView(pub.data(), pub.size()));
  Bytes n(2 + d.size());
  n[1] = 0x0B;  // TPM_ALG_SHA256
  std::copy(d.begin(), d.end(), n.begin() + 2);
  return n;
}

Bytes bytes_of(const TPM2B_NAME& n) { return Bytes(n.name, n.name + n.size); }

TEST_F(TpmAttestTest, CertifiesAGeneratedKeyWithTheNonceAndProvesItsCreation) {
  for (bool rsa : {false, true}) {
    SCOPED_TRACE(rsa ? "RSA 2048" : "EC P-256");
    KeyPair k = rsa ? gen_rsa(*backend_, 2048) : gen_ec(*backend_, crypto::Curve::p256);
    ASSERT_TRUE(creation_of(k.priv).has_value()) << "a generated key keeps its creation ticket";
    const SecureBytes nonce = crypto::random_bytes(32);
    const attest::Evidence e = certify(k, view(nonce));
    EXPECT_EQ(e.origin, attest::kOriginGenerated);
    EXPECT_EQ(e.nonce, Bytes(nonce.begin(), nonce.end()));

    const TPMT_PUBLIC kp = parse_public(e.key_public);
    const TPMA_OBJECT inside = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN;
    EXPECT_EQ(kp.objectAttributes & inside, inside);
    EXPECT_EQ(kp.type, rsa ? TPM2_ALG_RSA : TPM2_ALG_ECC);

    const TPMS_ATTEST a = parse_attest(e.certify_info);
    EXPECT_EQ(a.magic, TPM2_GENERATED_VALUE);
    EXPECT_EQ(a.type, TPM2_ST_ATTEST_CERTIFY);
    EXPECT_EQ(Bytes(a.extraData.buffer, a.extraData.buffer + a.extraData.size), e.nonce);
    EXPECT_EQ(bytes_of(a.attested.certify.name), name_of_public(e.key_public));

    ASSERT_FALSE(e.creation_info.empty());
    const TPMS_ATTEST c = parse_attest(e.creation_info);
    EXPECT_EQ(c.magic, TPM2_GENERATED_VALUE);
    EXPECT_EQ(c.type, TPM2_ST_ATTEST_CREATION);
    EXPECT_EQ(bytes_of(c.attested.creation.objectName), name_of_public(e.key_public));
    EXPECT_FALSE(e.creation_signature.empty());

    // The AK: restricted, signing, made in this TPM; its signature is a TPMT_SIGNATURE of its own scheme.
    const TPMT_PUBLIC ak = parse_public(e.ak_public);
    const TPMA_OBJECT need = inside | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
    EXPECT_EQ(ak.objectAttributes & need, need);
    EXPECT_EQ(ak.objectAttributes & TPMA_OBJECT_DECRYPT, 0u);
    TPMT_SIGNATURE sig{};
    size_t off = 0;
    ASSERT_EQ(Tss2_MU_TPMT_SIGNATURE_Unmarshal(e.certify_signature.data(), e.certify_signature.size(), &off, &sig),
              TSS2_RC_SUCCESS);
    EXPECT_EQ(sig.sigAlg, ak.type == TPM2_ALG_ECC ? TPM2_ALG_ECDSA : TPM2_ALG_RSASSA);
    const TPMT_PUBLIC ek = parse_public(e.ek_public);
    EXPECT_NE(ek.objectAttributes & TPMA_OBJECT_RESTRICTED, 0u);
    EXPECT_NE(ek.objectAttributes & TPMA_OBJECT_DECRYPT, 0u);
    EXPECT_TRUE(e.ek_certificates.empty()) << "this swtpm was made without EK certificates";
  }
}

TEST_F(TpmAttestTest, TheAkIsMadeOnceAndKeptInItsEkFolder) {
  attest::AkInfo first, second;
  {
    auto c = conn();
    auto g = c->lock();
    first = Attestation(g, dir_).ak_info();
  }
  {
    auto c = conn();
    auto g = c->lock();
    second = Attestation(g, dir_).ak_info();
  }
  EXPECT_EQ(first.ak_public, second.ak_public);
  EXPECT_EQ(first.ek_public, second.ek_public);
  size_t blobs = 0;
  for (const auto& d : fs::directory_iterator(dir_)) {
    EXPECT_EQ(d.path().filename().string().rfind("ek-", 0), 0u) << d.path();
    blobs += fs::exists(d.path() / "ak.blob");
    EXPECT_EQ(fs::status(d.path()).permissions() & (fs::perms::group_all | fs::perms::others_all), fs::perms::none);
  }
  EXPECT_EQ(blobs, 1u);
  EXPECT_EQ(first.tpm_manufacturer, "id:49424D00");  // "IBM": swtpm/libtpms
}

TEST_F(TpmAttestTest, ADamagedAkFileIsReportedNotReplaced) {
  {
    auto c = conn();
    auto g = c->lock();
    (void)Attestation(g, dir_).ak_info();
  }
  fs::path blob;
  for (const auto& d : fs::directory_iterator(dir_)) blob = d.path() / "ak.blob";
  const auto size = fs::file_size(blob);
  fs::resize_file(blob, size - 3);
  auto c = conn();
  auto g = c->lock();
  EXPECT_EQ(rv_of([&] { (void)Attestation(g, dir_).ak_info(); }), CKR_DEVICE_ERROR);
  EXPECT_EQ(fs::file_size(blob), size - 3) << "left for the user to look at";
}

TEST_F(TpmAttestTest, AnImportedKeyIsReportedAsImported) {
  const SecureBytes params = crypto::ec_params_der(crypto::Curve::p256);
  crypto::EcKeyPair e = crypto::generate_ec(view(params));
  core::AttributeMap a;
  core::set_ulong(a, CKA_CLASS, CKO_PRIVATE_KEY);
  core::set_ulong(a, CKA_KEY_TYPE, CKK_EC);
  core::set_bytes(a, CKA_EC_PARAMS, view(params));
  core::set_bytes(a, CKA_VALUE, view(e.d));
  backend_->import_key(a);
  KeyPair k;
  k.priv = a;
  EXPECT_FALSE(creation_of(a).has_value());
  const attest::Evidence ev = certify(k, {});
  EXPECT_EQ(ev.origin, attest::kOriginImported);
  EXPECT_TRUE(ev.creation_info.empty());
  const TPMT_PUBLIC kp = parse_public(ev.key_public);
  EXPECT_EQ(kp.objectAttributes & (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_SENSITIVEDATAORIGIN), 0u);
  const TPMS_ATTEST at = parse_attest(ev.certify_info);
  EXPECT_EQ(at.extraData.size, 0u);
  EXPECT_EQ(bytes_of(at.attested.certify.name), name_of_public(ev.key_public));
}

TEST_F(TpmAttestTest, ANonceLongerThan64BytesIsRefused) {
  KeyPair k = gen_ec(*backend_, crypto::Curve::p256);
  const SecureBytes nonce = crypto::random_bytes(65);
  EXPECT_EQ(rv_of([&] { (void)certify(k, view(nonce)); }), CKR_ATTRIBUTE_VALUE_INVALID);
}

TEST_F(TpmAttestTest, TheBackendGivesTheKeysTpmPublicAreaAsAVendorAttribute) {
  KeyPair k = gen_ec(*backend_, crypto::Curve::p256);
  std::optional<SecureBytes> v = backend_->vendor_attribute(*object_of(k.priv), CKA_KEYSEAL_TPM_PUBLIC, {});
  ASSERT_TRUE(v.has_value());
  const TPM2B_PUBLIC p = unmarshal_public(attr(k.priv, kAttrPublic));
  const TPMT_PUBLIC q = parse_public(Bytes(v->begin(), v->end()));
  EXPECT_EQ(q.unique.ecc.x.size, p.publicArea.unique.ecc.x.size);
  EXPECT_EQ(std::memcmp(q.unique.ecc.x.buffer, p.publicArea.unique.ecc.x.buffer, q.unique.ecc.x.size), 0);
  // Not on a public key, and not for types the backend does not know.
  EXPECT_FALSE(backend_->vendor_attribute(*object_of(k.pub), CKA_KEYSEAL_TPM_PUBLIC, {}).has_value());
  EXPECT_FALSE(backend_->vendor_attribute(*object_of(k.priv), CKA_KEYSEAL_ATTESTATION_NONCE, {}).has_value());
}

// TPM2_MakeCredential by the TPM itself with the EK's public key loaded as an external object.
attest::Credential tpm_make_credential(Connection::Guard& g, const Bytes& ek_public, const Bytes& name,
                                       const Bytes& secret) {
  TPM2B_PUBLIC ek{};
  size_t off = 0;
  EXPECT_EQ(Tss2_MU_TPMT_PUBLIC_Unmarshal(ek_public.data(), ek_public.size(), &off, &ek.publicArea), TSS2_RC_SUCCESS);
  ESYS_TR h = ESYS_TR_NONE;
  EXPECT_EQ(Esys_LoadExternal(g.ctx(), ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, nullptr, &ek, ESYS_TR_RH_NULL, &h),
            TSS2_RC_SUCCESS);
  TPM2B_DIGEST cred{};
  cred.size = static_cast<UINT16>(secret.size());
  std::memcpy(cred.buffer, secret.data(), secret.size());
  TPM2B_NAME n{};
  n.size = static_cast<UINT16>(name.size());
  std::memcpy(n.name, name.data(), name.size());
  TPM2B_ID_OBJECT* blob = nullptr;
  TPM2B_ENCRYPTED_SECRET* enc = nullptr;
  EXPECT_EQ(Esys_MakeCredential(g.ctx(), h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &cred, &n, &blob, &enc),
            TSS2_RC_SUCCESS);
  g.flush(h);
  attest::Credential c;
  uint8_t buf[sizeof(TPM2B_ID_OBJECT) + sizeof(TPM2B_ENCRYPTED_SECRET)];
  off = 0;
  Tss2_MU_TPM2B_ID_OBJECT_Marshal(blob, buf, sizeof buf, &off);
  c.credential_blob.assign(buf, buf + off);
  off = 0;
  Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(enc, buf, sizeof buf, &off);
  c.encrypted_secret.assign(buf, buf + off);
  Esys_Free(blob), Esys_Free(enc);
  return c;
}

TEST_F(TpmAttestTest, ActivationRecoversOnlyACredentialMadeForTheAk) {
  auto c = conn();
  auto g = c->lock();
  Attestation a(g, dir_);
  const attest::AkInfo info = a.ak_info();
  const Bytes name = name_of_public(info.ak_public);
  const SecureBytes s = crypto::random_bytes(32);
  const Bytes secret(s.begin(), s.end());
  const std::optional<Bytes> got = a.activate(tpm_make_credential(g, info.ek_public, name, secret));
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, secret);
  // A credential for another object's name is refused by the TPM (the HMAC covers the name).
  Bytes other = name;
  other.back() ^= 1;
  EXPECT_FALSE(a.activate(tpm_make_credential(g, info.ek_public, other, secret)).has_value());
  // Malformed input is the caller's error.
  attest::Credential bad;
  bad.credential_blob = {0x00, 0x05, 1, 2};
  EXPECT_EQ(rv_of([&] { (void)a.activate(bad); }), CKR_ARGUMENTS_BAD);
}

}  // namespace
}  // namespace keyseal::tpm::testing
