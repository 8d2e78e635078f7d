// Known-answer tests for AES ECB/CBC/CTR/GCM (NIST CAVP, RFC 3686) and AES key wrap (NIST SP 800-38F KW/KWP).
#include "crypto/symmetric.h"
#include "vectors.h"

#include <gtest/gtest.h>

using namespace keyseal;
using namespace keyseal::crypto;
using keyseal::test::hex;
using keyseal::test::read_records;
using keyseal::test::rv_of;
using keyseal::test::to_hex;

namespace {

// Feeds in through transform() in chunks of `chunk` bytes, then finish(); checks the size promises.
SecureBytes multipart(Operation& op, ByteView in, size_t chunk) {
  SecureBytes out;
  for (size_t at = 0; at < in.size(); at += chunk) {
    ByteView part = in.subspan(at, std::min(chunk, in.size() - at));
    size_t bound = op.transform_size(part.size());
    SecureBytes o = op.transform(part);
    EXPECT_LE(o.size(), bound);
    out.insert(out.end(), o.begin(), o.end());
  }
  size_t bound = op.finish_size();
  SecureBytes f = op.finish();
  EXPECT_LE(f.size(), bound);
  out.insert(out.end(), f.begin(), f.end());
  return out;
}

MechanismParams mech(CK_MECHANISM_TYPE t, ByteView iv = {}) {
  MechanismParams m;
  m.type = t;
  m.iv = to_bytes(iv);
  m.counter_bits = 128;
  return m;
}

// ECB and CBC .rsp files: [ENCRYPT] / [DECRYPT] sections of KEY, IV, PLAINTEXT, CIPHERTEXT.
size_t check_block_file(const std::string& rel, CK_MECHANISM_TYPE t) {
  size_t n = 0;
  for (const auto& r : read_records(rel)) {
    if (!r.has("KEY")) continue;
    SecureBytes key = r.bytes("KEY"), pt = r.bytes("PLAINTEXT"), ct = r.bytes("CIPHERTEXT");
    SecureBytes iv = r.has("IV") ? r.bytes("IV") : SecureBytes{};
    bool enc = r.section == "ENCRYPT";
    const SecureBytes& in = enc ? pt : ct;
    const SecureBytes& want = enc ? ct : pt;
    auto op = make_aes_cipher(enc, view(key), mech(t, view(iv)));
    EXPECT_EQ(op->output_size(in.size()), want.size());
    EXPECT_EQ(to_hex(view(op->run(view(in)))), to_hex(view(want))) << rel << " " << r.at("COUNT");
    auto op2 = make_aes_cipher(enc, view(key), mech(t, view(iv)));
    EXPECT_EQ(to_hex(view(multipart(*op2, view(in), 7))), to_hex(view(want))) << rel << " multipart";
    ++n;
  }
  return n;
}

}  // namespace

TEST(AesKat, EcbAndCbcNist) {
  size_t n = 0;
  for (const char* kind : {"GFSbox", "KeySbox", "MMT", "VarKey", "VarTxt"})
    for (const char* bits : {"128", "192", "256"}) {
      n += check_block_file(std::string("ciphers/AES/ECB/ECB") + kind + bits + ".rsp", CKM_AES_ECB);
      n += check_block_file(std::string("ciphers/AES/CBC/CBC") + kind + bits + ".rsp", CKM_AES_CBC);
    }
  EXPECT_GT(n, 2000u);
}

TEST(AesKat, CtrRfc3686) {
  size_t n = 0;
  for (const char* f : {"aes-128-ctr.txt", "aes-192-ctr.txt", "aes-256-ctr.txt"}) {
    for (const auto& r : read_records(std::string("ciphers/AES/CTR/") + f)) {
      if (!r.has("KEY")) continue;
      SecureBytes key = r.bytes("KEY"), iv = r.bytes("IV"), pt = r.bytes("PLAINTEXT"), ct = r.bytes("CIPHERTEXT");
      MechanismParams m = mech(CKM_AES_CTR, view(iv));
      m.counter_bits = 32;  // RFC 3686 uses a 32-bit block counter
      bool enc = r.section != "DECRYPT";
      auto op = make_aes_cipher(enc, view(key), m);
      EXPECT_EQ(to_hex(view(multipart(*op, enc ? view(pt) : view(ct), 5))), to_hex(enc ? view(ct) : view(pt)));
      ++n;
    }
  }
  EXPECT_GE(n, 9u);
}

TEST(AesKat, GcmEncryptNist) {
  size_t n = 0;
  for (const char* bits : {"128", "192", "256"}) {
    for (const auto& r : read_records(std::string("ciphers/AES/GCM/gcmEncryptExtIV") + bits + ".rsp")) {
      if (!r.has("KEY")) continue;
      SecureBytes tag = r.bytes("TAG"), ct = r.bytes("CT");
      MechanismParams m = mech(CKM_AES_GCM, view(r.bytes("IV")));
      m.aad = r.bytes("AAD");
      m.tag_bits = tag.size() * 8;
      SecureBytes key = r.bytes("KEY"), pt = r.bytes("PT");
      auto op = make_aes_cipher(true, view(key), m);
      SecureBytes want = ct;
      want.insert(want.end(), tag.begin(), tag.end());
      EXPECT_EQ(op->output_size(pt.size()), want.size());
      EXPECT_EQ(to_hex(view(multipart(*op, view(pt), 13))), to_hex(view(want)));
      ++n;
    }
  }
  EXPECT_GT(n, 20000u);
}

TEST(AesKat, GcmDecryptNistIncludingForgeries) {
  size_t n = 0, rejected = 0;
  for (const char* bits : {"128", "192", "256"}) {
    for (const auto& r : read_records(std::string("ciphers/AES/GCM/gcmDecrypt") + bits + ".rsp")) {
      if (!r.has("KEY")) continue;
      SecureBytes tag = r.bytes("TAG"), in = r.bytes("CT");
      in.insert(in.end(), tag.begin(), tag.end());
      MechanismParams m = mech(CKM_AES_GCM, view(r.bytes("IV")));
      m.aad = r.bytes("AAD");
      m.tag_bits = tag.size() * 8;
      SecureBytes key = r.bytes("KEY");
      auto op = make_aes_cipher(false, view(key), m);
      if (r.fail) {
        EXPECT_EQ(rv_of([&] { op->run(view(in)); }), CKR_ENCRYPTED_DATA_INVALID);
        ++rejected;
      } else {
        EXPECT_EQ(to_hex(view(multipart(*op, view(in), 11))), r.at("PT"));
      }
      ++n;
    }
  }
  EXPECT_GT(n, 20000u);
  EXPECT_GT(rejected, 1000u);
}

TEST(AesKat, KeyWrapNist) {
  size_t n = 0, rejected = 0;
  for (bool pad : {false, true}) {
    for (const char* bits : {"128", "192", "256"}) {
      std::string base = std::string("keywrap/kwtestvectors/") + (pad ? "KWP" : "KW");
      for (const auto& r : read_records(base + "_AE_" + bits + ".txt")) {
        if (!r.has("K")) continue;
        SecureBytes k = r.bytes("K"), p = r.bytes("P");
        EXPECT_EQ(to_hex(view(aes_key_wrap(view(k), view(p), pad))), r.at("C"));
        ++n;
      }
      for (const auto& r : read_records(base + "_AD_" + bits + ".txt")) {
        if (!r.has("K")) continue;
        SecureBytes k = r.bytes("K"), c = r.bytes("C");
        if (r.fail) {
          EXPECT_EQ(rv_of([&] { aes_key_unwrap(view(k), view(c), pad); }), CKR_WRAPPED_KEY_INVALID);
          ++rejected;
        } else {
          EXPECT_EQ(to_hex(view(aes_key_unwrap(view(k), view(c), pad))), r.at("P"));
        }
        ++n;
      }
    }
  }
  EXPECT_GT(n, 5000u);
  EXPECT_GT(rejected, 500u);
}
