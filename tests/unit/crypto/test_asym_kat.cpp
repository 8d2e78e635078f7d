// Known-answer tests for public-key operations: ECDSA FIPS 186-3 SigVer (P-256/384/521), Ed25519 (RFC 8032
// sign.input), RSA PKCS #1 v1.5 signatures, RSA-PSS (pss-vect), RSA-OAEP (SHA-2 custom vectors, and a label).
#include "crypto/asym.h"
#include "crypto/digest.h"
#include "crypto/keys.h"
#include "vectors.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <sstream>

using namespace keyseal;
using namespace keyseal::crypto;
using keyseal::test::hex;
using keyseal::test::read_comment_blocks;
using keyseal::test::read_lines;
using keyseal::test::read_records;
using keyseal::test::rv_of;
using keyseal::test::to_hex;

namespace {

SecureBytes pad_left(ByteView v, size_t n) {
  while (v.size() > n && v[0] == 0) v = v.subspan(1);
  SecureBytes out(n - std::min(n, v.size()), 0);
  out.insert(out.end(), v.begin(), v.end());
  return out;
}

MechanismParams mech(CK_MECHANISM_TYPE t) {
  MechanismParams m;
  m.type = t;
  return m;
}

struct RsaVectorKey {
  SecureBytes n, e, d, p, q, dp, dq, qinv;
  bool saw_public_exponent = false;
  PKey priv() const {
    return rsa_private_key(view(n), view(e), view(d), view(p), view(q), view(dp), view(dq), view(qinv));
  }
  PKey pub() const { return rsa_public_key(view(n), view(e)); }
};

// Walks the "# Name:" blocks of an RSA vector file, calling on_example(key, message, result) for each
// "Signature" / "Encryption" block.
template <class F>
size_t for_each_rsa_example(const std::string& rel, F on_example) {
  RsaVectorKey key;
  SecureBytes msg;
  size_t n = 0;
  for (auto& [name, bytes] : read_comment_blocks(rel)) {
    if (name == "Modulus") {
      if (bytes != key.n) key = RsaVectorKey{};
      key.n = bytes;
    } else if (name == "Public exponent") {
      key.e = bytes;
      key.saw_public_exponent = true;
    } else if (name == "Exponent") {
      (key.saw_public_exponent ? key.d : key.e) = bytes;
    } else if (name == "Prime 1") {
      key.p = bytes;
    } else if (name == "Prime 2") {
      key.q = bytes;
    } else if (name == "Prime exponent 1") {
      key.dp = bytes;
    } else if (name == "Prime exponent 2") {
      key.dq = bytes;
    } else if (name == "Coefficient") {
      key.qinv = bytes;
    } else if (name == "Message to be signed" || name == "Message") {
      msg = bytes;
    } else if (name == "Signature" || name == "Encryption") {
      on_example(key, msg, bytes);
      ++n;
    }
  }
  return n;
}

}  // namespace

TEST(EcdsaKat, Fips186_3SigVer) {
  struct C { const char* name; const char* oid; size_t bytes; };
  const C curves[] = {{"P-256", "06082a8648ce3d030107", 32}, {"P-384", "06052b81040022", 48},
                      {"P-521", "06052b81040023", 66}};
  size_t good = 0, bad = 0;
  for (const auto& r : read_records("asymmetric/ECDSA/FIPS_186-3/SigVer.rsp")) {
    if (!r.has("MSG")) continue;
    const C* c = nullptr;
    for (const C& x : curves)
      if (r.section.rfind(std::string(x.name) + ",", 0) == 0) c = &x;
    if (!c) continue;
    std::string h = r.section.substr(r.section.find(',') + 1);
    CK_MECHANISM_TYPE m = h == "SHA-1"     ? CKM_ECDSA_SHA1
                          : h == "SHA-224" ? CKM_ECDSA_SHA224
                          : h == "SHA-256" ? CKM_ECDSA_SHA256
                          : h == "SHA-384" ? CKM_ECDSA_SHA384
                                           : CKM_ECDSA_SHA512;
    SecureBytes params = hex(c->oid), qx = r.bytes("QX"), qy = r.bytes("QY"), rr = r.bytes("R"), ss = r.bytes("S");
    SecureBytes point{0x04};
    for (auto* v : {&qx, &qy}) {
      SecureBytes p = pad_left(view(*v), c->bytes);
      point.insert(point.end(), p.begin(), p.end());
    }
    SecureBytes sig = pad_left(view(rr), c->bytes), s2 = pad_left(view(ss), c->bytes);
    sig.insert(sig.end(), s2.begin(), s2.end());
    SecureBytes msg = r.bytes("MSG");
    bool expect_ok = r.at("RESULT")[0] == 'P';
    CK_RV rv = rv_of([&] {
      PKey pub = ec_public_key(view(params), view(point));
      make_verifier(pub, mech(m))->verify(view(msg), view(sig));
    });
    if (expect_ok) {
      EXPECT_EQ(rv, CKR_OK) << r.section;
      ++good;
    } else {
      // A changed Q may leave the curve (rejected at import) or stay on it (signature invalid).
      EXPECT_TRUE(rv == CKR_SIGNATURE_INVALID || rv == CKR_ATTRIBUTE_VALUE_INVALID) << r.section << " rv=" << rv;
      ++bad;
    }
  }
  EXPECT_EQ(good + bad, 225u);  // 3 curves x 5 hashes x 15 vectors
  EXPECT_GT(good, 30u);
  EXPECT_GT(bad, 100u);
}

TEST(Ed25519Kat, Rfc8032SignInput) {
  SecureBytes params = hex("06032b6570");
  size_t n = 0;
  for (const std::string& line : read_lines("asymmetric/Ed25519/sign.input")) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    for (std::string x; std::getline(ss, x, ':');) f.push_back(x);
    if (f.size() < 4) continue;
    SecureBytes sk = hex(f[0]), pk = hex(f[1]), msg = hex(f[2]), sig = hex(f[3]);
    sig.resize(64);
    SecureBytes seed(sk.begin(), sk.begin() + 32);
    EXPECT_EQ(ec_public_point(view(params), view(seed)), pk);
    PKey priv = ec_private_key(view(params), view(seed));
    EXPECT_EQ(priv.signature_size(), 64u);
    EXPECT_EQ(priv.bits(), 255u);
    EXPECT_EQ(to_hex(view(make_signer(priv, mech(CKM_EDDSA))->run(view(msg)))), to_hex(view(sig)));
    PKey pub = ec_public_key(view(params), view(pk));
    EXPECT_EQ(rv_of([&] { make_verifier(pub, mech(CKM_EDDSA))->verify(view(msg), view(sig)); }), CKR_OK);
    if (n % 50 == 0) {
      sig[n % 64] ^= 4;
      EXPECT_EQ(rv_of([&] { make_verifier(pub, mech(CKM_EDDSA))->verify(view(msg), view(sig)); }),
                CKR_SIGNATURE_INVALID);
    }
    ++n;
  }
  EXPECT_EQ(n, 1024u);
}

TEST(RsaKat, Pkcs1v15SignSha1) {
  size_t n = for_each_rsa_example("asymmetric/RSA/pkcs1v15sign-vectors.txt",
                                  [](const RsaVectorKey& k, const SecureBytes& msg, const SecureBytes& sig) {
    EXPECT_EQ(to_hex(view(make_signer(k.priv(), mech(CKM_SHA1_RSA_PKCS))->run(view(msg)))), to_hex(view(sig)));
    EXPECT_EQ(rv_of([&] { make_verifier(k.pub(), mech(CKM_SHA1_RSA_PKCS))->verify(view(msg), view(sig)); }),
              CKR_OK);
  });
  EXPECT_GT(n, 100u);
}

TEST(RsaKat, PssVerifySha1Salt20) {
  size_t n = for_each_rsa_example("asymmetric/RSA/pkcs-1v2-1d2-vec/pss-vect.txt",
                                  [](const RsaVectorKey& k, const SecureBytes& msg, const SecureBytes& sig) {
    MechanismParams m = mech(CKM_SHA1_RSA_PKCS_PSS);
    m.hash = CKM_SHA_1;
    m.mgf_hash = CKM_SHA_1;
    m.salt_len = 20;
    PKey pub = k.pub();
    EXPECT_EQ(rv_of([&] { make_verifier(pub, m)->verify(view(msg), view(sig)); }), CKR_OK);
    SecureBytes bad = msg;
    bad[0] ^= 1;
    EXPECT_EQ(rv_of([&] { make_verifier(pub, m)->verify(view(bad), view(sig)); }), CKR_SIGNATURE_INVALID);
  });
  EXPECT_EQ(n, 60u);
}

TEST(RsaKat, OaepSha2CustomDecrypt) {
  struct H { const char* name; CK_MECHANISM_TYPE m; };
  const H hashes[] = {{"sha1", CKM_SHA_1}, {"sha224", CKM_SHA224}, {"sha256", CKM_SHA256},
                      {"sha384", CKM_SHA384}, {"sha512", CKM_SHA512}};
  size_t n = 0;
  for (const H& alg : hashes)
    for (const H& mgf : hashes) {
      if (alg.m == CKM_SHA_1 && mgf.m == CKM_SHA_1) continue;  // no such file
      std::string rel = std::string("asymmetric/RSA/oaep-custom/oaep-") + mgf.name + "-" + alg.name + ".txt";  // mgf first
      n += for_each_rsa_example(rel, [&](const RsaVectorKey& k, const SecureBytes& msg, const SecureBytes& ct) {
        MechanismParams m = mech(CKM_RSA_PKCS_OAEP);
        m.hash = alg.m;
        m.mgf_hash = mgf.m;
        PKey priv = k.priv();
        if (k.n.size() < 2 * digest_size(alg.m) + 2) return;
        EXPECT_EQ(to_hex(view(make_rsa_decryptor(priv, m)->run(view(ct)))), to_hex(view(msg))) << rel;
        SecureBytes bad = ct;
        bad[bad.size() / 2] ^= 1;
        EXPECT_EQ(rv_of([&] { make_rsa_decryptor(priv, m)->run(view(bad)); }), CKR_ENCRYPTED_DATA_INVALID);
      });
    }
  EXPECT_GT(n, 200u);
}

TEST(RsaKat, OaepSha512WithLabel) {
  size_t n = 0;
  for (const auto& r : read_records("asymmetric/RSA/oaep-label.txt")) {
    if (!r.has("KEY")) continue;
    SecureBytes der = r.bytes("KEY");
    const unsigned char* p = der.data();
    EVP_PKEY* raw = d2i_AutoPrivateKey(nullptr, &p, static_cast<long>(der.size()));
    ASSERT_NE(raw, nullptr);
    auto get = [&](const char* name) {
      BIGNUM* bn = nullptr;
      EXPECT_EQ(EVP_PKEY_get_bn_param(raw, name, &bn), 1);
      SecureBytes out(static_cast<size_t>(BN_num_bytes(bn)));
      BN_bn2bin(bn, out.data());
      BN_free(bn);
      return out;
    };
    SecureBytes nn = get(OSSL_PKEY_PARAM_RSA_N), e = get(OSSL_PKEY_PARAM_RSA_E), d = get(OSSL_PKEY_PARAM_RSA_D);
    EVP_PKEY_free(raw);
    PKey priv = rsa_private_key(view(nn), view(e), view(d), {}, {}, {}, {}, {});
    MechanismParams m = mech(CKM_RSA_PKCS_OAEP);
    m.hash = m.mgf_hash = CKM_SHA512;
    m.label = r.bytes("OAEPLABEL");
    SecureBytes ct = r.bytes("INPUT");
    std::string out = r.at("OUTPUT");
    out = out.substr(1, out.size() - 2);  // "Hello World"
    SecureBytes pt = make_rsa_decryptor(priv, m)->run(view(ct));
    EXPECT_EQ(std::string(pt.begin(), pt.end()), out);
    m.label[0] ^= 1;
    EXPECT_EQ(rv_of([&] { make_rsa_decryptor(priv, m)->run(view(ct)); }), CKR_ENCRYPTED_DATA_INVALID);
    ++n;
  }
  EXPECT_EQ(n, 1u);
}

namespace {

// RFC 8032 section 7.4: the Ed448 vectors "Blank" and "1 octet" (pure Ed448, empty context).
struct Ed448Vector {
  const char *sk, *pk, *msg, *sig;
};
const Ed448Vector kEd448Vectors[] = {
    {"6c82a562cb808d10d632be89c8513ebf6c929f34ddfa8c9f63c9960ef"
     "6e348a3528c8a3fcc2f044e39a3fc5b94492f8f032e7549a20098f95b",
     "5fd7449b59b461fd2ce787ec616ad46a1da1342485a70e1f8a0ea75d8"
     "0e96778edf124769b46c7061bd6783df1e50f6cd1fa1abeafe8256180",
     "",
     "533a37f6bbe457251f023c0d88f976ae2dfb504a843e34d2074fd823d"
     "41a591f2b233f034f628281f2fd7a22ddd47d7828c59bd0a21bfd3980"
     "ff0d2028d4b18a9df63e006c5d1c2d345b925d8dc00b4104852db99ac"
     "5c7cdda8530a113a0f4dbb61149f05a7363268c71d95808ff2e652600"},
    {"c4eab05d357007c632f3dbb48489924d552b08fe0c353a0d4a1f00acd"
     "a2c463afbea67c5e8d2877c5e3bc397a659949ef8021e954e0a12274e",
     "43ba28f430cdff456ae531545f7ecd0ac834a55d9358c0372bfa0c6c6"
     "798c0866aea01eb00742802b8438ea4cb82169c235160627b4c3a9480",
     "03",
     "26b8f91727bd62897af15e41eb43c377efb9c610d48f2335cb0bd00878"
     "10f4352541b143c4b981b7e18f62de8ccdf633fc1bf037ab7cd779805e"
     "0dbcc0aae1cbcee1afb2e027df36bc04dcecbf154336c19f0af7e0a6"
     "472905e799f1953d2a0ff3348ab21aa4adafd1d234441cf807c03a00"},
};

}  // namespace

TEST(Ed448Kat, Rfc8032Section7_4Pure) {
  for (const char* params_hex : {"06032b6571", "130a65647761726473343438"}) {  // OID 1.3.101.113, "edwards448"
    SecureBytes params = hex(params_hex);
    EXPECT_EQ(ec_params_bits(view(params)), 448u);
    EXPECT_TRUE(ec_params_is_edwards(view(params)));
    EXPECT_FALSE(ec_params_is_ed25519(view(params)));
    for (const Ed448Vector& v : kEd448Vectors) {
      SecureBytes sk = hex(v.sk), pk = hex(v.pk), msg = hex(v.msg), sig = hex(v.sig);
      EXPECT_EQ(to_hex(view(ec_public_point(view(params), view(sk)))), v.pk);
      PKey priv = ec_private_key(view(params), view(sk));
      EXPECT_EQ(priv.signature_size(), 114u);
      EXPECT_EQ(priv.bits(), 448u);
      EXPECT_EQ(priv.curve(), Curve::ed448);
      EXPECT_EQ(to_hex(view(make_signer(priv, mech(CKM_EDDSA))->run(view(msg)))), v.sig);
      // The spec's Ed448 row: CK_EDDSA_PARAMS with phFlag FALSE and no context is the same pure signature.
      MechanismParams pure = mech(CKM_EDDSA);
      pure.eddsa_params = true;
      EXPECT_EQ(to_hex(view(make_signer(priv, pure)->run(view(msg)))), v.sig);
      PKey pub = ec_public_key(view(params), view(der_octet_string(view(pk))));
      EXPECT_EQ(rv_of([&] { make_verifier(pub, mech(CKM_EDDSA))->verify(view(msg), view(sig)); }), CKR_OK);
      sig[70] ^= 0x10;
      EXPECT_EQ(rv_of([&] { make_verifier(pub, mech(CKM_EDDSA))->verify(view(msg), view(sig)); }),
                CKR_SIGNATURE_INVALID);
      sig.resize(64);
      EXPECT_EQ(rv_of([&] { make_verifier(pub, mech(CKM_EDDSA))->verify(view(msg), view(sig)); }),
                CKR_SIGNATURE_LEN_RANGE);
    }
  }
}

// RFC 8032's context ("foo", 7.4) and Ed448ph ("abc", 7.5) variants, and Ed25519ctx/ph: OpenSSL 3.0 cannot make
// them (it ignores the "instance" and "context-string" parameters of 3.2), so they are refused, never signed
// as pure EdDSA.
TEST(Ed448Kat, ContextAndPrehashVariantsAreRefused) {
  SecureBytes params = hex("06032b6571");
  PKey priv = ec_private_key(view(params), view(hex(kEd448Vectors[1].sk)));
  PKey pub = ec_public_key(view(params), view(hex(kEd448Vectors[1].pk)));
  MechanismParams ctx = mech(CKM_EDDSA);
  ctx.eddsa_params = true;
  ctx.eddsa_context = hex("666f6f");
  EXPECT_EQ(rv_of([&] { make_signer(priv, ctx); }), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv_of([&] { make_verifier(pub, ctx); }), CKR_MECHANISM_PARAM_INVALID);
  MechanismParams ph = mech(CKM_EDDSA);
  ph.eddsa_params = true;
  ph.eddsa_ph = true;
  EXPECT_EQ(rv_of([&] { make_signer(priv, ph); }), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv_of([&] { make_verifier(pub, ph); }), CKR_MECHANISM_PARAM_INVALID);
  SecureBytes ed25519 = hex("06032b6570");
  PKey priv25519 = ec_private_key(view(ed25519), view(SecureBytes(32, 7)));
  MechanismParams pure = mech(CKM_EDDSA);
  pure.eddsa_params = true;  // phFlag FALSE, no context: Ed25519ctx with an empty context, which RFC 8032 forbids
  EXPECT_EQ(rv_of([&] { make_signer(priv25519, pure); }), CKR_MECHANISM_PARAM_INVALID);
  EXPECT_EQ(rv_of([&] { make_signer(priv25519, ph); }), CKR_MECHANISM_PARAM_INVALID);
}

TEST(Ed448Kat, KeysOfTheWrongSizeOrCurve) {
  SecureBytes params = hex("06032b6571");
  EXPECT_EQ(rv_of([&] { ec_private_key(view(params), view(SecureBytes(32, 1))); }), CKR_ATTRIBUTE_VALUE_INVALID);
  EXPECT_EQ(rv_of([&] { ec_public_key(view(params), view(SecureBytes(32, 1))); }), CKR_ATTRIBUTE_VALUE_INVALID);
  EcKeyPair kp = generate_ec(view(params));
  EXPECT_EQ(kp.d.size(), 57u);
  EXPECT_EQ(kp.point.size(), 57u);
  EXPECT_EQ(ec_public_point(view(params), view(kp.d)), kp.point);
  PKey priv = ec_private_key(view(params), view(kp.d));
  EXPECT_EQ(rv_of([&] { make_signer(priv, mech(CKM_ECDSA)); }), CKR_KEY_TYPE_INCONSISTENT);
  // CKA_PUBLIC_KEY_INFO: SubjectPublicKeyInfo with id-Ed448 and the 57-byte key (RFC 8410).
  SecureBytes spki = public_key_info(ec_public_key(view(params), view(kp.point)));
  EXPECT_EQ(to_hex(view(spki)).substr(0, 24), "3043300506032b6571033a00");
  EXPECT_EQ(spki.size(), 12u + 57u);
  // PKCS#8 of an Ed448 key (C_UnwrapKey) gives back the curve and both halves.
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pk(
      EVP_PKEY_new_raw_private_key(EVP_PKEY_ED448, nullptr, kp.d.data(), kp.d.size()), &EVP_PKEY_free);
  ASSERT_TRUE(pk);
  std::unique_ptr<PKCS8_PRIV_KEY_INFO, decltype(&PKCS8_PRIV_KEY_INFO_free)> p8(EVP_PKEY2PKCS8(pk.get()),
                                                                            &PKCS8_PRIV_KEY_INFO_free);
  ASSERT_TRUE(p8);
  unsigned char* der = nullptr;
  int len = i2d_PKCS8_PRIV_KEY_INFO(p8.get(), &der);
  ASSERT_GT(len, 0);
  SecureBytes p8der(der, der + len);
  OPENSSL_free(der);
  Pkcs8Key k = parse_pkcs8(view(p8der));
  EXPECT_EQ(k.ec_params, params);
  EXPECT_EQ(k.ec_key.d, kp.d);
  EXPECT_EQ(k.ec_key.point, kp.point);
}
