// Certificates from PEM text, for the roots and certificate files a verifier is given (`keyseal
// verify-attestation --roots`, the tests' swtpm-localca roots).
#include "attest/evidence.h"

#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <climits>

namespace keyseal::attest {

std::vector<Bytes> certificates_from_pem(std::string_view pem) {
  std::vector<Bytes> out;
  if (pem.empty() || pem.size() > static_cast<size_t>(INT_MAX)) return out;
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  if (!bio) return out;
  while (X509* c = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr)) {
    unsigned char* der = nullptr;
    const int n = i2d_X509(c, &der);
    if (n > 0) out.emplace_back(der, der + n);
    OPENSSL_free(der);
    X509_free(c);
  }
  BIO_free(bio);
  ERR_clear_error();  // the read that ends the loop leaves "no start line" on the queue
  return out;
}

}  // namespace keyseal::attest
