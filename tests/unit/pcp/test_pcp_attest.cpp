// Key attestation on the Windows route (issue 14, item 6), through the fake Platform Crypto Provider: a claim
// from NCryptCreateClaim's layouts parsed by attest's portable parser and checked by the real verifier against
// the fake's EK root; enrolment (make_credential, then the fake's TPM2_ActivateCredential); and every field of a
// claim broken in turn, each refused with a precise reason and never a crash.
#include "attest/ak_cert_file.h"
#include "attest/evidence.h"
#include "attest/pcp_claim.h"
#include "core/attributes.h"
#include "core/module.h"
#include "core/session.h"
#include "pcp/attestation.h"
#include "pcp/fake_provider.h"
#include "pcp/pcp_backend.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <random>

namespace keyseal::pcp {
namespace {

using attest::Bytes;
using attest::Evidence;
using attest::Report;
using attest::VerifyOptions;

const Bytes kNonce = {0x6e, 0x6f, 0x6e, 0x63, 0x65, 0x2d, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39, 0x30};

Bytes cat(const Bytes& a, const Bytes& b) {
  Bytes out = a;
  out.insert(out.end(), b.begin(), b.end());
  return out;
}

// Where `needle` starts in `hay` (it must be there once at least).
size_t find(const Bytes& hay, const Bytes& needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end());
  EXPECT_NE(it, hay.end());
  return static_cast<size_t>(it - hay.begin());
}

void put_le32(Bytes& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
uint32_t le32(const Bytes& b, size_t at) {
  return uint32_t(b[at]) | uint32_t(b[at + 1]) << 8 | uint32_t(b[at + 2]) << 16 | uint32_t(b[at + 3]) << 24;
}

std::string refusal(const Bytes& claim, const Bytes& id_binding, const Bytes& ek) {
  try {
    attest::evidence_from_pcp_claim(claim, id_binding, ek, {});
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

// One fake PCP with an AIK and two user keys (RSA signing, P-256), shared by the suite: RSA key generation is slow.
class PcpAttest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
#ifndef _WIN32  // (Windows has attest/mu, which logs nothing)
    setenv("TSS2_LOG", "all+none", 0);  // the flips below make tss2-mu warn on every malformed structure
#endif
    fake_ = new FakeProvider();
    KeySpec spec;
    spec.name = "key-rsa";
    spec.usage_auth = SecureBytes(32, 7);
    ASSERT_TRUE(fake_->create_key(spec).ok());
    spec.name = "key-p256";
    spec.alg = KeyAlg::ecdsa_p256;
    ASSERT_TRUE(fake_->create_key(spec).ok());
    ASSERT_TRUE(fake_->create_identity_key("keyseal-ak-test").ok());
  }
  static void TearDownTestSuite() {
    delete fake_;
    fake_ = nullptr;
  }

  static SecureBytes auth() { return SecureBytes(32, 7); }
  static Bytes claim(const std::string& key = "key-rsa", const Bytes& nonce = kNonce) {
    auto r = fake_->key_claim(key, view(auth()), "keyseal-ak-test", ByteView(nonce.data(), nonce.size()));
    EXPECT_TRUE(r.ok()) << r.status.text();
    return r.value;
  }
  static Bytes id_binding() { return fake_->identity_binding("keyseal-ak-test").value; }
  static Bytes ek() { return fake_->ek_public().value; }
  static Evidence evidence(const Bytes& c) {
    return attest::evidence_from_pcp_claim(c, id_binding(), ek(), fake_->ek_certificates().value);
  }
  static VerifyOptions options(const std::string& aik = "keyseal-ak-test") {
    VerifyOptions o;
    o.roots = {fake_->ek_root()};
    o.nonce = kNonce;
    o.activate = [aik](const attest::Credential& c) -> std::optional<Bytes> {
      const Bytes blob = cat(c.credential_blob, c.encrypted_secret);
      auto r = fake_->activate(aik, ByteView(blob.data(), blob.size()));
      if (!r.ok()) return std::nullopt;
      return Bytes(r.value.begin(), r.value.end());
    };
    return o;
  }
  static std::string failures(const Report& r) {
    std::string s;
    for (const auto& c : r.checks)
      if (!c.ok) s += c.name + ": " + c.detail + "\n";
    return s;
  }

  static FakeProvider* fake_;
};
FakeProvider* PcpAttest::fake_ = nullptr;

TEST_F(PcpAttest, RsaKeyClaimVerifiesAgainstTheEkRoot) {
  const Evidence e = evidence(claim());
  EXPECT_EQ(e.nonce, kNonce);
  EXPECT_EQ(e.origin, attest::kOriginGeneratedFixedTpm);
  const Report r = attest::verify(e, options());
  EXPECT_TRUE(r.ok()) << failures(r);
  EXPECT_NE(r.find("creation")->detail.find("not needed: fixedTPM"), std::string::npos);
  EXPECT_NE(r.find("ak_bound_to_ek")->detail.find("activated"), std::string::npos);
  // The evidence survives its JSON form.
  EXPECT_TRUE(attest::verify(attest::from_json(attest::to_json(e)), options()).ok());
}

TEST_F(PcpAttest, EcdsaKeyClaimVerifies) {
  const Report r = attest::verify(evidence(claim("key-p256")), options());
  EXPECT_TRUE(r.ok()) << failures(r);
}

TEST_F(PcpAttest, ClaimWithoutIdBindingInsideTakesTheAiksProperty) {
  // Rebuilt with an empty idBinding section, as one measured PCP answers: the AIK's own property stands in.
  Bytes without = claim();
  const uint32_t cb = le32(without, 16);
  without.erase(without.begin() + 28, without.begin() + 28 + cb);
  put_le32(without, 16, 0);
  const Evidence e = evidence(without);
  EXPECT_TRUE(attest::verify(e, options()).ok()) << failures(attest::verify(e, options()));
  EXPECT_NE(refusal(without, {}, ek()).find("no idBinding"), std::string::npos);
}

TEST_F(PcpAttest, EnrolmentActivatesOnlyForItsAik) {
  const Bytes ak = attest::ak_public_from_id_binding(id_binding());
  const Bytes secret(32, 0x5a);
  const attest::Credential c = attest::make_credential(attest::ek_public_from_rsa_blob(ek()), attest::name_of(ak), secret);
  const Bytes blob = cat(c.credential_blob, c.encrypted_secret);
  auto r = fake_->activate("keyseal-ak-test", ByteView(blob.data(), blob.size()));
  ASSERT_TRUE(r.ok()) << r.status.text();
  EXPECT_EQ(Bytes(r.value.begin(), r.value.end()), secret);

  ASSERT_TRUE(fake_->create_identity_key("keyseal-ak-other").ok());
  EXPECT_EQ(fake_->activate("keyseal-ak-other", ByteView(blob.data(), blob.size())).status.code, 0x8028009Fu);
  Bytes flipped = blob;
  flipped[10] ^= 1;  // inside the HMAC
  EXPECT_EQ(fake_->activate("keyseal-ak-test", ByteView(flipped.data(), flipped.size())).status.code, 0x8028009Fu);
  flipped = blob;
  flipped.back() ^= 1;  // the OAEP ciphertext
  EXPECT_FALSE(fake_->activate("keyseal-ak-test", ByteView(flipped.data(), flipped.size())).ok());
  for (size_t cut : {size_t{0}, size_t{1}, size_t{3}, blob.size() / 2, blob.size() - 1})
    EXPECT_EQ(fake_->activate("keyseal-ak-test", ByteView(blob.data(), cut)).status.code, code::kInvalidParameter);
  EXPECT_EQ(fake_->activate("key-rsa", ByteView(blob.data(), blob.size())).status.code, code::kInvalidParameter);
  EXPECT_EQ(fake_->activate("nobody", ByteView(blob.data(), blob.size())).status.code, code::kBadKeyset);
  // The verifier's activation against the other AIK fails ak_bound_to_ek.
  const Report rep = attest::verify(evidence(claim()), options("keyseal-ak-other"));
  EXPECT_FALSE(rep.find("ak_bound_to_ek")->ok);
}

TEST_F(PcpAttest, ClaimCallsRefuseWhatThePcpRefuses) {
  const SecureBytes wrong(32, 8);
  EXPECT_EQ(fake_->key_claim("key-rsa", view(wrong), "keyseal-ak-test", ByteView(kNonce.data(), kNonce.size())).status.code,
            code::kTpmAuthFailSession1);
  fake_->lockout_reset();
  EXPECT_EQ(fake_->key_claim("key-rsa", view(auth()), "key-p256", {}).status.code, code::kInvalidParameter);
  EXPECT_EQ(fake_->key_claim("key-rsa", view(auth()), "nobody", {}).status.code, code::kBadKeyset);
  const Bytes big(65, 1);
  EXPECT_EQ(fake_->key_claim("key-rsa", view(auth()), "keyseal-ak-test", ByteView(big.data(), big.size())).status.code,
            code::kInvalidParameter);
  EXPECT_EQ(fake_->create_identity_key("key-rsa").code, code::kExists);
  EXPECT_EQ(fake_->identity_binding("key-rsa").status.code, code::kInvalidParameter);
  // No nonce: extraData is empty, as the PCP answers without a parameter list.
  EXPECT_TRUE(evidence(claim("key-rsa", {})).nonce.empty());
}

TEST_F(PcpAttest, BrokenHeadersAreRefusedByName) {
  const Bytes good = claim();
  const Bytes idb = id_binding();
  const size_t kads = 28 + le32(good, 16);
  const size_t pcpm = kads + 24 + le32(good, kads + 12) + le32(good, kads + 16);
  struct Case {
    size_t at;
    uint32_t value;
    const char* why;
  };
  const Case cases[] = {
      {0, 0x5453414C, "KAST has a wrong magic"},
      {4, 2, "KAST version 2 is not 1"},
      {8, 1, "KAST platform 1 is not 2"},
      {12, 27, "KAST header size 27 is out of range"},
      {12, 0xFFFFFFFF, "KAST header size"},
      {16, le32(good, 16) + 1, "KAST"},
      {20, le32(good, 20) - 1, "KAST has 1 bytes after its sections"},
      {20, le32(good, 20) + 1, "KAST sections overrun the blob"},
      {24, 0xFFFFFFFF, "KAST sections overrun the blob"},
      {kads, 0x5344414C, "KADS has a wrong magic"},
      {kads + 4, 3, "KADS platform 3 is not 2"},
      {kads + 8, 0xFFFFFFF0, "KADS header size"},
      {kads + 12, le32(good, kads + 12) + 1, "KADS sections overrun the blob"},
      {kads + 16, 0, "KADS has 256 bytes after its sections"},
      {kads + 20, le32(good, kads + 20) - 2, "KADS has 2 bytes after its sections"},
      {pcpm, 0x4D504351, "PCPM has a wrong magic"},
      {pcpm + 4, 40, "PCPM header size 40 is out of range"},
      {pcpm + 8, 1, "PCPM type 1 is not 2"},
      {pcpm + 16, 0x10000, "PCPM sections overrun the blob"},
      {pcpm + 16, le32(good, pcpm + 16) - 1, "PCPM public's TPM2B size"},
  };
  for (const Case& c : cases) {
    Bytes b = good;
    put_le32(b, c.at, c.value);
    const std::string why = refusal(b, idb, ek());
    EXPECT_NE(why.find(c.why), std::string::npos) << "at " << c.at << ": \"" << why << "\" lacks \"" << c.why << "\"";
  }
  EXPECT_NE(refusal(cat(good, {0}), idb, ek()).find("1 bytes after its sections"), std::string::npos);
  // The EK blob and the AIK binding are held to their sizes too.
  Bytes e = ek();
  put_le32(e, 0, 0x32415352);
  EXPECT_NE(refusal(good, idb, e).find("not a BCRYPT_RSAPUBLIC_BLOB"), std::string::npos);
  EXPECT_NE(refusal(good, idb, cat(ek(), {0})).find("bytes after its sections"), std::string::npos);
  EXPECT_NE(refusal(good, cat(idb, {0}), ek()).find("idBinding has 1 bytes after its signature"), std::string::npos);
}

TEST_F(PcpAttest, EveryTruncationAndByteFlipIsRefusedOrFailsTheVerifier) {
  const Bytes good = claim();
  const Bytes idb = id_binding(), e = ek();
  for (size_t n = 0; n < good.size(); ++n)
    EXPECT_FALSE(refusal(Bytes(good.begin(), good.begin() + static_cast<ptrdiff_t>(n)), idb, e).empty()) << n;
  const VerifyOptions o = [] {
    VerifyOptions v = options();
    v.activate = nullptr;  // AK binding is not what the flips test; an AK certificate is absent either way
    return v;
  }();
  for (size_t i = 0; i < good.size(); ++i) {
    Bytes b = good;
    b[i] ^= 0x01;
    try {
      const Evidence ev = attest::evidence_from_pcp_claim(b, idb, e, {});
      const Report r = attest::verify(ev, o);
      // Bytes no check covers: the opaque private part and the KAST's idBinding (which must still equal idb:
      // a flip there is refused above or leaves a binding whose only change is unchecked creation data).
      const bool covered = !r.find("attest_signature")->ok || !r.find("attested_name")->ok;
      if (covered) continue;
      Evidence same = attest::evidence_from_pcp_claim(good, idb, e, {});
      EXPECT_EQ(ev.key_public, same.key_public) << i;
      EXPECT_EQ(ev.certify_info, same.certify_info) << i;
      EXPECT_EQ(ev.certify_signature, same.certify_signature) << i;
    } catch (const std::invalid_argument&) {
    }
  }
}

TEST_F(PcpAttest, FlippedFieldsFailTheirChecks) {
  const Bytes good = claim();
  const attest::PcpClaim parts = attest::parse_pcp_claim(good);
  {  // a signature byte
    Bytes b = good;
    b[find(b, parts.signature) + 100] ^= 0x01;
    const Report r = attest::verify(evidence(b), options());
    EXPECT_FALSE(r.find("attest_signature")->ok);
    EXPECT_TRUE(r.find("nonce")->ok);
  }
  {  // the nonce inside TPMS_ATTEST: the expected one is missing and the signature breaks
    Bytes b = good;
    b[find(b, kNonce) + 3] ^= 0x01;
    const Report r = attest::verify(evidence(b), options());
    EXPECT_FALSE(r.find("nonce")->ok);
    EXPECT_NE(r.find("nonce")->detail.find("is not the expected nonce"), std::string::npos);
    EXPECT_FALSE(r.find("attest_signature")->ok);
  }
  {  // a byte of the key's public area in the PCPM blob: the certified name is not this key's
    Bytes b = good;
    b[find(b, parts.key_public) + parts.key_public.size() - 5] ^= 0x01;
    const Report r = attest::verify(evidence(b), options());
    EXPECT_TRUE(r.find("attest_signature")->ok);
    EXPECT_FALSE(r.find("attested_name")->ok);
  }
  {  // the right claim, another nonce expected
    VerifyOptions o = options();
    o.nonce = Bytes(16, 0);
    EXPECT_FALSE(attest::verify(evidence(good), o).find("nonce")->ok);
  }
  {  // roots that did not issue the EK certificate
    VerifyOptions o = options();
    o.roots = {fake_->ek_certificates().value[0]};
    const Report r = attest::verify(evidence(good), o);
    EXPECT_TRUE(r.find("ek_certificate_chain")->ok);  // the EK certificate itself as anchor: partial chain
    o.roots = {};
    EXPECT_FALSE(attest::verify(evidence(good), o).find("ek_certificate_chain")->ok);
  }
}

// The verifier's rule for origin "generated-fixedtpm" (no TPM2_CertifyCreation on the PCP), both ways.
TEST_F(PcpAttest, CreationNotNeededOnlyForFixedTpmKeysOfThatOrigin) {
  const Evidence good = evidence(claim());
  EXPECT_TRUE(attest::verify(good, options()).find("creation")->ok);

  Evidence e = good;  // the same key claimed "generated" without creation evidence: the Linux rule, fails
  e.origin = std::string(attest::kOriginGenerated);
  const Report strict = attest::verify(e, options());
  EXPECT_FALSE(strict.find("creation")->ok);
  EXPECT_NE(strict.find("creation")->detail.find("needs TPM2_CertifyCreation"), std::string::npos);

  // A key without fixedTPM (or fixedParent, or sensitiveDataOrigin) of this origin fails "creation", naming it.
  for (uint32_t bit : {0x2u, 0x10u, 0x20u}) {
    e = good;
    const uint32_t attrs = uint32_t(e.key_public[4]) << 24 | uint32_t(e.key_public[5]) << 16 |
                           uint32_t(e.key_public[6]) << 8 | e.key_public[7];
    const uint32_t cleared = attrs & ~bit;
    for (int i = 0; i < 4; ++i) e.key_public[4 + i] = static_cast<uint8_t>(cleared >> (24 - 8 * i));
    const Report r = attest::verify(e, options());  // (a Check* into a temporary Report would dangle)
    const attest::Check* c = r.find("creation");
    EXPECT_FALSE(c->ok) << bit;
    EXPECT_NE(c->detail.find("without creation evidence, but the key has no"), std::string::npos) << c->detail;
  }
  // Creation evidence given with this origin is checked as for "generated": garbage fails.
  e = good;
  e.creation_info = {0x01};
  e.creation_signature = {0x02};
  EXPECT_FALSE(attest::verify(e, options()).find("creation")->ok);
}

TEST(PcpEkTemplate, RebuildsTheL1PublicArea) {
  const Bytes n(256, 0xC5);
  const Bytes ek = attest::ek_public_from_modulus(n);
  // type RSA, nameAlg SHA-256, attributes 0x000300B2, the 32-byte EK policy, AES-128-CFB, NULL scheme, 2048
  const Bytes head = {0x00, 0x01, 0x00, 0x0B, 0x00, 0x03, 0x00, 0xB2, 0x00, 0x20, 0x83, 0x71};
  EXPECT_TRUE(std::equal(head.begin(), head.end(), ek.begin()));
  EXPECT_EQ(ek.size(), 2u + 2 + 4 + 34 + 6 + 2 + 2 + 4 + 258);
  EXPECT_THROW(attest::ek_public_from_modulus(Bytes(255, 1)), std::invalid_argument);
  EXPECT_EQ(attest::ek_public_from_rsa_blob(attest::rsa_public_blob(n, {0x01, 0x00, 0x01})), ek);
  EXPECT_THROW(attest::ek_public_from_rsa_blob(attest::rsa_public_blob(n, {0x03})), std::invalid_argument);
}

// The PKCS#11 route: core's Module and Session over PcpBackend (a fake PCP), a token with a user PIN, logged in;
// the AIK's certificate chain kept in the store's pcp-ak folder, as the Windows composition keeps it.
class PcpAttestModule : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("keyseal-pcp-attest-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    ak_dir_ = dir_ / "pcp-ak";
    core::Config config;
    config.store_dir = dir_;
    std::string why;
    auto backend = connect_backend(fake_, why, ak_dir_);
    ASSERT_TRUE(backend) << why;
    module_ = std::make_unique<core::Module>(config, std::vector<std::shared_ptr<core::Backend>>{backend});
    const CK_SLOT_ID slot = module_->slot_list(false).back();
    const std::string so = "so-secret-1", user = "user-secret-1";
    module_->init_token(slot, view(so), view(std::string(32, ' ')));
    s_ = module_->open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION);
    module_->login(s_, CKU_SO, view(so));
    module_->session(s_)->token().init_pin(view(user));
    module_->logout(s_);
    module_->login(s_, CKU_USER, view(user));
  }
  void TearDown() override {
    if (module_) module_->close_session(s_);
    module_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A P-256 token key pair: {public, private}.
  std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> make_key() {
    core::AttributeMap pub, priv;
    const std::vector<uint8_t> p256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
    core::set_bytes(pub, CKA_EC_PARAMS, ByteView(p256));
    core::set_bool(priv, CKA_TOKEN, true);
    MechanismParams m;
    m.type = CKM_EC_KEY_PAIR_GEN;
    return module_->session(s_)->generate_key_pair(m, pub, priv);
  }
  // CKA_KEYSEAL_ATTESTATION of `key` for kNonce, parsed.
  Evidence attestation(CK_OBJECT_HANDLE key) {
    auto sess = module_->session(s_);
    sess->set_attestation_nonce(key, ByteView(kNonce.data(), kNonce.size()));
    core::AttributeMap got = sess->vendor_attributes(*sess->object(key), {CKA_KEYSEAL_ATTESTATION});
    const SecureBytes& json = got[CKA_KEYSEAL_ATTESTATION];
    return attest::from_json(std::string(json.begin(), json.end()));
  }
  // The CK_RV store_ak_certificates() fails with (CKR_OK when it succeeds).
  CK_RV store(const std::vector<Bytes>& chain, const std::filesystem::path& ak_dir) {
    try {
      store_ak_certificates(*fake_, ak_dir, chain);
    } catch (const Error& e) {
      return e.rv;
    }
    return CKR_OK;
  }
  static std::string failures(const Report& r) {
    std::string s;
    for (const auto& c : r.checks)
      if (!c.ok) s += c.name + ": " + c.detail + "\n";
    return s;
  }

  std::shared_ptr<FakeProvider> fake_ = std::make_shared<FakeProvider>();
  std::filesystem::path dir_, ak_dir_;
  std::unique_ptr<core::Module> module_;
  CK_SESSION_HANDLE s_ = 0;
};

// A PCP token key's CKA_KEYSEAL_TPM_PUBLIC and CKA_KEYSEAL_ATTESTATION, as an application reads them; the
// evidence verifies like the claim above.
TEST_F(PcpAttestModule, VendorAttributesOfAPcpKeyVerify) {
  const auto [hpub, hpriv] = make_key();
  auto sess = module_->session(s_);
  sess->set_attestation_nonce(hpriv, ByteView(kNonce.data(), kNonce.size()));
  core::AttributeMap got =
      sess->vendor_attributes(*sess->object(hpriv), {CKA_KEYSEAL_TPM_PUBLIC, CKA_KEYSEAL_ATTESTATION});
  ASSERT_EQ(got.count(CKA_KEYSEAL_TPM_PUBLIC), 1u);
  ASSERT_EQ(got.count(CKA_KEYSEAL_ATTESTATION), 1u);
  const SecureBytes& json = got[CKA_KEYSEAL_ATTESTATION];
  const Evidence e = attest::from_json(std::string(json.begin(), json.end()));
  EXPECT_EQ(Bytes(got[CKA_KEYSEAL_TPM_PUBLIC].begin(), got[CKA_KEYSEAL_TPM_PUBLIC].end()), e.key_public);
  EXPECT_EQ(e.tpm_manufacturer.empty(), false);
  EXPECT_TRUE(e.ak_certificates.empty());  // no enrolment yet
  VerifyOptions o;
  o.roots = {fake_->ek_root()};
  o.nonce = kNonce;
  o.activate = [&](const attest::Credential& c) { return activate_credential(*fake_, c); };
  const Report r = attest::verify(e, o);
  EXPECT_TRUE(r.ok()) << failures(r);
  // The same session and nonce give the same bytes (a size query, then the read); the public key has none.
  EXPECT_EQ(sess->vendor_attributes(*sess->object(hpriv), {CKA_KEYSEAL_ATTESTATION})[CKA_KEYSEAL_ATTESTATION], json);
  EXPECT_TRUE(sess->vendor_attributes(*sess->object(hpub), {CKA_KEYSEAL_ATTESTATION}).empty());
  // The AIK was made once, on first use, and `attest-ak` names the same one.
  const attest::AkInfo ak = ak_info(*fake_, ak_dir_);
  EXPECT_EQ(ak.ak_public, e.ak_public);
  EXPECT_EQ(ak.ek_public, e.ek_public);
  EXPECT_EQ(fake_->create_identity_key(kAikName).code, code::kExists);
  // A credential for another name does not activate.
  const attest::Credential wrong = attest::make_credential(ak.ek_public, attest::name_of(e.key_public), Bytes(32, 1));
  EXPECT_FALSE(activate_credential(*fake_, wrong).has_value());
}

// `attest-ak --store-cert` on Windows: the chain the CA issued after enrolment is kept for the AIK and goes into
// every later attestation, where it binds the AIK to the EK without a TPM (no activation callback); a "tpm"
// statement made from that evidence verifies by its x5c alone.
TEST_F(PcpAttestModule, KeptAkCertificateGoesIntoTheEvidenceAndBindsTheAik) {
  const auto [hpub, hpriv] = make_key();
  const attest::AkInfo before = ak_info(*fake_, ak_dir_);  // makes the AIK, as `attest-ak` does
  EXPECT_TRUE(before.ak_certificates.empty());
  const Bytes cert = fake_->issue_ak_certificate(kAikName);
  ASSERT_FALSE(cert.empty());
  ASSERT_EQ(store({cert}, ak_dir_), CKR_OK);
  EXPECT_EQ(ak_info(*fake_, ak_dir_).ak_certificates, std::vector<Bytes>{cert});

  const Evidence e = attestation(hpriv);
  ASSERT_EQ(e.ak_certificates, std::vector<Bytes>{cert});
  VerifyOptions o;
  o.roots = {fake_->ek_root()};
  o.nonce = kNonce;  // and no o.activate: the CA's certificate stands for the activation
  const Report r = attest::verify(e, o);
  EXPECT_TRUE(r.ok()) << failures(r);
  ASSERT_NE(r.find("ak_bound_to_ek"), nullptr);
  EXPECT_TRUE(r.find("ak_bound_to_ek")->ok);

  const Report st = attest::verify(attest::from_tpm_statement(attest::to_tpm_statement(e)), o);
  EXPECT_TRUE(st.ok()) << failures(st);

  // Without the kept chain the same evidence cannot show the binding.
  Evidence bare = e;
  bare.ak_certificates.clear();
  const Report nr = attest::verify(bare, o);
  ASSERT_NE(nr.find("ak_bound_to_ek"), nullptr);
  EXPECT_FALSE(nr.find("ak_bound_to_ek")->ok);
}

// What --store-cert refuses, by CK_RV, each leaving the kept chain as it was.
TEST_F(PcpAttestModule, StoreCertRefusesAChainNotForThisAik) {
  const Bytes good = fake_->issue_ak_certificate(kAikName);
  ASSERT_TRUE(good.empty());  // no AIK yet: the CA has nothing to certify
  (void)ak_info(*fake_, ak_dir_);
  const Bytes cert = fake_->issue_ak_certificate(kAikName);
  ASSERT_EQ(store({cert}, ak_dir_), CKR_OK);

  ASSERT_TRUE(fake_->create_identity_key("another-aik").ok());
  const Bytes other = fake_->issue_ak_certificate("another-aik");
  EXPECT_EQ(store({other}, ak_dir_), CKR_ARGUMENTS_BAD);                // another AIK's key
  EXPECT_EQ(store({fake_->ek_root(), cert}, ak_dir_), CKR_ARGUMENTS_BAD);  // the AK's certificate must come first
  EXPECT_EQ(store({}, ak_dir_), CKR_ARGUMENTS_BAD);
  Bytes truncated = cert;
  truncated.resize(truncated.size() - 1);
  EXPECT_EQ(store({truncated}, ak_dir_), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(store({cert, Bytes{0x30, 0x03, 0x02, 0x01, 0x01}}, ak_dir_), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(store({cert}, {}), CKR_FUNCTION_FAILED);  // no store directory
  EXPECT_EQ(ak_info(*fake_, ak_dir_).ak_certificates, std::vector<Bytes>{cert});

  // A chain with the root after the AK's certificate is kept whole, in order.
  ASSERT_EQ(store({cert, fake_->ek_root()}, ak_dir_), CKR_OK);
  EXPECT_EQ(ak_info(*fake_, ak_dir_).ak_certificates, (std::vector<Bytes>{cert, fake_->ek_root()}));
}

// A kept file that no longer fits is not used (and not a failure): one for an earlier AIK (the PCP key was
// deleted and made again), and a damaged one.
TEST_F(PcpAttestModule, AKeptChainForAnotherAikOrDamagedIsLeftOut) {
  const Bytes ak = ak_info(*fake_, ak_dir_).ak_public;
  ASSERT_TRUE(fake_->create_identity_key("earlier-aik").ok());
  const Bytes earlier = attest::ak_public_from_id_binding(fake_->identity_binding("earlier-aik").value);
  attest::store_ak_certificates(ak_dir_, earlier, {fake_->issue_ak_certificate("earlier-aik")});
  std::string why;
  EXPECT_TRUE(attest::load_ak_certificates(ak_dir_, ak, &why).empty());
  EXPECT_NE(why.find("enrol the attestation key again"), std::string::npos) << why;
  EXPECT_TRUE(ak_info(*fake_, ak_dir_).ak_certificates.empty());
  EXPECT_EQ(attest::load_ak_certificates(ak_dir_, earlier).size(), 1u);

  const Bytes cert = fake_->issue_ak_certificate(kAikName);
  ASSERT_EQ(store({cert}, ak_dir_), CKR_OK);
  {
    std::ofstream f(ak_dir_ / attest::kAkCertificateFile, std::ios::binary | std::ios::app);
    f.put('\x30');
  }
  why.clear();
  EXPECT_TRUE(attest::load_ak_certificates(ak_dir_, ak, &why).empty());
  EXPECT_NE(why.find("is damaged"), std::string::npos) << why;
  const auto [hpub, hpriv] = make_key();
  EXPECT_TRUE(attestation(hpriv).ak_certificates.empty());
  EXPECT_TRUE(attest::load_ak_certificates({}, ak).empty());  // no folder: none
}

}  // namespace
}  // namespace keyseal::pcp
