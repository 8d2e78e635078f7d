// Reading keys and certificates from PKCS#12 and PEM files (RFC 7292, RFC 7468) into PKCS#11 attribute values
// (PKCS#11 3.0 sections 4.6-4.9, current mechanisms 2.1 RSA, 2.3 EC, 2.3.5 Edwards), and writing PEM back.
#pragma once
#include "common/secure_bytes.h"

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyseal::cli {

using Bytes = std::vector<uint8_t>;

enum class KeyAlg { rsa, ec, ed25519, ed448 };

// The attribute values of one key pair, ready for C_CreateObject.
struct KeyMaterial {
  KeyAlg alg = KeyAlg::rsa;
  unsigned bits = 0;  // RSA modulus bits, EC field bits, 255 for Ed25519, 448 for Ed448
  Bytes spki;         // DER SubjectPublicKeyInfo (CKA_PUBLIC_KEY_INFO)
  // RSA (big-endian, no leading zeros)
  Bytes modulus, public_exponent;
  SecureBytes private_exponent, prime_1, prime_2, exponent_1, exponent_2, coefficient;
  // EC and Ed25519
  Bytes ec_params;    // DER namedCurve OID (Ed25519: 1.3.101.112)
  Bytes ec_point;     // DER OCTET STRING around the uncompressed point (Ed25519: the 32-byte key)
  SecureBytes value;  // private scalar padded to the order's size, or the Ed25519 seed
};

// The fields of an X.509 certificate a PKCS#11 certificate object carries (section 4.6.3).
struct Certificate {
  Bytes der;                // CKA_VALUE
  Bytes subject;            // CKA_SUBJECT, DER Name
  Bytes issuer;             // CKA_ISSUER, DER Name
  Bytes serial;             // CKA_SERIAL_NUMBER, DER INTEGER
  Bytes spki;               // its subject public key, DER SubjectPublicKeyInfo
  std::string common_name;  // subject CN, or empty
};

// What a key file held: at most one private key, and certificates with the one for that key first.
struct KeyFile {
  std::optional<KeyMaterial> key;
  std::vector<Certificate> certs;
  size_t key_cert_count = 0;  // 1 when certs[0] belongs to the key, else 0
  std::string friendly_name;  // PKCS#12 friendlyName of the key's bag, or empty
};

// Asked only when a PKCS#12 file or an encrypted PEM key needs a password.
using PasswordSource = std::function<SecureBytes()>;

// Reads PEM (private key, optionally encrypted, and any certificates) or DER PKCS#12. A PKCS#12 file is first
// tried with the empty password. Throws Failure for unreadable input, a wrong password, a key of an unsupported
// type (anything but RSA, EC P-256/P-384/P-521 and Ed25519), several private keys, or no private key at all.
KeyFile read_key_file(ByteView data, const PasswordSource& password);

// One certificate from PEM (the first CERTIFICATE block) or DER. Throws Failure when there is none.
Certificate read_certificate(ByteView data);

// RFC 5280 section 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING of an SPKI. For EC keys that
// is the SHA-1 of the point, as OpenSC derives CKA_ID; it also equals the subjectKeyIdentifier OpenSSL puts
// into certificates it makes.
Bytes key_id_from_spki(ByteView spki);

// DER SubjectPublicKeyInfo from PKCS#11 public attributes. CKA_EC_POINT may be raw or a DER OCTET STRING.
// Throws Failure for values that do not form a valid key.
Bytes spki_from_rsa(ByteView modulus, ByteView public_exponent);
Bytes spki_from_ec(ByteView ec_params, ByteView ec_point);

// True when both DER SubjectPublicKeyInfo values hold the same public key (different encodings allowed).
bool same_public_key(ByteView spki_a, ByteView spki_b);

// PEM text: "-----BEGIN PUBLIC KEY-----" (SPKI) and "-----BEGIN CERTIFICATE-----". Throws Failure on bad DER.
std::string public_key_pem(ByteView spki);
std::string certificate_pem(ByteView der);

// Parses hex ("0a1b", "0A:1B", "0a 1b") into bytes; nothing when it is not an even count of hex digits.
std::optional<Bytes> parse_hex(std::string_view text);

}  // namespace keyseal::cli
