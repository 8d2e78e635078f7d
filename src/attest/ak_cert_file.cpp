#include "attest/ak_cert_file.h"

#include "attest/tpm_structs.h"
#include "platform/files.h"

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <system_error>

namespace keyseal::attest {

namespace fs = std::filesystem;

std::string ak_chain_problem(const std::vector<Bytes>& chain, const Bytes& ak_public) {
  if (chain.empty()) return "no certificate given";
  for (size_t i = 0; i < chain.size(); ++i)
    if (!detail::parse_cert(chain[i])) return "certificate " + std::to_string(i + 1) + " is not a DER X.509 certificate";
  if (!certificate_holds_key(chain[0], ak_public)) return "the first certificate is not for this attestation key";
  return "";
}

void store_ak_certificates(const fs::path& dir, const Bytes& ak_public, const std::vector<Bytes>& chain) {
  if (std::string why = ak_chain_problem(chain, ak_public); !why.empty()) throw std::invalid_argument(why);
  Bytes all;
  for (const Bytes& c : chain) all.insert(all.end(), c.begin(), c.end());
  if (!dir.parent_path().empty()) (void)platform::make_private_dir(dir.parent_path());
  if (platform::make_private_dir(dir) == platform::MakeDir::not_a_directory)
    throw std::system_error(std::make_error_code(std::errc::not_a_directory), dir.string());
  (void)platform::write_private_file(dir / kAkCertificateFile, all.data(), all.size(), true);
}

std::vector<Bytes> load_ak_certificates(const fs::path& dir, const Bytes& ak_public, std::string* why) {
  const fs::path file = dir / kAkCertificateFile;
  std::error_code ec;
  if (dir.empty() || !fs::exists(file, ec)) return {};
  std::ifstream in(file, std::ios::binary);
  const Bytes all((std::istreambuf_iterator<char>(in)), {});
  std::vector<Bytes> chain;
  const unsigned char* p = all.data();
  const unsigned char* const end = all.data() + all.size();
  while (p < end) {
    const unsigned char* start = p;
    X509* x = d2i_X509(nullptr, &p, static_cast<long>(end - p));
    if (!x) {
      if (why) *why = file.string() + " is damaged: bytes " + std::to_string(start - all.data()) +
                      " on are not a DER certificate";
      return {};
    }
    X509_free(x);
    chain.emplace_back(start, p);
  }
  if (std::string problem = ak_chain_problem(chain, ak_public); !problem.empty()) {
    if (why) *why = file.string() + " is not used: " + problem + " (enrol the attestation key again)";
    return {};
  }
  return chain;
}

}  // namespace keyseal::attest
