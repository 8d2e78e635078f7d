// `keyseal make-credential`: TPM2_MakeCredential in software for a CA enrolling an AK (attest/credential.cpp).
// The EK the credential is encrypted to is the AK document's; with --ek-cert the CA's checked EK certificate must
// hold that very key, so a document naming a foreign EK is refused rather than challenged.
#include "attest/evidence.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/pem_p12.h"

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

}  // namespace

int run_make_credential(const Options& o, std::ostream& out) {
  attest::AkInfo ak;
  try {
    ak = attest::ak_info_from_json(read_all(*o.ak));
  } catch (const std::invalid_argument& x) {
    throw Failure(*o.ak + ": " + x.what());
  }
  if (o.ek_cert) {
    const std::string pem = read_all(*o.ek_cert);
    const Certificate cert = read_certificate(view(pem));
    if (!attest::certificate_holds_key(cert.der, ak.ek_public))
      throw Failure(*o.ek_cert + ": the certificate's key is not the EK of " + *o.ak);
  }
  attest::Credential c;
  try {
    c = attest::make_credential(ak.ek_public, attest::name_of(ak.ak_public), *o.secret);
  } catch (const std::invalid_argument& x) {
    throw Failure(std::string("make-credential: ") + x.what());
  }
  const std::string text = attest::to_json(c);
  if (!o.out) {
    out << text;
    return kExitOk;
  }
  std::ofstream f(*o.out, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f.flush()) throw Failure("cannot write " + *o.out);
  return kExitOk;
}

}  // namespace keyseal::cli
