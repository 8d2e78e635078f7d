// Known-answer and behaviour tests for digests (NIST SHA-2), HMAC (RFC 2202 / 4231), HKDF (RFC 5869),
// Argon2id, random bytes and the keystore AEAD.
#include "crypto/aead.h"
#include "crypto/digest.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "crypto/symmetric.h"
#include "vectors.h"

#include <gtest/gtest.h>

using namespace keyseal;
using namespace keyseal::crypto;
using keyseal::test::hex;
using keyseal::test::read_records;
using keyseal::test::rv_of;
using keyseal::test::to_hex;

TEST(DigestKat, Sha2NistShortAndLong) {
  struct F { const char* name; CK_MECHANISM_TYPE m; size_t size; };
  size_t n = 0;
  for (F f : {F{"SHA224", CKM_SHA224, 28}, F{"SHA256", CKM_SHA256, 32}, F{"SHA384", CKM_SHA384, 48},
              F{"SHA512", CKM_SHA512, 64}}) {
    EXPECT_EQ(digest_size(f.m), f.size);
    for (const char* kind : {"ShortMsg", "LongMsg"}) {
      for (const auto& r : read_records(std::string("hashes/SHA2/") + f.name + kind + ".rsp")) {
        if (!r.has("LEN")) continue;
        SecureBytes msg = r.bytes("MSG");
        msg.resize(std::stoul(r.at("LEN")) / 8);  // Len = 0 comes with Msg = 00
        EXPECT_EQ(to_hex(view(digest(f.m, view(msg)))), r.at("MD"));
        auto op = make_digest(f.m);
        size_t half = msg.size() / 2;
        op->absorb(ByteView(msg.data(), half));
        op->absorb(ByteView(msg.data() + half, msg.size() - half));
        EXPECT_EQ(op->finish_size(), f.size);
        EXPECT_EQ(to_hex(view(op->finish())), r.at("MD"));
        ++n;
      }
    }
  }
  EXPECT_GT(n, 500u);
}

TEST(DigestKat, Sha1AndErrors) {
  EXPECT_EQ(to_hex(view(digest(CKM_SHA_1, view("abc")))), "a9993e364706816aba3e25717850c26c9cd0d89d");
  EXPECT_EQ(rv_of([] { digest_size(CKM_MD5); }), CKR_MECHANISM_INVALID);
  EXPECT_EQ(rv_of([] { make_digest(CKM_SHA512_224); }), CKR_MECHANISM_INVALID);
}

TEST(HmacKat, Rfc2202And4231) {
  struct F { const char* file; CK_MECHANISM_TYPE m; };
  size_t n = 0;
  for (F f : {F{"rfc-2202-sha1.txt", CKM_SHA_1_HMAC}, F{"rfc-4231-sha224.txt", CKM_SHA224_HMAC},
              F{"rfc-4231-sha256.txt", CKM_SHA256_HMAC}, F{"rfc-4231-sha384.txt", CKM_SHA384_HMAC},
              F{"rfc-4231-sha512.txt", CKM_SHA512_HMAC}}) {
    for (const auto& r : read_records(std::string("HMAC/") + f.file)) {
      if (!r.has("MD")) continue;
      SecureBytes key = r.bytes("KEY"), msg = r.bytes("MSG"), md = r.bytes("MD");
      EXPECT_EQ(to_hex(view(make_hmac(f.m, view(key), false)->run(view(msg)))), r.at("MD")) << f.file;
      EXPECT_EQ(rv_of([&] { make_hmac(f.m, view(key), true)->verify(view(msg), view(md)); }), CKR_OK);
      md[0] ^= 1;
      EXPECT_EQ(rv_of([&] { make_hmac(f.m, view(key), true)->verify(view(msg), view(md)); }),
                CKR_SIGNATURE_INVALID);
      md.pop_back();
      EXPECT_EQ(rv_of([&] { make_hmac(f.m, view(key), true)->verify(view(msg), view(md)); }),
                CKR_SIGNATURE_LEN_RANGE);
      ++n;
    }
  }
  EXPECT_GE(n, 25u);
}

TEST(HmacKat, MultipartMatchesSinglePart) {
  SecureBytes key = hex("000102030405060708090a0b0c0d0e0f");
  auto a = make_hmac(CKM_SHA256_HMAC, view(key), false);
  a->absorb(view("hello "));
  a->absorb(view("world"));
  SecureBytes mac = a->finish();
  EXPECT_EQ(mac, make_hmac(CKM_SHA256_HMAC, view(key), false)->run(view("hello world")));
  auto v = make_hmac(CKM_SHA256_HMAC, view(key), true);
  v->absorb(view("hello world"));
  EXPECT_EQ(rv_of([&] { v->verify_finish(view(mac)); }), CKR_OK);
  EXPECT_EQ(rv_of([&] { make_hmac(CKM_AES_CMAC, view(key), false); }), CKR_MECHANISM_INVALID);
}

TEST(KdfKat, HkdfSha256Rfc5869) {
  size_t n = 0;
  for (const auto& r : read_records("KDF/rfc-5869-HKDF-SHA256.txt")) {
    if (!r.has("OKM")) continue;
    SecureBytes ikm = r.bytes("IKM"), salt = r.bytes("SALT"), info = r.bytes("INFO");
    EXPECT_EQ(to_hex(view(hkdf_sha256(view(ikm), view(salt), view(info), std::stoul(r.at("L"))))), r.at("OKM"));
    ++n;
  }
  EXPECT_EQ(n, 3u);
}

TEST(KdfTest, Argon2idIsDeterministicAndParameterSensitive) {
  Argon2Params p{2, 1024, 1};
  SecureBytes salt = hex("0102030405060708090a0b0c0d0e0f10");
  SecureBytes a = argon2id(view("1234"), view(salt), p, 32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_EQ(a, argon2id(view("1234"), view(salt), p, 32));
  EXPECT_NE(a, argon2id(view("1235"), view(salt), p, 32));
  SecureBytes salt2 = salt;
  salt2[0] ^= 1;
  EXPECT_NE(a, argon2id(view("1234"), view(salt2), p, 32));
  EXPECT_NE(a, argon2id(view("1234"), view(salt), Argon2Params{3, 1024, 1}, 32));
  EXPECT_NE(a, argon2id(view("1234"), view(salt), Argon2Params{2, 2048, 1}, 32));
  EXPECT_NE(a, argon2id(view("1234"), view(salt), Argon2Params{2, 1024, 2}, 32));
  EXPECT_EQ(argon2id(view(""), view(salt), p, 16).size(), 16u);
  EXPECT_EQ(rv_of([&] { argon2id(view("1234"), view("short"), p, 32); }), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(rv_of([&] { argon2id(view("1234"), view(salt), Argon2Params{0, 1024, 1}, 32); }), CKR_ARGUMENTS_BAD);
}

TEST(RandomTest, FillsAndDiffers) {
  SecureBytes a = random_bytes(32), b = random_bytes(32);
  EXPECT_EQ(a.size(), 32u);
  EXPECT_NE(a, b);
  EXPECT_TRUE(random_bytes(0).empty());
}

TEST(AeadTest, SealOpenAndTamperDetection) {
  SecureBytes key = random_bytes(32);
  SecureBytes pt = hex("00112233445566778899");
  SecureBytes sealed = seal_aes256gcm(view(key), view("aad"), view(pt));
  EXPECT_EQ(sealed.size(), 12 + pt.size() + 16);
  EXPECT_EQ(open_aes256gcm(view(key), view("aad"), view(sealed)), pt);
  EXPECT_NE(sealed, seal_aes256gcm(view(key), view("aad"), view(pt)));  // fresh nonce each time
  EXPECT_EQ(rv_of([&] { open_aes256gcm(view(key), view("aaD"), view(sealed)); }), CKR_ENCRYPTED_DATA_INVALID);
  for (size_t i : {size_t{0}, size_t{12}, sealed.size() - 1}) {
    SecureBytes t = sealed;
    t[i] ^= 0x80;
    EXPECT_EQ(rv_of([&] { open_aes256gcm(view(key), view("aad"), view(t)); }), CKR_ENCRYPTED_DATA_INVALID);
  }
  SecureBytes other = random_bytes(32);
  EXPECT_EQ(rv_of([&] { open_aes256gcm(view(other), view("aad"), view(sealed)); }), CKR_ENCRYPTED_DATA_INVALID);
  EXPECT_EQ(rv_of([&] { open_aes256gcm(view(key), view("aad"), ByteView(sealed.data(), 27)); }),
            CKR_ENCRYPTED_DATA_INVALID);
  SecureBytes empty = seal_aes256gcm(view(key), {}, {});
  EXPECT_TRUE(open_aes256gcm(view(key), {}, view(empty)).empty());
  EXPECT_EQ(rv_of([&] { seal_aes256gcm(ByteView(key.data(), 16), {}, view(pt)); }), CKR_KEY_SIZE_RANGE);
}
