// EK and AK checks of the attest.swtpm suite AttestSwtpm: EK certificates (chain, match, critical TPM
// extensions), the AK's attributes and its binding to the EK (credential activation or an AK certificate), and
// make_credential against the TPM's own TPM2_ActivateCredential for RSA, ECC and P-384 EKs.
#include "attest_swtpm_fixture.h"

#include <gtest/gtest.h>
#include <openssl/x509v3.h>

#include <stdexcept>

namespace keyseal::attest {
namespace {

using namespace keyseal::attest::testing;

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

TEST_F(AttestSwtpm, EkCertificateKeyIsTheDefaultTemplateEk) {
  // swtpm_setup's RSA EK is the L-1 template's: the certificate read from NV holds our EK.
  detail::Cert c = detail::parse_cert(world_->ek_certs.at(0));
  ASSERT_TRUE(c);
  EXPECT_TRUE(detail::same_key(c.get(), detail::parse_public(world_->ek_pub, "ek")));
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

TEST_F(AttestSwtpm, MakeCredentialP384EkActivates) {
  const Bytes secret(48, 0xa5);  // up to the SHA-384 digest size
  EXPECT_EQ(world_->activate_p384(make_credential(world_->ek_p384_pub, name_of(world_->ak_pub), secret)), secret);
  EXPECT_FALSE(world_->activate_p384(make_credential(world_->ek_p384_pub, name_of(world_->key_pub), secret)));
  EXPECT_THROW(make_credential(world_->ek_p384_pub, name_of(world_->ak_pub), Bytes(49, 1)), std::invalid_argument);
}

}  // namespace
}  // namespace keyseal::attest
