// AES mechanisms (PKCS#11 3.0 current mechanisms section 2.14, encryption 5.8/5.9, key wrap 5.14): NIST CAVP
// known answers for ECB, CBC, GCM, RFC 3686 CTR and SP 800-38F key wrap; CBC_PAD against OpenSSL; key sizes.
#include "harness.h"
#include "keys.h"
#include "ops.h"
#include "vectors.h"

#include <openssl/evp.h>

#include <functional>

namespace keyseal::conformance {
namespace {

class Aes : public P11Test {
 protected:
  // True when the module's AES key size range (bytes) includes len.
  bool size_ok(CK_MECHANISM_TYPE m, size_t len) {
    auto info = mechanism_info(m);
    return info && len >= info->ulMinKeySize && len <= info->ulMaxKeySize;
  }
  CK_OBJECT_HANDLE key(const Bytes& value, const Template& extra = {}) {
    auto k = import_secret(session_, CKK_AES, value, extra);
    EXPECT_OK(k.rv) << "importing a " << value.size() << "-byte AES key";
    return k.h;
  }
  CK_RV unwrap_kw(const Bytes& kek, const Bytes& wrapped, CK_OBJECT_HANDLE* h) {
    auto wk = key(kek);
    Mech m(CKM_AES_KEY_WRAP);
    Template t;
    t.add_ulong(CKA_CLASS, CKO_SECRET_KEY).add_ulong(CKA_KEY_TYPE, CKK_AES).add(CKA_TOKEN, false);
    t.add(CKA_EXTRACTABLE, true).add(CKA_SENSITIVE, false).add(CKA_ENCRYPT, true);
    return p11()->C_UnwrapKey(session_, m.ptr(), wk, const_cast<CK_BYTE_PTR>(wrapped.data()), wrapped.size(), t.data(),
                              t.size(), h);
  }
  // Runs the ENCRYPT and DECRYPT records of a CAVP file through the mechanism; returns how many ran.
  int run_block_kat(CK_MECHANISM_TYPE mech, const std::string& file, bool with_iv) {
    int n = 0;
    for (auto& r : read_vectors(file)) {
      if (!r.has("KEY") || !size_ok(mech, r.bytes("KEY").size())) continue;
      auto k = key(r.bytes("KEY"));
      Mech m = with_iv ? Mech(mech, r.bytes("IV")) : Mech(mech);
      Bytes pt = r.bytes("PLAINTEXT"), ct = r.bytes("CIPHERTEXT"), out;
      if (r.section == "ENCRYPT") {
        EXPECT_OK(encrypt(session_, m, k, pt, out)) << file << " COUNT " << r.number("COUNT");
        EXPECT_EQ(hex(out), hex(ct)) << file << " COUNT " << r.number("COUNT");
        EXPECT_OK(encrypt_parts(session_, m, k, pt, 16, out)) << file << " multi-part";
        EXPECT_EQ(hex(out), hex(ct)) << file << " multi-part COUNT " << r.number("COUNT");
      } else {
        EXPECT_OK(decrypt(session_, m, k, ct, out)) << file << " COUNT " << r.number("COUNT");
        EXPECT_EQ(hex(out), hex(pt)) << file << " COUNT " << r.number("COUNT");
      }
      p11()->C_DestroyObject(session_, k);
      ++n;
    }
    return n;
  }
};

TEST_F(Aes, EcbKnownAnswers) {
  REQUIRE_MECHANISM(CKM_AES_ECB, CKF_ENCRYPT | CKF_DECRYPT);
  int n = 0;
  for (auto f : {"ECBMMT128.rsp", "ECBMMT192.rsp", "ECBMMT256.rsp", "ECBGFSbox128.rsp", "ECBVarKey256.rsp"})
    n += run_block_kat(CKM_AES_ECB, std::string("ciphers/AES/ECB/") + f, false);
  EXPECT_GT(n, 0) << "no vector matched the module's AES key sizes";
}

TEST_F(Aes, CbcKnownAnswers) {
  REQUIRE_MECHANISM(CKM_AES_CBC, CKF_ENCRYPT | CKF_DECRYPT);
  int n = 0;
  for (auto f : {"CBCMMT128.rsp", "CBCMMT192.rsp", "CBCMMT256.rsp", "CBCGFSbox256.rsp"})
    n += run_block_kat(CKM_AES_CBC, std::string("ciphers/AES/CBC/") + f, true);
  EXPECT_GT(n, 0);
}

TEST_F(Aes, CtrKnownAnswers) {
  REQUIRE_MECHANISM(CKM_AES_CTR, CKF_ENCRYPT | CKF_DECRYPT);
  int n = 0;
  for (auto f : {"aes-128-ctr.txt", "aes-192-ctr.txt", "aes-256-ctr.txt"}) {
    for (auto& r : read_vectors(std::string("ciphers/AES/CTR/") + f)) {
      if (!size_ok(CKM_AES_CTR, r.bytes("KEY").size())) continue;
      auto k = key(r.bytes("KEY"));
      CK_AES_CTR_PARAMS p{};
      p.counter_bits = 32;  // RFC 3686: nonce(4) || IV(8) || 32-bit block counter
      auto iv = r.bytes("IV");
      std::memcpy(p.cb, iv.data(), 16);
      Bytes out;
      EXPECT_OK(encrypt(session_, Mech(CKM_AES_CTR, p), k, r.bytes("PLAINTEXT"), out)) << f << " " << r.number("COUNT");
      EXPECT_EQ(hex(out), hex(r.bytes("CIPHERTEXT"))) << f << " COUNT " << r.number("COUNT");
      EXPECT_OK(decrypt_parts(session_, Mech(CKM_AES_CTR, p), k, r.bytes("CIPHERTEXT"), 5, out));
      EXPECT_EQ(hex(out), hex(r.bytes("PLAINTEXT"))) << f << " multi-part decrypt COUNT " << r.number("COUNT");
      ++n;
    }
  }
  EXPECT_GT(n, 0);
}

Mech gcm(Bytes& iv, Bytes& aad, CK_ULONG tag_bits) {
  CK_GCM_PARAMS p{};
  p.iv_ptr = iv.data();
  p.iv_len = iv.size();
  p.iv_bits = iv.size() * 8;
  p.aad_ptr = aad.empty() ? nullptr : aad.data();
  p.aad_len = aad.size();
  p.tag_bits = tag_bits;
  return Mech(CKM_AES_GCM, p);
}

// Runs a sample of the CAVP GCM records (96-bit IVs, all tag lengths): either the authenticating ones or the
// ones marked FAIL (tag mismatch). Returns how many ran.
int run_gcm(CK_SESSION_HANDLE s, bool failing, const std::function<bool(size_t)>& size_ok) {
  int n = 0;
  for (auto f : {"gcmEncryptExtIV128.rsp", "gcmEncryptExtIV256.rsp", "gcmDecrypt128.rsp", "gcmDecrypt256.rsp"}) {
    int i = 0;
    for (auto& r : read_vectors(std::string("ciphers/AES/GCM/") + f)) {
      if (r.headers["IVlen"] != "96" || r.has("FAIL") != failing) continue;
      if ((i++ % (failing ? 7 : 29)) != 0 || !size_ok(r.bytes("Key").size())) continue;  // a sample across lengths
      auto k = import_secret(s, CKK_AES, r.bytes("Key"));
      EXPECT_OK(k.rv);
      Bytes iv = r.bytes("IV"), aad = r.bytes("AAD"), pt = r.bytes("PT"), ct = r.bytes("CT"), tag = r.bytes("Tag");
      CK_ULONG tag_len = tag.size() * 8;
      Bytes ct_tag = ct;
      ct_tag.insert(ct_tag.end(), tag.begin(), tag.end());
      Bytes out;
      std::string where = std::string(f) + " Count " + std::to_string(r.number("Count"));
      if (failing) {
        EXPECT_CKR(CKR_ENCRYPTED_DATA_INVALID, decrypt(s, gcm(iv, aad, tag_len), k.h, ct_tag, out)) << where;
      } else {
        EXPECT_OK(encrypt(s, gcm(iv, aad, tag_len), k.h, pt, out)) << where;
        EXPECT_EQ(hex(out), hex(ct_tag)) << where;
        EXPECT_OK(decrypt(s, gcm(iv, aad, tag_len), k.h, ct_tag, out)) << where;
        EXPECT_EQ(hex(out), hex(pt)) << where;
      }
      p11()->C_DestroyObject(s, k.h);
      ++n;
      if (testing::Test::HasFailure()) return n;  // one failing record says enough
    }
  }
  return n;
}

TEST_F(Aes, GcmKnownAnswers) {
  REQUIRE_MECHANISM(CKM_AES_GCM, CKF_ENCRYPT | CKF_DECRYPT);
  EXPECT_GT(run_gcm(session_, false, [&](size_t l) { return size_ok(CKM_AES_GCM, l); }), 0);
}

TEST_F(Aes, GcmTagMismatchIsEncryptedDataInvalid) {
  REQUIRE_MECHANISM(CKM_AES_GCM, CKF_DECRYPT);
  EXPECT_GT(run_gcm(session_, true, [&](size_t l) { return size_ok(CKM_AES_GCM, l); }), 0);
}

TEST_F(Aes, CbcPadMatchesOpenSsl) {
  REQUIRE_MECHANISM(CKM_AES_CBC_PAD, CKF_ENCRYPT | CKF_DECRYPT);
  Bytes value(size_ok(CKM_AES_CBC_PAD, 32) ? 32 : 16, 0x42), iv(16, 0x24);
  auto k = key(value);
  for (size_t len : {0, 1, 15, 16, 17, 100}) {
    Bytes pt(len);
    for (size_t i = 0; i < len; ++i) pt[i] = uint8_t(i);
    Bytes expect(len + 32);
    int l1 = 0, l2 = 0;
    auto* ctx = EVP_CIPHER_CTX_new();
    EVP_EncryptInit_ex(ctx, value.size() == 32 ? EVP_aes_256_cbc() : EVP_aes_128_cbc(), nullptr, value.data(), iv.data());
    EVP_EncryptUpdate(ctx, expect.data(), &l1, pt.data(), (int)pt.size());
    EVP_EncryptFinal_ex(ctx, expect.data() + l1, &l2);
    EVP_CIPHER_CTX_free(ctx);
    expect.resize(l1 + l2);
    Bytes out;
    ASSERT_OK(encrypt(session_, Mech(CKM_AES_CBC_PAD, iv), k, pt, out)) << len;
    EXPECT_EQ(hex(out), hex(expect)) << "plaintext length " << len;
    Bytes back;
    ASSERT_OK(decrypt(session_, Mech(CKM_AES_CBC_PAD, iv), k, out, back)) << len;
    EXPECT_EQ(back, pt);
    ASSERT_OK(decrypt_parts(session_, Mech(CKM_AES_CBC_PAD, iv), k, out, 7, back)) << len;
    EXPECT_EQ(back, pt) << "multi-part, length " << len;
    ASSERT_OK(encrypt_parts(session_, Mech(CKM_AES_CBC_PAD, iv), k, pt, 5, back)) << len;
    EXPECT_EQ(hex(back), hex(expect)) << "multi-part, length " << len;
  }
}

TEST_F(Aes, EncryptIntoLargerBufferReturnsTrueLength) {
  REQUIRE_MECHANISM(CKM_AES_CBC_PAD, CKF_ENCRYPT | CKF_DECRYPT);
  auto k = key(Bytes(size_ok(CKM_AES_CBC_PAD, 16) ? 16 : 32, 0x61));
  Bytes iv(16, 2), pt(20, 0x33), out(256);
  Mech m(CKM_AES_CBC_PAD, iv);
  ASSERT_OK(p11()->C_EncryptInit(session_, m.ptr(), k));
  CK_ULONG len = out.size();
  ASSERT_OK(p11()->C_Encrypt(session_, pt.data(), pt.size(), out.data(), &len));
  EXPECT_EQ(len, 32u) << "section 5.2: the returned length is the true output length";
  Bytes ct(out.begin(), out.begin() + std::min<size_t>(len, out.size())), back(256);
  ASSERT_OK(p11()->C_DecryptInit(session_, m.ptr(), k));
  CK_ULONG blen = back.size();
  ASSERT_OK(p11()->C_Decrypt(session_, ct.data(), ct.size(), back.data(), &blen));
  EXPECT_EQ(blen, pt.size());
}

TEST_F(Aes, KeyGenerationSizes) {
  REQUIRE_MECHANISM(CKM_AES_KEY_GEN, CKF_GENERATE);
  auto info = *mechanism_info(CKM_AES_KEY_GEN);
  int n = 0;
  for (CK_ULONG len : {16, 24, 32}) {
    if (len < info.ulMinKeySize || len > info.ulMaxKeySize) continue;
    auto k = generate_aes(session_, len, Template().add(CKA_SENSITIVE, false));
    ASSERT_OK(k.rv) << len << " bytes lies in the advertised range";
    EXPECT_EQ(get_ulong(session_, k.h, CKA_VALUE_LEN), len);
    EXPECT_EQ(get_attr(session_, k.h, CKA_VALUE).size(), len);
    ++n;
  }
  EXPECT_GT(n, 0) << "AES key size range [" << info.ulMinKeySize << "," << info.ulMaxKeySize
                  << "] (bytes) holds no AES key size";
  auto bad = generate_aes(session_, 20);
  // C_GenerateKey's return values (3.0 section 5.18.2) do not include CKR_KEY_SIZE_RANGE; see
  // Rsa.KeyGenerationBelowMinimumIsRefused.
  EXPECT_CKR_IN(({CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT}), bad.rv);
  CK_MECHANISM mech{CKM_AES_KEY_GEN, nullptr, 0};
  Template no_len;
  no_len.add(CKA_TOKEN, false);
  CK_OBJECT_HANDLE h;
  EXPECT_CKR(CKR_TEMPLATE_INCOMPLETE, p11()->C_GenerateKey(session_, &mech, no_len.data(), no_len.size(), &h));
}

TEST_F(Aes, KeyUnwrapIntegrityFailureIsWrappedKeyInvalid) {
  REQUIRE_MECHANISM(CKM_AES_KEY_WRAP, CKF_UNWRAP);
  int n = 0;
  for (auto& r : read_vectors("keywrap/kwtestvectors/KW_AD_128.txt")) {
    if (!r.has("FAIL") || r.bytes("C").size() != 24 || !size_ok(CKM_AES_KEY_WRAP, r.bytes("K").size())) continue;
    CK_OBJECT_HANDLE h;
    EXPECT_CKR(CKR_WRAPPED_KEY_INVALID, unwrap_kw(r.bytes("K"), r.bytes("C"), &h)) << "COUNT " << r.number("COUNT");
    if (++n >= 5 || HasFailure()) break;
  }
  EXPECT_GT(n, 0);
}

TEST_F(Aes, KeyWrapKnownAnswers) {
  REQUIRE_MECHANISM(CKM_AES_KEY_WRAP, CKF_WRAP | CKF_UNWRAP);
  int n = 0;
  for (auto f : {"KW_AE_128.txt", "KW_AE_256.txt"}) {
    for (auto& r : read_vectors(std::string("keywrap/kwtestvectors/") + f)) {
      Bytes kek = r.bytes("K"), p = r.bytes("P"), c = r.bytes("C");
      if (p.size() != 16 && p.size() != 32) continue;  // wrap AES keys only
      if (!size_ok(CKM_AES_KEY_WRAP, kek.size()) || n > 20) continue;
      auto wk = key(kek);
      auto target = import_secret(session_, CKK_AES, p, Template().add(CKA_EXTRACTABLE, true));
      ASSERT_OK(target.rv);
      Mech m(CKM_AES_KEY_WRAP);
      CK_ULONG len = 0;
      ASSERT_OK(p11()->C_WrapKey(session_, m.ptr(), wk, target.h, nullptr, &len));
      Bytes out(len);
      ASSERT_OK(p11()->C_WrapKey(session_, m.ptr(), wk, target.h, out.data(), &len));
      out.resize(len);
      EXPECT_EQ(hex(out), hex(c)) << f << " COUNT " << r.number("COUNT");
      ++n;
    }
  }
  for (auto& r : read_vectors("keywrap/kwtestvectors/KW_AD_128.txt")) {
    if (r.has("FAIL") || r.bytes("C").size() != 24 || !size_ok(CKM_AES_KEY_WRAP, r.bytes("K").size())) continue;
    CK_OBJECT_HANDLE h;
    CK_RV rv = unwrap_kw(r.bytes("K"), r.bytes("C"), &h);
    EXPECT_OK(rv) << "KW_AD_128 COUNT " << r.number("COUNT");
    if (rv == CKR_OK) {
      EXPECT_EQ(hex(get_attr(session_, h, CKA_VALUE)), hex(r.bytes("P")));
    }
    if (++n > 30) break;
  }
  EXPECT_GT(n, 0);
}

}  // namespace
}  // namespace keyseal::conformance
