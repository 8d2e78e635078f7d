// Key-attribute checks of the attest.swtpm suite AttestSwtpm: fixedTPM, fixedParent, sensitiveDataOrigin
// (duplicable and imported keys), key use (a restricted key), and the creation evidence of a generated key.
#include "attest_swtpm_fixture.h"

#include <gtest/gtest.h>

namespace keyseal::attest {
namespace {

using namespace keyseal::attest::testing;

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

}  // namespace
}  // namespace keyseal::attest
