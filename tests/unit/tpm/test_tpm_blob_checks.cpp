// TPM blobs checked against the object they sit behind when the key is loaded (issue 11 item 1, TPM part): a
// key claiming CKA_LOCAL or CKA_NEVER_EXTRACTABLE must be one the TPM made (fixedTPM, fixedParent,
// sensitiveDataOrigin), and the blob's public key must be the object's.
#include "tpm/key_blobs.h"
#include "tpm_test_util.h"

namespace keyseal::tpm::testing {
namespace {

using TpmBlobChecksTest = SwtpmTest;

constexpr CK_ATTRIBUTE_TYPE kBlobAttrs[] = {kAttrPublic, kAttrPrivate, kAttrParent, kAttrAuth};

// An EC P-256 key from outside, imported into the TPM (no fixedTPM/fixedParent/sensitiveDataOrigin).
core::AttributeMap imported_ec(TpmBackend& b) {
  const SecureBytes params = crypto::ec_params_der(crypto::Curve::p256);
  crypto::EcKeyPair e = crypto::generate_ec(view(params));
  core::AttributeMap a;
  core::set_ulong(a, CKA_CLASS, CKO_PRIVATE_KEY);
  core::set_ulong(a, CKA_KEY_TYPE, CKK_EC);
  core::set_bytes(a, CKA_EC_PARAMS, view(params));
  core::set_bytes(a, CKA_VALUE, view(e.d));
  b.import_key(a);
  core::set_bool(a, CKA_LOCAL, false);  // as core marks a created or unwrapped key
  core::set_bool(a, CKA_NEVER_EXTRACTABLE, false);
  return a;
}

KeyPair local_ec(TpmBackend& b) {
  KeyPair k = gen_ec(b, crypto::Curve::p256);
  core::set_bool(k.priv, CKA_LOCAL, true);  // as core marks a generated key
  core::set_bool(k.priv, CKA_NEVER_EXTRACTABLE, true);
  k.obj = object_of(k.priv);
  return k;
}

CK_RV sign_rv(TpmBackend& b, const core::AttributeMap& priv) {
  return rv_of([&] { b.sign(*object_of(priv), mech(CKM_ECDSA_SHA256))->run(view(bytes("data"))); });
}

TEST_F(TpmBlobChecksTest, GeneratedAndImportedKeysLoad) {
  KeyPair k = local_ec(*backend_);
  EXPECT_EQ(sign_rv(*backend_, k.priv), CKR_OK);
  EXPECT_EQ(sign_rv(*backend_, imported_ec(*backend_)), CKR_OK);  // imported: CKA_LOCAL false, no origin bits
}

TEST_F(TpmBlobChecksTest, ImportedBlobBehindALocalKeyIsRefused) {
  const core::AttributeMap imported = imported_ec(*backend_);
  // The whole key swapped (blobs and public values): only the attribute check can tell.
  for (CK_ATTRIBUTE_TYPE claim : {CKA_LOCAL, CKA_NEVER_EXTRACTABLE}) {
    core::AttributeMap forged = imported;
    core::set_bool(forged, claim, true);
    EXPECT_EQ(sign_rv(*backend_, forged), CKR_KEY_HANDLE_INVALID) << claim;
  }
  // Only the blobs swapped behind a generated key's record.
  KeyPair k = local_ec(*backend_);
  core::AttributeMap forged = k.priv;
  for (CK_ATTRIBUTE_TYPE t : kBlobAttrs) core::set_bytes(forged, t, view(*core::get_bytes(imported, t)));
  EXPECT_EQ(sign_rv(*backend_, forged), CKR_KEY_HANDLE_INVALID);
}

TEST_F(TpmBlobChecksTest, AnotherTpmKeysBlobIsRefused) {
  // Both made by the TPM (all origin bits set): the public values tell them apart.
  KeyPair a = local_ec(*backend_), b = local_ec(*backend_);
  core::AttributeMap forged = a.priv;
  for (CK_ATTRIBUTE_TYPE t : kBlobAttrs) core::set_bytes(forged, t, view(*core::get_bytes(b.priv, t)));
  EXPECT_EQ(sign_rv(*backend_, forged), CKR_KEY_HANDLE_INVALID);

  KeyPair r1 = gen_rsa(*backend_, 2048), r2 = gen_rsa(*backend_, 2048);
  core::AttributeMap rsa_forged = r1.priv;
  core::set_bool(rsa_forged, CKA_LOCAL, true);
  for (CK_ATTRIBUTE_TYPE t : kBlobAttrs) core::set_bytes(rsa_forged, t, view(*core::get_bytes(r2.priv, t)));
  EXPECT_EQ(rv_of([&] { backend_->sign(*object_of(rsa_forged), mech(CKM_SHA256_RSA_PKCS)); }), CKR_KEY_HANDLE_INVALID);
  core::set_bool(r1.priv, CKA_LOCAL, true);
  EXPECT_EQ(rv_of([&] { sign(*backend_, KeyPair{r1.pub, r1.priv, object_of(r1.priv)}, mech(CKM_SHA256_RSA_PKCS),
                             view(bytes("data"))); }),
            CKR_OK);
}

}  // namespace
}  // namespace keyseal::tpm::testing
