// attest/'s documents without a TPM: JSON round trips and the strict reader's refusals, the "tpm" CBOR statement,
// name_of against a name a TPM computed.
#include "attest/evidence.h"
#include "attest/tpm_structs.h"

#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include <map>

namespace keyseal::attest {
namespace {

Bytes unhex(std::string_view s) { return *detail::unhex(s); }

// The RSA EK of a swtpm (TCG template L-1) as marshalled TPMT_PUBLIC, and the name `tpm2_readpublic` showed for
// it (computed by the TPM).
const std::string kEkModulus =
    "d5750988cb0229e4cfd61563c640794fb5198cca2103055acf9ea32e24b75b5d7594097fec0d9b4b110135eac6ecd6d0f47d53d4cc3478"
    "a0d92d751b36023a45be68dab9bc99263db8e28bfdcfd7af5f929cba018514b7443194a5f9f332240d678275ff887730a61796969dfb95"
    "73845353cd7f48f79f9d8607a273e4ad1745a040c93e08aff645c1bf6eb88e46350daf00974f486acfb8639688ab96a4c3952bc2dc6cc9"
    "1752e7804a1a6e743a0fb72857a9bf7f64aef361670743d38a8ca2234bddec605e977683be69ce6b035c8b5e34cb0323ffe3ae54870200"
    "9afca6843ce7a64637580830504d82e52259a6af7e37cee699be42fa8f3ef8e3efaf2289";
Bytes ek_public() {
  return unhex("0001"        // type RSA
               "000b"        // nameAlg SHA-256
               "000300b2"    // fixedTPM fixedParent sensitiveDataOrigin adminWithPolicy restricted decrypt
               "0020" "837197674484b3f81a90cc8d46a5d724fd52d76e06520b64f2a1da1b331469aa"  // PolicyA
               "0006" "0080" "0043"  // AES 128 CFB
               "0010"        // scheme null
               "0800"        // 2048 bits
               "00000000"    // exponent default
               "0100" + kEkModulus);
}

TEST(AttestName, KnownAnswerFromATpm) {
  EXPECT_EQ(detail::hex(name_of(ek_public())), "000b79fa3fff12ca4832bfa54e474a2c9d699dec87e411ef6f9687ae99a305712b8a");
}

TEST(AttestName, RefusesTrailingBytesAndGarbage) {
  Bytes p = ek_public();
  p.push_back(0);
  EXPECT_THROW(name_of(p), std::invalid_argument);
  EXPECT_THROW(name_of(Bytes{0x00, 0x01, 0x00}), std::invalid_argument);
  EXPECT_THROW(name_of(Bytes{}), std::invalid_argument);
}

// A software "AK": an EC P-256 key, its TPMT_PUBLIC, and TPMS_ATTEST/TPMT_SIGNATURE made like a TPM's.
struct SoftAk {
  detail::Pkey key{EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")};
  TPMT_PUBLIC pub() const {
    TPMT_PUBLIC p{};
    p.type = TPM2_ALG_ECC;
    p.nameAlg = TPM2_ALG_SHA256;
    p.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
                         TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
    p.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    p.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    p.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    p.parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    p.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
    BIGNUM *x = nullptr, *y = nullptr;
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_X, &x);
    EVP_PKEY_get_bn_param(key.get(), OSSL_PKEY_PARAM_EC_PUB_Y, &y);
    p.unique.ecc.x.size = p.unique.ecc.y.size = 32;
    BN_bn2binpad(x, p.unique.ecc.x.buffer, 32);
    BN_bn2binpad(y, p.unique.ecc.y.buffer, 32);
    BN_free(x), BN_free(y);
    return p;
  }
  Bytes sign(const Bytes& data) const {
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    size_t n = 0;
    EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get());
    EVP_DigestSign(ctx, nullptr, &n, data.data(), data.size());
    Bytes der(n);
    EVP_DigestSign(ctx, der.data(), &n, data.data(), data.size());
    EVP_MD_CTX_free(ctx);
    der.resize(n);
    const unsigned char* p = der.data();
    ECDSA_SIG* s = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der.size()));
    TPMT_SIGNATURE sig{};
    sig.sigAlg = TPM2_ALG_ECDSA;
    sig.signature.ecdsa.hash = TPM2_ALG_SHA256;
    sig.signature.ecdsa.signatureR.size = sig.signature.ecdsa.signatureS.size = 32;
    BN_bn2binpad(ECDSA_SIG_get0_r(s), sig.signature.ecdsa.signatureR.buffer, 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(s), sig.signature.ecdsa.signatureS.buffer, 32);
    ECDSA_SIG_free(s);
    return detail::marshal(sig);
  }
  // A self-signed certificate for the key (enough for CBOR round trips: x5c carries it).
  Bytes cert() const {
    X509* c = X509_new();
    X509_set_version(c, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(c), 7);
    X509_gmtime_adj(X509_getm_notBefore(c), 0);
    X509_gmtime_adj(X509_getm_notAfter(c), 3600);
    X509_set_pubkey(c, key.get());
    X509_sign(c, key.get(), EVP_sha256());
    unsigned char* d = nullptr;
    const int n = i2d_X509(c, &d);
    Bytes out(d, d + n);
    OPENSSL_free(d);
    X509_free(c);
    return out;
  }
};

Bytes certify_info(const Bytes& name, const Bytes& nonce) {
  TPMS_ATTEST a{};
  a.magic = TPM2_GENERATED_VALUE;
  a.type = TPM2_ST_ATTEST_CERTIFY;
  a.extraData.size = static_cast<UINT16>(nonce.size());
  std::copy(nonce.begin(), nonce.end(), a.extraData.buffer);
  a.attested.certify.name.size = static_cast<UINT16>(name.size());
  std::copy(name.begin(), name.end(), a.attested.certify.name.name);
  Bytes out(sizeof a);
  size_t off = 0;
  EXPECT_EQ(Tss2_MU_TPMS_ATTEST_Marshal(&a, out.data(), out.size(), &off), TSS2_RC_SUCCESS);
  out.resize(off);
  return out;
}

Evidence sample() {
  static const SoftAk ak;
  Evidence e;
  e.nonce = {1, 2, 3, 4};
  e.key_public = ek_public();  // any public area will do for the documents
  e.certify_info = certify_info(name_of(e.key_public), e.nonce);
  e.certify_signature = ak.sign(e.certify_info);
  e.origin = std::string(kOriginGenerated);
  e.creation_info = {0xaa};
  e.creation_signature = {0xbb, 0xcc};
  e.ak_public = detail::marshal(ak.pub());
  e.ek_public = ek_public();
  e.ek_certificates = {ak.cert(), {0x30, 0x00}};
  e.ak_certificates = {ak.cert()};
  e.tpm_manufacturer = "IBM";
  e.tpm_model = "sw\"tpm\\ \x01 \xc3\xa9";
  e.tpm_firmware = "20191023";
  return e;
}

bool same(const Evidence& a, const Evidence& b) {
  return a.nonce == b.nonce && a.key_public == b.key_public && a.certify_info == b.certify_info &&
         a.certify_signature == b.certify_signature && a.origin == b.origin && a.creation_info == b.creation_info &&
         a.creation_signature == b.creation_signature && a.ak_public == b.ak_public && a.ek_public == b.ek_public &&
         a.ek_certificates == b.ek_certificates && a.ak_certificates == b.ak_certificates &&
         a.tpm_manufacturer == b.tpm_manufacturer && a.tpm_model == b.tpm_model && a.tpm_firmware == b.tpm_firmware;
}

TEST(AttestJson, EvidenceRoundTrip) {
  const Evidence e = sample();
  const std::string text = to_json(e);
  EXPECT_NE(text.find("\"key_name\": \"000b79fa3fff"), std::string::npos) << text;
  EXPECT_TRUE(same(from_json(text), e));
  EXPECT_EQ(to_json(from_json(text)), text);
}

// The sample's document as name -> raw JSON value, to drop, change or add fields.
std::map<std::string, std::string> fields_of(const Evidence& e) {
  auto q = [](const Bytes& b) { return "\"" + detail::hex(b) + "\""; };
  auto certs = [](const std::vector<Bytes>& v) {
    std::string s = "[";
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ",\"" : "\"") + detail::base64(v[i]) + "\"";
    return s + "]";
  };
  return {{"version", "1"}, {"origin", "\"generated\""}, {"nonce", q(e.nonce)}, {"key_public", q(e.key_public)},
          {"certify_info", q(e.certify_info)}, {"certify_signature", q(e.certify_signature)},
          {"creation_info", q(e.creation_info)}, {"creation_signature", q(e.creation_signature)},
          {"ak_public", q(e.ak_public)}, {"ek_public", q(e.ek_public)}, {"ek_certificates", certs(e.ek_certificates)},
          {"ak_certificates", certs(e.ak_certificates)}, {"tpm_manufacturer", "\"x\""}};
}
std::string doc(const std::map<std::string, std::string>& f) {
  std::string s = "{";
  for (const auto& [k, v] : f) s += (s.size() > 1 ? ",\"" : "\"") + k + "\":" + v;
  return s + "}";
}

TEST(AttestJson, HandWrittenDocumentReads) {
  const Evidence e = from_json(doc(fields_of(sample())));
  EXPECT_EQ(e.nonce, sample().nonce);
  EXPECT_EQ(e.tpm_manufacturer, "x");
  EXPECT_EQ(e.tpm_model, "");  // optional
}

TEST(AttestJson, EachRequiredFieldMissingIsRefused) {
  for (const char* name : {"version", "origin", "nonce", "key_public", "certify_info", "certify_signature",
                           "ak_public", "ek_public", "ek_certificates"}) {
    auto f = fields_of(sample());
    f.erase(name);
    try {
      from_json(doc(f));
      ADD_FAILURE() << name << " missing was accepted";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(name), std::string::npos) << e.what();
    }
  }
  for (const char* optional : {"creation_info", "creation_signature", "ak_certificates", "tpm_manufacturer"}) {
    auto f = fields_of(sample());
    f.erase(optional);
    EXPECT_NO_THROW(from_json(doc(f))) << optional;
  }
}

TEST(AttestJson, BadValuesAreRefused) {
  const std::pair<const char*, const char*> bad[] = {
      {"nonce", "\"zz\""},           {"nonce", "\"abc\""},          {"key_public", "\"\""},
      {"certify_info", "12"},        {"version", "2"},              {"version", "\"1\""},
      {"origin", "\"stolen\""},      {"ek_certificates", "\"MAA=\""}, {"ek_certificates", "[\"MAA\"]"},
      {"ek_certificates", "[\"M A=\"]"}, {"ek_certificates", "[1]"},  {"ak_certificates", "[\"\"]"},
      {"nonce", "\"" "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"
                "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00\""},
      {"ak_name", "\"000b00\""},     {"surprise", "true"},          {"tpm_model", "null"},
  };
  for (const auto& [name, value] : bad) {
    auto f = fields_of(sample());
    f[name] = value;
    EXPECT_THROW(from_json(doc(f)), std::invalid_argument) << name << "=" << value;
  }
  auto f = fields_of(sample());
  f["ak_name"] = "\"" + detail::hex(name_of(sample().ak_public)) + "\"";
  EXPECT_NO_THROW(from_json(doc(f)));
}

TEST(AttestJson, MalformedJsonIsRefused) {
  const std::string good = to_json(sample());
  const std::string bad[] = {
      good + "x", good + "{}", good.substr(0, good.size() - 3), "", "[]", "null", "{\"version\":1,\"version\":1}",
      "{\"version\":01}", "{\"version\":1e999}", "{\"version\":1,}", "{'version':1}", "{\"version\":-}", "{\"version\":1.}",
      "{\"tpm_model\":\"\\ud800\"}", "{\"tpm_model\":\"\\x\"}", "{\"tpm_model\":\"a\nb\"}", "{\"a\" 1}",
      std::string(100, '[') + std::string(100, ']'),
  };
  for (const std::string& t : bad) EXPECT_THROW(from_json(t), std::invalid_argument) << t;
  // A duplicate of a real field is refused too.
  std::string dup = good;
  dup.insert(1, "\"nonce\": \"00\",");
  EXPECT_THROW(from_json(dup), std::invalid_argument);
}

TEST(AttestJson, EscapesRoundTrip) {
  auto f = fields_of(sample());
  f["tpm_model"] = "\"a\\\"b\\\\c\\/\\u00e9\\ud83d\\ude00\\n\\t\"";
  const Evidence e = from_json(doc(f));
  EXPECT_EQ(e.tpm_model, "a\"b\\c/\xc3\xa9\xf0\x9f\x98\x80\n\t");
  EXPECT_EQ(from_json(to_json(e)).tpm_model, e.tpm_model);
}

TEST(AttestJson, AkInfoAndCredentialRoundTrip) {
  AkInfo a;
  a.ak_public = sample().ak_public;
  a.ek_public = ek_public();
  a.ek_certificates = sample().ek_certificates;
  a.tpm_model = "swtpm";
  const std::string text = to_json(a);
  EXPECT_NE(text.find("\"ak_name\": \"" + detail::hex(name_of(a.ak_public)) + "\""), std::string::npos);
  const AkInfo b = ak_info_from_json(text);
  EXPECT_EQ(b.ak_public, a.ak_public);
  EXPECT_EQ(b.ek_public, a.ek_public);
  EXPECT_EQ(b.ek_certificates, a.ek_certificates);
  EXPECT_EQ(b.tpm_model, "swtpm");
  EXPECT_THROW(ak_info_from_json("{\"ak_public\":\"00\",\"ek_certificates\":[]}"), std::invalid_argument);
  std::string wrong_name = text;
  wrong_name.replace(wrong_name.find("\"ak_name\": \"000b") + 16, 2, "ff");
  EXPECT_THROW(ak_info_from_json(wrong_name), std::invalid_argument);

  const Credential c{{1, 2, 3}, {4, 5}};
  const Credential d = credential_from_json(to_json(c));
  EXPECT_EQ(d.credential_blob, c.credential_blob);
  EXPECT_EQ(d.encrypted_secret, c.encrypted_secret);
  EXPECT_THROW(credential_from_json("{\"credential_blob\":\"01\"}"), std::invalid_argument);
  EXPECT_THROW(credential_from_json("{\"credential_blob\":\"01\",\"encrypted_secret\":\"0g\"}"), std::invalid_argument);
  EXPECT_THROW(credential_from_json(to_json(c) + ","), std::invalid_argument);
}

TEST(AttestCbor, RoundTrip) {
  const Evidence e = sample();
  const Bytes cbor = to_tpm_statement(e);
  // {"fmt": "tpm", "attStmt": {"alg": -7, ...: a3 63 'fmt' 63 'tpm' 67 'attStmt' a6 63 'alg' 26
  EXPECT_EQ(detail::hex(Bytes(cbor.begin(), cbor.begin() + 23)),
            "a3" "63666d74" "6374706d" "6761747453746d74" "a6" "63616c67" "26");
  const Evidence back = from_tpm_statement(cbor);
  EXPECT_EQ(back.nonce, e.nonce);
  EXPECT_EQ(back.key_public, e.key_public);
  EXPECT_EQ(back.certify_info, e.certify_info);
  EXPECT_EQ(back.certify_signature, e.certify_signature);
  EXPECT_EQ(back.ak_certificates, e.ak_certificates);
  EXPECT_EQ(back.ak_public, e.ak_public);  // the synthesised AK area matches the software AK's exactly
  EXPECT_EQ(to_tpm_statement(back), cbor);
  // The signature carried over still verifies with the AK's key.
  const TPMT_PUBLIC ak = detail::parse_public(back.ak_public, "ak");
  EXPECT_EQ(detail::verify_signature(ak, detail::parse_signature(back.certify_signature, "sig"), back.certify_info), "");
}

TEST(AttestCbor, WithoutAkCertificateHasNoX5c) {
  Evidence e = sample();
  e.ak_certificates.clear();
  const Bytes cbor = to_tpm_statement(e);
  EXPECT_EQ(cbor[17], 0xa5);  // attStmt has five members
  const Evidence back = from_tpm_statement(cbor);
  EXPECT_TRUE(back.ak_certificates.empty());
  EXPECT_TRUE(back.ak_public.empty());
}

TEST(AttestCbor, MalformedStatementsAreRefused) {
  const Bytes good = to_tpm_statement(sample());
  std::vector<Bytes> bad;
  Bytes t = good;
  t.push_back(0x00);  // trailing byte
  bad.push_back(t);
  bad.push_back(Bytes(good.begin(), good.end() - 1));  // truncated
  t = good;
  t[8] = 'x';  // fmt "tpx"
  bad.push_back(t);
  t = good;
  t[0] = 0xbf;  // indefinite-length map
  bad.push_back(t);
  t = good;
  t[0] = 0xa4;  // one more member than present
  bad.push_back(t);
  t = good;
  t[3] = 'g';  // "fgt": an unknown key
  bad.push_back(t);
  bad.push_back(Bytes{0xa0});
  bad.push_back(Bytes{});
  // A duplicate key: {"fmt":"tpm","fmt":"tpm"}.
  bad.push_back(Bytes{0xa2, 0x63, 'f', 'm', 't', 0x63, 't', 'p', 'm', 0x63, 'f', 'm', 't', 0x63, 't', 'p', 'm'});
  for (const Bytes& b : bad) EXPECT_THROW(from_tpm_statement(b), std::invalid_argument) << detail::hex(b);
}

TEST(AttestVerify, SoftwareEvidenceFailsTheTpmChecksItCannotMeet) {
  // A well-formed document from no TPM at all: the signature is good, but nothing chains and the key is no
  // TPM key of the AK's; every check is still reported.
  Evidence e = sample();
  e.ak_certificates.clear();
  const Report r = verify(e, VerifyOptions{});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.checks.size(), 14u);
  EXPECT_TRUE(r.find("attest_signature")->ok) << r.find("attest_signature")->detail;
  EXPECT_TRUE(r.find("attested_name")->ok);
  EXPECT_FALSE(r.find("ek_certificate_chain")->ok);
  EXPECT_FALSE(r.find("ak_bound_to_ek")->ok);
  EXPECT_FALSE(r.find("key_use")->ok);  // the sample key is an EK: restricted
  EXPECT_FALSE(r.find("creation")->ok);
  EXPECT_EQ(r.find("no such check"), nullptr);
  EXPECT_FALSE(Report{}.ok());
}

TEST(AttestCredential, RefusesWhatIsNoEk) {
  const Bytes name = name_of(ek_public());
  EXPECT_THROW(make_credential(sample().ak_public, name, Bytes(16, 1)), std::invalid_argument);  // a signing key
  EXPECT_THROW(make_credential(ek_public(), name, Bytes(33, 1)), std::invalid_argument);  // over the digest size
  EXPECT_THROW(make_credential(ek_public(), name, {}), std::invalid_argument);
  EXPECT_THROW(make_credential(ek_public(), Bytes{0x00, 0x0b, 1}, Bytes(16, 1)), std::invalid_argument);
  const Credential c = make_credential(ek_public(), name, Bytes(16, 1));
  EXPECT_EQ(c.encrypted_secret.size(), 2u + 256u);  // TPM2B of an RSA-2048 OAEP block
  EXPECT_EQ(c.credential_blob.size(), 2u + 2u + 32u + 2u + 16u);  // TPM2B(TPM2B(HMAC) || enc(TPM2B(secret)))
}

}  // namespace
}  // namespace keyseal::attest
