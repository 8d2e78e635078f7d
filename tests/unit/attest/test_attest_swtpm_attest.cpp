// TPMS_ATTEST checks of the attest.swtpm suite AttestSwtpm: good evidence passes every check, and the
// magic, type, signature, nonce and attested name each fail on evidence broken in their way; the WebAuthn
// "tpm" statement form of the same evidence.
#include "attest_swtpm_fixture.h"

#include <gtest/gtest.h>

#include <iterator>

namespace keyseal::attest {
namespace {

using namespace keyseal::attest::testing;

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

}  // namespace
}  // namespace keyseal::attest
