// RSA mechanisms (PKCS#11 3.0 current mechanisms section 2.1; sign/verify 5.12/5.13, encrypt/decrypt 5.8/5.9):
// round trips, OpenSSL cross-checks, PKCS #1 v1.5 and OAEP-with-label known answers, key generation sizes.
#include "harness.h"
#include "keys.h"
#include "ops.h"
#include "ossl.h"
#include "vectors.h"

#include <fstream>
#include <sstream>

namespace keyseal::conformance {
namespace {

enum class Pad { Pkcs1, Pss, Raw };

struct SigCase {
  CK_MECHANISM_TYPE mech;
  const char* name;
  Pad pad;
  CK_MECHANISM_TYPE digest;  // the digest the mechanism applies, or the one the caller pre-applies
  bool hashes;               // the mechanism hashes the data itself
  friend void PrintTo(const SigCase& c, std::ostream* os) { *os << c.name; }
};

Mech sig_mech(const SigCase& c) {
  if (c.pad == Pad::Pss) return pss(c.mech, c.digest, digest_len(c.digest));
  return Mech(c.mech);
}

// The bytes handed to C_Sign: the message for hashing mechanisms, else what the raw mechanism expects.
Bytes sig_input(const SigCase& c, const Bytes& msg) {
  if (c.hashes) return msg;
  Bytes h = ossl::digest(c.digest, msg);
  if (c.pad == Pad::Pkcs1) {
    Bytes di = digest_info_prefix(c.digest);
    di.insert(di.end(), h.begin(), h.end());
    return di;
  }
  return h;
}

class RsaSign : public P11Test, public testing::WithParamInterface<SigCase> {
 protected:
  void SetUp() override {
    P11Test::SetUp();
    if (HasFatalFailure()) return;
    REQUIRE_MECHANISM(GetParam().mech, CKF_SIGN | CKF_VERIFY);
    REQUIRE_MECHANISM(CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
    kp_ = rsa_key_pair();
    ASSERT_OK(kp_.rv) << "generating the shared RSA key pair";
    s_ = session_;
    n_ = get_attr(s_, kp_.pub, CKA_MODULUS);
    e_ = get_attr(s_, kp_.pub, CKA_PUBLIC_EXPONENT);
  }
  bool openssl_accepts(const SigCase& c, const Bytes& input, const Bytes& sig, std::string* err) {
    if (c.pad == Pad::Raw) return ossl::rsa_verify(n_, e_, "none", 0, 0, 0, input, sig, true, err);
    bool prehashed = !c.hashes;
    Bytes data = prehashed ? ossl::digest(c.digest, input) : input;
    if (c.pad == Pad::Pkcs1 && prehashed) data = Bytes(input.end() - digest_len(c.digest), input.end());
    if (c.pad == Pad::Pss && prehashed) data = input;
    return ossl::rsa_verify(n_, e_, c.pad == Pad::Pss ? "pss" : "pkcs1", c.digest, c.digest,
                            (int)digest_len(c.digest), data, sig, prehashed, err);
  }
  KeyPair kp_;
  CK_SESSION_HANDLE s_ = CK_INVALID_HANDLE;
  Bytes n_, e_;
};

TEST_P(RsaSign, SignVerifyAndOpenSslCrossCheck) {
  auto c = GetParam();
  Bytes msg = to_bytes("keyseal conformance: the quick brown fox");
  Bytes input = c.pad == Pad::Raw ? Bytes(n_.size() - 1, 0x11) : sig_input(c, msg);
  if (c.pad == Pad::Raw) input[0] = 0x01;
  Bytes sig;
  ASSERT_OK(sign(s_, sig_mech(c), kp_.priv, input, sig));
  EXPECT_EQ(sig.size(), n_.size()) << "an RSA signature is as long as the modulus";
  EXPECT_OK(verify(s_, sig_mech(c), kp_.pub, input, sig));
  std::string err;
  EXPECT_TRUE(openssl_accepts(c, input, sig, &err)) << err;
  Bytes tampered = input;
  tampered.back() ^= 1;
  EXPECT_CKR(CKR_SIGNATURE_INVALID, verify(s_, sig_mech(c), kp_.pub, tampered, sig));
  Bytes bad_sig = sig;
  bad_sig[bad_sig.size() / 2] ^= 0x40;
  EXPECT_CKR(CKR_SIGNATURE_INVALID, verify(s_, sig_mech(c), kp_.pub, input, bad_sig));
}

TEST_P(RsaSign, SignatureLengthRange) {
  auto c = GetParam();
  Bytes input = c.pad == Pad::Raw ? Bytes(n_.size() - 1, 0x11) : sig_input(c, to_bytes("length"));
  Bytes sig;
  ASSERT_OK(sign(s_, sig_mech(c), kp_.priv, input, sig));
  sig.pop_back();
  EXPECT_CKR(CKR_SIGNATURE_LEN_RANGE, verify(s_, sig_mech(c), kp_.pub, input, sig));
}

class RsaSignMultiPart : public RsaSign {};

TEST_P(RsaSignMultiPart, MatchesSinglePartAndOpenSsl) {
  auto c = GetParam();
  Bytes msg(300);
  for (size_t i = 0; i < msg.size(); ++i) msg[i] = uint8_t(i);
  Bytes sig_parts, sig_one;
  ASSERT_OK(sign_parts(s_, sig_mech(c), kp_.priv, msg, 64, sig_parts));
  EXPECT_OK(verify(s_, sig_mech(c), kp_.pub, msg, sig_parts));
  EXPECT_OK(verify_parts(s_, sig_mech(c), kp_.pub, msg, 100, sig_parts));
  if (c.pad == Pad::Pkcs1) {
    ASSERT_OK(sign(s_, sig_mech(c), kp_.priv, msg, sig_one));
    EXPECT_EQ(sig_one, sig_parts) << "PKCS #1 v1.5 is deterministic";
  }
  std::string err;
  EXPECT_TRUE(openssl_accepts(c, msg, sig_parts, &err)) << err;
}

INSTANTIATE_TEST_SUITE_P(
    Mechanisms, RsaSign,
    testing::Values(SigCase{CKM_RSA_PKCS, "RSA_PKCS", Pad::Pkcs1, CKM_SHA256, false},
                    SigCase{CKM_SHA1_RSA_PKCS, "SHA1_RSA_PKCS", Pad::Pkcs1, CKM_SHA_1, true},
                    SigCase{CKM_SHA224_RSA_PKCS, "SHA224_RSA_PKCS", Pad::Pkcs1, CKM_SHA224, true},
                    SigCase{CKM_SHA256_RSA_PKCS, "SHA256_RSA_PKCS", Pad::Pkcs1, CKM_SHA256, true},
                    SigCase{CKM_SHA384_RSA_PKCS, "SHA384_RSA_PKCS", Pad::Pkcs1, CKM_SHA384, true},
                    SigCase{CKM_SHA512_RSA_PKCS, "SHA512_RSA_PKCS", Pad::Pkcs1, CKM_SHA512, true},
                    SigCase{CKM_RSA_PKCS_PSS, "RSA_PKCS_PSS", Pad::Pss, CKM_SHA256, false},
                    SigCase{CKM_SHA1_RSA_PKCS_PSS, "SHA1_RSA_PKCS_PSS", Pad::Pss, CKM_SHA_1, true},
                    SigCase{CKM_SHA224_RSA_PKCS_PSS, "SHA224_RSA_PKCS_PSS", Pad::Pss, CKM_SHA224, true},
                    SigCase{CKM_SHA256_RSA_PKCS_PSS, "SHA256_RSA_PKCS_PSS", Pad::Pss, CKM_SHA256, true},
                    SigCase{CKM_SHA384_RSA_PKCS_PSS, "SHA384_RSA_PKCS_PSS", Pad::Pss, CKM_SHA384, true},
                    SigCase{CKM_SHA512_RSA_PKCS_PSS, "SHA512_RSA_PKCS_PSS", Pad::Pss, CKM_SHA512, true},
                    SigCase{CKM_RSA_X_509, "RSA_X_509", Pad::Raw, 0, false}),
    [](const auto& info) { return std::string(info.param.name); });

INSTANTIATE_TEST_SUITE_P(
    Mechanisms, RsaSignMultiPart,
    testing::Values(SigCase{CKM_SHA1_RSA_PKCS, "SHA1_RSA_PKCS", Pad::Pkcs1, CKM_SHA_1, true},
                    SigCase{CKM_SHA224_RSA_PKCS, "SHA224_RSA_PKCS", Pad::Pkcs1, CKM_SHA224, true},
                    SigCase{CKM_SHA256_RSA_PKCS, "SHA256_RSA_PKCS", Pad::Pkcs1, CKM_SHA256, true},
                    SigCase{CKM_SHA384_RSA_PKCS, "SHA384_RSA_PKCS", Pad::Pkcs1, CKM_SHA384, true},
                    SigCase{CKM_SHA512_RSA_PKCS, "SHA512_RSA_PKCS", Pad::Pkcs1, CKM_SHA512, true},
                    SigCase{CKM_SHA1_RSA_PKCS_PSS, "SHA1_RSA_PKCS_PSS", Pad::Pss, CKM_SHA_1, true},
                    SigCase{CKM_SHA224_RSA_PKCS_PSS, "SHA224_RSA_PKCS_PSS", Pad::Pss, CKM_SHA224, true},
                    SigCase{CKM_SHA256_RSA_PKCS_PSS, "SHA256_RSA_PKCS_PSS", Pad::Pss, CKM_SHA256, true},
                    SigCase{CKM_SHA384_RSA_PKCS_PSS, "SHA384_RSA_PKCS_PSS", Pad::Pss, CKM_SHA384, true},
                    SigCase{CKM_SHA512_RSA_PKCS_PSS, "SHA512_RSA_PKCS_PSS", Pad::Pss, CKM_SHA512, true}),
    [](const auto& info) { return std::string(info.param.name); });

class Rsa : public P11Test {
 protected:
  void SetUp() override {
    P11Test::SetUp();
    if (HasFatalFailure()) return;
    REQUIRE_MECHANISM(CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR);
    kp_ = rsa_key_pair();
    ASSERT_OK(kp_.rv);
    s_ = session_;
    n_ = get_attr(s_, kp_.pub, CKA_MODULUS);
    e_ = get_attr(s_, kp_.pub, CKA_PUBLIC_EXPONENT);
  }
  CK_OBJECT_HANDLE import_private(const std::vector<std::pair<CK_ATTRIBUTE_TYPE, Bytes>>& parts) {
    Template t;
    t.add_ulong(CKA_CLASS, CKO_PRIVATE_KEY).add_ulong(CKA_KEY_TYPE, CKK_RSA).add(CKA_TOKEN, false);
    t.add(CKA_PRIVATE, true).add(CKA_SENSITIVE, true).add(CKA_SIGN, true).add(CKA_DECRYPT, true);
    for (auto& [type, v] : parts) t.add(type, v);
    CK_OBJECT_HANDLE h = CK_INVALID_HANDLE;
    EXPECT_OK(p11()->C_CreateObject(session_, t.data(), t.size(), &h));
    return h;
  }
  KeyPair kp_;
  CK_SESSION_HANDLE s_ = CK_INVALID_HANDLE;
  Bytes n_, e_;
};

TEST_F(Rsa, PkcsDecryptOpenSslCiphertext) {
  REQUIRE_MECHANISM(CKM_RSA_PKCS, CKF_DECRYPT);
  Bytes pt = to_bytes("a secret for RSA PKCS #1 v1.5"), out;
  std::string err;
  Bytes ct = ossl::rsa_encrypt(n_, e_, "pkcs1", 0, 0, {}, pt, &err);
  ASSERT_FALSE(ct.empty()) << err;
  ASSERT_OK(decrypt(s_, Mech(CKM_RSA_PKCS), kp_.priv, ct, out));
  EXPECT_EQ(out, pt);
}

TEST_F(Rsa, PkcsEncryptDecryptRoundTrip) {
  REQUIRE_MECHANISM(CKM_RSA_PKCS, CKF_ENCRYPT | CKF_DECRYPT);
  Bytes pt = to_bytes("round trip"), ct, out;
  ASSERT_OK(encrypt(s_, Mech(CKM_RSA_PKCS), kp_.pub, pt, ct));
  EXPECT_EQ(ct.size(), n_.size());
  ASSERT_OK(decrypt(s_, Mech(CKM_RSA_PKCS), kp_.priv, ct, out));
  EXPECT_EQ(out, pt);
}

TEST_F(Rsa, PkcsEncryptTooLongIsDataLenRange) {
  REQUIRE_MECHANISM(CKM_RSA_PKCS, CKF_ENCRYPT);
  Bytes too_long(n_.size() - 10, 0x33), ct;
  EXPECT_CKR(CKR_DATA_LEN_RANGE, encrypt(s_, Mech(CKM_RSA_PKCS), kp_.pub, too_long, ct))
      << "PKCS #1 v1.5 takes at most k-11 bytes";
}

TEST_F(Rsa, DecryptIntoLargerBufferReturnsTrueLength) {
  REQUIRE_MECHANISM(CKM_RSA_PKCS, CKF_DECRYPT);
  Bytes pt = to_bytes("short"), ct;
  std::string err;
  ct = ossl::rsa_encrypt(n_, e_, "pkcs1", 0, 0, {}, pt, &err);
  ASSERT_FALSE(ct.empty()) << err;
  Mech m(CKM_RSA_PKCS);
  ASSERT_OK(p11()->C_DecryptInit(s_, m.ptr(), kp_.priv));
  Bytes out(n_.size());
  CK_ULONG len = out.size();
  ASSERT_OK(p11()->C_Decrypt(s_, ct.data(), ct.size(), out.data(), &len));
  EXPECT_EQ(len, pt.size()) << "section 5.2: the returned length is the true output length";
  EXPECT_EQ(Bytes(out.begin(), out.begin() + std::min<size_t>(len, out.size())), pt);
}

// One OAEP parameter set: OpenSSL's ciphertext decrypts, and the module's own round trip works. A module that
// does not support the hash or a label must say so with CKR_MECHANISM_PARAM_INVALID (then the case is skipped).
void oaep_case(CK_SESSION_HANDLE s, const KeyPair& kp, const Bytes& n, const Bytes& e, CK_MECHANISM_TYPE digest,
               const Bytes& label) {
  Bytes pt = to_bytes("OAEP plaintext"), ct, out;
  std::string err;
  Bytes theirs = ossl::rsa_encrypt(n, e, "oaep", digest, digest, label, pt, &err);
  ASSERT_FALSE(theirs.empty()) << err;
  CK_RV rv = decrypt(s, oaep(digest, label), kp.priv, theirs, out);
  if (rv == CKR_MECHANISM_PARAM_INVALID) GTEST_SKIP() << "module does not support this OAEP parameter set";
  EXPECT_OK(rv) << "decrypting OpenSSL's ciphertext";
  EXPECT_EQ(out, pt);
  ASSERT_OK(encrypt(s, oaep(digest, label), kp.pub, pt, ct));
  EXPECT_OK(decrypt(s, oaep(digest, label), kp.priv, ct, out));
  EXPECT_EQ(out, pt);
}

TEST_F(Rsa, OaepSha1) {
  REQUIRE_MECHANISM(CKM_RSA_PKCS_OAEP, CKF_ENCRYPT | CKF_DECRYPT);
  oaep_case(s_, kp_, n_, e_, CKM_SHA_1, {});
}

TEST_F(Rsa, OaepSha256) {
  REQUIRE_MECHANISM(CKM_RSA_PKCS_OAEP, CKF_ENCRYPT | CKF_DECRYPT);
  oaep_case(s_, kp_, n_, e_, CKM_SHA256, {});
}

TEST_F(Rsa, OaepSha256WithLabel) {
  REQUIRE_MECHANISM(CKM_RSA_PKCS_OAEP, CKF_ENCRYPT | CKF_DECRYPT);
  oaep_case(s_, kp_, n_, e_, CKM_SHA256, to_bytes("a label"));
}

TEST_F(Rsa, OaepWrongLabelIsEncryptedDataInvalid) {
  REQUIRE_MECHANISM(CKM_RSA_PKCS_OAEP, CKF_ENCRYPT | CKF_DECRYPT);
  Bytes pt = to_bytes("labelled"), ct, out;
  CK_RV rv = encrypt(s_, oaep(CKM_SHA_1, to_bytes("right")), kp_.pub, pt, ct);
  if (rv == CKR_MECHANISM_PARAM_INVALID) GTEST_SKIP() << "module does not support OAEP labels";
  ASSERT_OK(rv);
  EXPECT_CKR(CKR_ENCRYPTED_DATA_INVALID, decrypt(s_, oaep(CKM_SHA_1, to_bytes("wrong")), kp_.priv, ct, out));
}

TEST_F(Rsa, OaepLabelKnownAnswer) {
  REQUIRE_MECHANISM(CKM_RSA_PKCS_OAEP, CKF_DECRYPT);
  auto recs = read_vectors("asymmetric/RSA/oaep-label.txt");
  ASSERT_FALSE(recs.empty());
  int n = 0;
  for (auto& r : recs) {
    if (!r.has("KEY") || !r.has("OAEPLabel")) continue;
    std::vector<std::pair<CK_ATTRIBUTE_TYPE, Bytes>> parts;
    ASSERT_TRUE(ossl::rsa_private_attributes(r.bytes("KEY"), parts)) << ossl::last_error();
    auto bits = parts[0].second.size() * 8;
    auto info = mechanism_info(CKM_RSA_PKCS_OAEP);
    if (bits < info->ulMinKeySize || bits > info->ulMaxKeySize) continue;
    auto key = import_private(parts);
    auto digest = r.fields["OAEPDigest"] == "SHA512" ? CKM_SHA512 : r.fields["OAEPDigest"] == "SHA256" ? CKM_SHA256
                                                                                                      : CKM_SHA_1;
    std::string expect = r.fields["Output"];
    if (expect.size() >= 2 && expect.front() == '"') expect = expect.substr(1, expect.size() - 2);
    Bytes out;
    CK_RV rv = decrypt(session_, oaep(digest, r.bytes("OAEPLabel")), key, r.bytes("Input"), out);
    if (rv == CKR_MECHANISM_PARAM_INVALID) GTEST_SKIP() << "module does not support this OAEP parameter set";
    EXPECT_OK(rv) << "COUNT " << r.number("COUNT");
    EXPECT_EQ(std::string(out.begin(), out.end()), expect);
    ++n;
  }
  EXPECT_GT(n, 0);
}

// PKCS #1 v1.5 signatures are deterministic: the RSA-PSS authors' vector file gives exact answers.
TEST_F(Rsa, Pkcs1SignatureKnownAnswers) {
  REQUIRE_MECHANISM(CKM_SHA1_RSA_PKCS, CKF_SIGN);
  std::ifstream in(config().vectors_dir + "/asymmetric/RSA/pkcs1v15sign-vectors.txt");
  ASSERT_TRUE(in) << "missing pkcs1v15sign-vectors.txt";
  // Collect the hex blocks following "# Name:" lines, for the 2048-bit key of Example 15.
  std::map<std::string, Bytes> key;
  std::vector<std::pair<Bytes, Bytes>> examples;  // message, signature
  std::string line, field;
  bool in_15 = false, in_private = false;
  Bytes msg;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (line.rfind("# Example 15:", 0) == 0) in_15 = true;
    if (!in_15) continue;
    if (line.rfind("# Private key", 0) == 0) in_private = true;
    if (line.rfind("# ", 0) == 0 && !line.empty() && line.back() == ':' && line.find(':') == line.size() - 1) {
      field = line.substr(2, line.find(':') - 2);
      if (field == "Signature") examples.emplace_back(msg, Bytes{});
      continue;
    }
    if (line.empty() || line[0] == '#' || line[0] == '=') {
      if (line.rfind("# PKCS#1 v1.5 Signature Example", 0) == 0) field.clear();
      continue;
    }
    std::string hexline;
    std::istringstream ss(line);
    for (std::string tok; ss >> tok;) hexline += tok;
    Bytes b = unhex(hexline);
    if (field == "Message to be signed") {
      msg.insert(msg.end(), b.begin(), b.end());
    } else if (field == "Signature") {
      auto& sig = examples.back().second;
      sig.insert(sig.end(), b.begin(), b.end());
      if (!msg.empty()) msg.clear();
    } else if (in_private && !field.empty()) {
      auto& v = key[field];
      v.insert(v.end(), b.begin(), b.end());
    }
  }
  ASSERT_EQ(key.count("Modulus"), 1u);
  ASSERT_GE(examples.size(), 5u);
  auto info = *mechanism_info(CKM_SHA1_RSA_PKCS);
  if (2048 < info.ulMinKeySize || 2048 > info.ulMaxKeySize) GTEST_SKIP() << "2048-bit keys outside the range";
  auto h = import_private({{CKA_MODULUS, key["Modulus"]},
                           {CKA_PUBLIC_EXPONENT, key["Public exponent"]},
                           {CKA_PRIVATE_EXPONENT, key["Exponent"]},
                           {CKA_PRIME_1, key["Prime 1"]},
                           {CKA_PRIME_2, key["Prime 2"]},
                           {CKA_EXPONENT_1, key["Prime exponent 1"]},
                           {CKA_EXPONENT_2, key["Prime exponent 2"]},
                           {CKA_COEFFICIENT, key["Coefficient"]}});
  for (size_t i = 0; i < 5; ++i) {
    Bytes sig;
    ASSERT_OK(sign(session_, Mech(CKM_SHA1_RSA_PKCS), h, examples[i].first, sig)) << "example 15." << i + 1;
    EXPECT_EQ(hex(sig), hex(examples[i].second)) << "example 15." << i + 1;
  }
}

TEST_F(Rsa, KeyGenerationAtMinimumSize) {
  auto info = *mechanism_info(CKM_RSA_PKCS_KEY_PAIR_GEN);
  if (info.ulMinKeySize > 3072) GTEST_SKIP() << "minimum RSA size " << info.ulMinKeySize << " too slow to generate";
  CK_ULONG bits = std::max<CK_ULONG>(info.ulMinKeySize, 512);
  auto kp = generate_rsa(session_, bits);
  ASSERT_OK(kp.rv) << bits << " bits is the advertised minimum";
  EXPECT_EQ(get_ulong(session_, kp.pub, CKA_MODULUS_BITS), bits);
  EXPECT_EQ(get_attr(session_, kp.pub, CKA_MODULUS).size() * 8, bits);
}

// Which code a modulus size below ulMinKeySize gets. The base specification's return-value list for
// C_GenerateKeyPair (PKCS#11 3.0 section 5.18.3; 2.40 section 5.13) reads: "CKR_ARGUMENTS_BAD,
// CKR_ATTRIBUTE_READ_ONLY, CKR_ATTRIBUTE_TYPE_INVALID, CKR_ATTRIBUTE_VALUE_INVALID, CKR_CRYPTOKI_NOT_INITIALIZED,
// CKR_CURVE_NOT_SUPPORTED, CKR_DEVICE_ERROR, CKR_DEVICE_MEMORY, CKR_DEVICE_REMOVED, CKR_DOMAIN_PARAMS_INVALID,
// CKR_FUNCTION_CANCELED, CKR_FUNCTION_FAILED, CKR_GENERAL_ERROR, CKR_HOST_MEMORY, CKR_MECHANISM_INVALID,
// CKR_MECHANISM_PARAM_INVALID, CKR_OK, CKR_OPERATION_ACTIVE, CKR_PIN_EXPIRED, CKR_SESSION_CLOSED,
// CKR_SESSION_HANDLE_INVALID, CKR_SESSION_READ_ONLY, CKR_TEMPLATE_INCOMPLETE, CKR_TEMPLATE_INCONSISTENT,
// CKR_TOKEN_WRITE_PROTECTED, CKR_USER_NOT_LOGGED_IN." C_GenerateKey (5.18.2), C_CreateObject (5.7.1) and
// C_UnwrapKey (5.18.5) do not list CKR_KEY_SIZE_RANGE either. Section 5.1.6 gives it to "the supplied key's
// size", i.e. an operation on an existing key (C_SignInit, C_WrapKey, C_DeriveKey list it). The size of a key
// being made comes from the template's CKA_MODULUS_BITS, so an unusable value is CKR_ATTRIBUTE_VALUE_INVALID
// ("an invalid value was specified for a particular attribute in a template"); CKR_TEMPLATE_INCONSISTENT is
// the other listed reading (the value conflicts with the mechanism) and is accepted too.
TEST_F(Rsa, KeyGenerationBelowMinimumIsRefused) {
  auto info = *mechanism_info(CKM_RSA_PKCS_KEY_PAIR_GEN);
  if (info.ulMinKeySize > 256) {
    auto small = generate_rsa(session_, info.ulMinKeySize - 8 * 32);
    EXPECT_CKR_IN(({CKR_ATTRIBUTE_VALUE_INVALID, CKR_TEMPLATE_INCONSISTENT}), small.rv)
        << "a modulus below the advertised minimum (CKR_KEY_SIZE_RANGE is not a C_GenerateKeyPair return value)";
  }
}

TEST_F(Rsa, GeneratedKeyAttributes) {
  EXPECT_EQ(get_ulong(s_, kp_.priv, CKA_CLASS), CKO_PRIVATE_KEY);
  EXPECT_EQ(get_ulong(s_, kp_.priv, CKA_KEY_TYPE), CKK_RSA);
  EXPECT_EQ(get_ulong(s_, kp_.pub, CKA_MODULUS_BITS), rsa_bits());
  EXPECT_EQ(get_attr(s_, kp_.priv, CKA_MODULUS), n_) << "private and public key share CKA_MODULUS";
  EXPECT_EQ(get_attr(s_, kp_.priv, CKA_ID), get_attr(s_, kp_.pub, CKA_ID));
  EXPECT_EQ(get_ulong(s_, kp_.priv, CKA_KEY_GEN_MECHANISM), CKM_RSA_PKCS_KEY_PAIR_GEN);
  EXPECT_TRUE(get_bool(s_, kp_.priv, CKA_PRIVATE)) << "the template asked for a private key";
}

}  // namespace
}  // namespace keyseal::conformance
