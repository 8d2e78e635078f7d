// Round trips for key generation, import, signing, verification, RSA encryption and ECDH, checked against
// OpenSSL's own hash-and-sign where the result is deterministic; plus EC encodings and shared-key threading.
#include "crypto/asym.h"
#include "crypto/digest.h"
#include "crypto/keys.h"
#include "crypto/random.h"
#include "vectors.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <thread>

using namespace keyseal;
using namespace keyseal::crypto;
using keyseal::test::hex;
using keyseal::test::rv_of;

namespace {

const char* kP256 = "06082a8648ce3d030107";
const char* kP384 = "06052b81040022";
const char* kP521 = "06052b81040023";
const char* kEd25519 = "06032b6570";

MechanismParams mech(CK_MECHANISM_TYPE t, CK_MECHANISM_TYPE hash = 0, CK_ULONG salt = 0) {
  MechanismParams m;
  m.type = t;
  m.hash = hash;
  m.mgf_hash = hash;
  m.salt_len = salt;
  return m;
}

class RsaTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    kp_ = new RsaKeyPair(generate_rsa(2048, {}));
    priv_ = new PKey(rsa_private_key(view(kp_->n), view(kp_->e), view(kp_->d), view(kp_->p), view(kp_->q),
                                     view(kp_->dp), view(kp_->dq), view(kp_->qinv)));
    pub_ = new PKey(rsa_public_key(view(kp_->n), view(kp_->e)));
  }
  static RsaKeyPair* kp_;
  static PKey* priv_;
  static PKey* pub_;
};
RsaKeyPair* RsaTest::kp_;
PKey* RsaTest::priv_;
PKey* RsaTest::pub_;

void expect_sign_verify(const PKey& priv, const PKey& pub, const MechanismParams& m, ByteView data) {
  auto s = make_signer(priv, m);
  SecureBytes sig = s->run(data);
  EXPECT_EQ(sig.size(), priv.signature_size());
  EXPECT_EQ(s->output_size(data.size()), sig.size());
  EXPECT_EQ(rv_of([&] { make_verifier(pub, m)->verify(data, view(sig)); }), CKR_OK) << m.type;
  SecureBytes bad = sig;
  bad[bad.size() / 2] ^= 0x10;
  EXPECT_EQ(rv_of([&] { make_verifier(pub, m)->verify(data, view(bad)); }), CKR_SIGNATURE_INVALID) << m.type;
  EXPECT_EQ(rv_of([&] { make_verifier(pub, m)->verify(data, ByteView(sig.data(), sig.size() - 1)); }),
            CKR_SIGNATURE_LEN_RANGE);
  auto v = make_verifier(pub, m);
  if (v->multipart()) {
    v->absorb(data.subspan(0, data.size() / 2));
    v->absorb(data.subspan(data.size() / 2));
    EXPECT_EQ(rv_of([&] { v->verify_finish(view(sig)); }), CKR_OK);
  }
}

// OpenSSL's own hash-and-sign verification: an independent check of our DigestInfo / hashing.
bool openssl_verifies(const PKey& pub, const char* md, ByteView data, ByteView sig, bool pss = false) {
  EVP_MD_CTX* c = EVP_MD_CTX_new();
  EVP_PKEY_CTX* pc = nullptr;
  bool ok = EVP_DigestVerifyInit_ex(c, &pc, md, nullptr, nullptr, pub.get(), nullptr) == 1;
  if (ok && pss) ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1;
  if (ok) ok = EVP_DigestVerify(c, sig.data(), sig.size(), data.data(), data.size()) == 1;
  EVP_MD_CTX_free(c);
  return ok;
}

}  // namespace

TEST_F(RsaTest, SizesAndPublicKeyInfo) {
  EXPECT_EQ(priv_->bits(), 2048u);
  EXPECT_EQ(priv_->signature_size(), 256u);
  EXPECT_EQ(kp_->e, hex("010001"));
  SecureBytes spki = public_key_info(*priv_);
  EXPECT_EQ(spki, public_key_info(*pub_));
  const unsigned char* p = spki.data();
  EVP_PKEY* back = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(EVP_PKEY_eq(back, pub_->get()), 1);
  EVP_PKEY_free(back);
  EXPECT_EQ(rv_of([] { generate_rsa(512, {}); }), CKR_KEY_SIZE_RANGE);
  EXPECT_EQ(rv_of([] { generate_rsa(2048, view(hex("010000"))); }), CKR_ATTRIBUTE_VALUE_INVALID);
}

TEST_F(RsaTest, EveryPkcs1AndPssMechanism) {
  SecureBytes msg = random_bytes(100);
  struct H { CK_MECHANISM_TYPE pkcs, pss, hash; const char* md; };
  const H hs[] = {{CKM_SHA1_RSA_PKCS, CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1, "SHA1"},
                  {CKM_SHA224_RSA_PKCS, CKM_SHA224_RSA_PKCS_PSS, CKM_SHA224, "SHA224"},
                  {CKM_SHA256_RSA_PKCS, CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, "SHA256"},
                  {CKM_SHA384_RSA_PKCS, CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, "SHA384"},
                  {CKM_SHA512_RSA_PKCS, CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, "SHA512"}};
  for (const H& h : hs) {
    expect_sign_verify(*priv_, *pub_, mech(h.pkcs), view(msg));
    SecureBytes sig = make_signer(*priv_, mech(h.pkcs))->run(view(msg));
    EXPECT_TRUE(openssl_verifies(*pub_, h.md, view(msg), view(sig))) << h.md;
    size_t hlen = digest_size(h.hash);
    MechanismParams pss = mech(h.pss, h.hash, hlen);
    expect_sign_verify(*priv_, *pub_, pss, view(msg));
    SecureBytes psig = make_signer(*priv_, pss)->run(view(msg));
    EXPECT_TRUE(openssl_verifies(*pub_, h.md, view(msg), view(psig), true)) << h.md;  // salt = hash length
    // Raw PSS over the hash gives a signature the hashed mechanism accepts.
    SecureBytes hash = digest(h.hash, view(msg));
    SecureBytes rsig = make_signer(*priv_, mech(CKM_RSA_PKCS_PSS, h.hash, hlen))->run(view(hash));
    EXPECT_EQ(rv_of([&] { make_verifier(*pub_, pss)->verify(view(msg), view(rsig)); }), CKR_OK);
    EXPECT_FALSE(make_signer(*priv_, mech(CKM_RSA_PKCS_PSS, h.hash, hlen))->multipart());
    EXPECT_TRUE(make_signer(*priv_, pss)->multipart());
  }
  // Multi-part signing equals single-part (PKCS #1 v1.5 is deterministic).
  auto s = make_signer(*priv_, mech(CKM_SHA256_RSA_PKCS));
  s->absorb(ByteView(msg.data(), 10));
  s->absorb(ByteView(msg.data() + 10, 90));
  EXPECT_EQ(s->finish(), make_signer(*priv_, mech(CKM_SHA256_RSA_PKCS))->run(view(msg)));
}

TEST_F(RsaTest, RawMechanismsAndLimits) {
  SecureBytes data = random_bytes(245);  // k - 11
  expect_sign_verify(*priv_, *pub_, mech(CKM_RSA_PKCS), view(data));
  EXPECT_FALSE(make_signer(*priv_, mech(CKM_RSA_PKCS))->multipart());
  SecureBytes too_long = random_bytes(246);
  EXPECT_EQ(rv_of([&] { make_signer(*priv_, mech(CKM_RSA_PKCS))->run(view(too_long)); }), CKR_DATA_LEN_RANGE);
  SecureBytes x = random_bytes(255);
  expect_sign_verify(*priv_, *pub_, mech(CKM_RSA_X_509), view(x));
  SecureBytes x_long(257, 1);
  EXPECT_EQ(rv_of([&] { make_signer(*priv_, mech(CKM_RSA_X_509))->run(view(x_long)); }), CKR_DATA_LEN_RANGE);
  SecureBytes h = random_bytes(31);
  EXPECT_EQ(rv_of([&] { make_signer(*priv_, mech(CKM_RSA_PKCS_PSS, CKM_SHA256, 32))->run(view(h)); }),
            CKR_DATA_LEN_RANGE);
  EXPECT_EQ(rv_of([&] { make_signer(*priv_, mech(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384, 32)); }),
            CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv_of([&] { make_signer(*priv_, mech(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, 300)); }),
            CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv_of([&] { make_signer(*priv_, mech(CKM_ECDSA)); }), CKR_KEY_TYPE_INCONSISTENT);
  EXPECT_EQ(rv_of([&] { make_signer(*pub_, mech(CKM_RSA_PKCS)); }), CKR_KEY_TYPE_INCONSISTENT);
  EXPECT_EQ(rv_of([&] { make_signer(*priv_, mech(CKM_MD5_RSA_PKCS)); }), CKR_MECHANISM_INVALID);
  // A key with n, e, d only signs identically to its CRT form.
  PKey ned = rsa_private_key(view(kp_->n), view(kp_->e), view(kp_->d), {}, {}, {}, {}, {});
  EXPECT_EQ(make_signer(ned, mech(CKM_SHA256_RSA_PKCS))->run(view(data)),
            make_signer(*priv_, mech(CKM_SHA256_RSA_PKCS))->run(view(data)));
}

TEST_F(RsaTest, EncryptDecryptPkcsOaepX509) {
  SecureBytes msg = random_bytes(40);
  for (CK_MECHANISM_TYPE h : {CKM_SHA_1, CKM_SHA256, CKM_SHA512}) {
    MechanismParams m = mech(CKM_RSA_PKCS_OAEP, h);
    m.label = random_bytes(16);
    SecureBytes ct = make_rsa_encryptor(*pub_, m)->run(view(msg));
    EXPECT_EQ(ct.size(), 256u);
    EXPECT_EQ(make_rsa_decryptor(*priv_, m)->run(view(ct)), msg);
    MechanismParams wrong = m;
    wrong.label[3] ^= 1;
    EXPECT_EQ(rv_of([&] { make_rsa_decryptor(*priv_, wrong)->run(view(ct)); }), CKR_ENCRYPTED_DATA_INVALID);
    SecureBytes too_long = random_bytes(256 - 2 * digest_size(h) - 1);
    EXPECT_EQ(rv_of([&] { make_rsa_encryptor(*pub_, m)->run(view(too_long)); }), CKR_DATA_LEN_RANGE);
  }
  SecureBytes ct = make_rsa_encryptor(*pub_, mech(CKM_RSA_PKCS))->run(view(msg));
  EXPECT_EQ(make_rsa_decryptor(*priv_, mech(CKM_RSA_PKCS))->run(view(ct)), msg);
  SecureBytes tampered = ct;
  tampered[128] ^= 0x40;
  EXPECT_EQ(rv_of([&] { make_rsa_decryptor(*priv_, mech(CKM_RSA_PKCS))->run(view(tampered)); }),
            CKR_ENCRYPTED_DATA_INVALID);
  EXPECT_EQ(rv_of([&] { make_rsa_encryptor(*pub_, mech(CKM_RSA_PKCS))->run(view(random_bytes(246))); }),
            CKR_DATA_LEN_RANGE);
  SecureBytes xct = make_rsa_encryptor(*pub_, mech(CKM_RSA_X_509))->run(view(msg));
  SecureBytes xpt = make_rsa_decryptor(*priv_, mech(CKM_RSA_X_509))->run(view(xct));
  ASSERT_EQ(xpt.size(), 256u);  // raw RSA returns k bytes, left-padded with zeros
  EXPECT_TRUE(equal_bytes(ByteView(xpt.data() + 216, 40), view(msg)));
  EXPECT_EQ(rv_of([&] { make_rsa_decryptor(*priv_, mech(CKM_RSA_PKCS))->run(ByteView(ct.data(), 255)); }),
            CKR_ENCRYPTED_DATA_LEN_RANGE);
  SecureBytes all_ff(256, 0xff);  // larger than the modulus
  EXPECT_EQ(rv_of([&] { make_rsa_encryptor(*pub_, mech(CKM_RSA_X_509))->run(view(all_ff)); }), CKR_DATA_INVALID);
  EXPECT_EQ(rv_of([&] { make_rsa_decryptor(*pub_, mech(CKM_RSA_PKCS)); }), CKR_KEY_TYPE_INCONSISTENT);
  EXPECT_EQ(rv_of([&] { make_rsa_encryptor(*pub_, mech(CKM_RSA_PKCS_OAEP)); }), CKR_MECHANISM_PARAM_INVALID);
}

TEST(EcTest, GenerateImportSignVerifyEveryCurve) {
  struct C { const char* params; size_t bits, sig; };
  SecureBytes msg = random_bytes(77);
  for (C c : {C{kP256, 256, 64}, C{kP384, 384, 96}, C{kP521, 521, 132}}) {
    SecureBytes params = hex(c.params);
    EXPECT_EQ(ec_params_bits(view(params)), c.bits);
    EcKeyPair kp = generate_ec(view(params));
    EXPECT_EQ(kp.point.size(), 1 + c.sig);
    EXPECT_EQ(ec_public_point(view(params), view(kp.d)), kp.point);
    PKey priv = ec_private_key(view(params), view(kp.d));
    PKey pub = ec_public_key(view(params), view(kp.point));
    PKey pub_der = ec_public_key(view(params), view(der_octet_string(view(kp.point))));
    EXPECT_EQ(public_key_info(pub), public_key_info(pub_der));
    EXPECT_EQ(public_key_info(priv), public_key_info(pub));
    EXPECT_EQ(priv.bits(), c.bits);
    EXPECT_EQ(priv.signature_size(), c.sig);
    for (CK_MECHANISM_TYPE m : {CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384,
                                CKM_ECDSA_SHA512})
      expect_sign_verify(priv, pub, mech(m), view(msg));
    // CKM_ECDSA over a hash of any length (truncated to the order) matches the hashed mechanism.
    for (CK_MECHANISM_TYPE h : {CKM_SHA_1, CKM_SHA512}) {
      SecureBytes hash = digest(h, view(msg));
      SecureBytes sig = make_signer(priv, mech(CKM_ECDSA))->run(view(hash));
      CK_MECHANISM_TYPE hashed = h == CKM_SHA_1 ? CKM_ECDSA_SHA1 : CKM_ECDSA_SHA512;
      EXPECT_EQ(rv_of([&] { make_verifier(pub, mech(hashed))->verify(view(msg), view(sig)); }), CKR_OK);
      expect_sign_verify(priv, pub, mech(CKM_ECDSA), view(hash));
    }
    EXPECT_FALSE(make_signer(priv, mech(CKM_ECDSA))->multipart());
    EXPECT_EQ(rv_of([&] { make_signer(priv, mech(CKM_SHA256_RSA_PKCS)); }), CKR_KEY_TYPE_INCONSISTENT);
  }
}

TEST(EcTest, Ed25519GenerateSignMultipart) {
  for (const char* p : {kEd25519, "130c656477617264733235353139"}) {  // OID, PrintableString "edwards25519"
    SecureBytes params = hex(p);
    EXPECT_TRUE(ec_params_is_ed25519(view(params)));
    EXPECT_EQ(ec_params_bits(view(params)), 255u);
    EcKeyPair kp = generate_ec(view(params));
    EXPECT_EQ(kp.d.size(), 32u);
    EXPECT_EQ(kp.point.size(), 32u);
    PKey priv = ec_private_key(view(params), view(kp.d));
    PKey pub = ec_public_key(view(params), view(der_octet_string(view(kp.point))));
    SecureBytes msg = random_bytes(300);
    expect_sign_verify(priv, pub, mech(CKM_EDDSA), view(msg));
    auto s = make_signer(priv, mech(CKM_EDDSA));
    EXPECT_TRUE(s->multipart());
    s->absorb(ByteView(msg.data(), 100));
    s->absorb(ByteView(msg.data() + 100, 200));
    EXPECT_EQ(s->finish(), make_signer(priv, mech(CKM_EDDSA))->run(view(msg)));  // Ed25519 is deterministic
    EXPECT_EQ(rv_of([&] { make_signer(priv, mech(CKM_ECDSA)); }), CKR_KEY_TYPE_INCONSISTENT);
  }
}

TEST(EcTest, EcdhBothPartiesAgree) {
  for (const char* p : {kP256, kP384, kP521}) {
    SecureBytes params = hex(p);
    EcKeyPair a = generate_ec(view(params)), b = generate_ec(view(params));
    PKey pa = ec_private_key(view(params), view(a.d)), pb = ec_private_key(view(params), view(b.d));
    SecureBytes s1 = ecdh_derive(pa, view(b.point));
    SecureBytes s2 = ecdh_derive(pb, view(der_octet_string(view(a.point))));
    EXPECT_EQ(s1, s2);
    EXPECT_EQ(s1.size(), (ec_params_bits(view(params)) + 7) / 8);
    SecureBytes off_curve = b.point;
    off_curve.back() ^= 1;
    EXPECT_EQ(rv_of([&] { ecdh_derive(pa, view(off_curve)); }), CKR_MECHANISM_PARAM_INVALID);
  }
  SecureBytes p256 = hex(kP256), p384 = hex(kP384);
  EcKeyPair a = generate_ec(view(p256)), c = generate_ec(view(p384));
  EXPECT_EQ(rv_of([&] { ecdh_derive(ec_private_key(view(p256), view(a.d)), view(c.point)); }),
            CKR_MECHANISM_PARAM_INVALID);
}

TEST(EcTest, ParamsAndPointEncodings) {
  EXPECT_EQ(rv_of([] { ec_params_bits(view(hex("06052b8104000a"))); }), CKR_CURVE_NOT_SUPPORTED);  // secp256k1
  EXPECT_EQ(rv_of([] { ec_params_bits(view(hex("130a63757276653235353139"))); }), CKR_CURVE_NOT_SUPPORTED);
  EXPECT_EQ(rv_of([] { ec_params_bits(view(hex("3003020101"))); }), CKR_CURVE_NOT_SUPPORTED);  // explicit
  for (const char* garbage : {"", "06", "06092a8648ce3d030107", "0500", "ffff", "06082a8648ce3d03010700"})
    EXPECT_EQ(rv_of([&] { ec_params_bits(view(hex(garbage))); }), CKR_DOMAIN_PARAMS_INVALID) << garbage;
  EXPECT_FALSE(ec_params_is_ed25519(view(hex(kP256))));
  SecureBytes raw(133, 0x04);
  SecureBytes der = der_octet_string(view(raw));
  EXPECT_EQ(der.size(), 136u);
  EXPECT_EQ(der[1], 0x81);
  EXPECT_EQ(der[2], 133);
  EXPECT_EQ(unwrap_ec_point(view(hex(kP521)), view(der)), raw);
  EXPECT_EQ(unwrap_ec_point(view(hex(kP521)), view(raw)), raw);
  EXPECT_EQ(rv_of([&] { unwrap_ec_point(view(hex(kP256)), view(der)); }), CKR_ATTRIBUTE_VALUE_INVALID);
  SecureBytes compressed(33, 0x02);
  EXPECT_EQ(rv_of([&] { unwrap_ec_point(view(hex(kP256)), view(compressed)); }), CKR_ATTRIBUTE_VALUE_INVALID);
  SecureBytes zero(32, 0);
  EXPECT_EQ(rv_of([&] { ec_private_key(view(hex(kP256)), view(zero)); }), CKR_ATTRIBUTE_VALUE_INVALID);
  SecureBytes short_seed(31, 1);
  EXPECT_EQ(rv_of([&] { ec_private_key(view(hex(kEd25519)), view(short_seed)); }), CKR_ATTRIBUTE_VALUE_INVALID);
}

TEST(EcTest, SharedKeySignsFromManyThreads) {
  SecureBytes params = hex(kP256);
  EcKeyPair kp = generate_ec(view(params));
  PKey priv = ec_private_key(view(params), view(kp.d));
  PKey pub = ec_public_key(view(params), view(kp.point));
  std::atomic<int> ok{0};
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        SecureBytes msg = random_bytes(16 + t);
        SecureBytes sig = make_signer(priv, mech(CKM_ECDSA_SHA256))->run(view(msg));
        if (rv_of([&] { make_verifier(pub, mech(CKM_ECDSA_SHA256))->verify(view(msg), view(sig)); }) == CKR_OK)
          ++ok;
      }
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok.load(), 200);
}
