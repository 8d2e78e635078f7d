// Key attestation through the C ABI (issue 14 item 3): the vendor attributes of include/keyseal/pkcs11.h on a TPM
// token in swtpm. The nonce is the session's, the attestation follows C_GetAttributeValue's size-query rules
// (same bytes for the query and the read), and the evidence passes the verifier of attest/ with the TPM's own
// credential activation; bad input gets the codes of PKCS#11 3.0 section 5.7.
#include "attest/evidence.h"
#include "swtpm_fixture.h"
#include "tpm/attest.h"

#include <keyseal/pkcs11.h>

#include <gtest/gtest.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

namespace keyseal::tpm::testing {
namespace {

constexpr char kSo[] = "so-secret-1", kUser[] = "user-secret-1";
using Bytes = std::vector<uint8_t>;

class TpmModuleAttestTest : public ::testing::Test {
 protected:
  void SetUp() override { bring_up(false); }
  // `ek_certificates`: manufacture the swtpm with its EK certificates first (swtpm_setup: RSA 2048 at 0x01c00002,
  // ECC P-384 high range at 0x01c00016), then keep only the P-384 one, as on a TPM with no low-range EK.
  void bring_up(bool p384_ek_certificate_only) {
    try {
      if (p384_ek_certificate_only) swtpm_.provision_ek_certs();
      swtpm_.start();
      if (p384_ek_certificate_only) undefine_nv(kEkCertRsaIndex);
    } catch (const std::exception& e) {
      FAIL() << e.what();
    }
    const std::string dir = swtpm_.dir().string();
    std::ofstream(dir + "/keyseal.conf") << "backend = tpm\ntcti = " << swtpm_.tcti() << "\n";
    store_ = dir + "/store";
    setenv("KEYSEAL_STORE", store_.c_str(), 1);
    setenv("KEYSEAL_CONF", (dir + "/keyseal.conf").c_str(), 1);
    ASSERT_EQ(C_Initialize(nullptr), CKR_OK);
    CK_UTF8CHAR label[32];
    std::memset(label, ' ', sizeof label);
    ASSERT_EQ(C_InitToken(0, pin(kSo), std::strlen(kSo), label), CKR_OK);
    ASSERT_EQ(C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, nullptr, nullptr, &s_), CKR_OK);
    ASSERT_EQ(C_Login(s_, CKU_SO, pin(kSo), std::strlen(kSo)), CKR_OK);
    ASSERT_EQ(C_InitPIN(s_, pin(kUser), std::strlen(kUser)), CKR_OK);
    ASSERT_EQ(C_Logout(s_), CKR_OK);
    ASSERT_EQ(C_Login(s_, CKU_USER, pin(kUser), std::strlen(kUser)), CKR_OK);
    generate(true);
  }
  void TearDown() override {
    C_Finalize(nullptr);
    swtpm_.stop();
  }

  void undefine_nv(TPM2_HANDLE index) {
    auto conn = Connection::shared(swtpm_.tcti());
    auto g = conn->lock();
    ESYS_TR nv = ESYS_TR_NONE;
    if (Esys_TR_FromTPMPublic(g.ctx(), index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv) != TSS2_RC_SUCCESS ||
        Esys_NV_UndefineSpace(g.ctx(), ESYS_TR_RH_PLATFORM, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE) !=
            TSS2_RC_SUCCESS)
      throw std::runtime_error("cannot remove NV index " + std::to_string(index));
  }
  Bytes read_public(TPM2_HANDLE persistent) {
    auto conn = Connection::shared(swtpm_.tcti());
    auto g = conn->lock();
    ESYS_TR h = ESYS_TR_NONE;
    TPM2B_PUBLIC* pub = nullptr;
    Bytes out(sizeof(TPMT_PUBLIC));
    size_t off = 0;
    if (Esys_TR_FromTPMPublic(g.ctx(), persistent, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &h) != TSS2_RC_SUCCESS ||
        Esys_ReadPublic(g.ctx(), h, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, nullptr, nullptr) !=
            TSS2_RC_SUCCESS ||
        Tss2_MU_TPMT_PUBLIC_Marshal(&pub->publicArea, out.data(), out.size(), &off) != TSS2_RC_SUCCESS)
      off = 0;
    Esys_Free(pub);
    Esys_TR_Close(g.ctx(), &h);
    out.resize(off);
    return out;
  }
  // The certificates of a PEM file, as DER; none when it cannot be read.
  static std::vector<Bytes> pem_certs(const std::filesystem::path& file) {
    std::ifstream in(file, std::ios::binary);
    return attest::certificates_from_pem(std::string(std::istreambuf_iterator<char>(in), {}));
  }
  // The verifier's credential activation, by this swtpm with the token's AK; counts its calls in *count.
  std::function<std::optional<attest::Bytes>(const attest::Credential&)> tpm_activation(int* count) {
    return [this, count](const attest::Credential& c) -> std::optional<attest::Bytes> {
      ++*count;
      auto conn = Connection::shared(swtpm_.tcti());
      auto g = conn->lock();
      return Attestation(g, store_ + "/tpm-ak").activate(c);
    };
  }

  static CK_UTF8CHAR_PTR pin(const char* p) { return reinterpret_cast<CK_UTF8CHAR_PTR>(const_cast<char*>(p)); }

  void generate(bool modifiable) {
    CK_MECHANISM m{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
    static const uint8_t p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    CK_BBOOL yes = CK_TRUE, mod = modifiable ? CK_TRUE : CK_FALSE;
    CK_ATTRIBUTE pub[] = {{CKA_EC_PARAMS, const_cast<uint8_t*>(p256), sizeof p256}, {CKA_TOKEN, &yes, 1}};
    CK_ATTRIBUTE priv[] = {{CKA_TOKEN, &yes, 1}, {CKA_SIGN, &yes, 1}, {CKA_MODIFIABLE, &mod, 1}};
    ASSERT_EQ(C_GenerateKeyPair(s_, &m, pub, 2, priv, 3, &pub_, &priv_), CKR_OK);
  }

  CK_RV set_nonce(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, const Bytes& n) {
    CK_ATTRIBUTE a{CKA_KEYSEAL_ATTESTATION_NONCE, const_cast<uint8_t*>(n.data()), static_cast<CK_ULONG>(n.size())};
    return C_SetAttributeValue(s, o, &a, 1);
  }
  // Size query, then the read; both must agree.
  CK_RV read(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE o, CK_ATTRIBUTE_TYPE t, Bytes& out) {
    CK_ATTRIBUTE a{t, nullptr, 0};
    CK_RV rv = C_GetAttributeValue(s, o, &a, 1);
    if (rv != CKR_OK) {
      EXPECT_EQ(a.ulValueLen, CK_UNAVAILABLE_INFORMATION);
      return rv;
    }
    out.assign(a.ulValueLen, 0);
    a.pValue = out.data();
    rv = C_GetAttributeValue(s, o, &a, 1);
    EXPECT_EQ(a.ulValueLen, out.size());
    return rv;
  }

  Swtpm swtpm_;
  std::string store_;
  CK_SESSION_HANDLE s_ = 0;
  CK_OBJECT_HANDLE pub_ = 0, priv_ = 0;
};

TEST_F(TpmModuleAttestTest, AttestationOfATokenKeyPassesTheVerifierWithTheTpmsActivation) {
  const Bytes nonce{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
  ASSERT_EQ(set_nonce(s_, priv_, nonce), CKR_OK);
  Bytes back;
  ASSERT_EQ(read(s_, priv_, CKA_KEYSEAL_ATTESTATION_NONCE, back), CKR_OK);
  EXPECT_EQ(back, nonce);
  Bytes doc, again;
  ASSERT_EQ(read(s_, priv_, CKA_KEYSEAL_ATTESTATION, doc), CKR_OK);
  ASSERT_EQ(read(s_, priv_, CKA_KEYSEAL_ATTESTATION, again), CKR_OK);
  EXPECT_EQ(doc, again) << "one attestation per nonce: a size query and the read after it see the same bytes";

  const attest::Evidence e = attest::from_json(std::string(doc.begin(), doc.end()));
  EXPECT_EQ(e.nonce, nonce);
  EXPECT_EQ(e.origin, attest::kOriginGenerated);
  Bytes tpm_public;
  ASSERT_EQ(read(s_, priv_, CKA_KEYSEAL_TPM_PUBLIC, tpm_public), CKR_OK);
  EXPECT_EQ(tpm_public, e.key_public);

  attest::VerifyOptions o;
  o.nonce = nonce;
  int activations = 0;
  o.activate = tpm_activation(&activations);
  const attest::Report r = attest::verify(e, o);
  for (const char* name : {"ak_attributes", "ak_bound_to_ek", "attest_magic", "attest_type", "attest_signature",
                           "nonce", "attested_name", "key_fixed_tpm", "key_fixed_parent", "key_sensitive_data_origin",
                           "key_use", "creation"}) {
    const attest::Check* c = r.find(name);
    ASSERT_NE(c, nullptr) << name;
    EXPECT_TRUE(c->ok) << name << ": " << c->detail;
  }
  EXPECT_EQ(activations, 1);
  // This swtpm has no EK certificate: nothing ties its EK to a manufacturer, and the verifier says so.
  const attest::Check* chain = r.find("ek_certificate_chain");
  ASSERT_NE(chain, nullptr);
  EXPECT_FALSE(chain->ok);
  EXPECT_FALSE(r.ok());

  // The evidence for one nonce does not pass for another.
  o.nonce = Bytes{9, 9, 9};
  EXPECT_FALSE(attest::verify(e, o).find("nonce")->ok);
}

TEST_F(TpmModuleAttestTest, TheNonceIsTheSessionsAndANewOneMakesANewAttestation) {
  ASSERT_EQ(set_nonce(s_, priv_, {1}), CKR_OK);
  Bytes first;
  ASSERT_EQ(read(s_, priv_, CKA_KEYSEAL_ATTESTATION, first), CKR_OK);
  // A read-only session of the same login: its own (empty) nonce; it may set one.
  CK_SESSION_HANDLE ro = 0;
  ASSERT_EQ(C_OpenSession(0, CKF_SERIAL_SESSION, nullptr, nullptr, &ro), CKR_OK);
  Bytes n;
  ASSERT_EQ(read(ro, priv_, CKA_KEYSEAL_ATTESTATION_NONCE, n), CKR_OK);
  EXPECT_TRUE(n.empty());
  EXPECT_EQ(set_nonce(ro, priv_, {7, 7}), CKR_OK);
  Bytes other;
  ASSERT_EQ(read(ro, priv_, CKA_KEYSEAL_ATTESTATION, other), CKR_OK);
  EXPECT_EQ(attest::from_json(std::string(other.begin(), other.end())).nonce, (Bytes{7, 7}));
  EXPECT_EQ(C_CloseSession(ro), CKR_OK);
  // Back in the first session, a new nonce gives a new attestation over it.
  ASSERT_EQ(set_nonce(s_, priv_, {2}), CKR_OK);
  Bytes second;
  ASSERT_EQ(read(s_, priv_, CKA_KEYSEAL_ATTESTATION, second), CKR_OK);
  EXPECT_NE(first, second);
  EXPECT_EQ(attest::from_json(std::string(second.begin(), second.end())).nonce, (Bytes{2}));
}

TEST_F(TpmModuleAttestTest, BadInputGetsTheSpecsCodesAndChangesNothing) {
  const Bytes nonce{5, 5, 5};
  ASSERT_EQ(set_nonce(s_, priv_, nonce), CKR_OK);
  // Longer than a TPM2B_DATA's digest: refused, and the earlier nonce stays.
  EXPECT_EQ(set_nonce(s_, priv_, Bytes(65, 1)), CKR_ATTRIBUTE_VALUE_INVALID);
  Bytes back;
  ASSERT_EQ(read(s_, priv_, CKA_KEYSEAL_ATTESTATION_NONCE, back), CKR_OK);
  EXPECT_EQ(back, nonce);
  // A public key is not attested: no nonce, no attestation, no TPM public area.
  EXPECT_EQ(set_nonce(s_, pub_, nonce), CKR_ATTRIBUTE_TYPE_INVALID);
  Bytes v;
  EXPECT_EQ(read(s_, pub_, CKA_KEYSEAL_ATTESTATION, v), CKR_ATTRIBUTE_TYPE_INVALID);
  EXPECT_EQ(read(s_, pub_, CKA_KEYSEAL_TPM_PUBLIC, v), CKR_ATTRIBUTE_TYPE_INVALID);
  // A nonce together with a refused attribute change: the whole call fails and the nonce is unchanged.
  CK_BBOOL no = CK_FALSE;
  Bytes n2{8};
  CK_ATTRIBUTE both[] = {{CKA_KEYSEAL_ATTESTATION_NONCE, n2.data(), 1}, {CKA_LOCAL, &no, 1}};
  EXPECT_NE(C_SetAttributeValue(s_, priv_, both, 2), CKR_OK);
  ASSERT_EQ(read(s_, priv_, CKA_KEYSEAL_ATTESTATION_NONCE, back), CKR_OK);
  EXPECT_EQ(back, nonce);
  // The attestation itself cannot be written.
  CK_ATTRIBUTE forged{CKA_KEYSEAL_ATTESTATION, n2.data(), 1};
  EXPECT_NE(C_SetAttributeValue(s_, priv_, &forged, 1), CKR_OK);
  // A key that cannot be modified can still be attested: the nonce does not change the key.
  generate(false);
  EXPECT_EQ(set_nonce(s_, priv_, nonce), CKR_OK);
  EXPECT_EQ(read(s_, priv_, CKA_KEYSEAL_ATTESTATION, v), CKR_OK);
  // A wrong handle.
  EXPECT_EQ(set_nonce(s_, 0xdead, nonce), CKR_OBJECT_HANDLE_INVALID);
}

// A TPM whose only EK certificate is the high-range ECC P-384 one (template H-3, 0x01c00016): keyseal's AK goes
// under that EK (userWithAuth: the empty password, no policy session), and the whole evidence verifies against
// the swtpm-localca roots, EK certificate, activation and all.
class TpmModuleAttestP384Test : public TpmModuleAttestTest {
 protected:
  void SetUp() override { bring_up(true); }
};

TEST_F(TpmModuleAttestP384Test, TheHighRangeP384EkCertificateAloneIsEnough) {
  const Bytes nonce{0x38, 0x34};
  ASSERT_EQ(set_nonce(s_, priv_, nonce), CKR_OK);
  Bytes doc;
  ASSERT_EQ(read(s_, priv_, CKA_KEYSEAL_ATTESTATION, doc), CKR_OK);
  const attest::Evidence e = attest::from_json(std::string(doc.begin(), doc.end()));
  ASSERT_EQ(e.ek_certificates.size(), 1u);
  // The EK keyseal made from template H-3 is the one swtpm_setup made persistent and certified.
  const Bytes persistent = read_public(0x81010016);
  ASSERT_FALSE(persistent.empty());
  EXPECT_EQ(e.ek_public, persistent);

  attest::VerifyOptions o;
  o.nonce = nonce;
  o.roots = pem_certs(swtpm_.ek_ca_pem());
  ASSERT_FALSE(o.roots.empty());
  int activations = 0;
  o.activate = tpm_activation(&activations);
  const attest::Report r = attest::verify(e, o);
  for (const attest::Check& c : r.checks) EXPECT_TRUE(c.ok) << c.name << ": " << c.detail;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(activations, 1);
}


}  // namespace
}  // namespace keyseal::tpm::testing
