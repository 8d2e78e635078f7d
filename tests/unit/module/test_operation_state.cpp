// Operation state and size arithmetic through the C ABI (issue 11's smaller items; PKCS#11 3.0 sections 5.2
// and 5.8-5.12): a PSS salt length near 2^64, a retry after CKR_BUFFER_TOO_SMALL with other input, multi-part
// calls after a single-part one, size queries for inputs of 2^64-1 bytes, and a store directory open to others.
#include "fixture.h"

#include "forked_child.h"
#include "platform/env.h"

#include <cstring>
#include <filesystem>
#include <limits>

namespace keyseal::test {
namespace {

constexpr CK_ULONG kHuge = std::numeric_limits<CK_ULONG>::max();  // 2^64-1 on Linux, 2^32-1 on Windows

std::vector<uint8_t> gcm_encrypt(CK_SESSION_HANDLE s, CK_MECHANISM m, CK_OBJECT_HANDLE key,
                                 const std::vector<uint8_t>& plain) {
  EXPECT_EQ(C_EncryptInit(s, &m, key), CKR_OK);
  std::vector<uint8_t> ct(plain.size() + 16);
  CK_ULONG n = ct.size();
  EXPECT_EQ(C_Encrypt(s, (CK_BYTE_PTR)plain.data(), plain.size(), ct.data(), &n), CKR_OK);
  ct.resize(n);
  return ct;
}

// RFC 8017 9.1.1 bounds sLen by emLen - hLen - 2. Values near 2^64 used to wrap that check and reach OpenSSL
// as -1/-2/-3 (digest length / maximum / auto-detect): a verifier asking for 2^64-2 accepted a salt of 0.
TEST_F(ModuleTest, PssSaltLengthIsCheckedAgainstKeyAndHash) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [pub, priv] = rsa_pair(s, false, "rsa");  // 2048 bits: emLen 256
  auto msg = bytes_of("message");
  CK_RSA_PKCS_PSS_PARAMS zero{CKM_SHA256, CKG_MGF1_SHA256, 0};
  CK_MECHANISM m0{CKM_SHA256_RSA_PKCS_PSS, &zero, sizeof zero};
  const auto sig = sign(s, m0, priv, msg);
  for (CK_ULONG slen : {kHuge, kHuge - 1, kHuge - 2, kHuge - 33, kHuge / 2 + 1, CK_ULONG{256 - 32 - 1}}) {
    CK_RSA_PKCS_PSS_PARAMS p{CKM_SHA256, CKG_MGF1_SHA256, slen};
    CK_MECHANISM m{CKM_SHA256_RSA_PKCS_PSS, &p, sizeof p};
    EXPECT_EQ(C_SignInit(s, &m, priv), CKR_MECHANISM_PARAM_INVALID) << slen;
    const CK_RV rv = C_VerifyInit(s, &m, pub);
    EXPECT_EQ(rv, CKR_MECHANISM_PARAM_INVALID) << slen;
    if (rv == CKR_OK)  // the attack: a salt of 0 accepted for a verifier that asked for another length
      EXPECT_NE(C_Verify(s, msg.data(), msg.size(), (CK_BYTE_PTR)sig.data(), sig.size()), CKR_OK) << slen;
  }
  // The largest salt the key and hash allow still works, and is checked.
  CK_RSA_PKCS_PSS_PARAMS max{CKM_SHA256, CKG_MGF1_SHA256, 256 - 32 - 2};
  CK_MECHANISM mm{CKM_SHA256_RSA_PKCS_PSS, &max, sizeof max};
  const auto sig_max = sign(s, mm, priv, msg);
  EXPECT_EQ(verify(s, mm, pub, msg, sig_max), CKR_OK);
  EXPECT_EQ(verify(s, m0, pub, msg, sig_max), CKR_SIGNATURE_INVALID);
}

// After CKR_BUFFER_TOO_SMALL the operation waits for the same call again. A retry with other input must not be
// answered with the first input's result: here a forged GCM ciphertext would have "decrypted" to the genuine
// plaintext. It ends the operation with CKR_ARGUMENTS_BAD.
TEST_F(ModuleTest, RetryAfterBufferTooSmallNeedsTheSameInput) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  CK_OBJECT_HANDLE key = aes_key(s, 32, false);
  std::vector<uint8_t> iv(12, 3);
  CK_GCM_PARAMS gcm{iv.data(), iv.size(), iv.size() * 8, nullptr, 0, 128};
  CK_MECHANISM m{CKM_AES_GCM, &gcm, sizeof gcm};
  const auto plain = bytes_of("the genuine plaintext, 32 bytes!");
  const auto ct = gcm_encrypt(s, m, key, plain);
  auto forged = ct;
  forged[0] ^= 0x80;

  ASSERT_EQ(C_DecryptInit(s, &m, key), CKR_OK);
  std::vector<uint8_t> out(256);
  CK_ULONG n = 4;
  ASSERT_EQ(C_Decrypt(s, (CK_BYTE_PTR)ct.data(), ct.size(), out.data(), &n), CKR_BUFFER_TOO_SMALL);
  n = out.size();
  EXPECT_EQ(C_Decrypt(s, forged.data(), forged.size(), out.data(), &n), CKR_ARGUMENTS_BAD);
  EXPECT_NE(std::vector<uint8_t>(out.begin(), out.begin() + plain.size()), plain);
  EXPECT_EQ(C_Decrypt(s, (CK_BYTE_PTR)ct.data(), ct.size(), out.data(), &n), CKR_OPERATION_NOT_INITIALIZED);

  // The same input again gets its result (also after a size query in between).
  ASSERT_EQ(C_DecryptInit(s, &m, key), CKR_OK);
  n = 4;
  ASSERT_EQ(C_Decrypt(s, (CK_BYTE_PTR)ct.data(), ct.size(), out.data(), &n), CKR_BUFFER_TOO_SMALL);
  ASSERT_EQ(C_Decrypt(s, (CK_BYTE_PTR)ct.data(), ct.size(), nullptr, &n), CKR_OK);
  n = out.size();
  ASSERT_EQ(C_Decrypt(s, (CK_BYTE_PTR)ct.data(), ct.size(), out.data(), &n), CKR_OK);
  EXPECT_EQ(std::vector<uint8_t>(out.begin(), out.begin() + n), plain);

  // The same for a signature, a digest and a multi-part encryption's update.
  auto [pub, priv] = ec_pair(s, false, "ec", kP256);
  CK_MECHANISM ecdsa{CKM_ECDSA_SHA256, nullptr, 0};
  const auto one = bytes_of("pay 10 to alice"), other = bytes_of("pay 9999 to mallory");
  ASSERT_EQ(C_SignInit(s, &ecdsa, priv), CKR_OK);
  n = 8;
  ASSERT_EQ(C_Sign(s, (CK_BYTE_PTR)one.data(), one.size(), out.data(), &n), CKR_BUFFER_TOO_SMALL);
  n = out.size();
  EXPECT_EQ(C_Sign(s, (CK_BYTE_PTR)other.data(), other.size(), out.data(), &n), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_Sign(s, (CK_BYTE_PTR)one.data(), one.size(), out.data(), &n), CKR_OPERATION_NOT_INITIALIZED);

  CK_MECHANISM sha{CKM_SHA256, nullptr, 0};
  ASSERT_EQ(C_DigestInit(s, &sha), CKR_OK);
  n = 8;
  ASSERT_EQ(C_Digest(s, (CK_BYTE_PTR)one.data(), one.size(), out.data(), &n), CKR_BUFFER_TOO_SMALL);
  n = out.size();
  EXPECT_EQ(C_Digest(s, (CK_BYTE_PTR)other.data(), other.size(), out.data(), &n), CKR_ARGUMENTS_BAD);

  CK_MECHANISM ecb{CKM_AES_ECB, nullptr, 0};
  std::vector<uint8_t> blocks_a(32, 0xaa), blocks_b(32, 0xbb);
  ASSERT_EQ(C_EncryptInit(s, &ecb, key), CKR_OK);
  n = 16;
  ASSERT_EQ(C_EncryptUpdate(s, blocks_a.data(), blocks_a.size(), out.data(), &n), CKR_BUFFER_TOO_SMALL);
  n = out.size();
  EXPECT_EQ(C_EncryptUpdate(s, blocks_b.data(), blocks_b.size(), out.data(), &n), CKR_ARGUMENTS_BAD);
  EXPECT_EQ(C_EncryptFinal(s, out.data(), &n), CKR_OPERATION_NOT_INITIALIZED);
}

// "C_Sign ... must be called after C_SignInit without intervening C_SignUpdate calls" (and its siblings): once
// a single-part call has been made (a size query or CKR_BUFFER_TOO_SMALL), an Update is refused with
// CKR_OPERATION_ACTIVE and the operation ends, as an Update followed by C_Sign already was.
TEST_F(ModuleTest, MultiPartAfterSinglePartIsRefused) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  auto [pub, priv] = rsa_pair(s, false, "rsa");
  CK_MECHANISM m{CKM_SHA256_RSA_PKCS, nullptr, 0};
  const auto msg = bytes_of("data");
  std::vector<uint8_t> out(512);
  CK_ULONG n = 0;

  ASSERT_EQ(C_SignInit(s, &m, priv), CKR_OK);
  ASSERT_EQ(C_Sign(s, (CK_BYTE_PTR)msg.data(), msg.size(), nullptr, &n), CKR_OK);  // size query
  EXPECT_EQ(C_SignUpdate(s, (CK_BYTE_PTR)msg.data(), msg.size()), CKR_OPERATION_ACTIVE);
  EXPECT_EQ(C_Sign(s, (CK_BYTE_PTR)msg.data(), msg.size(), nullptr, &n), CKR_OPERATION_NOT_INITIALIZED);

  ASSERT_EQ(C_SignInit(s, &m, priv), CKR_OK);
  n = 8;
  ASSERT_EQ(C_Sign(s, (CK_BYTE_PTR)msg.data(), msg.size(), out.data(), &n), CKR_BUFFER_TOO_SMALL);
  EXPECT_EQ(C_SignUpdate(s, (CK_BYTE_PTR)msg.data(), msg.size()), CKR_OPERATION_ACTIVE);
  EXPECT_EQ(C_SignFinal(s, nullptr, &n), CKR_OPERATION_NOT_INITIALIZED);

  // A size query then C_SignFinal would sign empty data: refused too.
  ASSERT_EQ(C_SignInit(s, &m, priv), CKR_OK);
  ASSERT_EQ(C_Sign(s, (CK_BYTE_PTR)msg.data(), msg.size(), nullptr, &n), CKR_OK);
  n = out.size();
  EXPECT_EQ(C_SignFinal(s, out.data(), &n), CKR_OPERATION_ACTIVE);
  // Collecting a too-small C_Sign's result with C_SignFinal stays possible.
  ASSERT_EQ(C_SignInit(s, &m, priv), CKR_OK);
  n = 8;
  ASSERT_EQ(C_Sign(s, (CK_BYTE_PTR)msg.data(), msg.size(), out.data(), &n), CKR_BUFFER_TOO_SMALL);
  n = out.size();
  ASSERT_EQ(C_SignFinal(s, out.data(), &n), CKR_OK);
  EXPECT_EQ(verify(s, m, pub, msg, std::vector<uint8_t>(out.begin(), out.begin() + n)), CKR_OK);

  ASSERT_EQ(C_VerifyInit(s, &m, pub), CKR_OK);
  ASSERT_EQ(C_VerifyUpdate(s, (CK_BYTE_PTR)msg.data(), msg.size()), CKR_OK);
  EXPECT_EQ(C_Verify(s, (CK_BYTE_PTR)msg.data(), msg.size(), out.data(), 256), CKR_OPERATION_ACTIVE);

  CK_OBJECT_HANDLE key = aes_key(s, 16, false);
  std::vector<uint8_t> iv(16, 1), block(16, 2);
  CK_MECHANISM cbc{CKM_AES_CBC_PAD, iv.data(), iv.size()};
  for (bool enc : {true, false}) {
    ASSERT_EQ(enc ? C_EncryptInit(s, &cbc, key) : C_DecryptInit(s, &cbc, key), CKR_OK);
    auto single = enc ? C_Encrypt : C_Decrypt;
    auto update = enc ? C_EncryptUpdate : C_DecryptUpdate;
    ASSERT_EQ(single(s, block.data(), block.size(), nullptr, &n), CKR_OK);
    n = out.size();
    EXPECT_EQ(update(s, block.data(), block.size(), out.data(), &n), CKR_OPERATION_ACTIVE) << enc;
    EXPECT_EQ(single(s, block.data(), block.size(), nullptr, &n), CKR_OPERATION_NOT_INITIALIZED) << enc;
  }

  CK_MECHANISM sha{CKM_SHA256, nullptr, 0};
  ASSERT_EQ(C_DigestInit(s, &sha), CKR_OK);
  ASSERT_EQ(C_Digest(s, (CK_BYTE_PTR)msg.data(), msg.size(), nullptr, &n), CKR_OK);
  EXPECT_EQ(C_DigestUpdate(s, (CK_BYTE_PTR)msg.data(), msg.size()), CKR_OPERATION_ACTIVE);
  ASSERT_EQ(C_DigestInit(s, &sha), CKR_OK);
  ASSERT_EQ(C_Digest(s, (CK_BYTE_PTR)msg.data(), msg.size(), nullptr, &n), CKR_OK);
  EXPECT_EQ(C_DigestKey(s, key), CKR_OPERATION_ACTIVE);
}

// A size query for 2^64-1 input bytes used to add the tag or padding block and wrap to a tiny length (GCM: 15).
// The data pointer is never read for a size query; the length alone is refused.
TEST_F(ModuleTest, SizeQueriesForHugeInputsDoNotWrap) {
  CK_SESSION_HANDLE s = open();
  login_user(s);
  CK_OBJECT_HANDLE key = aes_key(s, 32, false);
  std::vector<uint8_t> iv(16, 9), data(16);
  CK_GCM_PARAMS gcm{iv.data(), 12, 96, nullptr, 0, 128};
  const CK_MECHANISM mechs[] = {{CKM_AES_GCM, &gcm, sizeof gcm},
                                {CKM_AES_CBC_PAD, iv.data(), 16},
                                {CKM_AES_KEY_WRAP_PAD, nullptr, 0},
                                {CKM_AES_CTR, nullptr, 0}};
  CK_AES_CTR_PARAMS ctr{};
  ctr.counter_bits = 128;
  for (CK_MECHANISM m : mechs) {
    if (m.mechanism == CKM_AES_CTR) m = {CKM_AES_CTR, &ctr, sizeof ctr};
    // kHuge / 2 is a length whose result no size can hold only with a 64-bit CK_ULONG (on Windows, 2^31 bytes
    // is a legitimate, answerable size): it stands in for kHuge - 15 there.
    for (CK_ULONG len : {kHuge, kHuge - 15, sizeof(CK_ULONG) == 8 ? kHuge / 2 : kHuge - 15}) {
      ASSERT_EQ(C_EncryptInit(s, &m, key), CKR_OK);
      CK_ULONG n = 0;
      EXPECT_EQ(C_Encrypt(s, data.data(), len, nullptr, &n), CKR_DATA_LEN_RANGE)
          << m.mechanism << " " << len << " " << n;
      // The failed query ended the operation (section 5.8: only CKR_OK size queries and CKR_BUFFER_TOO_SMALL
      // leave it active).
      EXPECT_EQ(C_Encrypt(s, data.data(), 16, nullptr, &n), CKR_OPERATION_NOT_INITIALIZED);
      ASSERT_EQ(C_DecryptInit(s, &m, key), CKR_OK);
      EXPECT_EQ(C_Decrypt(s, data.data(), len, nullptr, &n), CKR_ENCRYPTED_DATA_LEN_RANGE) << m.mechanism << " " << len;
      C_DecryptInit(s, nullptr, key);  // ends it, if it is still active
      if (m.mechanism == CKM_AES_KEY_WRAP_PAD) continue;  // single-part only
      ASSERT_EQ(C_EncryptInit(s, &m, key), CKR_OK);
      n = 0;
      EXPECT_EQ(C_EncryptUpdate(s, data.data(), len, nullptr, &n), CKR_DATA_LEN_RANGE) << m.mechanism << " " << len;
      C_EncryptInit(s, nullptr, key);
    }
  }
}

// A store directory others can write to is reported (with KEYSEAL_LOG=warn), naming it and its mode; the
// module still opens its tokens and leaves the mode alone. The statement runs in a fresh process (a death test
// in the threadsafe style re-runs this test there), where KEYSEAL_LOG is read anew.
TEST_F(ModuleTest, StoreDirectoryOpenToOthersIsReported) {
  if (!posix_file_modes()) GTEST_SKIP() << "no POSIX modes here (Windows: the profile folder's ACL guards the store)";
  const std::string store = dir_ + "/store";
  namespace fs = std::filesystem;
  fs::permissions(store, fs::perms::all);
  ::testing::FLAGS_gtest_death_test_style = "threadsafe";
  platform::set_env("KEYSEAL_LOG", "warn");
  EXPECT_EXIT(
      {
        C_Finalize(nullptr);
        const CK_RV rv = C_Initialize(nullptr);
        CK_ULONG count = 0;
        const CK_RV rv2 = C_GetSlotList(CK_TRUE, nullptr, &count);
        std::fflush(stderr);
        std::_Exit(rv == CKR_OK && rv2 == CKR_OK && count >= 1 ? 0 : 1);
      },
      ::testing::ExitedWithCode(0), "warn: token store [^ ]*/store has mode 0777: other users can");
  platform::unset_env("KEYSEAL_LOG");
  EXPECT_EQ(fs::status(store).permissions() & fs::perms::mask, fs::perms::all);  // reported, not changed
}

}  // namespace
}  // namespace keyseal::test
