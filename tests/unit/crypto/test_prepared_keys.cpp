// Tests of the prepared-key fast paths: AesKey (keyed cipher contexts copied per operation, PKCS#11 3.0
// current mechanisms 2.10-2.12) against NIST CAVP vectors and from several threads, and Ed25519 signing
// (2.3.14) from the per-key signing template.
#include "crypto/asym.h"
#include "crypto/keys.h"
#include "crypto/symmetric.h"
#include "vectors.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

using namespace keyseal;
using namespace keyseal::crypto;
using keyseal::test::hex;
using keyseal::test::read_records;
using keyseal::test::rv_of;
using keyseal::test::to_hex;

namespace {

MechanismParams mech(CK_MECHANISM_TYPE t, ByteView iv = {}) {
  MechanismParams m;
  m.type = t;
  m.iv = to_bytes(iv);
  m.counter_bits = 128;
  return m;
}

MechanismParams gcm(ByteView iv, ByteView aad, size_t tag_bits) {
  MechanismParams m = mech(CKM_AES_GCM, iv);
  m.aad = to_bytes(aad);
  m.tag_bits = tag_bits;
  return m;
}

SecureBytes concat(const SecureBytes& a, const SecureBytes& b) {
  SecureBytes r = a;
  r.insert(r.end(), b.begin(), b.end());
  return r;
}

}  // namespace

// Each key encrypts its vector twice (the second time from the kept template) and decrypts the result.
TEST(AesKeyTest, GcmNistEncryptTwiceAndDecrypt) {
  size_t n = 0;
  for (const char* bits : {"128", "192", "256"}) {
    for (const auto& r : read_records(std::string("ciphers/AES/GCM/gcmEncryptExtIV") + bits + ".rsp")) {
      if (!r.has("KEY")) continue;
      if (n % 7 != 0 && n > 0) {  // a sample keeps the test quick; every IV/AAD/tag length class is in it
        ++n;
        continue;
      }
      SecureBytes key = r.bytes("KEY"), pt = r.bytes("PT"), tag = r.bytes("TAG");
      MechanismParams m = gcm(view(r.bytes("IV")), view(r.bytes("AAD")), tag.size() * 8);
      AesKey k(view(key));
      SecureBytes want = concat(r.bytes("CT"), tag);
      for (int round = 0; round < 2; ++round)
        EXPECT_EQ(to_hex(view(make_aes_cipher(true, k, m)->run(view(pt)))), to_hex(view(want))) << r.at("COUNT");
      EXPECT_EQ(to_hex(view(make_aes_cipher(false, k, m)->run(view(want)))), to_hex(view(pt)));
      ++n;
    }
  }
  EXPECT_GT(n, 20000u);
}

// A forgery is rejected, and the same key still opens a genuine message afterwards.
TEST(AesKeyTest, GcmNistDecryptForgeriesDoNotSpoilTheKey) {
  size_t rejected = 0, opened = 0;
  for (const char* bits : {"128", "256"}) {
    for (const auto& r : read_records(std::string("ciphers/AES/GCM/gcmDecrypt") + bits + ".rsp")) {
      if (!r.has("KEY")) continue;
      SecureBytes key = r.bytes("KEY"), tag = r.bytes("TAG");
      SecureBytes in = concat(r.bytes("CT"), tag);
      MechanismParams m = gcm(view(r.bytes("IV")), view(r.bytes("AAD")), tag.size() * 8);
      AesKey k(view(key));
      if (r.fail) {
        EXPECT_EQ(rv_of([&] { make_aes_cipher(false, k, m)->run(view(in)); }), CKR_ENCRYPTED_DATA_INVALID);
        SecureBytes pt(5, 0x42);
        SecureBytes sealed = make_aes_cipher(true, k, m)->run(view(pt));
        EXPECT_EQ(make_aes_cipher(false, k, m)->run(view(sealed)), pt);
        ++rejected;
      } else {
        EXPECT_EQ(to_hex(view(make_aes_cipher(false, k, m)->run(view(in)))), r.at("PT"));
        ++opened;
      }
    }
  }
  EXPECT_GT(rejected, 100u);
  EXPECT_GT(opened, 100u);
}

// ECB and CBC: one AesKey per vector, both directions from the same key, twice each.
TEST(AesKeyTest, EcbCbcNistBothDirectionsFromOneKey) {
  size_t n = 0;
  for (const char* bits : {"128", "192", "256"})
    for (const auto& [dir, t] : {std::pair{"ECB", CKM_AES_ECB}, std::pair{"CBC", CKM_AES_CBC}}) {
      std::string rel = std::string("ciphers/AES/") + dir + "/" + dir + "MMT" + bits + ".rsp";
      for (const auto& r : read_records(rel)) {
        if (!r.has("KEY")) continue;
        SecureBytes key = r.bytes("KEY"), pt = r.bytes("PLAINTEXT"), ct = r.bytes("CIPHERTEXT");
        SecureBytes iv = r.has("IV") ? r.bytes("IV") : SecureBytes{};
        AesKey k(view(key));
        for (int round = 0; round < 2; ++round) {
          EXPECT_EQ(to_hex(view(make_aes_cipher(true, k, mech(t, view(iv)))->run(view(pt)))), to_hex(view(ct)));
          EXPECT_EQ(to_hex(view(make_aes_cipher(false, k, mech(t, view(iv)))->run(view(ct)))), to_hex(view(pt)));
        }
        ++n;
      }
    }
  EXPECT_GE(n, 60u);
}

TEST(AesKeyTest, CtrAndCbcPadMatchTheRawKeyPath) {
  SecureBytes key = hex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
  SecureBytes iv = hex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff");
  AesKey k(view(key));
  for (size_t len : {0u, 1u, 15u, 16u, 17u, 100u}) {
    SecureBytes pt(len, 0x5a);
    for (CK_MECHANISM_TYPE t : {CKM_AES_CTR, CKM_AES_CBC_PAD}) {
      if (t == CKM_AES_CTR && len == 0) continue;
      SecureBytes want = make_aes_cipher(true, view(key), mech(t, view(iv)))->run(view(pt));
      EXPECT_EQ(make_aes_cipher(true, k, mech(t, view(iv)))->run(view(pt)), want) << t << " " << len;
      EXPECT_EQ(make_aes_cipher(false, k, mech(t, view(iv)))->run(view(want)), pt) << t << " " << len;
    }
  }
}

TEST(AesKeyTest, Errors) {
  SecureBytes short_key(15, 1);
  EXPECT_EQ(rv_of([&] { AesKey k(view(short_key)); }), CKR_KEY_SIZE_RANGE);
  SecureBytes key(32, 7), iv12(12, 0), iv16(16, 0);
  AesKey k(view(key));
  EXPECT_EQ(rv_of([&] { make_aes_cipher(true, k, mech(CKM_SHA256_HMAC, view(iv16))); }), CKR_MECHANISM_INVALID);
  EXPECT_EQ(rv_of([&] { make_aes_cipher(true, k, gcm({}, {}, 128)); }), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv_of([&] { make_aes_cipher(true, k, gcm(view(iv12), {}, 129)); }), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv_of([&] { make_aes_cipher(true, k, mech(CKM_AES_CBC, view(iv12))); }), CKR_MECHANISM_PARAM_INVALID);
  // A failed set-up leaves the kept contexts usable.
  SecureBytes pt(33, 3);
  EXPECT_EQ(make_aes_cipher(true, k, gcm(view(iv12), {}, 96))->run(view(pt)),
            make_aes_cipher(true, view(key), gcm(view(iv12), {}, 96))->run(view(pt)));
}

// Multi-part GCM from a prepared key gives what the single-part fast path gives.
TEST(AesKeyTest, GcmMultipartEqualsSinglePart) {
  SecureBytes key(16, 9), iv(12, 1), aad(20, 2), pt(4096, 0x33);
  AesKey k(view(key));
  SecureBytes whole = make_aes_cipher(true, k, gcm(view(iv), view(aad), 128))->run(view(pt));
  ASSERT_EQ(whole.size(), pt.size() + 16);
  auto op = make_aes_cipher(true, k, gcm(view(iv), view(aad), 128));
  SecureBytes parts = op->transform(ByteView(pt).subspan(0, 1000));
  SecureBytes rest = op->transform(ByteView(pt).subspan(1000));
  SecureBytes tag = op->finish();
  EXPECT_EQ(concat(concat(parts, rest), tag), whole);
}

TEST(AesKeyTest, ThreadsShareOneKey) {
  SecureBytes key(32, 0x11), pt(4096, 0x22);
  AesKey k(view(key));
  constexpr int kThreads = 4, kPerThread = 200;
  std::vector<std::vector<SecureBytes>> got(kThreads);
  std::vector<std::thread> ts;
  for (int t = 0; t < kThreads; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        SecureBytes iv(12, 0);
        iv[0] = static_cast<uint8_t>(t);
        iv[1] = static_cast<uint8_t>(i);
        got[t].push_back(make_aes_cipher(true, k, gcm(view(iv), {}, 128))->run(view(pt)));
      }
    });
  for (auto& th : ts) th.join();
  for (int t = 0; t < kThreads; ++t)
    for (int i = 0; i < kPerThread; i += 37) {
      SecureBytes iv(12, 0);
      iv[0] = static_cast<uint8_t>(t);
      iv[1] = static_cast<uint8_t>(i);
      EXPECT_EQ(got[t][i], make_aes_cipher(true, view(key), gcm(view(iv), {}, 128))->run(view(pt)));
    }
}

// RFC 8032 section 7.1 TEST 2, signed repeatedly and from several threads through the key's template.
TEST(Ed25519Template, RepeatedAndConcurrentSignaturesAreTheVector) {
  SecureBytes params = hex("06032b6570");
  PKey priv =
      ec_private_key(view(params), view(hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")));
  SecureBytes msg = hex("72");
  std::string want =
      "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
      "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
  MechanismParams m;
  m.type = CKM_EDDSA;
  for (int i = 0; i < 3; ++i) EXPECT_EQ(to_hex(view(make_signer(priv, m)->run(view(msg)))), want);
  std::vector<std::string> got(4);
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string s = to_hex(view(make_signer(priv, m)->run(view(msg))));
        if (s != want) got[t] = s;
      }
    });
  for (auto& th : ts) th.join();
  for (const auto& g : got) EXPECT_EQ(g, "");
  // A different message from the same template.
  SecureBytes other = hex("af82");
  EXPECT_NE(to_hex(view(make_signer(priv, m)->run(view(other)))), want);
}

// Contexts go back to the key's pool only after a normal end; whatever came before, the next operation on
// the same key gives what a fresh key gives: after other IV lengths, an abandoned multi-part operation, a
// rejected tag, and in every mode.
TEST(AesKeyTest, ReusedContextsCarryNothingOver) {
  SecureBytes key = hex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
  AesKey k(view(key));
  SecureBytes pt(100, 0x61), aad(7, 0x09);
  auto fresh = [&](bool enc, const MechanismParams& m, ByteView in) {
    return make_aes_cipher(enc, view(key), m)->run(in);
  };
  for (size_t iv_len : {12u, 8u, 12u, 60u, 12u, 1u, 12u}) {
    SecureBytes iv(iv_len, static_cast<uint8_t>(iv_len));
    MechanismParams m = gcm(view(iv), view(aad), 128);
    SecureBytes ct = make_aes_cipher(true, k, m)->run(view(pt));
    EXPECT_EQ(ct, fresh(true, m, view(pt))) << iv_len;
    EXPECT_EQ(make_aes_cipher(false, k, m)->run(view(ct)), pt) << iv_len;
    // abandoned: part of the data, no finish
    auto half = make_aes_cipher(true, k, m);
    (void)half->transform(ByteView(pt).subspan(0, 33));
    half.reset();
    // rejected tag
    SecureBytes bad = ct;
    bad.back() ^= 1;
    EXPECT_EQ(rv_of([&] { make_aes_cipher(false, k, m)->run(view(bad)); }), CKR_ENCRYPTED_DATA_INVALID);
    EXPECT_EQ(make_aes_cipher(true, k, m)->run(view(pt)), ct) << iv_len;
    EXPECT_EQ(make_aes_cipher(false, k, m)->run(view(ct)), pt) << iv_len;
  }
  SecureBytes iv16(16, 0x0f), blocks(64, 0x44), odd(37, 0x45);
  for (int round = 0; round < 3; ++round) {
    for (CK_MECHANISM_TYPE t : {CKM_AES_ECB, CKM_AES_CBC, CKM_AES_CTR}) {
      MechanismParams m = mech(t, t == CKM_AES_ECB ? ByteView() : view(iv16));
      // abandoned multi-part operation holding a partial block
      auto part = make_aes_cipher(true, k, m);
      (void)part->transform(ByteView(blocks).subspan(0, 20));
      part.reset();
      SecureBytes ct = make_aes_cipher(true, k, m)->run(view(blocks));
      EXPECT_EQ(ct, fresh(true, m, view(blocks))) << t;
      EXPECT_EQ(make_aes_cipher(false, k, m)->run(view(ct)), blocks) << t;
    }
    MechanismParams pad = mech(CKM_AES_CBC_PAD, view(iv16));
    SecureBytes ct = make_aes_cipher(true, k, pad)->run(view(odd));
    EXPECT_EQ(ct, fresh(true, pad, view(odd)));
    SecureBytes bad = ct;
    bad.back() ^= 0x5a;  // usually bad padding; either way the next round must still be right
    try {
      (void)make_aes_cipher(false, k, pad)->run(view(bad));
    } catch (const Error&) {
    }
    EXPECT_EQ(make_aes_cipher(false, k, pad)->run(view(ct)), odd);
    // the unpadded CBC mechanism after CBC_PAD shares the direction's contexts: padding must be off again
    MechanismParams cbc = mech(CKM_AES_CBC, view(iv16));
    EXPECT_EQ(make_aes_cipher(true, k, cbc)->run(view(blocks)), fresh(true, cbc, view(blocks)));
  }
}

// An operation may outlive the key it came from (the object destroyed mid-operation).
TEST(AesKeyTest, OperationOutlivesKey) {
  SecureBytes key(16, 0x77), iv(12, 0x01), pt(50, 0x02);
  std::unique_ptr<Operation> op;
  {
    AesKey k(view(key));
    op = make_aes_cipher(true, k, gcm(view(iv), {}, 128));
  }
  EXPECT_EQ(op->run(view(pt)), make_aes_cipher(true, view(key), gcm(view(iv), {}, 128))->run(view(pt)));
  op.reset();
}
