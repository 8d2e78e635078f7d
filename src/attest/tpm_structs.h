// attest/ internals: TPM structures parsed with tss2-mu (every byte consumed), their keys as OpenSSL keys,
// TPM hash algorithms, hex and base64. Not part of the interface (evidence.h).
#pragma once
#include "attest/evidence.h"

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_tpm2_types.h>

#include <memory>
#include <optional>
#include <string>

namespace keyseal::attest::detail {

struct PkeyFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyFree>;
struct X509Free {
  void operator()(X509* p) const { X509_free(p); }
};
using Cert = std::unique_ptr<X509, X509Free>;

// Unmarshal the whole of `b`; throw std::invalid_argument naming `what` when it is malformed or has bytes left.
TPMT_PUBLIC parse_public(const Bytes& b, const std::string& what);
TPMS_ATTEST parse_attest(const Bytes& b, const std::string& what);
TPMT_SIGNATURE parse_signature(const Bytes& b, const std::string& what);
Bytes marshal(const TPMT_PUBLIC& p);
Bytes marshal(const TPMT_SIGNATURE& s);

// The OpenSSL digest of a TPM hash algorithm (nullptr for others) and its size (0 for others).
const EVP_MD* md_of(TPMI_ALG_HASH alg);
size_t digest_size(TPMI_ALG_HASH alg);
// A TPM ECC curve's OpenSSL group name and byte size (nullptr/0 for curves we do not handle).
const char* curve_name(TPMI_ECC_CURVE curve);
size_t curve_bytes(TPMI_ECC_CURVE curve);
TPMI_ECC_CURVE curve_of_name(const std::string& group);

// The public key of an RSA or ECC TPMT_PUBLIC; throws std::invalid_argument for other types or bad keys.
Pkey key_of(const TPMT_PUBLIC& p);
// A certificate's public key equals the key of `p`.
bool same_key(X509* cert, const TPMT_PUBLIC& p);

// Verifies a TPMT_SIGNATURE (RSASSA, RSAPSS, ECDSA) by `key` over `data` with the signature's hash.
// Returns "" when good, else why not.
std::string verify_signature(const TPMT_PUBLIC& key, const TPMT_SIGNATURE& sig, const Bytes& data);

Cert parse_cert(const Bytes& der);  // nullptr when not one DER certificate

std::string hex(const uint8_t* p, size_t n);
inline std::string hex(const Bytes& b) { return hex(b.data(), b.size()); }
std::optional<Bytes> unhex(std::string_view s);  // nullopt when not an even number of hex digits
std::string base64(const Bytes& b);
std::optional<Bytes> unbase64(std::string_view s);  // strict: padded, canonical, no whitespace

Bytes random_bytes(size_t n);

// TPM2_ActivateCredential in software for an RSA EK whose private key is `ek_private` (credential.cpp): the
// secret, or nullopt when the credential does not open (bad sizes, OAEP, integrity HMAC), as the TPM refuses.
std::optional<Bytes> activate_credential(EVP_PKEY* ek_private, const TPMT_PUBLIC& ek, const Bytes& ak_name,
                                         const Credential& c);

}  // namespace keyseal::attest::detail
