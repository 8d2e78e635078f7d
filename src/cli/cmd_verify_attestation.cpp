// `keyseal verify-attestation`: the verifier of attest/ on a file, as a CA runs it (no TPM, no PKCS#11 module).
// Credential activation needs the TPM, so the AK is accepted here only through an AK certificate chaining to
// the roots (issued at enrolment after `make-credential` and `attest-ak`).
#include "attest/evidence.h"
#include "cli/commands.h"
#include "cli/errors.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <fstream>
#include <iterator>
#include <ostream>

namespace keyseal::cli {
namespace {

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Failure("cannot read " + path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Every certificate of a PEM file (or the one of a DER file), as DER.
std::vector<attest::Bytes> read_certificates(const std::string& path) {
  const std::string data = read_all(path);
  std::vector<attest::Bytes> out = attest::certificates_from_pem(data);
  if (out.empty()) {
    const unsigned char* p = reinterpret_cast<const unsigned char*>(data.data());
    if (X509* c = d2i_X509(nullptr, &p, static_cast<long>(data.size()))) {
      out.emplace_back(reinterpret_cast<const uint8_t*>(data.data()), p);
      X509_free(c);
    }
    ERR_clear_error();
  }
  if (out.empty()) throw Failure(path + " holds no certificate");
  return out;
}

}  // namespace

int run_verify_attestation(const Options& o, std::ostream& out) {
  attest::VerifyOptions vo;
  for (const std::string& r : o.roots) {
    auto certs = read_certificates(r);
    vo.roots.insert(vo.roots.end(), certs.begin(), certs.end());
  }
  vo.nonce = o.nonce;
  const std::string data = read_all(*o.file);
  attest::Evidence e;
  try {
    e = o.format && *o.format == "tpm" ? attest::from_tpm_statement(attest::Bytes(data.begin(), data.end()))
                                       : attest::from_json(data);
  } catch (const std::invalid_argument& x) {
    throw Failure(*o.file + ": " + x.what());
  }
  const attest::Report r = attest::verify(e, vo);
  for (const attest::Check& c : r.checks) out << (c.ok ? "ok   " : "FAIL ") << c.name << ": " << c.detail << "\n";
  return r.ok() ? kExitOk : kExitFailed;
}

}  // namespace keyseal::cli
