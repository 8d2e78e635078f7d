// The TPM endorsement-key fingerprint factor against swtpm: a stable 32-byte value equal to SHA-256 over the
// label and the EK Credential Profile L-2 EK's point, distinct per TPM, no objects left behind, nullopt
// without a TPM or with an endorsement hierarchy authorization.
#include "tpm/ek_factor.h"

#include "crypto/digest.h"
#include "tpm_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <tss2/tss2_esys.h>
#include <unistd.h>

#include <cstring>

namespace keyseal::tpm::testing {
namespace {

class TpmEkFactorTest : public SwtpmTest {
 protected:
  void SetUp() override {
    SwtpmTest::SetUp();
    forget_cached_ek_for_tests();  // ports, and so TCTI strings, are reused between tests
  }
  void TearDown() override {
    forget_cached_ek_for_tests();
    SwtpmTest::TearDown();
  }
};

// Template L-2 written out independently of ek_factor.cpp, with the profile's numbers.
TPM2B_PUBLIC l2_template() {
  static const uint8_t policy_a[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xB3, 0xF8, 0x1A, 0x90, 0xCC,
                                       0x8D, 0x46, 0xA5, 0xD7, 0x24, 0xFD, 0x52, 0xD7, 0x6E, 0x06, 0x52,
                                       0x0B, 0x64, 0xF2, 0xA1, 0xDA, 0x1B, 0x33, 0x14, 0x69, 0xAA};
  TPM2B_PUBLIC t{};
  t.publicArea.type = TPM2_ALG_ECC;
  t.publicArea.nameAlg = TPM2_ALG_SHA256;
  t.publicArea.objectAttributes = 0x000300B2;  // the profile's value for templates L-1 and L-2
  t.publicArea.authPolicy.size = 32;
  std::memcpy(t.publicArea.authPolicy.buffer, policy_a, 32);
  t.publicArea.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
  t.publicArea.parameters.eccDetail.symmetric.keyBits.aes = 128;
  t.publicArea.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  t.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
  t.publicArea.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  t.publicArea.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  t.publicArea.unique.ecc.x.size = 32;
  t.publicArea.unique.ecc.y.size = 32;
  return t;
}

// SHA-256("keyseal tpm-ek v1 ecc-nist-p256" || x || y) of an EK made here through the backend's context.
SecureBytes expected_value(TpmBackend& b) {
  SecureBytes in = bytes("keyseal tpm-ek v1 ecc-nist-p256");
  b.with_esys([&](ESYS_CONTEXT* ctx) {
    const TPM2B_PUBLIC tmpl = l2_template();
    const TPM2B_SENSITIVE_CREATE sens{};
    const TPM2B_DATA outside{};
    const TPML_PCR_SELECTION pcrs{};
    ESYS_TR h = ESYS_TR_NONE;
    TPM2B_PUBLIC* pub = nullptr;
    TPM2B_CREATION_DATA* cd = nullptr;
    TPM2B_DIGEST* ch = nullptr;
    TPMT_TK_CREATION* tk = nullptr;
    ASSERT_EQ(Esys_CreatePrimary(ctx, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sens,
                                 &tmpl, &outside, &pcrs, &h, &pub, &cd, &ch, &tk),
              TSS2_RC_SUCCESS);
    Esys_FlushContext(ctx, h);
    const TPMS_ECC_POINT& q = pub->publicArea.unique.ecc;
    EXPECT_EQ(q.x.size, 32u);
    EXPECT_EQ(q.y.size, 32u);
    in.insert(in.end(), q.x.buffer, q.x.buffer + q.x.size);
    in.insert(in.end(), q.y.buffer, q.y.buffer + q.y.size);
    Esys_Free(pub), Esys_Free(cd), Esys_Free(ch), Esys_Free(tk);
  });
  return crypto::digest(CKM_SHA256, view(in));
}

std::vector<TPM2_HANDLE> transient_handles(TpmBackend& b) {
  std::vector<TPM2_HANDLE> out;
  b.with_esys([&](ESYS_CONTEXT* ctx) {
    TPMI_YES_NO more = TPM2_NO;
    TPMS_CAPABILITY_DATA* cap = nullptr;
    ASSERT_EQ(Esys_GetCapability(ctx, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_HANDLES,
                                 TPM2_TRANSIENT_FIRST, 32, &more, &cap),
              TSS2_RC_SUCCESS);
    for (UINT32 i = 0; i < cap->data.handles.count; ++i) out.push_back(cap->data.handles.handle[i]);
    Esys_Free(cap);
  });
  return out;
}

void change_endorsement_auth(TpmBackend& b, const std::string& to) {
  b.with_esys([&](ESYS_CONTEXT* ctx) {
    TPM2B_AUTH a{};
    a.size = static_cast<UINT16>(to.size());
    std::memcpy(a.buffer, to.data(), to.size());
    ASSERT_EQ(Esys_HierarchyChangeAuth(ctx, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                                       &a),
              TSS2_RC_SUCCESS);
  });
}

int free_port() {
  int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  int port = -1;
  if (::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
      ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len) == 0)
    port = ntohs(a.sin_port);
  ::close(s);
  return port;
}

TEST_F(TpmEkFactorTest, StableValueEqualsHashOfTheL2Point) {
  auto src = ek_factor_source(swtpm_.tcti());
  EXPECT_EQ(src->id(), std::string(kEkFactorId));
  EXPECT_EQ(src->id(), "tpm-ek");
  EXPECT_EQ(src->strength_bits(), 128);
  const std::optional<SecureBytes> v = src->read();
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->size(), 32u);
  EXPECT_FALSE(equal_bytes(view(*v), view(SecureBytes(32, 0))));

  const std::optional<SecureBytes> again = ek_factor_source(swtpm_.tcti())->read();  // cached
  ASSERT_TRUE(again.has_value());
  EXPECT_TRUE(equal_bytes(view(*v), view(*again)));

  forget_cached_ek_for_tests();  // a real second derivation from the TPM
  const std::optional<SecureBytes> fresh = ek_factor_source(swtpm_.tcti())->read();
  ASSERT_TRUE(fresh.has_value());
  EXPECT_TRUE(equal_bytes(view(*v), view(*fresh)));

  EXPECT_TRUE(equal_bytes(view(*v), view(expected_value(*backend_))));
}

TEST_F(TpmEkFactorTest, SameAfterTpmRestartAndCachedWhileGone) {
  const std::optional<SecureBytes> v = ek_factor_source(swtpm_.tcti())->read();
  ASSERT_TRUE(v.has_value());
  swtpm_.kill();
  const std::optional<SecureBytes> cached = ek_factor_source(swtpm_.tcti())->read();
  ASSERT_TRUE(cached.has_value());
  EXPECT_TRUE(equal_bytes(view(*v), view(*cached)));
  forget_cached_ek_for_tests();
  EXPECT_FALSE(ek_factor_source(swtpm_.tcti())->read().has_value());  // gone and not cached
  swtpm_.start();  // same state (same EPS), same port
  const std::optional<SecureBytes> after = ek_factor_source(swtpm_.tcti())->read();
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(equal_bytes(view(*v), view(*after)));
}

TEST_F(TpmEkFactorTest, DifferentTpmsGiveDifferentValues) {
  Swtpm other;
  try {
    other.start();
  } catch (const std::exception& e) {
    FAIL() << e.what();
  }
  ASSERT_NE(other.tcti(), swtpm_.tcti());
  const std::optional<SecureBytes> a = ek_factor_source(swtpm_.tcti())->read();
  const std::optional<SecureBytes> b = ek_factor_source(other.tcti())->read();
  ASSERT_TRUE(a.has_value());
  ASSERT_TRUE(b.has_value());
  EXPECT_EQ(b->size(), 32u);
  EXPECT_FALSE(equal_bytes(view(*a), view(*b)));
}

TEST_F(TpmEkFactorTest, LeavesParentAndLoadedKeysAlone) {
  KeyPair k = gen_ec(*backend_, crypto::Curve::p256);
  const SecureBytes data = bytes("still loaded");
  sign(*backend_, k, mech(CKM_ECDSA_SHA256), view(data));  // loads the key next to the storage parent
  const size_t loaded = backend_->loaded_objects();
  const std::vector<TPM2_HANDLE> handles = transient_handles(*backend_);
  EXPECT_EQ(handles.size(), loaded);

  ASSERT_TRUE(ek_factor_source(swtpm_.tcti())->read().has_value());

  EXPECT_EQ(backend_->loaded_objects(), loaded);
  EXPECT_EQ(transient_handles(*backend_), handles);  // the EK is flushed, nothing else was
  const uint64_t before = backend_->tpm_commands();
  SecureBytes sig = sign(*backend_, k, mech(CKM_ECDSA_SHA256), view(data));
  EXPECT_EQ(backend_->tpm_commands() - before, 1u);  // the key was still loaded: no reload
  EXPECT_NO_THROW(verify(k, mech(CKM_ECDSA_SHA256), view(data), view(sig)));
}

TEST_F(TpmEkFactorTest, NoTpmGivesNullopt) {
  const int port = free_port();
  ASSERT_GT(port, 0);
  auto src = ek_factor_source("swtpm:host=127.0.0.1,port=" + std::to_string(port));
  std::optional<SecureBytes> v;
  EXPECT_NO_THROW(v = src->read());
  EXPECT_FALSE(v.has_value());
  EXPECT_NO_THROW(v = ek_factor_source("no-such-tcti-module")->read());
  EXPECT_FALSE(v.has_value());
}

TEST_F(TpmEkFactorTest, EndorsementAuthorizationGivesNullopt) {
  const std::optional<SecureBytes> before = ek_factor_source(swtpm_.tcti())->read();
  ASSERT_TRUE(before.has_value());
  change_endorsement_auth(*backend_, "endorsement secret");  // ESYS now remembers this auth too
  forget_cached_ek_for_tests();
  std::optional<SecureBytes> v;
  EXPECT_NO_THROW(v = ek_factor_source(swtpm_.tcti())->read());
  EXPECT_FALSE(v.has_value());
  EXPECT_FALSE(ek_factor_source(swtpm_.tcti())->read().has_value());  // a failure is not cached
  EXPECT_EQ(backend_->loaded_objects(), transient_handles(*backend_).size());

  backend_->with_esys([](ESYS_CONTEXT* ctx) {  // back to the empty authorization
    TPM2B_AUTH secret{};
    secret.size = 18;
    std::memcpy(secret.buffer, "endorsement secret", 18);
    ASSERT_EQ(Esys_TR_SetAuth(ctx, ESYS_TR_RH_ENDORSEMENT, &secret), TSS2_RC_SUCCESS);
  });
  change_endorsement_auth(*backend_, "");
  const std::optional<SecureBytes> after = ek_factor_source(swtpm_.tcti())->read();
  ASSERT_TRUE(after.has_value());
  EXPECT_TRUE(equal_bytes(view(*before), view(*after)));
}

}  // namespace
}  // namespace keyseal::tpm::testing
