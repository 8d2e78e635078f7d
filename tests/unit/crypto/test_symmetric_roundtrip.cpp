// Behaviour tests for AES modes and key wrap beyond the vectors: padding, length rules, CTR counter width,
// GCM tag handling and the CK_RVs each failure must give.
#include "crypto/random.h"
#include "crypto/symmetric.h"
#include "vectors.h"

#include <gtest/gtest.h>

using namespace keyseal;
using namespace keyseal::crypto;
using keyseal::test::hex;
using keyseal::test::rv_of;

namespace {

MechanismParams mech(CK_MECHANISM_TYPE t, SecureBytes iv = {}) {
  MechanismParams m;
  m.type = t;
  m.iv = std::move(iv);
  m.counter_bits = 128;
  m.tag_bits = 128;
  return m;
}

SecureBytes parts(Operation& op, ByteView in, size_t chunk) {
  SecureBytes out;
  for (size_t at = 0; at < in.size(); at += chunk) {
    SecureBytes o = op.transform(in.subspan(at, std::min(chunk, in.size() - at)));
    out.insert(out.end(), o.begin(), o.end());
  }
  SecureBytes f = op.finish();
  out.insert(out.end(), f.begin(), f.end());
  return out;
}

}  // namespace

TEST(AesRoundTrip, CbcPadAllLengthsAndChunkings) {
  SecureBytes key = random_bytes(32), iv = random_bytes(16);
  for (size_t len = 0; len <= 48; ++len) {
    SecureBytes pt = random_bytes(len);
    auto enc = make_aes_cipher(true, view(key), mech(CKM_AES_CBC_PAD, iv));
    EXPECT_EQ(enc->output_size(len), (len / 16 + 1) * 16);
    SecureBytes ct = enc->run(view(pt));
    EXPECT_EQ(ct.size(), (len / 16 + 1) * 16);
    for (size_t chunk : {size_t{1}, size_t{5}, size_t{16}, size_t{17}}) {
      auto dec = make_aes_cipher(false, view(key), mech(CKM_AES_CBC_PAD, iv));
      EXPECT_EQ(parts(*dec, view(ct), chunk), pt) << len << "/" << chunk;
      auto enc2 = make_aes_cipher(true, view(key), mech(CKM_AES_CBC_PAD, iv));
      EXPECT_EQ(parts(*enc2, view(pt), chunk), ct);
    }
  }
}

TEST(AesRoundTrip, CbcPadRejectsBadPaddingAndLength) {
  SecureBytes key = random_bytes(16), iv = random_bytes(16);
  SecureBytes block = random_bytes(16);
  block[15] = 0;  // a pad byte of 0 is never valid
  SecureBytes ct = make_aes_cipher(true, view(key), mech(CKM_AES_CBC, iv))->run(view(block));
  EXPECT_EQ(rv_of([&] { make_aes_cipher(false, view(key), mech(CKM_AES_CBC_PAD, iv))->run(view(ct)); }),
            CKR_ENCRYPTED_DATA_INVALID);
  SecureBytes odd(17);
  EXPECT_EQ(rv_of([&] { make_aes_cipher(false, view(key), mech(CKM_AES_CBC_PAD, iv))->run(view(odd)); }),
            CKR_ENCRYPTED_DATA_LEN_RANGE);
  EXPECT_EQ(rv_of([&] { make_aes_cipher(false, view(key), mech(CKM_AES_CBC_PAD, iv))->run({}); }),
            CKR_ENCRYPTED_DATA_LEN_RANGE);
}

TEST(AesRoundTrip, EcbCbcNeedWholeBlocks) {
  SecureBytes key = random_bytes(24), iv = random_bytes(16), in(15);
  for (CK_MECHANISM_TYPE t : {CKM_AES_ECB, CKM_AES_CBC}) {
    EXPECT_EQ(rv_of([&] { make_aes_cipher(true, view(key), mech(t, iv))->run(view(in)); }), CKR_DATA_LEN_RANGE);
    EXPECT_EQ(rv_of([&] { make_aes_cipher(false, view(key), mech(t, iv))->run(view(in)); }),
              CKR_ENCRYPTED_DATA_LEN_RANGE);
    auto op = make_aes_cipher(true, view(key), mech(t, iv));
    op->transform(view(in));
    op->transform(ByteView(in.data(), 2));
    EXPECT_EQ(rv_of([&] { op->finish(); }), CKR_DATA_LEN_RANGE);
  }
  EXPECT_EQ(rv_of([&] { make_aes_cipher(true, view(key), mech(CKM_AES_CBC, random_bytes(8))); }),
            CKR_MECHANISM_PARAM_INVALID);
  SecureBytes bad_key(17);
  EXPECT_EQ(rv_of([&] { make_aes_cipher(true, view(bad_key), mech(CKM_AES_ECB)); }), CKR_KEY_SIZE_RANGE);
  EXPECT_EQ(rv_of([&] { make_aes_cipher(true, view(key), mech(CKM_DES3_CBC, iv)); }), CKR_MECHANISM_INVALID);
}

TEST(AesRoundTrip, CtrHonoursCounterWidth) {
  SecureBytes key = random_bytes(16);
  SecureBytes iv = hex("000102030405060708090a0b0c0d0efe");  // low byte: 2 blocks before an 8-bit counter wraps
  MechanismParams m8 = mech(CKM_AES_CTR, iv);
  m8.counter_bits = 8;
  SecureBytes pt = random_bytes(33);
  SecureBytes full = make_aes_cipher(true, view(key), mech(CKM_AES_CTR, iv))->run(view(pt));
  SecureBytes two = make_aes_cipher(true, view(key), m8)->run(ByteView(pt.data(), 32));
  EXPECT_TRUE(equal_bytes(view(two), ByteView(full.data(), 32)));
  EXPECT_EQ(rv_of([&] { make_aes_cipher(true, view(key), m8)->run(view(pt)); }), CKR_DATA_LEN_RANGE);
  auto op = make_aes_cipher(false, view(key), m8);
  op->transform(ByteView(pt.data(), 20));
  EXPECT_EQ(rv_of([&] { op->transform(ByteView(pt.data(), 13)); }), CKR_ENCRYPTED_DATA_LEN_RANGE);
  EXPECT_EQ(make_aes_cipher(false, view(key), mech(CKM_AES_CTR, iv))->run(view(full)), pt);
  MechanismParams m0 = mech(CKM_AES_CTR, iv);
  m0.counter_bits = 0;
  EXPECT_EQ(rv_of([&] { make_aes_cipher(true, view(key), m0); }), CKR_MECHANISM_PARAM_INVALID);
}

TEST(AesRoundTrip, GcmTagLengthsTamperAndBuffering) {
  SecureBytes key = random_bytes(32), pt = random_bytes(100);
  MechanismParams m = mech(CKM_AES_GCM, random_bytes(12));
  m.aad = random_bytes(20);
  m.tag_bits = 96;
  SecureBytes ct = make_aes_cipher(true, view(key), m)->run(view(pt));
  EXPECT_EQ(ct.size(), pt.size() + 12);
  auto dec = make_aes_cipher(false, view(key), m);
  EXPECT_EQ(dec->transform_size(50), 0u);
  EXPECT_TRUE(dec->transform(ByteView(ct.data(), 50)).empty());  // nothing released before the tag checks
  EXPECT_TRUE(dec->transform(ByteView(ct.data() + 50, ct.size() - 50)).empty());
  EXPECT_EQ(dec->finish_size(), pt.size());
  EXPECT_EQ(dec->finish(), pt);
  for (size_t i : {size_t{0}, size_t{99}, ct.size() - 1}) {
    SecureBytes t = ct;
    t[i] ^= 1;
    EXPECT_EQ(rv_of([&] { make_aes_cipher(false, view(key), m)->run(view(t)); }), CKR_ENCRYPTED_DATA_INVALID);
  }
  MechanismParams other_aad = m;
  other_aad.aad[0] ^= 1;
  EXPECT_EQ(rv_of([&] { make_aes_cipher(false, view(key), other_aad)->run(view(ct)); }), CKR_ENCRYPTED_DATA_INVALID);
  EXPECT_EQ(rv_of([&] { make_aes_cipher(false, view(key), m)->run(ByteView(ct.data(), 11)); }),
            CKR_ENCRYPTED_DATA_LEN_RANGE);
  for (CK_ULONG bits : {CK_ULONG{0}, CK_ULONG{7}, CK_ULONG{136}}) {
    MechanismParams b = m;
    b.tag_bits = bits;
    EXPECT_EQ(rv_of([&] { make_aes_cipher(true, view(key), b); }), CKR_MECHANISM_PARAM_INVALID);
  }
  MechanismParams no_iv = m;
  no_iv.iv.clear();
  EXPECT_EQ(rv_of([&] { make_aes_cipher(true, view(key), no_iv); }), CKR_MECHANISM_PARAM_INVALID);
}

TEST(KeyWrapRoundTrip, KwAndKwp) {
  SecureBytes kek = random_bytes(32), key = random_bytes(32), odd = random_bytes(21);
  SecureBytes w = aes_key_wrap(view(kek), view(key), false);
  EXPECT_EQ(w.size(), 40u);
  EXPECT_EQ(aes_key_unwrap(view(kek), view(w), false), key);
  SecureBytes wp = aes_key_wrap(view(kek), view(odd), true);
  EXPECT_EQ(wp.size(), 32u);
  EXPECT_EQ(aes_key_unwrap(view(kek), view(wp), true), odd);
  w[5] ^= 1;
  EXPECT_EQ(rv_of([&] { aes_key_unwrap(view(kek), view(w), false); }), CKR_WRAPPED_KEY_INVALID);
  wp[30] ^= 1;
  EXPECT_EQ(rv_of([&] { aes_key_unwrap(view(kek), view(wp), true); }), CKR_WRAPPED_KEY_INVALID);
  EXPECT_EQ(rv_of([&] { aes_key_wrap(view(kek), view(odd), false); }), CKR_DATA_LEN_RANGE);
  EXPECT_EQ(rv_of([&] { aes_key_wrap(view(kek), {}, true); }), CKR_DATA_LEN_RANGE);
  EXPECT_EQ(rv_of([&] { aes_key_unwrap(view(kek), ByteView(key.data(), 20), false); }), CKR_WRAPPED_KEY_LEN_RANGE);
  EXPECT_EQ(rv_of([&] { aes_key_unwrap(view(kek), ByteView(key.data(), 8), true); }), CKR_WRAPPED_KEY_LEN_RANGE);
  EXPECT_EQ(rv_of([&] { aes_key_wrap(ByteView(kek.data(), 20), view(key), false); }), CKR_KEY_SIZE_RANGE);
}
