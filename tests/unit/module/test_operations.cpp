// Cryptographic operations through the module (PKCS#11 3.0 sections 5.8-5.15): the output-buffer convention,
// which errors end an operation, RSA-OAEP with a label, PSS, AES modes, wrap/unwrap rules, ECDH agreement,
// digests and HMAC, cross-checked against OpenSSL where a result must match a standard.
#include "fixture.h"

#include "crypto/symmetric.h"

#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include <cstring>

namespace keyseal::test {
namespace {

TEST_F(ModuleTest, SignOutputBufferConvention) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [pub, priv] = rsa_pair(s, false, "rsa");
  CK_MECHANISM m{CKM_SHA256_RSA_PKCS, nullptr, 0};
  auto msg = bytes_of("hello");
  ASSERT_EQ(C_SignInit(s, &m, priv), CKR_OK);
  EXPECT_EQ(C_SignInit(s, &m, priv), CKR_OPERATION_ACTIVE);
  CK_ULONG n = 0;
  ASSERT_EQ(C_Sign(s, msg.data(), msg.size(), nullptr, &n), CKR_OK);
  EXPECT_EQ(n, 256u);
  std::vector<uint8_t> sig(512);
  CK_ULONG small = 10;
  EXPECT_EQ(C_Sign(s, msg.data(), msg.size(), sig.data(), &small), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(small, 256u);
  n = sig.size();  // larger than needed: the true length comes back
  ASSERT_EQ(C_Sign(s, msg.data(), msg.size(), sig.data(), &n), CKR_OK);
  EXPECT_EQ(n, 256u);
  sig.resize(n);
  EXPECT_EQ(C_Sign(s, msg.data(), msg.size(), sig.data(), &n), CKR_OPERATION_NOT_INITIALIZED);
  EXPECT_EQ(verify(s, m, pub, msg, sig), CKR_OK);
  // An argument error ends the operation.
  ASSERT_EQ(C_SignInit(s, &m, priv), CKR_OK);
  EXPECT_EQ(C_Sign(s, msg.data(), msg.size(), sig.data(), nullptr), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_Sign(s, msg.data(), msg.size(), nullptr, &n), CKR_OPERATION_NOT_INITIALIZED);
  // Wrong keys and mechanisms.
  EXPECT_EQ(C_SignInit(s, &m, pub), CKR_KEY_TYPE_INCONSISTENT);  // a public key cannot sign
  EXPECT_EQ(C_SignInit(s, &m, 987654), CKR_KEY_HANDLE_INVALID);
  CK_MECHANISM ec{CKM_ECDSA, nullptr, 0};
  EXPECT_EQ(C_SignInit(s, &ec, priv), CKR_KEY_TYPE_INCONSISTENT);
  CK_MECHANISM bad{CKM_MD5_RSA_PKCS, nullptr, 0};
  EXPECT_EQ(C_SignInit(s, &bad, priv), CKR_MECHANISM_INVALID);
  EXPECT_EQ(C_SignInit(s, nullptr, priv), CKR_ARGUMENTS_BAD);
  // PKCS#11 3.0: a NULL mechanism cancels an active operation.
  ASSERT_EQ(C_SignInit(s, &m, priv), CKR_OK);
  EXPECT_EQ(C_SignInit(s, nullptr, priv), CKR_OK);
  EXPECT_EQ(C_Sign(s, msg.data(), msg.size(), nullptr, &n), CKR_OPERATION_NOT_INITIALIZED);
}

TEST_F(ModuleTest, MultiPartSignAndVerify) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [pub, priv] = ec_pair(s, false, "ec", kP384);
  CK_MECHANISM m{CKM_ECDSA_SHA384, nullptr, 0};
  auto part1 = bytes_of("first part, "), part2 = bytes_of("second part");
  ASSERT_EQ(C_SignInit(s, &m, priv), CKR_OK);
  ASSERT_EQ(C_SignUpdate(s, part1.data(), part1.size()), CKR_OK);
  ASSERT_EQ(C_SignUpdate(s, part2.data(), part2.size()), CKR_OK);
  CK_ULONG n = 0;
  ASSERT_EQ(C_SignFinal(s, nullptr, &n), CKR_OK);
  std::vector<uint8_t> sig(n);
  ASSERT_EQ(C_SignFinal(s, sig.data(), &n), CKR_OK);
  EXPECT_EQ(n, 96u);
  auto whole = part1;
  whole.insert(whole.end(), part2.begin(), part2.end());
  EXPECT_EQ(verify(s, m, pub, whole, sig), CKR_OK);
  ASSERT_EQ(C_VerifyInit(s, &m, pub), CKR_OK);
  ASSERT_EQ(C_VerifyUpdate(s, part1.data(), part1.size()), CKR_OK);
  EXPECT_EQ(C_VerifyFinal(s, sig.data(), sig.size() - 1), CKR_SIGNATURE_LEN_RANGE);
  // Raw ECDSA is single-part only.
  CK_MECHANISM raw{CKM_ECDSA, nullptr, 0};
  ASSERT_EQ(C_SignInit(s, &raw, priv), CKR_OK);
  EXPECT_NE(C_SignUpdate(s, part1.data(), part1.size()), CKR_OK);
}

TEST_F(ModuleTest, RsaPssAndOaepWithLabel) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [pub, priv] = rsa_pair(s, false, "rsa");
  CK_RSA_PKCS_PSS_PARAMS pss{CKM_SHA256, CKG_MGF1_SHA256, 32};
  CK_MECHANISM m{CKM_SHA256_RSA_PKCS_PSS, &pss, sizeof pss};
  auto msg = bytes_of("TLS 1.3 needs PSS");
  auto sig = sign(s, m, priv, msg);
  EXPECT_EQ(verify(s, m, pub, msg, sig), CKR_OK);
  CK_RSA_PKCS_PSS_PARAMS wrong_hash{CKM_SHA384, CKG_MGF1_SHA384, 48};
  CK_MECHANISM bad{CKM_SHA256_RSA_PKCS_PSS, &wrong_hash, sizeof wrong_hash};
  EXPECT_EQ(C_SignInit(s, &bad, priv), CKR_MECHANISM_PARAM_INVALID);

  const char label[] = "the label";
  CK_RSA_PKCS_OAEP_PARAMS oaep{CKM_SHA256, CKG_MGF1_SHA256, CKZ_DATA_SPECIFIED, (void*)label, sizeof label};
  CK_MECHANISM om{CKM_RSA_PKCS_OAEP, &oaep, sizeof oaep};
  auto plain = bytes_of("secret message");
  ASSERT_EQ(C_EncryptInit(s, &om, pub), CKR_OK);
  std::vector<uint8_t> ct(1024);
  CK_ULONG n = ct.size();
  ASSERT_EQ(C_Encrypt(s, plain.data(), plain.size(), ct.data(), &n), CKR_OK);
  EXPECT_EQ(n, 256u);  // the true length, not the buffer's
  ct.resize(n);
  ASSERT_EQ(C_DecryptInit(s, &om, priv), CKR_OK);
  std::vector<uint8_t> out(256);
  n = out.size();
  ASSERT_EQ(C_Decrypt(s, ct.data(), ct.size(), out.data(), &n), CKR_OK);
  out.resize(n);
  EXPECT_EQ(out, plain);
  // The wrong label fails as the specification says, and ends the operation.
  CK_RSA_PKCS_OAEP_PARAMS other = oaep;
  other.source_data = (void*)"other";
  other.source_data_len = 5;
  CK_MECHANISM om2{CKM_RSA_PKCS_OAEP, &other, sizeof other};
  ASSERT_EQ(C_DecryptInit(s, &om2, priv), CKR_OK);
  n = 256;
  out.resize(256);
  EXPECT_EQ(C_Decrypt(s, ct.data(), ct.size(), out.data(), &n), CKR_ENCRYPTED_DATA_INVALID);
  EXPECT_EQ(C_Decrypt(s, ct.data(), ct.size(), out.data(), &n), CKR_OPERATION_NOT_INITIALIZED);
}

TEST_F(ModuleTest, AesGcmMultiPartMatchesSinglePart) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  CK_OBJECT_HANDLE key = aes_key(s, 32, false);
  std::vector<uint8_t> iv(12, 7), aad = bytes_of("header");
  CK_GCM_PARAMS gcm{iv.data(), iv.size(), iv.size() * 8, aad.data(), aad.size(), 128};
  CK_MECHANISM m{CKM_AES_GCM, &gcm, sizeof gcm};
  std::vector<uint8_t> plain(4096);
  for (size_t i = 0; i < plain.size(); ++i) plain[i] = static_cast<uint8_t>(i * 31);
  ASSERT_EQ(C_EncryptInit(s, &m, key), CKR_OK);
  CK_ULONG n = 0;
  ASSERT_EQ(C_Encrypt(s, plain.data(), plain.size(), nullptr, &n), CKR_OK);
  std::vector<uint8_t> ct(n);
  ASSERT_EQ(C_Encrypt(s, plain.data(), plain.size(), ct.data(), &n), CKR_OK);
  ct.resize(n);
  EXPECT_EQ(ct.size(), plain.size() + 16);
  // Multi-part decryption gives the plaintext back.
  ASSERT_EQ(C_DecryptInit(s, &m, key), CKR_OK);
  std::vector<uint8_t> out;
  for (size_t off = 0; off < ct.size(); off += 1000) {
    const size_t len = std::min<size_t>(1000, ct.size() - off);
    CK_ULONG got = 0;
    ASSERT_EQ(C_DecryptUpdate(s, ct.data() + off, len, nullptr, &got), CKR_OK);
    std::vector<uint8_t> part(got + 1);  // never an empty vector: its NULL data() would be a size query
    ASSERT_EQ(C_DecryptUpdate(s, ct.data() + off, len, part.data(), &got), CKR_OK);
    out.insert(out.end(), part.begin(), part.begin() + got);
  }
  CK_ULONG last = 0;
  ASSERT_EQ(C_DecryptFinal(s, nullptr, &last), CKR_OK);
  std::vector<uint8_t> tail(last + 1);
  ASSERT_EQ(C_DecryptFinal(s, tail.data(), &last), CKR_OK);
  out.insert(out.end(), tail.begin(), tail.begin() + last);
  EXPECT_EQ(out, plain);
  // A flipped tag bit is detected.
  ct.back() ^= 1;
  ASSERT_EQ(C_DecryptInit(s, &m, key), CKR_OK);
  std::vector<uint8_t> o2(ct.size());
  n = o2.size();
  EXPECT_EQ(C_Decrypt(s, ct.data(), ct.size(), o2.data(), &n), CKR_ENCRYPTED_DATA_INVALID);
}

TEST_F(ModuleTest, WrapUnwrapHonoursExtractable) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  CK_OBJECT_HANDLE kek = aes_key(s, 32, false);
  CK_OBJECT_HANDLE payload = aes_key(s, 16, true);
  CK_OBJECT_HANDLE locked = aes_key(s, 16, false);
  CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_ULONG n = 0;
  EXPECT_EQ(C_WrapKey(s, &m, kek, locked, nullptr, &n), CKR_KEY_UNEXTRACTABLE);
  ASSERT_EQ(C_WrapKey(s, &m, kek, payload, nullptr, &n), CKR_OK);
  std::vector<uint8_t> wrapped(n);
  ASSERT_EQ(C_WrapKey(s, &m, kek, payload, wrapped.data(), &n), CKR_OK);
  EXPECT_EQ(n, 24u);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_AES;
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_KEY_TYPE, &kt, sizeof kt)};
  CK_OBJECT_HANDLE copy = 0;
  ASSERT_EQ(C_UnwrapKey(s, &m, kek, wrapped.data(), n, t.data(), t.size(), &copy), CKR_OK);
  // Same key: same ciphertext of one block under ECB.
  CK_MECHANISM ecb{CKM_AES_ECB, nullptr, 0};
  std::vector<uint8_t> block(16, 0x42), c1(16), c2(16);
  CK_ULONG l = 16;
  ASSERT_EQ(C_EncryptInit(s, &ecb, payload), CKR_OK);
  ASSERT_EQ(C_Encrypt(s, block.data(), 16, c1.data(), &l), CKR_OK);
  ASSERT_EQ(C_EncryptInit(s, &ecb, copy), CKR_OK);
  ASSERT_EQ(C_Encrypt(s, block.data(), 16, c2.data(), &l), CKR_OK);
  EXPECT_EQ(c1, c2);
  EXPECT_EQ(get(s, copy, CKA_LOCAL), std::vector<uint8_t>{0});
  wrapped[5] ^= 1;
  EXPECT_EQ(C_UnwrapKey(s, &m, kek, wrapped.data(), n, t.data(), t.size(), &copy), CKR_WRAPPED_KEY_INVALID);
  EXPECT_EQ(C_WrapKey(s, &m, 123456, payload, nullptr, &n), CKR_WRAPPING_KEY_HANDLE_INVALID);
}

// C_UnwrapKey of a private key (PKCS#11 3.0 section 2.2): a PKCS#8 PrivateKeyInfo made by OpenSSL, wrapped
// with AES key wrap with padding under a key the test knows, becomes a private key that signs like the original.
TEST_F(ModuleTest, UnwrapPrivateKeyFromPkcs8) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  std::vector<uint8_t> kek_value(32, 0x5a);
  CK_OBJECT_CLASS sk = CKO_SECRET_KEY;
  CK_KEY_TYPE aes = CKK_AES;
  CK_BBOOL yes = CK_TRUE;
  std::vector<CK_ATTRIBUTE> kt = {attr(CKA_CLASS, &sk, sizeof sk), attr(CKA_KEY_TYPE, &aes, sizeof aes),
                                  attr(CKA_VALUE, kek_value.data(), kek_value.size()),
                                  attr(CKA_UNWRAP, &yes, sizeof yes)};
  CK_OBJECT_HANDLE kek = 0;
  ASSERT_EQ(C_CreateObject(s, kt.data(), kt.size(), &kek), CKR_OK);

  EVP_PKEY* ossl = EVP_EC_gen("P-256");
  ASSERT_NE(ossl, nullptr);
  unsigned char* der = nullptr;
  PKCS8_PRIV_KEY_INFO* p8 = EVP_PKEY2PKCS8(ossl);
  ASSERT_NE(p8, nullptr);
  const int len = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
  PKCS8_PRIV_KEY_INFO_free(p8);
  ASSERT_GT(len, 0);
  const SecureBytes wrapped =
      crypto::aes_key_wrap(ByteView(kek_value.data(), kek_value.size()), ByteView(der, static_cast<size_t>(len)), true);
  OPENSSL_free(der);

  CK_MECHANISM m{CKM_AES_KEY_WRAP_PAD, nullptr, 0};
  CK_OBJECT_CLASS pk = CKO_PRIVATE_KEY;
  CK_KEY_TYPE ec = CKK_EC, rsa = CKK_RSA;
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &pk, sizeof pk), attr(CKA_KEY_TYPE, &ec, sizeof ec),
                                 attr(CKA_SIGN, &yes, sizeof yes)};
  std::vector<uint8_t> w(wrapped.begin(), wrapped.end());
  CK_OBJECT_HANDLE key = 0;
  ASSERT_EQ(C_UnwrapKey(s, &m, kek, w.data(), w.size(), t.data(), t.size(), &key), CKR_OK);
  EXPECT_EQ(get(s, key, CKA_LOCAL), std::vector<uint8_t>{0});
  CK_ATTRIBUTE value = attr(CKA_VALUE, nullptr, 0);
  EXPECT_EQ(C_GetAttributeValue(s, key, &value, 1), CKR_ATTRIBUTE_SENSITIVE);

  // It signs like the original: OpenSSL verifies with the original public key.
  CK_MECHANISM ecdsa{CKM_ECDSA_SHA256, nullptr, 0};
  auto msg = bytes_of("unwrapped");
  std::vector<uint8_t> sig(64);
  CK_ULONG n = sig.size();
  ASSERT_EQ(C_SignInit(s, &ecdsa, key), CKR_OK);
  ASSERT_EQ(C_Sign(s, msg.data(), msg.size(), sig.data(), &n), CKR_OK);
  ASSERT_EQ(n, 64u);
  ECDSA_SIG* es = ECDSA_SIG_new();
  ECDSA_SIG_set0(es, BN_bin2bn(sig.data(), 32, nullptr), BN_bin2bn(sig.data() + 32, 32, nullptr));
  unsigned char* dsig = nullptr;
  const int dlen = i2d_ECDSA_SIG(es, &dsig);
  ECDSA_SIG_free(es);
  EVP_MD_CTX* md = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(md, nullptr, EVP_sha256(), nullptr, ossl), 1);
  EXPECT_EQ(EVP_DigestVerify(md, dsig, static_cast<size_t>(dlen), msg.data(), msg.size()), 1);
  EVP_MD_CTX_free(md);
  OPENSSL_free(dsig);
  EVP_PKEY_free(ossl);

  // A template naming another key type, and a blob that is not PKCS#8, are refused; nothing is created.
  std::vector<CK_ATTRIBUTE> wrong = {attr(CKA_CLASS, &pk, sizeof pk), attr(CKA_KEY_TYPE, &rsa, sizeof rsa)};
  CK_OBJECT_HANDLE none = 0;
  EXPECT_EQ(C_UnwrapKey(s, &m, kek, w.data(), w.size(), wrong.data(), wrong.size(), &none), CKR_TEMPLATE_INCONSISTENT);
  const std::vector<uint8_t> junk(40, 0x11);
  const SecureBytes wj =
      crypto::aes_key_wrap(ByteView(kek_value.data(), kek_value.size()), ByteView(junk.data(), junk.size()), true);
  std::vector<uint8_t> wjv(wj.begin(), wj.end());
  EXPECT_EQ(C_UnwrapKey(s, &m, kek, wjv.data(), wjv.size(), t.data(), t.size(), &none), CKR_WRAPPED_KEY_INVALID);
}

TEST_F(ModuleTest, EcdhBothPartiesAgree) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [apub, apriv] = ec_pair(s, false, "alice", kP256);
  auto [bpub, bpriv] = ec_pair(s, false, "bob", kP256);
  auto point_a = get(s, apub, CKA_EC_POINT), point_b = get(s, bpub, CKA_EC_POINT);
  auto derive = [&](CK_OBJECT_HANDLE priv, std::vector<uint8_t>& peer) {
    CK_ECDH1_DERIVE_PARAMS p{CKD_NULL, 0, nullptr, peer.size(), peer.data()};
    CK_MECHANISM m{CKM_ECDH1_DERIVE, &p, sizeof p};
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_KEY_TYPE, &kt, sizeof kt),
                                   attr(CKA_SENSITIVE, &no, 1), attr(CKA_EXTRACTABLE, &yes, 1)};
    CK_OBJECT_HANDLE h = 0;
    EXPECT_EQ(C_DeriveKey(s, &m, priv, t.data(), t.size(), &h), CKR_OK);
    return get(s, h, CKA_VALUE);
  };
  auto k1 = derive(apriv, point_b), k2 = derive(bpriv, point_a);
  EXPECT_EQ(k1.size(), 32u);
  EXPECT_EQ(k1, k2);
}

TEST_F(ModuleTest, DigestsAndHmacMatchOpenSsl) {
  CK_SESSION_HANDLE s = open();
  auto msg = bytes_of("abc");
  CK_MECHANISM m{CKM_SHA256, nullptr, 0};
  ASSERT_EQ(C_DigestInit(s, &m), CKR_OK);
  std::vector<uint8_t> d(32);
  CK_ULONG n = d.size();
  ASSERT_EQ(C_Digest(s, msg.data(), msg.size(), d.data(), &n), CKR_OK);
  std::vector<uint8_t> expect(32);
  SHA256(msg.data(), msg.size(), expect.data());
  EXPECT_EQ(d, expect);
  EXPECT_EQ(C_DigestUpdate(s, msg.data(), msg.size()), CKR_OPERATION_NOT_INITIALIZED);
  // HMAC-SHA256 with a generic secret key, checked against OpenSSL.
  login_user(s);
  std::vector<uint8_t> key(40, 0x0b);
  CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
  CK_KEY_TYPE kt = CKK_GENERIC_SECRET;
  CK_BBOOL yes = CK_TRUE;
  std::vector<CK_ATTRIBUTE> t = {attr(CKA_CLASS, &cls, sizeof cls), attr(CKA_KEY_TYPE, &kt, sizeof kt),
                                 attr(CKA_VALUE, key.data(), key.size()), attr(CKA_SIGN, &yes, 1),
                                 attr(CKA_VERIFY, &yes, 1)};
  CK_OBJECT_HANDLE h = 0;
  ASSERT_EQ(C_CreateObject(s, t.data(), t.size(), &h), CKR_OK);
  CK_MECHANISM hm{CKM_SHA256_HMAC, nullptr, 0};
  auto mac = sign(s, hm, h, msg);
  unsigned int len = 0;
  std::vector<uint8_t> ref(EVP_MAX_MD_SIZE);
  HMAC(EVP_sha256(), key.data(), key.size(), msg.data(), msg.size(), ref.data(), &len);
  ref.resize(len);
  EXPECT_EQ(mac, ref);
  EXPECT_EQ(verify(s, hm, h, msg, mac), CKR_OK);
}

TEST_F(ModuleTest, RandomAndNullArguments) {
  CK_SESSION_HANDLE s = open();
  std::vector<uint8_t> a(32), b(32);
  ASSERT_EQ(C_GenerateRandom(s, a.data(), a.size()), CKR_OK);
  ASSERT_EQ(C_GenerateRandom(s, b.data(), b.size()), CKR_OK);
  EXPECT_NE(a, b);
  EXPECT_EQ(C_GenerateRandom(s, nullptr, 5), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_SeedRandom(s, a.data(), a.size()), CKR_RANDOM_SEED_NOT_SUPPORTED);
  EXPECT_EQ(C_OpenSession(slot_, CKF_SERIAL_SESSION, nullptr, nullptr, nullptr), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_GetSessionInfo(s, nullptr), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_FindObjects(s, nullptr, 1, nullptr), CKR_ARGUMENTS_BAD);
}

TEST_F(ModuleTest, AlwaysAuthenticateKeyNeedsContextSpecificLogin) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  CK_MECHANISM gen{CKM_EC_KEY_PAIR_GEN, nullptr, 0};
  CK_BBOOL yes = CK_TRUE;
  std::vector<CK_ATTRIBUTE> pub = {attr(CKA_EC_PARAMS, kP256.data(), kP256.size())};
  std::vector<CK_ATTRIBUTE> priv = {attr(CKA_ALWAYS_AUTHENTICATE, &yes, 1), attr(CKA_SIGN, &yes, 1)};
  CK_OBJECT_HANDLE hpub, hpriv;
  ASSERT_EQ(C_GenerateKeyPair(s, &gen, pub.data(), pub.size(), priv.data(), priv.size(), &hpub, &hpriv), CKR_OK);
  const CK_UTF8CHAR_PTR pin = (CK_UTF8CHAR_PTR)kUserPin;
  EXPECT_EQ(C_Login(s, CKU_CONTEXT_SPECIFIC, pin, strlen(kUserPin)), CKR_OPERATION_NOT_INITIALIZED);
  CK_MECHANISM m{CKM_ECDSA, nullptr, 0};
  CK_BYTE hash[32] = {1}, sig[64];
  CK_ULONG len = sizeof sig;
  ASSERT_EQ(C_SignInit(s, &m, hpriv), CKR_OK);
  EXPECT_EQ(C_Sign(s, hash, 32, sig, &len), CKR_USER_NOT_LOGGED_IN);
  EXPECT_EQ(C_Login(s, CKU_CONTEXT_SPECIFIC, (CK_UTF8CHAR_PTR) "wrong-pin", 9), CKR_PIN_INCORRECT);
  ASSERT_EQ(C_Login(s, CKU_CONTEXT_SPECIFIC, pin, strlen(kUserPin)), CKR_OK);
  ASSERT_EQ(C_Sign(s, hash, 32, sig, &len), CKR_OK);
  // The next signature needs the PIN again.
  ASSERT_EQ(C_SignInit(s, &m, hpriv), CKR_OK);
  EXPECT_EQ(C_Sign(s, hash, 32, sig, &len), CKR_USER_NOT_LOGGED_IN);
}

TEST_F(ModuleTest, KeptOutputGoesOnlyToTheSameCall) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  CK_OBJECT_HANDLE key = aes_key(s, 16, false);
  std::vector<uint8_t> iv(16, 3);
  CK_MECHANISM m{CKM_AES_CBC_PAD, iv.data(), iv.size()};
  std::vector<uint8_t> data(40, 9), out(64);
  ASSERT_EQ(C_EncryptInit(s, &m, key), CKR_OK);
  CK_ULONG n = 1;
  ASSERT_EQ(C_EncryptUpdate(s, data.data(), data.size(), out.data(), &n), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(n, 32u);
  n = out.size();
  // Asking Final for the Update's output is refused instead of silently dropping the last block.
  EXPECT_EQ(C_EncryptFinal(s, out.data(), &n), CKR_OPERATION_ACTIVE);
  EXPECT_EQ(C_EncryptFinal(s, out.data(), &n), CKR_OPERATION_NOT_INITIALIZED);
}

// Ed448 through the module (RFC 8032 section 7.4 "1 octet"): import both halves with C_CreateObject, sign to
// the exact bytes, verify, and refuse the variants OpenSSL 3.0 cannot make (context "foo", Ed448ph).
TEST_F(ModuleTest, Ed448Rfc8032ThroughTheModule) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto unhex = [](const std::string& h) {
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < h.size(); i += 2)
      out.push_back(static_cast<uint8_t>(std::stoi(h.substr(i, 2), nullptr, 16)));
    return out;
  };
  const std::string pk_hex =
      "43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6"
      "798c0866aea01eb00742802b8438ea4cb82169c235160627b4c3a9480";
  const auto sk = unhex(
      "c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acd"
      "a2c463afbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e");
  const auto point = unhex("0439" + pk_hex);
  const auto want = unhex(
      "26b8f91727bd62897af15e41eb43c377efb9c610d48f2335cb0bd00878"
      "10f4352541b143c4b981b7e18f62de8ccdf633fc1bf037ab7cd779805e"
      "0dbcc0aae1cbcee1afb2e027df36bc04dcecbf154336c19f0af7e0a6"
      "472905e799f1953d2a0ff3348ab21aa4adafd1d234441cf807c03a00");
  const std::vector<uint8_t> oid = {0x06, 0x03, 0x2b, 0x65, 0x71}, msg = {0x03};
  CK_OBJECT_CLASS priv_cls = CKO_PRIVATE_KEY, pub_cls = CKO_PUBLIC_KEY;
  CK_KEY_TYPE kt = CKK_EC_EDWARDS;
  CK_BBOOL yes = CK_TRUE;
  std::vector<CK_ATTRIBUTE> pt = {attr(CKA_CLASS, &priv_cls, sizeof priv_cls), attr(CKA_KEY_TYPE, &kt, sizeof kt),
                                  attr(CKA_EC_PARAMS, oid.data(), oid.size()), attr(CKA_VALUE, sk.data(), 32),
                                  attr(CKA_SIGN, &yes, 1), attr(CKA_PRIVATE, &yes, 1)};
  CK_OBJECT_HANDLE priv = 0, pub = 0;
  EXPECT_EQ(C_CreateObject(s, pt.data(), pt.size(), &priv), CKR_ATTRIBUTE_VALUE_INVALID);  // Ed448 keys are 57 bytes
  pt[3] = attr(CKA_VALUE, sk.data(), sk.size());
  ASSERT_EQ(C_CreateObject(s, pt.data(), pt.size(), &priv), CKR_OK);
  std::vector<CK_ATTRIBUTE> ut = {attr(CKA_CLASS, &pub_cls, sizeof pub_cls), attr(CKA_KEY_TYPE, &kt, sizeof kt),
                                  attr(CKA_EC_PARAMS, oid.data(), oid.size()),
                                  attr(CKA_EC_POINT, point.data(), point.size()), attr(CKA_VERIFY, &yes, 1)};
  ASSERT_EQ(C_CreateObject(s, ut.data(), ut.size(), &pub), CKR_OK);
  // Imported keys get CKA_PUBLIC_KEY_INFO filled like generated ones (pkcs11-provider reads it): the RFC 8032
  // public key in an RFC 8410 SubjectPublicKeyInfo, on the public key and on the private key derived from it.
  const auto imported_spki = unhex("3043300506032b6571033a00" + pk_hex);
  EXPECT_EQ(get(s, pub, CKA_PUBLIC_KEY_INFO), imported_spki);
  EXPECT_EQ(get(s, priv, CKA_PUBLIC_KEY_INFO), imported_spki);

  CK_MECHANISM pure{CKM_EDDSA, nullptr, 0};
  EXPECT_EQ(sign(s, pure, priv, msg), want);
  CK_EDDSA_PARAMS p{CK_FALSE, 0, nullptr};
  CK_MECHANISM with_params{CKM_EDDSA, &p, sizeof p};
  EXPECT_EQ(sign(s, with_params, priv, msg), want);
  EXPECT_EQ(verify(s, pure, pub, msg, want), CKR_OK);
  EXPECT_EQ(verify(s, with_params, pub, msg, want), CKR_OK);
  auto bad = want;
  bad[3] ^= 0x01;
  EXPECT_EQ(verify(s, pure, pub, msg, bad), CKR_SIGNATURE_INVALID);

  uint8_t foo[] = {'f', 'o', 'o'};
  CK_EDDSA_PARAMS ctx{CK_FALSE, sizeof foo, foo};
  CK_MECHANISM with_ctx{CKM_EDDSA, &ctx, sizeof ctx};
  EXPECT_EQ(C_SignInit(s, &with_ctx, priv), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(C_VerifyInit(s, &with_ctx, pub), CKR_MECHANISM_PARAM_INVALID);
  CK_EDDSA_PARAMS ph{CK_TRUE, 0, nullptr};
  CK_MECHANISM prehash{CKM_EDDSA, &ph, sizeof ph};
  EXPECT_EQ(C_SignInit(s, &prehash, priv), CKR_MECHANISM_PARAM_INVALID);
  std::vector<uint8_t> long_ctx(256, 1);
  CK_EDDSA_PARAMS too_long{CK_FALSE, 256, long_ctx.data()};
  CK_MECHANISM with_long{CKM_EDDSA, &too_long, sizeof too_long};
  EXPECT_EQ(C_SignInit(s, &with_long, priv), CKR_MECHANISM_PARAM_INVALID);
  CK_MECHANISM short_param{CKM_EDDSA, &p, sizeof p - 1};
  EXPECT_EQ(C_SignInit(s, &short_param, priv), CKR_MECHANISM_PARAM_INVALID);
  // A refused init left nothing behind: the pure form still starts.
  EXPECT_EQ(sign(s, pure, priv, msg), want);

  CK_MECHANISM_INFO info{};
  ASSERT_EQ(C_GetMechanismInfo(slot_, CKM_EDDSA, &info), CKR_OK);
  EXPECT_EQ(info.ulMinKeySize, 255u);
  EXPECT_EQ(info.ulMaxKeySize, 448u);
  ASSERT_EQ(C_GetMechanismInfo(slot_, CKM_EC_EDWARDS_KEY_PAIR_GEN, &info), CKR_OK);
  EXPECT_EQ(info.ulMaxKeySize, 448u);
  // A generated Ed448 pair: 57-byte point in its OCTET STRING, 114-byte signatures.
  CK_MECHANISM gen{CKM_EC_EDWARDS_KEY_PAIR_GEN, nullptr, 0};
  std::vector<CK_ATTRIBUTE> gpt = {attr(CKA_EC_PARAMS, oid.data(), oid.size()), attr(CKA_VERIFY, &yes, 1)};
  std::vector<CK_ATTRIBUTE> gvt = {attr(CKA_SIGN, &yes, 1), attr(CKA_PRIVATE, &yes, 1)};
  CK_OBJECT_HANDLE gpub = 0, gpriv = 0;
  ASSERT_EQ(C_GenerateKeyPair(s, &gen, gpt.data(), gpt.size(), gvt.data(), gvt.size(), &gpub, &gpriv), CKR_OK);
  auto gsig = sign(s, pure, gpriv, msg);
  EXPECT_EQ(gsig.size(), 114u);
  EXPECT_EQ(verify(s, pure, gpub, msg, gsig), CKR_OK);
  const auto gpoint = get(s, gpub, CKA_EC_POINT);
  ASSERT_EQ(gpoint.size(), 59u);
  // CKA_PUBLIC_KEY_INFO: SubjectPublicKeyInfo with id-Ed448 (RFC 8410) around the same 57 bytes.
  auto spki = unhex("3043300506032b6571033a00");
  spki.insert(spki.end(), gpoint.begin() + 2, gpoint.end());
  EXPECT_EQ(get(s, gpub, CKA_PUBLIC_KEY_INFO), spki);
}

}  // namespace
}  // namespace keyseal::test
