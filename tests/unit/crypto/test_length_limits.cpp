// Lengths at the edge of size_t below the ABI (issue 11): a PSS salt length near 2^64 given straight to the
// signer and verifier, and AES size queries for 2^64-1 input bytes. The ABI refuses such values earlier; these
// tests hold the crypto layer to the same rule on its own.
#include "crypto/asym.h"
#include "crypto/keys.h"
#include "crypto/symmetric.h"
#include "vectors.h"

#include <gtest/gtest.h>

#include <limits>

using namespace keyseal;
using namespace keyseal::crypto;
using keyseal::test::rv_of;

namespace {

constexpr size_t kHuge = std::numeric_limits<size_t>::max();

MechanismParams pss(CK_ULONG salt) {
  MechanismParams m;
  m.type = CKM_SHA256_RSA_PKCS_PSS;
  m.hash = CKM_SHA256;
  m.mgf_hash = CKM_SHA256;
  m.salt_len = salt;
  return m;
}

// RFC 8017 9.1.1: sLen <= emLen - hLen - 2 (222 for a 2048-bit key and SHA-256). Values that wrapped the sum
// hLen + sLen + 2 reached OpenSSL as -1/-2/-3; 2^64-2 ("maximum" on verify) accepted a signature with salt 0.
TEST(LengthLimits, PssSaltNear2To64IsRefused) {
  const RsaKeyPair kp = generate_rsa(2048, {});
  const PKey priv = rsa_private_key(view(kp.n), view(kp.e), view(kp.d), view(kp.p), view(kp.q), view(kp.dp),
                                    view(kp.dq), view(kp.qinv));
  const PKey pub = rsa_public_key(view(kp.n), view(kp.e));
  const SecureBytes msg = to_bytes("message", 7);
  const SecureBytes sig0 = make_signer(priv, pss(0))->run(view(msg));
  for (CK_ULONG s : {CK_ULONG(kHuge), CK_ULONG(kHuge - 1), CK_ULONG(kHuge - 2), CK_ULONG(kHuge - 33), CK_ULONG{223}}) {
    EXPECT_EQ(rv_of([&] { make_signer(priv, pss(s)); }), CKR_MECHANISM_PARAM_INVALID) << s;
    EXPECT_EQ(rv_of([&] { make_verifier(pub, pss(s))->verify(view(msg), view(sig0)); }), CKR_MECHANISM_PARAM_INVALID)
        << s;
  }
  const SecureBytes sig_max = make_signer(priv, pss(222))->run(view(msg));
  EXPECT_EQ(rv_of([&] { make_verifier(pub, pss(222))->verify(view(msg), view(sig_max)); }), CKR_OK);
}

// A size query adds a tag or a padding block to the input length: for 2^64-1 that wrapped to 15 (GCM) or 0
// (CBC_PAD). The queries refuse what the operation itself would refuse.
TEST(LengthLimits, AesSizeQueriesDoNotWrap) {
  const SecureBytes key(32, 7);
  MechanismParams gcm;
  gcm.type = CKM_AES_GCM;
  gcm.iv = SecureBytes(12, 1);
  gcm.tag_bits = 128;
  MechanismParams cbc;
  cbc.type = CKM_AES_CBC_PAD;
  cbc.iv = SecureBytes(16, 2);
  for (const MechanismParams& m : {gcm, cbc}) {
    for (size_t len : {kHuge, kHuge - 15, kHuge / 2, size_t{1} << 40}) {
      EXPECT_EQ(rv_of([&] { make_aes_cipher(true, view(key), m)->output_size(len); }), CKR_DATA_LEN_RANGE)
          << m.type << " " << len;
      EXPECT_EQ(rv_of([&] { make_aes_cipher(true, view(key), m)->transform_size(len); }), CKR_DATA_LEN_RANGE)
          << m.type << " " << len;
      EXPECT_EQ(rv_of([&] { make_aes_cipher(false, view(key), m)->output_size(len); }), CKR_ENCRYPTED_DATA_LEN_RANGE)
          << m.type << " " << len;
    }
    EXPECT_EQ(make_aes_cipher(true, view(key), m)->output_size(100), m.type == CKM_AES_GCM ? 116u : 112u);
  }
}

}  // namespace
