// TPM keys through the Backend interface: generation of each type, signatures checked in software, RSA
// decryption (PKCS#1 v1.5, OAEP with and without a label), ECDH against a software peer, import of outside
// RSA and EC keys.
#include "core/backend_attributes.h"
#include "crypto/digest.h"
#include "crypto/random.h"
#include "tpm_test_util.h"

#include <tuple>

namespace keyseal::tpm::testing {
namespace {

using TpmKeysTest = SwtpmTest;

void expect_no_clear_private(const core::AttributeMap& a) {
  for (CK_ATTRIBUTE_TYPE t : {CKA_PRIVATE_EXPONENT, CKA_PRIME_1, CKA_PRIME_2, CKA_EXPONENT_1, CKA_EXPONENT_2,
                              CKA_COEFFICIENT, CKA_VALUE})
    EXPECT_EQ(a.count(t), 0u) << "clear private component 0x" << std::hex << t;
  EXPECT_TRUE(a.count(core::backend_attr(1)) && a.count(core::backend_attr(2)) && a.count(core::backend_secret_attr(1)));
}

TEST_F(TpmKeysTest, Rsa2048SignsEveryWay) {
  KeyPair k = gen_rsa(*backend_, 2048);
  expect_no_clear_private(k.priv);
  EXPECT_EQ(attr(k.pub, CKA_MODULUS).size(), 256u);
  EXPECT_TRUE(equal_bytes(attr(k.pub, CKA_MODULUS), attr(k.priv, CKA_MODULUS)));
  const SecureBytes data = bytes("message to sign");
  for (CK_MECHANISM_TYPE t : {CKM_SHA1_RSA_PKCS, CKM_SHA224_RSA_PKCS, CKM_SHA256_RSA_PKCS, CKM_SHA384_RSA_PKCS,
                              CKM_SHA512_RSA_PKCS}) {
    SecureBytes sig = sign(*backend_, k, mech(t), view(data));
    EXPECT_EQ(sig.size(), 256u);
    EXPECT_NO_THROW(verify(k, mech(t), view(data), view(sig))) << std::hex << t;
  }
  // Raw CKM_RSA_PKCS: a DigestInfo (TPM RSASSA) and arbitrary bytes (TPM raw RSA after type-1 padding).
  const SecureBytes di = bytes("\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20"
                               "0123456789abcdef0123456789abcdef");
  for (const SecureBytes& in : {di, bytes("TLS 1.0 style MD5+SHA1 36 bytes...!")}) {
    SecureBytes sig = sign(*backend_, k, mech(CKM_RSA_PKCS), view(in));
    EXPECT_NO_THROW(verify(k, mech(CKM_RSA_PKCS), view(in), view(sig)));
  }
  // PSS, salt = hash length, hashed and raw.
  for (auto [t, h, n] : {std::tuple{CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, 32ul},
                         std::tuple{CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384, 48ul},
                         std::tuple{CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512, 64ul}}) {
    SecureBytes sig = sign(*backend_, k, pss(t, h, n), view(data));
    EXPECT_NO_THROW(verify(k, pss(t, h, n), view(data), view(sig))) << std::hex << t;
  }
  const SecureBytes digest = crypto::digest(CKM_SHA256, view(data));
  SecureBytes sig = sign(*backend_, k, pss(CKM_RSA_PKCS_PSS, CKM_SHA256, 32), view(digest));
  EXPECT_NO_THROW(verify(k, pss(CKM_RSA_PKCS_PSS, CKM_SHA256, 32), view(digest), view(sig)));
  // Salts other than the hash length (OpenSSL signs certificates with the maximum) and another MGF1 hash: PSS
  // encoded in the module, signed by the TPM's raw RSA; each verifies in software with the same parameters.
  const size_t max_salt = 256 - 32 - 2;
  for (size_t salt : {size_t{0}, size_t{20}, size_t{64}, max_salt}) {
    SecureBytes s = sign(*backend_, k, pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, salt), view(data));
    EXPECT_NO_THROW(verify(k, pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, salt), view(data), view(s))) << salt;
    // and not with another salt length
    EXPECT_THROW(verify(k, pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, salt == 20 ? 32 : 20), view(data), view(s)),
                 Error)
        << salt;
  }
  MechanismParams mgf_sha1 = pss(CKM_RSA_PKCS_PSS, CKM_SHA256, 32);
  mgf_sha1.mgf_hash = CKM_SHA_1;
  SecureBytes s1 = sign(*backend_, k, mgf_sha1, view(digest));
  EXPECT_NO_THROW(verify(k, mgf_sha1, view(digest), view(s1)));
  // A salt that does not fit the modulus is refused up front.
  EXPECT_EQ(rv_of([&] { backend_->sign(*k.obj, pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, max_salt + 1)); }),
            CKR_MECHANISM_PARAM_INVALID);
  // Multi-part.
  auto op = backend_->sign(*k.obj, mech(CKM_SHA256_RSA_PKCS));
  op->absorb(view(bytes("message ")));
  op->absorb(view(bytes("to sign")));
  SecureBytes sig2 = op->finish();
  EXPECT_NO_THROW(verify(k, mech(CKM_SHA256_RSA_PKCS), view(data), view(sig2)));
  // A wrong signature does not verify (the check above can fail).
  sig2[10] ^= 1;
  EXPECT_THROW(verify(k, mech(CKM_SHA256_RSA_PKCS), view(data), view(sig2)), Error);
}

TEST_F(TpmKeysTest, Rsa3072SignsAndDecrypts) {
  KeyPair k = gen_rsa(*backend_, 3072);
  EXPECT_EQ(attr(k.pub, CKA_MODULUS).size(), 384u);
  const SecureBytes data = bytes("three thousand and seventy-two");
  SecureBytes sig = sign(*backend_, k, mech(CKM_SHA256_RSA_PKCS), view(data));
  EXPECT_NO_THROW(verify(k, mech(CKM_SHA256_RSA_PKCS), view(data), view(sig)));
  SecureBytes ct = crypto::make_rsa_encryptor(public_of(k.pub), mech(CKM_RSA_PKCS))->run(view(data));
  EXPECT_TRUE(equal_bytes(view(backend_->decrypt(*k.obj, mech(CKM_RSA_PKCS))->run(view(ct))), view(data)));
}

TEST_F(TpmKeysTest, UnsupportedSizesAndCurves) {
  EXPECT_EQ(rv_of([&] { gen_rsa(*backend_, 1536); }), CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_TRUE(backend_->supports(CKM_RSA_PKCS));
  EXPECT_TRUE(backend_->supports(CKM_ECDSA_SHA256));
  EXPECT_TRUE(backend_->supports(CKM_ECDH1_DERIVE));
  EXPECT_TRUE(backend_->supports(CKM_AES_GCM));  // secret keys through the soft backend
  EXPECT_FALSE(backend_->supports(CKM_EDDSA));
  EXPECT_FALSE(backend_->supports(CKM_EC_EDWARDS_KEY_PAIR_GEN));
}

TEST_F(TpmKeysTest, RsaDecryptPkcs1AndOaepWithLabels) {
  KeyPair k = gen_rsa(*backend_, 2048);
  const crypto::PKey pub = public_of(k.pub);
  const SecureBytes secret = bytes("a 32 byte session key for test!!");
  SecureBytes ct = crypto::make_rsa_encryptor(pub, mech(CKM_RSA_PKCS))->run(view(secret));
  EXPECT_TRUE(equal_bytes(view(backend_->decrypt(*k.obj, mech(CKM_RSA_PKCS))->run(view(ct))), view(secret)));
  ct[5] ^= 0x40;
  try {
    backend_->decrypt(*k.obj, mech(CKM_RSA_PKCS))->run(view(ct));
    ADD_FAILURE() << "decrypted a corrupted ciphertext";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv, CKR_ENCRYPTED_DATA_INVALID) << e.detail;
  }
  EXPECT_EQ(rv_of([&] { backend_->decrypt(*k.obj, mech(CKM_RSA_PKCS))->run(view(secret)); }),
            CKR_ENCRYPTED_DATA_LEN_RANGE);

  struct Case {
    CK_MECHANISM_TYPE hash, mgf;
    std::string label;
  };
  for (const Case& c : {Case{CKM_SHA256, CKM_SHA256, ""}, Case{CKM_SHA_1, CKM_SHA_1, ""},
                        Case{CKM_SHA256, CKM_SHA256, "keyseal label"},            // no trailing zero: software decoding
                        Case{CKM_SHA256, CKM_SHA256, std::string("zero-ended\0", 11)},  // the TPM's own OAEP
                        Case{CKM_SHA384, CKM_SHA_1, "mixed hashes"}, Case{CKM_SHA224, CKM_SHA224, "sha224"}}) {
    MechanismParams m = mech(CKM_RSA_PKCS_OAEP);
    m.hash = c.hash;
    m.mgf_hash = c.mgf;
    m.label = bytes(c.label);
    SecureBytes oct = crypto::make_rsa_encryptor(pub, m)->run(view(secret));
    SecureBytes out = backend_->decrypt(*k.obj, m)->run(view(oct));
    EXPECT_TRUE(equal_bytes(view(out), view(secret))) << "label '" << c.label << "' hash " << c.hash;
    MechanismParams other = m;
    other.label = bytes(c.label + "x");
    EXPECT_EQ(rv_of([&] { backend_->decrypt(*k.obj, other)->run(view(oct)); }), CKR_ENCRYPTED_DATA_INVALID)
        << "label '" << c.label << "'";
  }
  // Unwrapping with the private key is the same decryption.
  EXPECT_TRUE(equal_bytes(view(backend_->unwrap(*k.obj, mech(CKM_RSA_PKCS),
                                                view(crypto::make_rsa_encryptor(pub, mech(CKM_RSA_PKCS))->run(view(secret))))),
                          view(secret)));
}

TEST_F(TpmKeysTest, EcdsaP256AndP384) {
  for (auto [curve, n] : {std::pair{crypto::Curve::p256, 32u}, std::pair{crypto::Curve::p384, 48u}}) {
    KeyPair k = gen_ec(*backend_, curve);
    expect_no_clear_private(k.priv);
    EXPECT_TRUE(equal_bytes(attr(k.pub, CKA_EC_PARAMS), view(crypto::ec_params_der(curve))));
    EXPECT_EQ(attr(k.pub, CKA_EC_POINT).size(), 2u + 1 + 2 * n);  // DER OCTET STRING of 04||X||Y
    const SecureBytes data = bytes("ecdsa message");
    for (CK_MECHANISM_TYPE t : {CKM_ECDSA_SHA1, CKM_ECDSA_SHA224, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512}) {
      SecureBytes sig = sign(*backend_, k, mech(t), view(data));
      EXPECT_EQ(sig.size(), 2 * n);
      EXPECT_NO_THROW(verify(k, mech(t), view(data), view(sig))) << std::hex << t;
    }
    for (size_t len : {20u, 28u, 32u, 48u, 64u}) {  // raw ECDSA over digests of every length
      const SecureBytes d = crypto::random_bytes(len);
      SecureBytes sig = sign(*backend_, k, mech(CKM_ECDSA), view(d));
      EXPECT_NO_THROW(verify(k, mech(CKM_ECDSA), view(d), view(sig))) << len;
    }
  }
}

TEST_F(TpmKeysTest, EcdhAgreesWithSoftwarePeer) {
  for (crypto::Curve curve : {crypto::Curve::p256, crypto::Curve::p384}) {
    KeyPair k = gen_ec(*backend_, curve);
    const SecureBytes params = crypto::ec_params_der(curve);
    crypto::EcKeyPair peer = crypto::generate_ec(view(params));
    MechanismParams m = mech(CKM_ECDH1_DERIVE);
    m.kdf = CKD_NULL;
    m.public_data = peer.point;
    SecureBytes ours = backend_->derive(*k.obj, m);
    const SecureBytes tpm_point = crypto::unwrap_ec_point(view(params), attr(k.pub, CKA_EC_POINT));
    SecureBytes theirs = crypto::ecdh_derive(crypto::ec_private_key(view(params), view(peer.d)), view(tpm_point));
    EXPECT_EQ(ours.size(), params.size() > 0 ? theirs.size() : 0u);
    EXPECT_TRUE(equal_bytes(view(ours), view(theirs)));
    m.public_data = crypto::der_octet_string(view(peer.point));  // DER-wrapped form too
    EXPECT_TRUE(equal_bytes(view(backend_->derive(*k.obj, m)), view(theirs)));
    m.public_data[m.public_data.size() - 1] ^= 1;  // off the curve
    EXPECT_EQ(rv_of([&] { backend_->derive(*k.obj, m); }), CKR_MECHANISM_PARAM_INVALID);
  }
}

TEST_F(TpmKeysTest, ImportRsaAndEcPrivateKeys) {
  {
    static const uint8_t f4[] = {1, 0, 1};
    crypto::RsaKeyPair r = crypto::generate_rsa(2048, ByteView(f4));
    core::AttributeMap a;
    core::set_ulong(a, CKA_CLASS, CKO_PRIVATE_KEY);
    core::set_ulong(a, CKA_KEY_TYPE, CKK_RSA);
    core::set_bytes(a, CKA_MODULUS, view(r.n));
    core::set_bytes(a, CKA_PUBLIC_EXPONENT, view(r.e));
    core::set_bytes(a, CKA_PRIVATE_EXPONENT, view(r.d));
    core::set_bytes(a, CKA_PRIME_1, view(r.p));
    core::set_bytes(a, CKA_PRIME_2, view(r.q));
    core::set_bytes(a, CKA_EXPONENT_1, view(r.dp));
    core::set_bytes(a, CKA_EXPONENT_2, view(r.dq));
    core::set_bytes(a, CKA_COEFFICIENT, view(r.qinv));
    backend_->import_key(a);
    expect_no_clear_private(a);
    KeyPair k;
    k.obj = object_of(a);
    core::set_ulong(k.pub, CKA_KEY_TYPE, CKK_RSA);
    core::set_bytes(k.pub, CKA_MODULUS, view(r.n));
    core::set_bytes(k.pub, CKA_PUBLIC_EXPONENT, view(r.e));
    const SecureBytes data = bytes("imported rsa");
    SecureBytes sig = sign(*backend_, k, mech(CKM_SHA256_RSA_PKCS), view(data));
    EXPECT_NO_THROW(verify(k, mech(CKM_SHA256_RSA_PKCS), view(data), view(sig)));
    // Bad values are refused.
    core::AttributeMap bad;
    core::set_ulong(bad, CKA_CLASS, CKO_PRIVATE_KEY);
    core::set_ulong(bad, CKA_KEY_TYPE, CKK_RSA);
    core::set_bytes(bad, CKA_MODULUS, view(r.n));
    core::set_bytes(bad, CKA_PUBLIC_EXPONENT, view(r.e));
    core::set_bytes(bad, CKA_PRIVATE_EXPONENT, view(r.d));
    SecureBytes not_p = r.p;
    not_p.back() ^= 2;  // no longer a factor of n
    core::set_bytes(bad, CKA_PRIME_1, view(not_p));
    EXPECT_EQ(rv_of([&] { backend_->import_key(bad); }), CKR_ATTRIBUTE_VALUE_INVALID);
  }
  for (crypto::Curve curve : {crypto::Curve::p256, crypto::Curve::p384}) {
    const SecureBytes params = crypto::ec_params_der(curve);
    crypto::EcKeyPair e = crypto::generate_ec(view(params));
    core::AttributeMap a;
    core::set_ulong(a, CKA_CLASS, CKO_PRIVATE_KEY);
    core::set_ulong(a, CKA_KEY_TYPE, CKK_EC);
    core::set_bytes(a, CKA_EC_PARAMS, view(params));
    core::set_bytes(a, CKA_VALUE, view(e.d));
    backend_->import_key(a);
    expect_no_clear_private(a);
    KeyPair k;
    k.obj = object_of(a);
    core::set_ulong(k.pub, CKA_KEY_TYPE, CKK_EC);
    core::set_bytes(k.pub, CKA_EC_PARAMS, view(params));
    core::set_bytes(k.pub, CKA_EC_POINT, view(e.point));
    const SecureBytes data = bytes("imported ec");
    SecureBytes sig = sign(*backend_, k, mech(CKM_ECDSA_SHA256), view(data));
    EXPECT_NO_THROW(verify(k, mech(CKM_ECDSA_SHA256), view(data), view(sig)));
  }
}

}  // namespace
}  // namespace keyseal::tpm::testing
