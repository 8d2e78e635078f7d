// The CLI suite AttestCli of attest.swtpm: the verify-attestation and make-credential commands of the keyseal
// binary on files, as a CA runs them, against the evidence and AK of the AttestSwtpm fixture's swtpm.
#include "attest_swtpm_fixture.h"

#include <gtest/gtest.h>
#include <openssl/pem.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string_view>
#include <sys/wait.h>

namespace keyseal::attest {
namespace {

using namespace keyseal::attest::testing;

Bytes unhex_for_test(std::string_view s) { return *detail::unhex(s); }

struct CliRun {
  int rc = -1;
  std::string out;
};
CliRun run(const std::string& args) {
  CliRun r;
  FILE* p = ::popen((std::string(KEYSEAL_CLI) + " " + args + " 2>&1").c_str(), "r");
  if (!p) return r;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

class AttestCli : public AttestSwtpm {
 protected:
  void SetUp() override {
    AttestSwtpm::SetUp();
    std::string tmpl = (std::filesystem::temp_directory_path() / "keyseal-attest-cli-XXXXXX").string();
    ASSERT_TRUE(::mkdtemp(tmpl.data()));
    dir_ = tmpl;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string write(const std::string& name, const std::string& data) {
    const std::filesystem::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << data;
    return p.string();
  }
  std::string write(const std::string& name, const Bytes& data) { return write(name, std::string(data.begin(), data.end())); }
  std::string write_pem(const std::string& name, const std::vector<Bytes>& certs) {
    std::string pem;
    for (const Bytes& der : certs) {
      const unsigned char* p = der.data();
      X509* c = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
      BIO* bio = BIO_new(BIO_s_mem());
      PEM_write_bio_X509(bio, c);
      char* text = nullptr;
      const long n = BIO_get_mem_data(bio, &text);
      pem.append(text, static_cast<size_t>(n));
      BIO_free(bio);
      X509_free(c);
    }
    return write(name, pem);
  }
  Evidence with_ak_certificate() {
    Evidence e = world_->good();
    const detail::Pkey ak_key = detail::key_of(detail::parse_public(world_->ak_pub, "ak"));
    e.ak_certificates = {world_->ca.issue(ak_key.get(), true)};
    return e;
  }
  std::filesystem::path dir_;
};

TEST_F(AttestCli, VerifyAttestationJson) {
  const std::string ev = write("evidence.json", to_json(with_ak_certificate()));
  const std::string ek_roots = world_->a.swtpm().ek_ca_pem().string();
  const std::string ak_root = write_pem("ak-ca.pem", {world_->ca.root()});
  const std::string nonce = detail::hex(kNonce);
  CliRun r = run("verify-attestation --roots " + ek_roots + " --roots " + ak_root + " --nonce " + nonce + " " + ev);
  EXPECT_EQ(r.rc, 0) << r.out;
  for (const char* name : kAllChecks) EXPECT_NE(r.out.find(std::string("ok   ") + name + ": "), std::string::npos) << name;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;

  r = run("verify-attestation --roots " + ek_roots + " --roots " + ak_root + " --nonce 00 " + ev);
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL nonce: "), std::string::npos) << r.out;

  // Another TPM's CA: neither the EK certificate nor (without the AK CA) the AK certificate chains.
  const std::string other_roots = world_->b.swtpm().ek_ca_pem().string();
  r = run("verify-attestation --roots " + other_roots + " " + ev);
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("FAIL ek_certificate_chain: "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("FAIL ak_bound_to_ek: "), std::string::npos) << r.out;

  r = run("verify-attestation --roots " + ek_roots + " " + write("bad.json", std::string("{\"version\": 1}")));
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("is missing"), std::string::npos) << r.out;
  r = run("verify-attestation --roots " + ev + " " + ev);  // not a certificate file
  EXPECT_EQ(r.rc, 1) << r.out;
  r = run("verify-attestation " + ev);
  EXPECT_EQ(r.rc, 2) << r.out;
}

TEST_F(AttestCli, VerifyAttestationTpmStatement) {
  const std::string st = write("statement.cbor", to_tpm_statement(with_ak_certificate()));
  const std::string ak_root = write_pem("ak-ca.pem", {world_->ca.root()});
  CliRun r = run("verify-attestation --format tpm --roots " + ak_root + " --nonce " + detail::hex(kNonce) + " " + st);
  EXPECT_EQ(r.rc, 0) << r.out;
  r = run("verify-attestation --format json --roots " + ak_root + " " + st);  // CBOR is no JSON
  EXPECT_EQ(r.rc, 1) << r.out;
}

TEST_F(AttestCli, MakeCredentialIsActivatedByTheTpm) {
  AkInfo ak;
  ak.ak_public = world_->ak_pub;
  ak.ek_public = world_->ek_pub;
  ak.ek_certificates = world_->ek_certs;
  const std::string ak_json = write("ak.json", to_json(ak));
  const std::string ek_cert = write_pem("ek.pem", world_->ek_certs);
  const std::string out = (dir_ / "credential.json").string();
  CliRun r = run("make-credential --ak " + ak_json + " --ek-cert " + ek_cert + " --secret 00112233445566778899 --out " + out);
  ASSERT_EQ(r.rc, 0) << r.out;
  std::ifstream in(out);
  const std::string text((std::istreambuf_iterator<char>(in)), {});
  EXPECT_EQ(world_->activate(credential_from_json(text)), unhex_for_test("00112233445566778899"));

  // Standard output without --out.
  r = run("make-credential --ak " + ak_json + " --secret 0102");
  ASSERT_EQ(r.rc, 0) << r.out;
  EXPECT_EQ(world_->activate(credential_from_json(r.out)), (Bytes{1, 2}));

  // An EK certificate of another key (TPM B's localca root) is refused.
  const std::string other = write_pem("other.pem", world_->roots_b);
  r = run("make-credential --ak " + ak_json + " --ek-cert " + other + " --secret 01");
  EXPECT_EQ(r.rc, 1) << r.out;
  EXPECT_NE(r.out.find("not the EK"), std::string::npos) << r.out;
  r = run("make-credential --ak " + write("bad.json", std::string("{}")) + " --secret 01");
  EXPECT_EQ(r.rc, 1) << r.out;
}

}  // namespace
}  // namespace keyseal::attest
