// The fixture of the attest.swtpm suites (test_attest_swtpm_*.cpp): the verifier against real TPM output. A swtpm
// manufactured with EK certificates by its own swtpm-localca, driven through ESAPI directly (test code only): EK
// from the TCG default template, an AK under it with a PolicySecret(TPM_RH_ENDORSEMENT) session, keys certified by
// the AK. verify() passes evidence built from that, and each check fails on evidence broken in its way.
// make_credential is checked against the TPM's own TPM2_ActivateCredential for RSA and ECC EKs.
//
// One pair of swtpms for the whole suite (RSA key generation in swtpm is slow): TPM A holds the keys, TPM B is
// "another machine". swtpm has three transient object slots, so objects are flushed as soon as they are used.
// The suites share one fixture class from one translation unit (attest_swtpm_fixture.cpp), so that gtest sees the
// tests of AttestSwtpm from every file as one suite, with one World made for it.
#pragma once
#include "attest/evidence.h"
#include "attest/tpm_structs.h"
#include "swtpm_fixture.h"

#include <gtest/gtest.h>
#include <openssl/x509.h>
#include <tss2/tss2_esys.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace keyseal::attest::testing {

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
  explicit Tpm(bool ek_certs);
  ~Tpm();
  ESYS_CONTEXT* ctx() { return ctx_; }
  const tpm::testing::Swtpm& swtpm() const { return sw_; }

  // Runs fn with a policy session satisfying the EK's PolicySecret(TPM_RH_ENDORSEMENT); the session is used once.
  TSS2_RC with_ek_session(const std::function<TSS2_RC(ESYS_TR)>& fn);
  ESYS_TR create_ek(TPMI_ALG_PUBLIC type, Bytes* pub);
  Blob create(ESYS_TR ek, const TPM2B_PUBLIC& tmpl);
  ESYS_TR load(ESYS_TR ek, const Blob& b);
  Attest certify(ESYS_TR key, ESYS_TR signer, const Bytes& nonce, const TPMT_SIG_SCHEME& scheme);
  Attest certify(ESYS_TR key, ESYS_TR signer, const Bytes& nonce);
  Attest certify_creation(ESYS_TR signer, ESYS_TR key, const Blob& b, const Bytes& nonce);
  // TPM2_ActivateCredential with the AK and EK loaded; nullopt when the TPM refuses. An EK of a default template
  // takes the PolicySecret session; swtpm's persistent P-384 EK (userWithAuth) the empty password.
  std::optional<Bytes> activate(ESYS_TR ak, ESYS_TR ek, const Credential& c, bool ek_policy = true);
  Bytes read_public(TPM2_HANDLE handle);
  Bytes nv_read(TPM2_HANDLE index);
  void flush(ESYS_TR& h);

 private:
  tpm::testing::Swtpm sw_;
  TSS2_TCTI_CONTEXT* tcti_ = nullptr;
  ESYS_CONTEXT* ctx_ = nullptr;
};

// A small test CA that issues AK certificates.
class TestCa {
 public:
  TestCa();
  Bytes root() const;
  // A certificate for `subject` (with EKU 2.23.133.8.3 when `ak_eku`).
  Bytes issue(EVP_PKEY* subject, bool ak_eku, const std::function<void(X509*)>& extra = {}) const;

 private:
  static Bytes der(X509* c);
  X509* make(EVP_PKEY* subject, const std::string& cn, bool ca, bool ak_eku,
             const std::function<void(X509*)>& extra = {}) const;
  detail::Pkey key_;
  detail::Cert cert_;
};

inline const Bytes kNonce = {0x6b, 0x65, 0x79, 0x73, 0x65, 0x61, 0x6c, 0x01, 0x02, 0x03};

// Everything the suite's tests share, made once.
struct World {
  Tpm a{true}, b{true};
  Blob ak_blob, key_blob;
  Bytes ek_pub, ek_p384_pub, ak_pub, ak_b_pub, ak_rsa_pub, key_pub, key2_pub, dup_pub, ext_pub;
  Attest key_certify, key_creation, key2_creation, dup_certify, ext_certify, ak_self_certify, self_signed_certify,
      rsa_certify;
  std::vector<Bytes> ek_certs, roots_a, roots_b;
  TestCa ca;

  World();
  Evidence good() const;
  // Credential activation in TPM A with its EK (RSA, or ECC from template L-2) and its AK.
  std::optional<Bytes> activate(const Credential& c, TPMI_ALG_PUBLIC ek_type = TPM2_ALG_RSA);
  // The same with swtpm's persistent P-384 EK (SHA-384 name algorithm, AES-256-CFB).
  std::optional<Bytes> activate_p384(const Credential& c);
  Bytes ek_public(TPMI_ALG_PUBLIC type);
  VerifyOptions options(bool with_activation = true);
};

class AttestSwtpm : public ::testing::Test {
 protected:
  static void SetUpTestSuite();
  static void TearDownTestSuite();
  void SetUp() override;

  static std::string describe(const Report& r);
  // The named check failed (and so the report).
  static void expect_fails(const Report& r, const std::string& name);
  static void expect_passes(const Report& r, const std::string& name);

  static World* world_;
  static std::string setup_error_;
};

inline constexpr const char* kAllChecks[] = {
    "ek_certificate_chain", "ek_certificate_matches", "ak_attributes", "ak_bound_to_ek", "attest_magic",
    "attest_type", "attest_signature", "nonce", "attested_name", "key_fixed_tpm", "key_fixed_parent",
    "key_sensitive_data_origin", "key_use", "creation"};

}  // namespace keyseal::attest::testing
