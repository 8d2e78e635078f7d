// OpenSSL cross-checks: rebuild the module's public keys (PKCS#11 3.0 current mechanisms sections 2.1 and 2.3
// attributes) in OpenSSL and verify signatures / encrypt / derive with them, independently of the module.
#pragma once

#include "harness.h"

#include <string>

namespace keyseal::conformance::ossl {

// Digest name for OpenSSL ("SHA256") from a CKM_SHA* digest mechanism; empty when unknown.
std::string digest_name(CK_MECHANISM_TYPE digest);
Bytes digest(CK_MECHANISM_TYPE digest_mech, const Bytes& data);

// RSA public key from CKA_MODULUS / CKA_PUBLIC_EXPONENT. padding: "pkcs1", "pss", "none".
// digest: CKM_SHA* or 0 (then data is the exact input to the raw RSA operation / DigestInfo).
bool rsa_verify(const Bytes& modulus, const Bytes& exponent, const std::string& padding, CK_MECHANISM_TYPE digest,
                CK_MECHANISM_TYPE mgf_digest, int salt_len, const Bytes& data, const Bytes& sig, bool prehashed,
                std::string* err);
// Encrypt with the RSA public key. padding "pkcs1" or "oaep" (with digest/mgf digest/label).
Bytes rsa_encrypt(const Bytes& modulus, const Bytes& exponent, const std::string& padding, CK_MECHANISM_TYPE digest,
                  CK_MECHANISM_TYPE mgf_digest, const Bytes& label, const Bytes& plaintext, std::string* err);

// ECDSA over a curve (OpenSSL NID) with CKA_EC_POINT (DER OCTET STRING, or raw point for lenient modules).
// sig is PKCS#11's r||s. data is hashed with digest unless digest == 0 (then data is the hash).
bool ecdsa_verify(int nid, const Bytes& ec_point, CK_MECHANISM_TYPE digest, const Bytes& data, const Bytes& sig,
                  std::string* err);

// A fresh OpenSSL EC key on the curve: its uncompressed public point, and ECDH with a peer point.
struct EcPeer {
  void* pkey = nullptr;  // EVP_PKEY*
  Bytes public_point;    // uncompressed 04||X||Y
  ~EcPeer();
};
bool ec_peer_generate(int nid, EcPeer& peer);
Bytes ecdh(const EcPeer& peer, int nid, const Bytes& peer_point, std::string* err);

// Ed25519 signature check with a raw 32-byte public key (RFC 8032, pure EdDSA).
bool ed25519_verify(const Bytes& public_key, const Bytes& data, const Bytes& sig, std::string* err);
// The same for Ed448 (57-byte key, 114-byte signature, pure Ed448 with an empty context).
bool ed448_verify(const Bytes& public_key, const Bytes& data, const Bytes& sig, std::string* err);

// Strips a DER OCTET STRING wrapper (CKA_EC_POINT); returns the input unchanged when it is not one.
Bytes unwrap_octet_string(const Bytes& der, bool* was_wrapped = nullptr);

// The RSA private key components of a PKCS#8 / traditional DER key, as PKCS#11 attributes (CKA_MODULUS ...).
bool rsa_private_attributes(const Bytes& der, std::vector<std::pair<CK_ATTRIBUTE_TYPE, Bytes>>& out);

// A self-signed X.509 certificate (DER) for a fresh P-256 key, with its DER subject, issuer and serial number.
struct Certificate {
  Bytes der, subject, issuer, serial;
};
Certificate self_signed_certificate(const std::string& common_name);
// The DER subject of a DER certificate; empty when it does not parse.
Bytes certificate_subject(const Bytes& der);

std::string last_error();

}  // namespace keyseal::conformance::ossl
