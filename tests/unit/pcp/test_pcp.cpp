// The Windows TPM token (pcp/) through core::Module, Token and Session over the fake Platform Crypto Provider:
// the whole PKCS#11 path above the backend is the real one, only the NCrypt/TBS boundary is faked. Signatures
// and ciphertexts are checked with OpenSSL outside the fake and outside keyseal's crypto/. Portable: runs on
// Linux and under wine.
#include "core/attributes.h"
#include "core/module.h"
#include "core/session.h"
#include "pcp/fake_provider.h"
#include "pcp/pcp_backend.h"
#include "store/token_db.h"
#include "store/token_dir.h"

#include <gtest/gtest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <filesystem>
#include <functional>
#include <random>

namespace keyseal::pcp {
namespace {

using core::AttributeMap;
using core::OpKind;

constexpr std::string_view kSo = "so-secret-1";
constexpr std::string_view kUser = "user-secret-1";
const std::vector<uint8_t> kP256 = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
const std::vector<uint8_t> kP384 = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22};
const std::vector<uint8_t> kP521 = {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23};

CK_RV rv_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.rv;
  }
  return CKR_OK;
}

SecureBytes bytes(std::string_view s) { return to_bytes(view(s)); }

class PcpTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("keyseal-pcp-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir_);
    config_.store_dir = dir_;
    config_.max_pin_attempts = max_attempts_;
    fake_ = std::make_shared<FakeProvider>(da_threshold_);
    start();
    const CK_SLOT_ID empty = module_->slot_list(false).back();
    module_->init_token(empty, view(kSo), view(std::string(32, ' ')));
    slot_ = empty;
    CK_SESSION_HANDLE s = open();
    module_->login(s, CKU_SO, view(kSo));
    module_->session(s)->token().init_pin(view(kUser));
    module_->logout(s);
    module_->close_session(s);
  }
  void TearDown() override {
    module_.reset();
    backend_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  void start() {
    module_.reset();
    std::string why;
    backend_ = connect_backend(fake_, why);
    ASSERT_TRUE(backend_) << why;
    module_ = std::make_unique<core::Module>(config_, std::vector<std::shared_ptr<core::Backend>>{backend_});
  }
  PcpBackend& pcp() { return static_cast<PcpBackend&>(*backend_); }

  CK_SESSION_HANDLE open() { return module_->open_session(slot_, CKF_SERIAL_SESSION | CKF_RW_SESSION); }
  CK_SESSION_HANDLE user_session() {
    CK_SESSION_HANDLE s = open();
    module_->login(s, CKU_USER, view(kUser));
    return s;
  }
  // A token object by CKA_UNIQUE_ID (handles of private objects die at logout).
  CK_OBJECT_HANDLE by_uid(CK_SESSION_HANDLE s, const SecureBytes& uid) {
    AttributeMap t;
    core::set_bytes(t, CKA_UNIQUE_ID, view(uid));
    auto sess = module_->session(s);
    sess->find_init(t);
    auto found = sess->find_next(2);
    sess->find_final();
    EXPECT_EQ(found.size(), 1u);
    return found.empty() ? CK_INVALID_HANDLE : found[0];
  }
  CK_FLAGS flags() {
    CK_TOKEN_INFO info{};
    module_->token_info(slot_, info);
    return info.flags;
  }

  std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> rsa_pair(CK_SESSION_HANDLE s, CK_ULONG bits = 2048) {
    AttributeMap pub, priv;
    core::set_bool(pub, CKA_TOKEN, true);
    core::set_ulong(pub, CKA_MODULUS_BITS, bits);
    core::set_bool(priv, CKA_TOKEN, true);
    core::set_bool(priv, CKA_PRIVATE, true);
    MechanismParams m;
    m.type = CKM_RSA_PKCS_KEY_PAIR_GEN;
    return module_->session(s)->generate_key_pair(m, pub, priv);
  }
  std::pair<CK_OBJECT_HANDLE, CK_OBJECT_HANDLE> ec_pair(CK_SESSION_HANDLE s, const std::vector<uint8_t>& params) {
    AttributeMap pub, priv;
    core::set_bool(pub, CKA_TOKEN, true);
    core::set_bytes(pub, CKA_EC_PARAMS, ByteView(params));
    core::set_bool(priv, CKA_TOKEN, true);
    MechanismParams m;
    m.type = CKM_EC_KEY_PAIR_GEN;
    return module_->session(s)->generate_key_pair(m, pub, priv);
  }

  SecureBytes run(CK_SESSION_HANDLE s, OpKind k, const MechanismParams& m, CK_OBJECT_HANDLE key, ByteView in) {
    auto sess = module_->session(s);
    sess->op_init(k, m, key);
    core::OutResult r = sess->single(k, in, core::OutSpec{false, 4096});
    EXPECT_TRUE(r.has_bytes);
    return r.bytes;
  }
  SecureBytes sign(CK_SESSION_HANDLE s, const MechanismParams& m, CK_OBJECT_HANDLE key, ByteView in) {
    return run(s, OpKind::sign, m, key, in);
  }
  SecureBytes attr(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t) {
    const SecureBytes* v = core::get_bytes(module_->session(s)->object(h)->attrs, t);
    return v ? *v : SecureBytes();
  }
  bool flag(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE h, CK_ATTRIBUTE_TYPE t) {
    return core::bool_or(module_->session(s)->object(h)->attrs, t, false);
  }
  // The public key as OpenSSL reads it from CKA_PUBLIC_KEY_INFO.
  EVP_PKEY* openssl_pub(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub) {
    const SecureBytes spki = attr(s, pub, CKA_PUBLIC_KEY_INFO);
    const unsigned char* p = spki.data();
    EVP_PKEY* k = d2i_PUBKEY(nullptr, &p, static_cast<long>(spki.size()));
    EXPECT_NE(k, nullptr);
    return k;
  }

  uint32_t da_threshold_ = 32, max_attempts_ = 3;
  std::filesystem::path dir_;
  core::Config config_;
  std::shared_ptr<FakeProvider> fake_;
  std::shared_ptr<core::Backend> backend_;
  std::unique_ptr<core::Module> module_;
  CK_SLOT_ID slot_ = 0;
};

// OpenSSL's verdict on a signature over `data` (hashed with md, or a raw digest when prehashed).
bool openssl_verify(EVP_PKEY* k, const EVP_MD* md, int padding, int salt, ByteView data, ByteView sig,
                    bool prehashed) {
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(k, nullptr);
  bool ok = EVP_PKEY_verify_init(ctx) == 1;
  if (padding) ok = ok && EVP_PKEY_CTX_set_rsa_padding(ctx, padding) == 1;
  if (md) ok = ok && EVP_PKEY_CTX_set_signature_md(ctx, md) == 1;
  if (padding == RSA_PKCS1_PSS_PADDING) ok = ok && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, salt) == 1;
  unsigned char h[64];
  unsigned int hl = 0;
  ByteView tbs = data;
  if (!prehashed && md) {
    EVP_Digest(data.data(), data.size(), h, &hl, md, nullptr);
    tbs = ByteView(h, hl);
  }
  ok = ok && EVP_PKEY_verify(ctx, sig.data(), sig.size(), tbs.data(), tbs.size()) == 1;
  EVP_PKEY_CTX_free(ctx);
  return ok;
}

// r||s to DER and verify a digest.
bool openssl_verify_ecdsa(EVP_PKEY* k, ByteView digest, ByteView rs) {
  const size_t n = rs.size() / 2;
  ECDSA_SIG* es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es, BN_bin2bn(rs.data(), static_cast<int>(n), nullptr),
                 BN_bin2bn(rs.data() + n, static_cast<int>(n), nullptr));
  unsigned char* der = nullptr;
  const int dl = i2d_ECDSA_SIG(es, &der);
  ECDSA_SIG_free(es);
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(k, nullptr);
  const bool ok = EVP_PKEY_verify_init(ctx) == 1 &&
                  EVP_PKEY_verify(ctx, der, static_cast<size_t>(dl), digest.data(), digest.size()) == 1;
  EVP_PKEY_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

SecureBytes sha(const EVP_MD* md, ByteView in) {
  unsigned char h[64];
  unsigned int hl = 0;
  EVP_Digest(in.data(), in.size(), h, &hl, md, nullptr);
  return SecureBytes(h, h + hl);
}

TEST_F(PcpTest, RsaKeyPairIsMadeInTheTpmAndNeverExtractable) {
  const CK_SESSION_HANDLE s = user_session();
  const size_t before = fake_->key_count();  // the SO's and the user's PIN keys
  EXPECT_EQ(before, 2u);
  auto [pub, priv] = rsa_pair(s);
  EXPECT_EQ(fake_->key_count(), before + 1);
  EXPECT_FALSE(flag(s, priv, CKA_EXTRACTABLE));
  EXPECT_TRUE(flag(s, priv, CKA_NEVER_EXTRACTABLE));
  EXPECT_TRUE(flag(s, priv, CKA_SENSITIVE));
  EXPECT_TRUE(flag(s, priv, CKA_ALWAYS_SENSITIVE));
  EXPECT_TRUE(flag(s, priv, CKA_LOCAL));
  EXPECT_EQ(attr(s, pub, CKA_MODULUS).size(), 256u);
  EXPECT_EQ(attr(s, pub, CKA_MODULUS), attr(s, priv, CKA_MODULUS));
  EXPECT_TRUE(attr(s, priv, CKA_PRIVATE_EXPONENT).empty());  // no private component ever reaches the store
}

TEST_F(PcpTest, RsaSignaturesVerifyWithOpenSsl) {
  const CK_SESSION_HANDLE s = user_session();
  auto [pub, priv] = rsa_pair(s);
  EVP_PKEY* k = openssl_pub(s, pub);
  const SecureBytes data = bytes("the message keyseal signs in the TPM");
  MechanismParams m;
  m.type = CKM_SHA256_RSA_PKCS;
  EXPECT_TRUE(openssl_verify(k, EVP_sha256(), RSA_PKCS1_PADDING, 0, view(data), view(sign(s, m, priv, view(data))), false));
  // Multi-part.
  {
    auto sess = module_->session(s);
    sess->op_init(OpKind::sign, m, priv);
    sess->update(OpKind::sign, view(data).first(5), core::OutSpec{});
    sess->update(OpKind::sign, view(data).subspan(5), core::OutSpec{});
    core::OutResult r = sess->final(OpKind::sign, core::OutSpec{false, 4096});
    EXPECT_TRUE(openssl_verify(k, EVP_sha256(), RSA_PKCS1_PADDING, 0, view(data), view(r.bytes), false));
  }
  m.type = CKM_SHA512_RSA_PKCS;
  EXPECT_TRUE(openssl_verify(k, EVP_sha512(), RSA_PKCS1_PADDING, 0, view(data), view(sign(s, m, priv, view(data))), false));
  // CKM_RSA_PKCS over a DigestInfo the caller built.
  const SecureBytes h = sha(EVP_sha384(), view(data));
  SecureBytes di = {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30};
  di.insert(di.end(), h.begin(), h.end());
  m.type = CKM_RSA_PKCS;
  EXPECT_TRUE(openssl_verify(k, EVP_sha384(), RSA_PKCS1_PADDING, 0, view(h), view(sign(s, m, priv, view(di))), true));
  // CKM_RSA_PKCS over bytes that are no DigestInfo (TLS 1.1's MD5+SHA-1): padded as given.
  const SecureBytes raw(36, 0x5A);
  const SecureBytes raw_sig = sign(s, m, priv, view(raw));
  EXPECT_TRUE(openssl_verify(k, nullptr, RSA_PKCS1_PADDING, 0, view(raw), view(raw_sig), true));
  EXPECT_EQ(rv_of([&] { sign(s, m, priv, view(SecureBytes(246, 1))); }), CKR_DATA_LEN_RANGE);
  // PSS, hashed here and pre-hashed by the caller.
  m.type = CKM_SHA384_RSA_PKCS_PSS;
  m.hash = m.mgf_hash = CKM_SHA384;
  m.salt_len = 48;
  EXPECT_TRUE(openssl_verify(k, EVP_sha384(), RSA_PKCS1_PSS_PADDING, 48, view(data), view(sign(s, m, priv, view(data))), false));
  m.type = CKM_RSA_PKCS_PSS;
  m.hash = m.mgf_hash = CKM_SHA256;
  m.salt_len = 32;
  const SecureBytes h256 = sha(EVP_sha256(), view(data));
  const SecureBytes pss = sign(s, m, priv, view(h256));
  EXPECT_TRUE(openssl_verify(k, EVP_sha256(), RSA_PKCS1_PSS_PADDING, 32, view(h256), view(pss), true));
  // A signature of other data does not verify: the check above can fail.
  EXPECT_FALSE(openssl_verify(k, EVP_sha256(), RSA_PKCS1_PSS_PADDING, 32, view(sha(EVP_sha256(), view("x"))), view(pss), true));
  // What the TPM's PSS cannot do is refused before it is asked.
  m.salt_len = 0;
  EXPECT_EQ(rv_of([&] { module_->session(s)->op_init(OpKind::sign, m, priv); }), CKR_MECHANISM_PARAM_INVALID);
  m.salt_len = 32;
  m.mgf_hash = CKM_SHA_1;
  EXPECT_EQ(rv_of([&] { module_->session(s)->op_init(OpKind::sign, m, priv); }), CKR_MECHANISM_PARAM_INVALID);
  EVP_PKEY_free(k);
}

TEST_F(PcpTest, Rsa3072KeySigns) {
  const CK_SESSION_HANDLE s = user_session();
  auto [pub, priv] = rsa_pair(s, 3072);
  EXPECT_EQ(attr(s, pub, CKA_MODULUS).size(), 384u);
  EVP_PKEY* k = openssl_pub(s, pub);
  const SecureBytes data = bytes("3072");
  MechanismParams m;
  m.type = CKM_SHA256_RSA_PKCS;
  const SecureBytes sig = sign(s, m, priv, view(data));
  EXPECT_EQ(sig.size(), 384u);
  EXPECT_TRUE(openssl_verify(k, EVP_sha256(), RSA_PKCS1_PADDING, 0, view(data), view(sig), false));
  EVP_PKEY_free(k);
}

TEST_F(PcpTest, EcdsaSignaturesVerifyWithOpenSsl) {
  const CK_SESSION_HANDLE s = user_session();
  for (const auto* params : {&kP256, &kP384}) {
    auto [pub, priv] = ec_pair(s, *params);
    EVP_PKEY* k = openssl_pub(s, pub);
    EXPECT_FALSE(flag(s, priv, CKA_EXTRACTABLE));
    EXPECT_TRUE(flag(s, priv, CKA_NEVER_EXTRACTABLE));
    const size_t nb = params == &kP256 ? 32 : 48;
    const SecureBytes data = bytes("ecdsa in the TPM");
    MechanismParams m;
    m.type = CKM_ECDSA_SHA256;
    SecureBytes sig = sign(s, m, priv, view(data));
    EXPECT_EQ(sig.size(), 2 * nb);
    EXPECT_TRUE(openssl_verify_ecdsa(k, view(sha(EVP_sha256(), view(data))), view(sig)));
    m.type = CKM_ECDSA_SHA512;  // longer than the order: the leftmost bytes are signed
    sig = sign(s, m, priv, view(data));
    EXPECT_TRUE(openssl_verify_ecdsa(k, view(sha(EVP_sha512(), view(data))), view(sig)));
    m.type = CKM_ECDSA;  // the caller's hash; SHA-1 is shorter than the order
    const SecureBytes h1 = sha(EVP_sha1(), view(data));
    sig = sign(s, m, priv, view(h1));
    EXPECT_TRUE(openssl_verify_ecdsa(k, view(h1), view(sig)));
    EXPECT_FALSE(openssl_verify_ecdsa(k, view(sha(EVP_sha1(), view("other"))), view(sig)));
    EVP_PKEY_free(k);
  }
}

TEST_F(PcpTest, RsaDecryptsPkcs1AndOaepWithLabel) {
  const CK_SESSION_HANDLE s = user_session();
  auto [pub, priv] = rsa_pair(s);
  EVP_PKEY* k = openssl_pub(s, pub);
  const SecureBytes secret = bytes("a session key, 32 bytes long....");
  const SecureBytes label = bytes("keyseal label");
  auto encrypt = [&](bool oaep) {
    EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(k, nullptr);
    EVP_PKEY_encrypt_init(ctx);
    if (oaep) {
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING);
      EVP_PKEY_CTX_set_rsa_oaep_md(ctx, EVP_sha256());
      EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, EVP_sha256());
      EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, OPENSSL_memdup(label.data(), label.size()), static_cast<int>(label.size()));
    } else {
      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
    }
    size_t n = 512;
    SecureBytes out(n);
    EVP_PKEY_encrypt(ctx, out.data(), &n, secret.data(), secret.size());
    out.resize(n);
    EVP_PKEY_CTX_free(ctx);
    return out;
  };
  MechanismParams m;
  m.type = CKM_RSA_PKCS;
  EXPECT_EQ(run(s, OpKind::decrypt, m, priv, view(encrypt(false))), secret);
  m.type = CKM_RSA_PKCS_OAEP;
  m.hash = m.mgf_hash = CKM_SHA256;
  m.label = label;
  SecureBytes ct = encrypt(true);
  EXPECT_EQ(run(s, OpKind::decrypt, m, priv, view(ct)), secret);
  // Another label, or a damaged ciphertext: CKR_ENCRYPTED_DATA_INVALID, and the session works on.
  m.label = bytes("other label");
  EXPECT_EQ(rv_of([&] { run(s, OpKind::decrypt, m, priv, view(ct)); }), CKR_ENCRYPTED_DATA_INVALID);
  m.label = label;
  ct[10] ^= 1;
  EXPECT_EQ(rv_of([&] { run(s, OpKind::decrypt, m, priv, view(ct)); }), CKR_ENCRYPTED_DATA_INVALID);
  EXPECT_EQ(run(s, OpKind::decrypt, m, priv, view(encrypt(true))), secret);
  EVP_PKEY_free(k);
}

TEST_F(PcpTest, WhatThePcpCannotHoldIsRefused) {
  const CK_SESSION_HANDLE s = user_session();
  EXPECT_EQ(rv_of([&] { rsa_pair(s, 4096); }), CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_EQ(rv_of([&] { ec_pair(s, kP521); }), CKR_CURVE_NOT_SUPPORTED);
  // An extractable TPM key.
  AttributeMap pub, priv;
  core::set_bool(pub, CKA_TOKEN, true);
  core::set_bytes(pub, CKA_EC_PARAMS, ByteView(kP256));
  core::set_bool(priv, CKA_TOKEN, true);
  core::set_bool(priv, CKA_EXTRACTABLE, true);
  MechanismParams m;
  m.type = CKM_EC_KEY_PAIR_GEN;
  EXPECT_EQ(rv_of([&] { module_->session(s)->generate_key_pair(m, pub, priv); }), CKR_ATTRIBUTE_VALUE_INVALID);
  // Import of a private key.
  AttributeMap imp;
  core::set_ulong(imp, CKA_CLASS, CKO_PRIVATE_KEY);
  core::set_ulong(imp, CKA_KEY_TYPE, CKK_EC);
  core::set_bytes(imp, CKA_EC_PARAMS, ByteView(kP256));
  core::set_bytes(imp, CKA_VALUE, view(SecureBytes(32, 7)));
  EXPECT_EQ(rv_of([&] { module_->session(s)->create_object(imp); }), CKR_TEMPLATE_INCONSISTENT);
  EXPECT_EQ(fake_->key_count(), 2u);  // nothing was left in the TPM
  // The mechanism list: no Ed25519, no raw RSA, no ECDH; RSA sizes are the PCP's.
  const auto mechs = module_->mechanism_list(slot_);
  auto has = [&](CK_MECHANISM_TYPE t) { return std::find(mechs.begin(), mechs.end(), t) != mechs.end(); };
  EXPECT_TRUE(has(CKM_SHA256_RSA_PKCS_PSS));
  EXPECT_TRUE(has(CKM_ECDSA_SHA384));
  EXPECT_FALSE(has(CKM_RSA_X_509));
  EXPECT_FALSE(has(CKM_ECDH1_DERIVE));
  EXPECT_FALSE(has(CKM_EC_EDWARDS_KEY_PAIR_GEN));
  const CK_MECHANISM_INFO mi = module_->mechanism_info(slot_, CKM_RSA_PKCS_KEY_PAIR_GEN);
  EXPECT_EQ(mi.ulMinKeySize, 2048u);
  EXPECT_EQ(mi.ulMaxKeySize, 3072u);
  EXPECT_TRUE(mi.flags & CKF_HW);
}

TEST_F(PcpTest, DestroyedKeyIsGoneFromTheTpm) {
  const CK_SESSION_HANDLE s = user_session();
  auto [pub, priv] = ec_pair(s, kP256);
  EXPECT_EQ(fake_->key_count(), 3u);  // the SO's and the user's PIN keys, and this one
  const AttributeMap attrs = module_->session(s)->object(priv)->attrs;
  module_->session(s)->destroy_object(priv);
  EXPECT_EQ(fake_->key_count(), 2u);
  module_->session(s)->destroy_object(pub);
  EXPECT_EQ(fake_->key_count(), 2u);
  MechanismParams m;
  m.type = CKM_ECDSA_SHA256;
  EXPECT_EQ(rv_of([&] { sign(s, m, priv, view("x")); }), CKR_KEY_HANDLE_INVALID);
  pcp().destroy_key(attrs);  // again: a key already gone is not an error
  EXPECT_EQ(fake_->key_count(), 2u);
}

TEST_F(PcpTest, ACopyOfATpmKeyIsRefusedSoDestroyingOneCannotBreakTheOther) {
  const CK_SESSION_HANDLE s = user_session();
  auto [pub, priv] = rsa_pair(s);
  EXPECT_FALSE(flag(s, priv, CKA_COPYABLE));
  EXPECT_EQ(rv_of([&] { module_->session(s)->copy_object(priv, AttributeMap{}); }), CKR_ACTION_PROHIBITED);
  EXPECT_NE(module_->session(s)->copy_object(pub, AttributeMap{}), CK_INVALID_HANDLE);  // public: no PCP key
  EXPECT_EQ(fake_->key_count(), 3u);
}

TEST_F(PcpTest, SessionKeysLeaveTheTpmWithTheirSessionOrAtLogout) {
  const CK_SESSION_HANDLE s = user_session();
  const CK_SESSION_HANDLE s2 = open();
  auto session_pair = [&](CK_SESSION_HANDLE in) {
    AttributeMap pub, priv;
    core::set_bytes(pub, CKA_EC_PARAMS, ByteView(kP256));
    core::set_bool(priv, CKA_PRIVATE, true);
    MechanismParams m;
    m.type = CKM_EC_KEY_PAIR_GEN;
    return module_->session(in)->generate_key_pair(m, pub, priv);
  };
  session_pair(s2);
  EXPECT_EQ(fake_->key_count(), 3u);
  module_->close_session(s2);  // its session objects are destroyed
  EXPECT_EQ(fake_->key_count(), 2u);
  session_pair(s);
  EXPECT_EQ(fake_->key_count(), 3u);
  module_->logout(s);  // private session objects are destroyed (PKCS#11 3.0 section 5.6.10)
  EXPECT_EQ(fake_->key_count(), 2u);
  module_->close_session(s);
}

TEST_F(PcpTest, ReinitialisedTokenFreesEveryKeyOfTheOldOwner) {
  CK_SESSION_HANDLE s = user_session();
  rsa_pair(s);
  ec_pair(s, kP256);
  EXPECT_EQ(fake_->key_count(), 4u);
  module_->close_session(s);
  module_->init_token(slot_, view(kSo), view(std::string(32, ' ')));
  EXPECT_EQ(fake_->key_count(), 1u);  // the new SO PIN key alone
  // and the token works for its new owner
  s = open();
  module_->login(s, CKU_SO, view(kSo));
  module_->session(s)->token().init_pin(view(kUser));
  module_->logout(s);
  module_->login(s, CKU_USER, view(kUser));
  EXPECT_EQ(fake_->key_count(), 2u);
  ec_pair(s, kP256);
  EXPECT_EQ(fake_->key_count(), 3u);
}

TEST_F(PcpTest, WrongPinIsCountedAndTheRightOneStillWorks) {
  const CK_SESSION_HANDLE s = open();
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_USER, view("wrong")); }), CKR_PIN_INCORRECT);
  EXPECT_EQ(fake_->da_failures(), 1u);  // the TPM itself refused it
  EXPECT_TRUE(flags() & CKF_USER_PIN_COUNT_LOW);
  module_->login(s, CKU_USER, view(kUser));
  EXPECT_FALSE(flags() & CKF_USER_PIN_COUNT_LOW);
  // The SO PIN does not open the user's record, nor the user's the SO's.
  module_->logout(s);
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_USER, view(kSo)); }), CKR_PIN_INCORRECT);
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_SO, view(kUser)); }), CKR_PIN_INCORRECT);
}

TEST_F(PcpTest, PinChangeReplacesThePinKey) {
  CK_SESSION_HANDLE s = user_session();
  auto [pub, priv] = ec_pair(s, kP384);
  const SecureBytes id = attr(s, priv, CKA_UNIQUE_ID);
  module_->session(s)->token().set_pin(view(kUser), view("new-user-pin"));
  EXPECT_EQ(fake_->key_count(), 3u);  // the old PIN key was deleted
  module_->logout(s);
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_USER, view(kUser)); }), CKR_PIN_INCORRECT);
  module_->login(s, CKU_USER, view("new-user-pin"));
  MechanismParams m;
  m.type = CKM_ECDSA_SHA384;
  EXPECT_EQ(sign(s, m, by_uid(s, id), view("after the change")).size(), 96u);
  // The SO's PIN too.
  module_->logout(s);
  module_->login(s, CKU_SO, view(kSo));
  module_->session(s)->token().set_pin(view(kSo), view("new-so-pin"));
  module_->logout(s);
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_SO, view(kSo)); }), CKR_PIN_INCORRECT);
  module_->login(s, CKU_SO, view("new-so-pin"));
}

TEST_F(PcpTest, RetryCounterFlagsDownToLockedAndTheSoUnlocks) {
  const CK_SESSION_HANDLE s = open();
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_USER, view("bad-1")); }), CKR_PIN_INCORRECT);
  EXPECT_TRUE(flags() & CKF_USER_PIN_COUNT_LOW);
  EXPECT_FALSE(flags() & CKF_USER_PIN_FINAL_TRY);
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_USER, view("bad-2")); }), CKR_PIN_INCORRECT);
  EXPECT_TRUE(flags() & CKF_USER_PIN_FINAL_TRY);
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_USER, view("bad-3")); }), CKR_PIN_INCORRECT);
  EXPECT_TRUE(flags() & CKF_USER_PIN_LOCKED);
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_USER, view(kUser)); }), CKR_PIN_LOCKED);
  EXPECT_EQ(fake_->da_failures(), 3u);  // the locked attempt never reached the TPM
  // Persisted: a new module over the same store says the same.
  start();
  EXPECT_TRUE(flags() & CKF_USER_PIN_LOCKED);
  const CK_SESSION_HANDLE so = open();
  module_->login(so, CKU_SO, view(kSo));
  module_->session(so)->token().init_pin(view("fresh-user-pin"));
  module_->logout(so);
  EXPECT_FALSE(flags() & (CKF_USER_PIN_LOCKED | CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY));
  module_->login(so, CKU_USER, view("fresh-user-pin"));
  EXPECT_EQ(fake_->key_count(), 2u);  // the user's old PIN key went with the new PIN
}

// A TPM that locks out after 2 failures, a token that allows 10.
class PcpLockoutTest : public PcpTest {
 protected:
  PcpLockoutTest() { da_threshold_ = 2, max_attempts_ = 10; }
};

TEST_F(PcpLockoutTest, TpmLockoutLocksBothPinsUntilReset) {
  const CK_SESSION_HANDLE s = open();
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_USER, view("bad-1")); }), CKR_PIN_INCORRECT);
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_SO, view("bad-2")); }), CKR_PIN_INCORRECT);
  EXPECT_EQ(rv_of([&] { module_->login(s, CKU_USER, view(kUser)); }), CKR_PIN_LOCKED);
  const CK_FLAGS f = flags();
  EXPECT_TRUE(f & CKF_USER_PIN_LOCKED);
  EXPECT_TRUE(f & CKF_SO_PIN_LOCKED);
  EXPECT_EQ(tpm_status(*fake_).lockout, "in lockout, 2 of 2 failures, recovery 7200 s");
  fake_->lockout_reset();
  module_->login(s, CKU_USER, view(kUser));  // the token's own count (1 of 10) did not lock it
}

TEST_F(PcpTest, TokenInfoAndStatusComeFromTheTpm) {
  CK_TOKEN_INFO info{};
  module_->token_info(slot_, info);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(info.manufacturerID), 4), "KSFK");
  EXPECT_EQ(std::string(reinterpret_cast<char*>(info.model), 4), "PCP ");
  EXPECT_EQ(info.firmwareVersion.major, 7);
  EXPECT_EQ(info.firmwareVersion.minor, 85);
  EXPECT_EQ(info.hardwareVersion.major, 1);
  EXPECT_EQ(info.hardwareVersion.minor, 59);
  const TpmStatus st = tpm_status(*fake_);
  EXPECT_TRUE(st.present);
  EXPECT_EQ(st.version, 2u);
  EXPECT_EQ(st.manufacturer, "KSFK");
  EXPECT_EQ(st.vendor_string, "keyseal fake PCP");
  EXPECT_EQ(st.firmware, "7.85.0.2");
  EXPECT_EQ(st.spec_level, "2.0 rev 1.59");
  EXPECT_EQ(st.lockout, "not in lockout, 0 of 32 failures, recovery 7200 s");
  EXPECT_TRUE(st.why.empty());
}

TEST_F(PcpTest, NoTpmMeansNoBackendAndAReason) {
  auto absent = std::make_shared<FakeProvider>();
  absent->set_absent(true);
  std::string why;
  EXPECT_EQ(connect_backend(absent, why), nullptr);
  EXPECT_EQ(why, "no TPM: Tbsi_GetDeviceInfo: TBS_E_TPM_NOT_FOUND (0x8028400F)");
  const TpmStatus st = tpm_status(*absent);
  EXPECT_FALSE(st.present);
  EXPECT_EQ(st.why, why);
  // TPM 1.2: refused.
  auto old = std::make_shared<FakeProvider>();
  old->set_tpm_version(1);
  why.clear();
  EXPECT_EQ(connect_backend(old, why), nullptr);
  EXPECT_NE(why.find("TPM version 1"), std::string::npos) << why;
  // TBS answers but the PCP does not read the platform type (wine answers NTE_NOT_SUPPORTED): no TPM.
  auto unreadable = std::make_shared<FakeProvider>();
  unreadable->set_platform_readable(false);
  why.clear();
  EXPECT_EQ(connect_backend(unreadable, why), nullptr);
  EXPECT_NE(why.find("PCP_PLATFORM_TYPE: NCryptGetProperty: NTE_NOT_SUPPORTED (0x80090029)"), std::string::npos)
      << why;
  EXPECT_FALSE(tpm_status(*unreadable).present);
}

TEST_F(PcpTest, DeviceErrorMidOperationLosesNothing) {
  const CK_SESSION_HANDLE s = user_session();
  auto [pub, priv] = rsa_pair(s);
  const SecureBytes id = attr(s, priv, CKA_UNIQUE_ID);
  EVP_PKEY* k = openssl_pub(s, pub);
  MechanismParams m;
  m.type = CKM_SHA256_RSA_PKCS;
  fake_->fail_all(code::kPcpDeviceNotReady);
  EXPECT_EQ(rv_of([&] { sign(s, m, priv, view("data")); }), CKR_DEVICE_ERROR);
  EXPECT_EQ(rv_of([&] { ec_pair(s, kP256); }), CKR_DEVICE_ERROR);
  // A login while the device fails is not a wrong PIN: the count stays.
  const CK_SESSION_HANDLE other = open();
  module_->logout(s);
  EXPECT_EQ(rv_of([&] { module_->login(other, CKU_USER, view(kUser)); }), CKR_DEVICE_ERROR);
  fake_->fail_all(0);
  EXPECT_FALSE(flags() & CKF_USER_PIN_COUNT_LOW);
  module_->login(s, CKU_USER, view(kUser));
  // The key is still there and signs.
  const CK_OBJECT_HANDLE again = by_uid(s, id);
  EXPECT_TRUE(openssl_verify(k, EVP_sha256(), RSA_PKCS1_PADDING, 0, view("data"), view(sign(s, m, again, view("data"))), false));
  // A failure between creating a key and reading it back leaves no key behind in the TPM nor in the store.
  const size_t keys = fake_->key_count();
  fake_->fail_after(1, code::kTbsInternalError);  // NCryptFinalizeKey passes, NCryptExportKey fails
  EXPECT_EQ(rv_of([&] { ec_pair(s, kP256); }), CKR_DEVICE_ERROR);
  EXPECT_EQ(fake_->key_count(), keys);
  AttributeMap all;
  core::set_ulong(all, CKA_CLASS, CKO_PRIVATE_KEY);
  module_->session(s)->find_init(all);
  EXPECT_EQ(module_->session(s)->find_next(10).size(), 1u);
  module_->session(s)->find_final();
  // A PIN change cut short keeps the old PIN.
  fake_->fail_after(1, code::kTbsInternalError);
  EXPECT_EQ(rv_of([&] { module_->session(s)->token().set_pin(view(kUser), view("never-set")); }), CKR_DEVICE_ERROR);
  module_->logout(s);
  module_->login(s, CKU_USER, view(kUser));
  EXPECT_EQ(fake_->key_count(), keys);
  EVP_PKEY_free(k);
}

TEST_F(PcpTest, KeysSurviveANewModule) {
  CK_SESSION_HANDLE s = user_session();
  auto [pub, priv] = ec_pair(s, kP256);
  const SecureBytes id = attr(s, priv, CKA_UNIQUE_ID);
  start();
  s = user_session();
  MechanismParams m;
  m.type = CKM_ECDSA_SHA256;
  EXPECT_EQ(sign(s, m, by_uid(s, id), view("again")).size(), 64u);
}

TEST_F(PcpTest, ALinuxTpmTokenIsRefusedWithAReason) {
  // The same file with the Linux backend's PIN record in place of the PCP's (both are kind "tpm").
  module_.reset();
  {
    auto db = store::TokenDb::open(store::token_file_path(dir_, slot_), store::OpenMode::existing);
    auto rec = db->get_meta("pcp.pin.user");
    ASSERT_TRUE(rec.has_value());
    db->delete_meta("pcp.pin.user");
    db->set_meta("tpm.pin.user", view(*rec));
  }
  start();
  const CK_SESSION_HANDLE s = open();
  try {
    module_->login(s, CKU_USER, view(kUser));
    ADD_FAILURE() << "logged in";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv, CKR_DEVICE_ERROR);
    EXPECT_NE(e.detail.find("tpm2-tss on Linux"), std::string::npos) << e.detail;
  }
  EXPECT_FALSE(flags() & CKF_USER_PIN_COUNT_LOW);  // not counted as a wrong PIN
}

TEST(PcpProvider, FakeChecksUsageAuthOnEveryUseAndNeverExports) {
  FakeProvider p(5);
  KeySpec spec;
  spec.name = "k";
  spec.alg = KeyAlg::rsa;
  spec.decrypt = true;
  spec.usage_auth = SecureBytes(32, 1);
  ASSERT_TRUE(p.create_key(spec).ok());
  EXPECT_EQ(p.create_key(spec).code, code::kExists);
  const SecureBytes d(32, 9);
  SignParams sp;
  EXPECT_TRUE(p.sign("k", view(spec.usage_auth), sp, view(d)).ok());
  EXPECT_EQ(p.sign("k", view(SecureBytes(32, 2)), sp, view(d)).status.code, code::kTpmAuthFailSession1);
  EXPECT_TRUE(p.change_auth("k", view(spec.usage_auth), view(SecureBytes(32, 3))).ok());
  EXPECT_EQ(p.sign("k", view(spec.usage_auth), sp, view(d)).status.code, code::kTpmAuthFailSession1);
  EXPECT_TRUE(p.sign("k", view(SecureBytes(32, 3)), sp, view(d)).ok());
  EXPECT_EQ(p.da_failures(), 2u);
  const Result<PublicKey> pub = p.export_public("k");
  ASSERT_TRUE(pub.ok());
  EXPECT_EQ(pub.value.n.size(), 256u);  // public values only: the interface has no private export
  EXPECT_EQ(p.open_key("missing").code, code::kBadKeyset);
  EXPECT_TRUE(p.delete_key("k").ok());
  EXPECT_EQ(p.key_count(), 0u);
}

}  // namespace
}  // namespace keyseal::pcp
