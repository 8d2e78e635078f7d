// attest/mu: keyseal's (un)marshalling of TPMT_PUBLIC, TPMS_ATTEST and TPMT_SIGNATURE, which stands in for
// tss2-mu on Windows. Every selector of each union is marshalled, read back, cut short and checked against one
// digest of all the bytes; on Linux the same samples, and random corruptions of them, are also run through
// libtss2-mu, which must give the same bytes, accept and refuse the same inputs, and read the same values.
#include "attest/mu/mu.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <tss2/tss2_mu.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

namespace keyseal::attest {
namespace {

using Bytes = std::vector<uint8_t>;

template <class T>
void fill(T& b, size_t n, uint8_t seed) {  // a TPM2B with n bytes seed, seed+1, ...
  b.size = static_cast<UINT16>(n);
  for (size_t i = 0; i < n; ++i) reinterpret_cast<uint8_t*>(&b.size + 1)[i] = static_cast<uint8_t>(seed + i);
}

std::vector<TPMT_PUBLIC> publics() {
  std::vector<TPMT_PUBLIC> out;
  TPMT_PUBLIC p{};
  p.type = TPM2_ALG_RSA;  // a signing key: RSASSA-SHA256, 2048 bits
  p.nameAlg = TPM2_ALG_SHA256;
  p.objectAttributes = TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_USERWITHAUTH;
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
  p.parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
  p.parameters.rsaDetail.keyBits = 2048;
  fill(p.unique.rsa, 256, 7);
  out.push_back(p);
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;  // a storage key: AES-128-CFB, with a policy
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
  p.parameters.rsaDetail.symmetric.keyBits.aes = 128;
  p.parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
  p.parameters.rsaDetail.exponent = 65537;
  fill(p.authPolicy, 32, 0x80);
  out.push_back(p);
  p.parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSAES;
  p.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
  out.push_back(p);

  p = TPMT_PUBLIC{};
  p.type = TPM2_ALG_ECC;
  p.nameAlg = TPM2_ALG_SHA384;
  p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
  p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
  p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
  fill(p.unique.ecc.x, 32, 1);
  fill(p.unique.ecc.y, 32, 100);
  out.push_back(p);
  p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDAA;
  p.parameters.eccDetail.scheme.details.ecdaa.count = 9;
  p.parameters.eccDetail.kdf.scheme = TPM2_ALG_KDF1_SP800_56A;
  p.parameters.eccDetail.kdf.details.kdf1_sp800_56a.hashAlg = TPM2_ALG_SHA256;
  out.push_back(p);

  p = TPMT_PUBLIC{};
  p.type = TPM2_ALG_KEYEDHASH;
  p.nameAlg = TPM2_ALG_SHA256;
  p.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_HMAC;
  p.parameters.keyedHashDetail.scheme.details.hmac.hashAlg = TPM2_ALG_SHA512;
  fill(p.unique.keyedHash, 32, 3);
  out.push_back(p);
  p.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_XOR;
  p.parameters.keyedHashDetail.scheme.details.exclusiveOr.hashAlg = TPM2_ALG_SHA256;
  p.parameters.keyedHashDetail.scheme.details.exclusiveOr.kdf = TPM2_ALG_KDF1_SP800_108;
  out.push_back(p);

  p = TPMT_PUBLIC{};
  p.type = TPM2_ALG_SYMCIPHER;
  p.nameAlg = TPM2_ALG_SHA256;
  p.parameters.symDetail.sym.algorithm = TPM2_ALG_AES;
  p.parameters.symDetail.sym.keyBits.aes = 256;
  p.parameters.symDetail.sym.mode.aes = TPM2_ALG_CFB;
  fill(p.unique.sym, 32, 5);
  out.push_back(p);
  p.parameters.symDetail.sym.algorithm = TPM2_ALG_XOR;
  p.parameters.symDetail.sym.keyBits.exclusiveOr = TPM2_ALG_SHA256;
  p.parameters.symDetail.sym.mode.sym = 0;
  out.push_back(p);
  return out;
}

std::vector<TPMS_ATTEST> attests() {
  std::vector<TPMS_ATTEST> out;
  TPMS_ATTEST base{};
  base.magic = TPM2_GENERATED_VALUE;
  fill(base.qualifiedSigner, 34, 0x10);
  fill(base.extraData, 16, 0x20);
  base.clockInfo = {0x0102030405060708ull, 11, 12, 1};
  base.firmwareVersion = 0x1122334455667788ull;
  TPMS_ATTEST a = base;
  a.type = TPM2_ST_ATTEST_CERTIFY;
  fill(a.attested.certify.name, 34, 0x30);
  fill(a.attested.certify.qualifiedName, 34, 0x40);
  out.push_back(a);
  a = base;
  a.type = TPM2_ST_ATTEST_CREATION;
  fill(a.attested.creation.objectName, 34, 0x50);
  fill(a.attested.creation.creationHash, 32, 0x60);
  out.push_back(a);
  a = base;
  a.type = TPM2_ST_ATTEST_QUOTE;
  a.attested.quote.pcrSelect.count = 2;
  a.attested.quote.pcrSelect.pcrSelections[0] = {TPM2_ALG_SHA256, 3, {0xff, 0x01, 0x80}};
  a.attested.quote.pcrSelect.pcrSelections[1] = {TPM2_ALG_SHA1, 1, {0x0f}};
  fill(a.attested.quote.pcrDigest, 32, 0x70);
  out.push_back(a);
  a = base;
  a.type = TPM2_ST_ATTEST_COMMAND_AUDIT;
  a.attested.commandAudit.auditCounter = 77;
  a.attested.commandAudit.digestAlg = TPM2_ALG_SHA256;
  fill(a.attested.commandAudit.auditDigest, 32, 1);
  fill(a.attested.commandAudit.commandDigest, 32, 2);
  out.push_back(a);
  a = base;
  a.type = TPM2_ST_ATTEST_SESSION_AUDIT;
  a.attested.sessionAudit.exclusiveSession = 1;
  fill(a.attested.sessionAudit.sessionDigest, 20, 3);
  out.push_back(a);
  a = base;
  a.type = TPM2_ST_ATTEST_TIME;
  a.attested.time.time.time = 123456789;
  a.attested.time.time.clockInfo = {99, 1, 2, 0};
  a.attested.time.firmwareVersion = 5;
  out.push_back(a);
  a = base;
  a.type = TPM2_ST_ATTEST_NV;
  fill(a.attested.nv.indexName, 34, 4);
  a.attested.nv.offset = 8;
  fill(a.attested.nv.nvContents, 40, 5);
  out.push_back(a);
  return out;
}

std::vector<TPMT_SIGNATURE> signatures() {
  std::vector<TPMT_SIGNATURE> out;
  TPMT_SIGNATURE s{};
  s.sigAlg = TPM2_ALG_RSASSA;
  s.signature.rsassa.hash = TPM2_ALG_SHA256;
  fill(s.signature.rsassa.sig, 256, 9);
  out.push_back(s);
  s.sigAlg = TPM2_ALG_RSAPSS;
  s.signature.rsapss.hash = TPM2_ALG_SHA384;
  out.push_back(s);
  for (TPM2_ALG_ID alg : {TPM2_ALG_ECDSA, TPM2_ALG_ECDAA, TPM2_ALG_SM2, TPM2_ALG_ECSCHNORR}) {
    s = TPMT_SIGNATURE{};
    s.sigAlg = alg;
    s.signature.ecdsa.hash = TPM2_ALG_SHA256;
    fill(s.signature.ecdsa.signatureR, 32, 0x11);
    fill(s.signature.ecdsa.signatureS, 31, 0x22);
    out.push_back(s);
  }
  s = TPMT_SIGNATURE{};
  s.sigAlg = TPM2_ALG_HMAC;
  s.signature.hmac.hashAlg = TPM2_ALG_SHA256;
  for (int i = 0; i < 32; ++i) s.signature.hmac.digest.sha256[i] = static_cast<BYTE>(i * 3);
  out.push_back(s);
  s = TPMT_SIGNATURE{};
  s.sigAlg = TPM2_ALG_NULL;
  out.push_back(s);
  return out;
}

template <class T>
Bytes ours(const T& v) {
  Bytes out(sizeof(T) + 64);
  size_t off = 0;
  EXPECT_EQ(mu::marshal(&v, out.data(), out.size(), &off), TSS2_RC_SUCCESS);
  out.resize(off);
  return out;
}

template <class T>
bool read_ours(const Bytes& b, T& out, size_t& off) {
  std::memset(&out, 0, sizeof out);
  off = 0;
  return mu::unmarshal(b.data(), b.size(), &off, &out) == TSS2_RC_SUCCESS;
}

std::string sha256_hex(const Bytes& b) {
  unsigned char md[32];
  unsigned int n = 0;
  EVP_Digest(b.data(), b.size(), md, &n, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (unsigned i = 0; i < n; ++i) s += {hex[md[i] >> 4], hex[md[i] & 15]};
  return s;
}

// Every sample's bytes, in order: the digest below was taken from libtss2-mu 3.2.1 (Debian 12) and is checked
// against it on Linux (LibTss2Mu.SameBytes), so on Windows it stands for libtss2-mu.
Bytes all_samples() {
  Bytes all;
  auto add = [&](const Bytes& b) { all.insert(all.end(), b.begin(), b.end()); };
  for (const auto& p : publics()) add(ours(p));
  for (const auto& a : attests()) add(ours(a));
  for (const auto& s : signatures()) add(ours(s));
  return all;
}
constexpr const char* kSamplesSha256 = "ee0a53859359c7b85c7917a7ebee47ec605470b3ab62d9d93b2cb9398e5e554b";

template <class T>
void round_trip(const std::vector<T>& samples) {
  for (size_t i = 0; i < samples.size(); ++i) {
    SCOPED_TRACE("sample " + std::to_string(i));
    const Bytes b = ours(samples[i]);
    T back;
    size_t off = 0;
    ASSERT_TRUE(read_ours(b, back, off));
    EXPECT_EQ(off, b.size());
    EXPECT_EQ(ours(back), b);
    // Cut short anywhere: refused, and the offset stays where it was.
    for (size_t n = 0; n < b.size(); ++n) {
      const Bytes cut(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n));
      size_t o = 0;
      T t{};
      ASSERT_NE(mu::unmarshal(cut.data(), cut.size(), &o, &t), TSS2_RC_SUCCESS) << "accepted " << n << " bytes";
      EXPECT_EQ(o, 0u);
    }
    // Marshalling into a buffer one byte short is refused; a null buffer gives the size.
    Bytes small(b.size() - 1);
    size_t o = 0;
    EXPECT_EQ(mu::marshal(&samples[i], small.data(), small.size(), &o), TSS2_MU_RC_INSUFFICIENT_BUFFER);
    EXPECT_EQ(o, 0u);
    o = 5;
    EXPECT_EQ(mu::marshal(&samples[i], nullptr, 0, &o), TSS2_RC_SUCCESS);
    EXPECT_EQ(o, 5 + b.size());
  }
}

TEST(AttestMu, RoundTripsEverySelector) {
  round_trip(publics());
  round_trip(attests());
  round_trip(signatures());
}

TEST(AttestMu, BytesMatchLibTss2Mu) { EXPECT_EQ(sha256_hex(all_samples()), kSamplesSha256); }

TEST(AttestMu, RefusesUnknownSelectorsAndOversizedBuffers) {
  TPMT_PUBLIC p = publics()[0];
  Bytes b = ours(p);
  TPMT_PUBLIC out;
  size_t off = 0;
  b[1] = 0x99;  // type 0x0099
  EXPECT_FALSE(read_ours(b, out, off));
  p.type = 0x0099;
  Bytes buf(sizeof p + 64);
  off = 0;
  EXPECT_EQ(mu::marshal(&p, buf.data(), buf.size(), &off), TSS2_MU_RC_BAD_VALUE);
  p = publics()[0];
  p.unique.rsa.size = sizeof p.unique.rsa.buffer + 1;
  EXPECT_EQ(mu::marshal(&p, buf.data(), buf.size(), &off), TSS2_MU_RC_BAD_SIZE);

  TPMS_ATTEST a = attests()[0];
  Bytes ab = ours(a);
  ab[5] = 0x00;  // type 0x8000
  TPMS_ATTEST aout;
  EXPECT_FALSE(read_ours(ab, aout, off));
  ab = ours(a);
  ab[6] = 0xff;  // qualifiedSigner.size 0xff22: larger than TPM2B_NAME
  ab[7] = 0x22;
  EXPECT_FALSE(read_ours(ab, aout, off));

  TPMT_SIGNATURE s = signatures().back();
  s.sigAlg = TPM2_ALG_HMAC;
  s.signature.hmac.hashAlg = TPM2_ALG_NULL;
  EXPECT_EQ(mu::marshal(&s, buf.data(), buf.size(), &off), TSS2_MU_RC_BAD_VALUE);
  EXPECT_EQ(mu::marshal(static_cast<const TPMT_SIGNATURE*>(nullptr), buf.data(), buf.size(), &off),
            TSS2_MU_RC_BAD_REFERENCE);
}

TEST(AttestMu, ReadsAtAndAdvancesTheOffset) {
  const TPMT_SIGNATURE s = signatures()[2];
  const Bytes one = ours(s);
  Bytes two = {0xaa, 0xbb};
  two.insert(two.end(), one.begin(), one.end());
  size_t off = 2;
  TPMT_SIGNATURE out{};
  ASSERT_EQ(mu::unmarshal(two.data(), two.size(), &off, &out), TSS2_RC_SUCCESS);
  EXPECT_EQ(off, two.size());
  EXPECT_EQ(ours(out), one);
  off = 2;  // a null destination checks and skips
  ASSERT_EQ(mu::unmarshal(two.data(), two.size(), &off, static_cast<TPMT_SIGNATURE*>(nullptr)), TSS2_RC_SUCCESS);
  EXPECT_EQ(off, two.size());
}

#ifndef _WIN32
// ------------------------------------------------------------------------------- against libtss2-mu (Linux)
// libtss2-mu logs every refusal to stderr unless TSS2_LOG says otherwise.
const int kQuietTss2 = setenv("TSS2_LOG", "all+none", 0);
template <class T, class M>
void same_bytes(const std::vector<T>& samples, M theirs, Bytes& all) {
  for (size_t i = 0; i < samples.size(); ++i) {
    Bytes b(sizeof(T) + 64);
    size_t off = 0;
    ASSERT_EQ(theirs(&samples[i], b.data(), b.size(), &off), TSS2_RC_SUCCESS) << "sample " << i;
    b.resize(off);
    EXPECT_EQ(ours(samples[i]), b) << "sample " << i;
    all.insert(all.end(), b.begin(), b.end());
  }
}

TEST(LibTss2Mu, SameBytes) {
  Bytes all;
  same_bytes(publics(), Tss2_MU_TPMT_PUBLIC_Marshal, all);
  same_bytes(attests(), Tss2_MU_TPMS_ATTEST_Marshal, all);
  same_bytes(signatures(), Tss2_MU_TPMT_SIGNATURE_Marshal, all);
  EXPECT_EQ(sha256_hex(all), kSamplesSha256);
}

// Random corruptions of each sample (bytes changed, cut, appended): both accept or both refuse, and what both
// accept reads the same. Where only libtss2-mu accepts, attest/mu is stricter (mu.h names the two cases: a public
// area of type NULL, an HMAC signature with hash NULL); that is counted, never the other way round.
template <class T, class U>
void same_verdicts(const std::vector<T>& samples, U theirs, int& stricter) {
  std::mt19937 rng(1234);
  for (size_t i = 0; i < samples.size(); ++i) {
    const Bytes base = ours(samples[i]);
    for (int round = 0; round < 3000; ++round) {
      Bytes b = base;
      const int kind = static_cast<int>(rng() % 4);
      if (kind == 0 || kind == 3) {
        for (int k = 0; k < 1 + static_cast<int>(rng() % 3); ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
      }
      if (kind == 1) b.resize(rng() % b.size());
      if (kind == 2) b.push_back(static_cast<uint8_t>(rng()));
      if (kind == 3 && b.size() > 8) {  // hit the selectors and sizes near the front harder
        b[rng() % 8] = static_cast<uint8_t>(rng() % 4 == 0 ? rng() : rng() % 0x30);
      }
      T a, t;
      size_t oa = 0, ot = 0;
      const bool ok_ours = read_ours(b, a, oa);
      std::memset(&t, 0, sizeof t);
      const bool ok_theirs = b.empty() ? false : theirs(b.data(), b.size(), &ot, &t) == TSS2_RC_SUCCESS;
      if (ok_ours) {
        ASSERT_TRUE(ok_theirs) << "only attest/mu accepts: sample " << i << " round " << round;
        ASSERT_EQ(oa, ot) << "sample " << i << " round " << round;
        ASSERT_EQ(std::memcmp(&a, &t, sizeof a), 0) << "different values: sample " << i << " round " << round;
      } else if (ok_theirs) {
        ++stricter;
      }
    }
  }
}

TEST(LibTss2Mu, SameVerdictsOnCorruptedInput) {
  int stricter = 0;
  same_verdicts(publics(), Tss2_MU_TPMT_PUBLIC_Unmarshal, stricter);
  same_verdicts(attests(), Tss2_MU_TPMS_ATTEST_Unmarshal, stricter);
  same_verdicts(signatures(), Tss2_MU_TPMT_SIGNATURE_Unmarshal, stricter);
  RecordProperty("stricter", stricter);
  std::printf("attest/mu refused %d corrupted inputs that libtss2-mu accepted\n", stricter);
}
#endif

}  // namespace
}  // namespace keyseal::attest
