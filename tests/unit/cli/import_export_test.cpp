// Tests of the PKCS#12/PEM reading behind `keyseal import`, `import-cert` and `export` (cli/pem_p12.h), with
// keys, certificates and files made at test time by OpenSSL, and of the new commands' argument parsing.
#include "cli/args.h"
#include "cli/errors.h"
#include "cli/pem_p12.h"

#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

using namespace keyseal;
using namespace keyseal::cli;

namespace {

struct PKeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using Key = std::unique_ptr<EVP_PKEY, PKeyFree>;
using Cert = std::unique_ptr<X509, X509Free>;

Key make_key(const std::string& kind) {
  EVP_PKEY* k = nullptr;
  if (kind == "rsa") k = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048});
  else if (kind == "ed25519") k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  else if (kind == "ed448") k = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED448");
  else if (kind == "x25519") k = EVP_PKEY_Q_keygen(nullptr, nullptr, "X25519");
  else k = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", kind.c_str());
  if (!k) throw std::runtime_error("keygen " + kind);
  return Key(k);
}

// A certificate for `subject_key` with the given CN, signed by `issuer_key` (self-signed when the same),
// with a hash subjectKeyIdentifier as `openssl req -x509` makes.
Cert make_cert(EVP_PKEY* subject_key, EVP_PKEY* issuer_key, const std::string& cn, long serial = 1) {
  Cert x(X509_new());
  X509_set_version(x.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(x.get()), 0);
  X509_gmtime_adj(X509_getm_notAfter(x.get()), 3600);
  X509_set_pubkey(x.get(), subject_key);
  X509_NAME* name = X509_get_subject_name(x.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(x.get(), name);  // the tests need no chain validation
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, x.get(), x.get(), nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_key_identifier, "hash");
  X509_add_ext(x.get(), ext, -1);
  X509_EXTENSION_free(ext);
  const bool ed = EVP_PKEY_get_base_id(issuer_key) == EVP_PKEY_ED25519;
  if (!X509_sign(x.get(), issuer_key, ed ? nullptr : EVP_sha256())) throw std::runtime_error("X509_sign");
  return x;
}

std::string bio_string(BIO* b) {
  char* p = nullptr;
  const long n = BIO_get_mem_data(b, &p);
  std::string s(p, static_cast<size_t>(n));
  BIO_free(b);
  return s;
}

std::string key_pem(EVP_PKEY* k, const char* pass = nullptr) {
  BIO* b = BIO_new(BIO_s_mem());
  if (pass) PEM_write_bio_PKCS8PrivateKey(b, k, EVP_aes_256_cbc(), pass, static_cast<int>(std::strlen(pass)),
                                          nullptr, nullptr);
  else PEM_write_bio_PrivateKey(b, k, nullptr, nullptr, 0, nullptr, nullptr);
  return bio_string(b);
}

std::string cert_pem(X509* x) {
  BIO* b = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(b, x);
  return bio_string(b);
}

Bytes cert_der(X509* x) {
  unsigned char* out = nullptr;
  const int n = i2d_X509(x, &out);
  Bytes d(out, out + n);
  OPENSSL_free(out);
  return d;
}

Bytes spki_der(EVP_PKEY* k) {
  unsigned char* out = nullptr;
  const int n = i2d_PUBKEY(k, &out);
  Bytes d(out, out + n);
  OPENSSL_free(out);
  return d;
}

Bytes p12_der(EVP_PKEY* k, X509* cert, const std::vector<X509*>& chain, const char* pass, const char* name) {
  STACK_OF(X509)* ca = sk_X509_new_null();
  for (X509* c : chain) sk_X509_push(ca, c);
  PKCS12* p12 = PKCS12_create(pass, name, k, cert, ca, 0, 0, 0, 0, 0);
  sk_X509_free(ca);
  if (!p12) throw std::runtime_error("PKCS12_create");
  unsigned char* out = nullptr;
  const int n = i2d_PKCS12(p12, &out);
  Bytes d(out, out + n);
  OPENSSL_free(out);
  PKCS12_free(p12);
  return d;
}

ByteView bytes_of(const std::string& s) { return view(s); }

// A password source that counts its calls.
struct Password {
  std::string value;
  int calls = 0;
  PasswordSource source() {
    return [this] {
      ++calls;
      return SecureBytes(value.begin(), value.end());
    };
  }
};

PasswordSource no_password() {
  return []() -> SecureBytes { throw std::logic_error("password asked but none expected"); };
}

Bytes sha1(ByteView data) {
  Bytes md(20);
  unsigned int n = 0;
  EVP_Digest(data.data(), data.size(), md.data(), &n, EVP_sha1(), nullptr);
  return md;
}

}  // namespace

TEST(PemP12, RsaPemKeyAndCertificate) {
  Key k = make_key("rsa");
  Cert c = make_cert(k.get(), k.get(), "alice");
  const std::string pem = key_pem(k.get()) + cert_pem(c.get());
  const KeyFile f = read_key_file(bytes_of(pem), no_password());
  ASSERT_TRUE(f.key);
  EXPECT_EQ(f.key->alg, KeyAlg::rsa);
  EXPECT_EQ(f.key->bits, 2048u);
  EXPECT_EQ(f.key->modulus.size(), 256u);
  EXPECT_EQ(f.key->public_exponent, (Bytes{0x01, 0x00, 0x01}));
  EXPECT_EQ(f.key->prime_1.size(), 128u);
  EXPECT_FALSE(f.key->private_exponent.empty());
  EXPECT_FALSE(f.key->coefficient.empty());
  EXPECT_EQ(f.key->spki, spki_der(k.get()));
  ASSERT_EQ(f.certs.size(), 1u);
  EXPECT_EQ(f.key_cert_count, 1u);
  EXPECT_EQ(f.certs[0].der, cert_der(c.get()));
  EXPECT_EQ(f.certs[0].common_name, "alice");
  EXPECT_EQ(f.certs[0].serial, (Bytes{0x02, 0x01, 0x01}));  // DER INTEGER 1
  EXPECT_EQ(f.certs[0].subject, f.certs[0].issuer);
  // The public key rebuilt from CKA_MODULUS/CKA_PUBLIC_EXPONENT is the same SPKI.
  EXPECT_EQ(spki_from_rsa(f.key->modulus, f.key->public_exponent), f.key->spki);
}

TEST(PemP12, KeyIdIsTheCertificatesSubjectKeyIdentifier) {
  for (const char* kind : {"rsa", "P-256", "ed25519"}) {
    Key k = make_key(kind);
    Cert c = make_cert(k.get(), k.get(), "ski");
    const ASN1_OCTET_STRING* ski = X509_get0_subject_key_id(c.get());
    ASSERT_NE(ski, nullptr);
    const Bytes want(ASN1_STRING_get0_data(ski), ASN1_STRING_get0_data(ski) + ASN1_STRING_length(ski));
    EXPECT_EQ(key_id_from_spki(spki_der(k.get())), want) << kind;
  }
}

TEST(PemP12, EcCurvesGiveNamedCurveParamsAndOctetStringPoint) {
  struct Case {
    const char* curve;
    Bytes oid;
    size_t field;
  };
  const Case cases[] = {
      {"P-256", {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07}, 32},
      {"P-384", {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x22}, 48},
      {"P-521", {0x06, 0x05, 0x2B, 0x81, 0x04, 0x00, 0x23}, 66},
  };
  for (const auto& c : cases) {
    Key k = make_key(c.curve);
    const KeyFile f = read_key_file(bytes_of(key_pem(k.get())), no_password());
    ASSERT_TRUE(f.key) << c.curve;
    EXPECT_EQ(f.key->alg, KeyAlg::ec);
    EXPECT_EQ(f.key->ec_params, c.oid) << c.curve;
    EXPECT_EQ(f.key->value.size(), c.field) << c.curve;
    const size_t raw = 1 + 2 * c.field;
    ASSERT_EQ(f.key->ec_point.size(), raw + (raw < 128 ? 2 : 3)) << c.curve;
    EXPECT_EQ(f.key->ec_point[0], 0x04);                      // OCTET STRING
    EXPECT_EQ(f.key->ec_point[f.key->ec_point.size() - raw], 0x04);  // uncompressed point
    EXPECT_TRUE(f.certs.empty());
    EXPECT_EQ(f.key_cert_count, 0u);
    // Both CKA_EC_POINT forms (DER and raw) rebuild the same key.
    EXPECT_EQ(spki_from_ec(f.key->ec_params, f.key->ec_point), f.key->spki);
    const Bytes raw_point(f.key->ec_point.end() - static_cast<long>(raw), f.key->ec_point.end());
    EXPECT_EQ(spki_from_ec(f.key->ec_params, raw_point), f.key->spki);
    // For EC keys the id is the SHA-1 of the point, as OpenSC derives it.
    EXPECT_EQ(key_id_from_spki(f.key->spki), sha1(raw_point));
  }
}

TEST(PemP12, Ed25519Key) {
  Key k = make_key("ed25519");
  const KeyFile f = read_key_file(bytes_of(key_pem(k.get())), no_password());
  ASSERT_TRUE(f.key);
  EXPECT_EQ(f.key->alg, KeyAlg::ed25519);
  EXPECT_EQ(f.key->ec_params, (Bytes{0x06, 0x03, 0x2B, 0x65, 0x70}));
  EXPECT_EQ(f.key->value.size(), 32u);
  ASSERT_EQ(f.key->ec_point.size(), 34u);
  EXPECT_EQ(f.key->ec_point[0], 0x04);
  EXPECT_EQ(f.key->ec_point[1], 32);
  uint8_t pub[32];
  size_t n = sizeof pub;
  ASSERT_TRUE(EVP_PKEY_get_raw_public_key(k.get(), pub, &n));
  EXPECT_EQ(Bytes(f.key->ec_point.begin() + 2, f.key->ec_point.end()), Bytes(pub, pub + 32));
  EXPECT_EQ(spki_from_ec(f.key->ec_params, f.key->ec_point), f.key->spki);
  const std::string printable = "\x13\x0c" "edwards25519";
  EXPECT_EQ(spki_from_ec(bytes_of(printable), f.key->ec_point), f.key->spki);
}

TEST(PemP12, Ed448Key) {
  Key k = make_key("ed448");
  const KeyFile f = read_key_file(bytes_of(key_pem(k.get())), no_password());
  ASSERT_TRUE(f.key);
  EXPECT_EQ(f.key->alg, KeyAlg::ed448);
  EXPECT_EQ(f.key->bits, 448u);
  EXPECT_EQ(f.key->ec_params, (Bytes{0x06, 0x03, 0x2B, 0x65, 0x71}));
  EXPECT_EQ(f.key->value.size(), 57u);
  ASSERT_EQ(f.key->ec_point.size(), 59u);
  EXPECT_EQ(f.key->ec_point[0], 0x04);
  EXPECT_EQ(f.key->ec_point[1], 57);
  uint8_t pub[57];
  size_t n = sizeof pub;
  ASSERT_TRUE(EVP_PKEY_get_raw_public_key(k.get(), pub, &n));
  EXPECT_EQ(Bytes(f.key->ec_point.begin() + 2, f.key->ec_point.end()), Bytes(pub, pub + 57));
  EXPECT_EQ(spki_from_ec(f.key->ec_params, f.key->ec_point), f.key->spki);
  const std::string printable = "\x13\x0a" "edwards448";
  EXPECT_EQ(spki_from_ec(bytes_of(printable), f.key->ec_point), f.key->spki);
}

TEST(PemP12, Pkcs12WithPasswordAndChain) {
  Key ca_key = make_key("P-384");
  Cert ca = make_cert(ca_key.get(), ca_key.get(), "my CA", 7);
  Key k = make_key("P-256");
  Cert leaf = make_cert(k.get(), ca_key.get(), "leaf", 8);
  const Bytes p12 = p12_der(k.get(), leaf.get(), {ca.get()}, "s3cret", "my key");

  Password pw{"s3cret"};
  const KeyFile f = read_key_file(p12, pw.source());
  EXPECT_EQ(pw.calls, 1);
  ASSERT_TRUE(f.key);
  EXPECT_EQ(f.key->spki, spki_der(k.get()));
  EXPECT_EQ(f.friendly_name, "my key");
  ASSERT_EQ(f.certs.size(), 2u);
  EXPECT_EQ(f.key_cert_count, 1u);
  EXPECT_EQ(f.certs[0].der, cert_der(leaf.get()));
  EXPECT_EQ(f.certs[1].der, cert_der(ca.get()));

  Password wrong{"guess"};
  EXPECT_THROW(read_key_file(p12, wrong.source()), Failure);
  EXPECT_EQ(wrong.calls, 1);
}

TEST(PemP12, Pkcs12WithEmptyPasswordAsksNothing) {
  Key k = make_key("rsa");
  Cert c = make_cert(k.get(), k.get(), "nopass");
  for (const char* pass : {"", static_cast<const char*>(nullptr)}) {
    const Bytes p12 = p12_der(k.get(), c.get(), {}, pass, nullptr);
    const KeyFile f = read_key_file(p12, no_password());
    ASSERT_TRUE(f.key);
    EXPECT_EQ(f.key->spki, spki_der(k.get()));
    EXPECT_EQ(f.key_cert_count, 1u);
    EXPECT_TRUE(f.friendly_name.empty());
  }
}

TEST(PemP12, EncryptedPemKeyAsksForThePassword) {
  Key k = make_key("P-256");
  const std::string pem = key_pem(k.get(), "pem-pass");
  Password pw{"pem-pass"};
  const KeyFile f = read_key_file(bytes_of(pem), pw.source());
  EXPECT_EQ(pw.calls, 1);
  ASSERT_TRUE(f.key);
  EXPECT_EQ(f.key->spki, spki_der(k.get()));
  Password wrong{"nope"};
  EXPECT_THROW(read_key_file(bytes_of(pem), wrong.source()), Failure);
}

TEST(PemP12, KeysCertificateComesFirstAmongOthers) {
  Key other_key = make_key("P-256");
  Cert other = make_cert(other_key.get(), other_key.get(), "someone else");
  Key k = make_key("P-256");
  Cert mine = make_cert(k.get(), k.get(), "me");
  const std::string pem = cert_pem(other.get()) + key_pem(k.get()) + cert_pem(mine.get());
  const KeyFile f = read_key_file(bytes_of(pem), no_password());
  ASSERT_EQ(f.certs.size(), 2u);
  EXPECT_EQ(f.key_cert_count, 1u);
  EXPECT_EQ(f.certs[0].common_name, "me");
  EXPECT_EQ(f.certs[1].common_name, "someone else");

  // Only an unrelated certificate: the key is read, no certificate is its own.
  const KeyFile g = read_key_file(bytes_of(key_pem(k.get()) + cert_pem(other.get())), no_password());
  EXPECT_EQ(g.key_cert_count, 0u);
  EXPECT_EQ(g.certs.size(), 1u);
}

TEST(PemP12, RefusesWhatCannotBeImported) {
  Key k256k1 = make_key("secp256k1");
  EXPECT_THROW(read_key_file(bytes_of(key_pem(k256k1.get())), no_password()), Failure);
  Key x = make_key("x25519");
  EXPECT_THROW(read_key_file(bytes_of(key_pem(x.get())), no_password()), Failure);
  Key a = make_key("P-256"), b = make_key("P-256");
  EXPECT_THROW(read_key_file(bytes_of(key_pem(a.get()) + key_pem(b.get())), no_password()), Failure);
  Cert c = make_cert(a.get(), a.get(), "cert only");
  EXPECT_THROW(read_key_file(bytes_of(cert_pem(c.get())), no_password()), Failure);
  EXPECT_THROW(read_key_file(bytes_of("not a key file at all"), no_password()), Failure);
  EXPECT_THROW(read_key_file(bytes_of("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"),
                             no_password()),
               Failure);
}

TEST(PemP12, ReadCertificatePemAndDer) {
  Key k = make_key("rsa");
  Cert c = make_cert(k.get(), k.get(), "cert");
  const Certificate from_pem = read_certificate(bytes_of(cert_pem(c.get())));
  const Certificate from_der = read_certificate(cert_der(c.get()));
  EXPECT_EQ(from_pem.der, cert_der(c.get()));
  EXPECT_EQ(from_der.der, from_pem.der);
  EXPECT_EQ(from_der.spki, spki_der(k.get()));
  EXPECT_THROW(read_certificate(bytes_of(key_pem(k.get()))), Failure);
  EXPECT_THROW(read_certificate(bytes_of("garbage")), Failure);
}

TEST(PemP12, SamePublicKey) {
  Key a = make_key("P-256"), b = make_key("P-256"), r = make_key("rsa");
  EXPECT_TRUE(same_public_key(spki_der(a.get()), spki_der(a.get())));
  EXPECT_FALSE(same_public_key(spki_der(a.get()), spki_der(b.get())));
  EXPECT_FALSE(same_public_key(spki_der(a.get()), spki_der(r.get())));
  EXPECT_FALSE(same_public_key(spki_der(a.get()), bytes_of("junk")));
}

TEST(PemP12, PemOutputRoundTrips) {
  Key k = make_key("P-384");
  Cert c = make_cert(k.get(), k.get(), "round trip");
  const std::string pub = public_key_pem(spki_der(k.get()));
  EXPECT_EQ(pub.rfind("-----BEGIN PUBLIC KEY-----\n", 0), 0u);
  BIO* b = BIO_new_mem_buf(pub.data(), static_cast<int>(pub.size()));
  Key back(PEM_read_bio_PUBKEY(b, nullptr, nullptr, nullptr));
  BIO_free(b);
  ASSERT_TRUE(back);
  EXPECT_EQ(EVP_PKEY_eq(back.get(), k.get()), 1);
  const std::string cp = certificate_pem(cert_der(c.get()));
  EXPECT_EQ(cp, cert_pem(c.get()));
  EXPECT_THROW(public_key_pem(bytes_of("junk")), Failure);
  EXPECT_THROW(certificate_pem(bytes_of("junk")), Failure);
}

TEST(PemP12, BadPublicAttributesAreRefused) {
  const Bytes p256 = {0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07};
  Bytes not_on_curve(65, 0x01);
  not_on_curve[0] = 0x04;
  EXPECT_THROW(spki_from_ec(p256, not_on_curve), Failure);
  EXPECT_THROW(spki_from_ec(Bytes{0x06, 0x03, 0x2B, 0x65, 0x71}, Bytes(32, 1)), Failure);  // Ed448 needs 57 bytes
  EXPECT_THROW(spki_from_ec(Bytes{0x06, 0x03, 0x2B, 0x65, 0x6F}, Bytes(57, 1)), Failure);  // X448: no signing key
  EXPECT_THROW(spki_from_rsa(Bytes{}, Bytes{0x03}), Failure);
}

TEST(PemP12, ParseHex) {
  EXPECT_EQ(parse_hex("01a2FF"), (Bytes{0x01, 0xA2, 0xFF}));
  EXPECT_EQ(parse_hex("01:a2:ff"), (Bytes{0x01, 0xA2, 0xFF}));
  EXPECT_EQ(parse_hex("01 a2"), (Bytes{0x01, 0xA2}));
  EXPECT_FALSE(parse_hex(""));
  EXPECT_FALSE(parse_hex("abc"));
  EXPECT_FALSE(parse_hex("0g"));
  EXPECT_FALSE(parse_hex("0:1"));
}

namespace {
struct Argv {
  std::vector<std::vector<char>> storage;
  std::vector<char*> ptrs;
  Argv(std::initializer_list<const char*> args) {
    for (const char* a : args) storage.emplace_back(a, a + std::strlen(a) + 1);
    for (auto& s : storage) ptrs.push_back(s.data());
  }
};
Options parse(std::initializer_list<const char*> args) {
  Argv a(args);
  return parse_args(a.ptrs);
}
}  // namespace

TEST(CliArgsImportExport, Import) {
  const Options o = parse({"import", "--slot", "3", "--label", "k", "--id", "0a:0b", "--p12-pass-file", "/p", "x.p12"});
  EXPECT_EQ(o.command, Command::import_key);
  EXPECT_EQ(o.slot, 3u);
  EXPECT_EQ(o.id, (std::vector<uint8_t>{0x0A, 0x0B}));
  EXPECT_EQ(o.p12_pass_file, "/p");
  EXPECT_EQ(o.file, "x.p12");
  EXPECT_THROW(parse({"import", "x.p12"}), UsageError);                            // no --slot
  EXPECT_THROW(parse({"import", "--slot", "1"}), UsageError);                      // no FILE
  EXPECT_THROW(parse({"import", "--slot", "1", "a", "b"}), UsageError);            // two files
  EXPECT_THROW(parse({"import", "--slot", "1", "--id", "xyz", "a"}), UsageError);  // bad hex
  EXPECT_THROW(parse({"import", "--slot", "1", "--out", "o", "a"}), UsageError);
  EXPECT_THROW(parse({"import", "--slot", "1", "--public", "a"}), UsageError);
}

TEST(CliArgsImportExport, Export) {
  const Options o = parse({"export", "--slot", "0", "--id", "01", "--public", "--out", "k.pem"});
  EXPECT_EQ(o.command, Command::export_key);
  EXPECT_TRUE(o.export_public);
  EXPECT_FALSE(o.export_cert);
  EXPECT_EQ(o.out, "k.pem");
  EXPECT_TRUE(parse({"export", "--slot", "0", "--label", "x", "--cert"}).export_cert);
  EXPECT_THROW(parse({"export", "--slot", "0", "--id", "01"}), UsageError);                       // neither
  EXPECT_THROW(parse({"export", "--slot", "0", "--id", "01", "--public", "--cert"}), UsageError);  // both
  EXPECT_THROW(parse({"export", "--slot", "0", "--public"}), UsageError);                         // no id/label
  EXPECT_THROW(parse({"export", "--slot", "0", "--id", "01", "--private"}), UsageError);           // no such thing
  EXPECT_THROW(parse({"export", "--slot", "0", "--id", "01", "--public", "file"}), UsageError);
  EXPECT_THROW(parse({"list", "--public"}), UsageError);
  EXPECT_THROW(parse({"list", "--id", "01"}), UsageError);
  EXPECT_THROW(parse({"init", "--label", "t", "--id", "01"}), UsageError);
}

TEST(CliArgsImportExport, ImportCert) {
  const Options o = parse({"import-cert", "--slot", "2", "--id", "ff", "c.pem"});
  EXPECT_EQ(o.command, Command::import_cert);
  EXPECT_EQ(o.file, "c.pem");
  EXPECT_THROW(parse({"import-cert", "--slot", "2", "c.pem"}), UsageError);  // no --id
  EXPECT_THROW(parse({"import-cert", "--slot", "2", "--id", "ff", "--p12-pass-file", "p", "c.pem"}), UsageError);
}
