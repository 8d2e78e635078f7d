// The AK certificate chain a CA issued at enrolment (`keyseal attest-ak --store-cert`), kept beside the store and
// put into every later attestation by that AK. One file, ak-certs.der, of DER certificates one after the other,
// the AK's own first, in a directory of the AK's: on Linux <store>/tpm-ak/ek-<id>/ (per TPM and EK), on Windows
// <store>/pcp-ak/ (the per-user PCP AIK "keyseal-ak").
//
// The chain is bound to the AK it was issued for: it is refused when stored for another key, and it is not
// loaded once the AK has changed (an AK made again, e.g. after its blob or the PCP key was deleted, needs a new
// enrolment: an old certificate would only make the verifier fail ak_bound_to_ek).
#pragma once
#include "attest/evidence.h"

#include <filesystem>
#include <string>
#include <vector>

namespace keyseal::attest {

inline constexpr char kAkCertificateFile[] = "ak-certs.der";

// Why `chain` cannot be kept for the AK `ak_public` (marshalled TPMT_PUBLIC), "" when it can: it must hold at
// least one certificate, each one DER X.509 certificate, and the first's key must be the AK's key.
std::string ak_chain_problem(const std::vector<Bytes>& chain, const Bytes& ak_public);

// Replaces dir/ak-certs.der with `chain` (a new private file, published atomically; `dir` made private when
// missing). Throws std::invalid_argument with ak_chain_problem()'s reason, std::system_error when the file
// cannot be written.
void store_ak_certificates(const std::filesystem::path& dir, const Bytes& ak_public, const std::vector<Bytes>& chain);

// The chain kept in dir/ak-certs.der when there is one, it parses, and its first certificate is for `ak_public`;
// otherwise empty (`why`, when given, says why a file that is there was not used).
std::vector<Bytes> load_ak_certificates(const std::filesystem::path& dir, const Bytes& ak_public,
                                        std::string* why = nullptr);

}  // namespace keyseal::attest
