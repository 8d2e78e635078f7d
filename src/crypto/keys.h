// Asymmetric keys: import from PKCS#11 attribute values, generation, EC parameter and point encodings
// (PKCS#11 3.0 current mechanisms sections 2.1 RSA, 2.3 EC, 2.3.5 Edwards; CKA_EC_PARAMS / CKA_EC_POINT).
#pragma once
#include "common/secure_bytes.h"

#include <keyseal/pkcs11.h>

#include <cstddef>
#include <memory>

struct evp_pkey_st;

namespace keyseal::crypto {

enum class KeyKind { none, rsa, ec, eddsa };  // eddsa: Ed25519 or Ed448, told apart by curve()
enum class Curve { none, p256, p384, p521, ed25519, ed448 };
bool is_edwards(Curve c);

// Shared, immutable handle to an EVP_PKEY. Copies share the key; concurrent read-only use (sign, verify,
// encrypt, decrypt) from several threads is safe.
class PKey {
 public:
  struct State;
  PKey();
  explicit PKey(std::shared_ptr<const State> s);
  explicit operator bool() const;
  evp_pkey_st* get() const;
  size_t bits() const;            // RSA modulus bits, EC field bits (256/384/521), 255 Ed25519, 448 Ed448
  size_t signature_size() const;  // RSA: modulus bytes, ECDSA: 2*order bytes (r||s), Ed25519: 64, Ed448: 114
  KeyKind kind() const;
  Curve curve() const;            // Curve::none for RSA
  bool has_private() const;
  const State* state() const { return s_.get(); }

 private:
  std::shared_ptr<const State> s_;
};

// Big-endian unsigned integers as in PKCS#11. p..qinv may all be empty (then the key has n, e, d only).
PKey rsa_private_key(ByteView n, ByteView e, ByteView d, ByteView p, ByteView q, ByteView dp, ByteView dq,
                     ByteView qinv);
PKey rsa_public_key(ByteView n, ByteView e);
// ec_params: CKA_EC_PARAMS DER (namedCurve OID; for Ed25519 the OID 1.3.101.112 or PrintableString
// "edwards25519", for Ed448 1.3.101.113 or "edwards448"). d: private scalar (NIST) or the RFC 8032 private
// key (Ed25519: 32 bytes, Ed448: 57 bytes).
PKey ec_private_key(ByteView ec_params, ByteView d);
// point: raw (04||X||Y, or 32 / 57 bytes for Ed25519 / Ed448) or a DER OCTET STRING wrapping it.
PKey ec_public_key(ByteView ec_params, ByteView point);

struct RsaKeyPair {
  SecureBytes n, e, d, p, q, dp, dq, qinv;
};
// bits 1024..8192 else CKR_KEY_SIZE_RANGE; empty public_exponent means 65537.
RsaKeyPair generate_rsa(size_t bits, ByteView public_exponent);

struct EcKeyPair {
  SecureBytes d;
  SecureBytes point;  // raw, not DER-wrapped
};
EcKeyPair generate_ec(ByteView ec_params);  // P-256, P-384, P-521, Ed25519, Ed448
SecureBytes ec_public_point(ByteView ec_params, ByteView d);  // raw public point from the private value

// A private key in PKCS#8 PrivateKeyInfo form (what C_UnwrapKey of a private key yields, PKCS#11 3.0
// section 2.2 "wrapping private keys"): RSA, or EC/Ed25519/Ed448 with its curve. CKR_WRAPPED_KEY_INVALID when it
// is not one, CKR_CURVE_NOT_SUPPORTED for another curve.
struct Pkcs8Key {
  bool rsa = false;
  RsaKeyPair rsa_key;
  SecureBytes ec_params;  // DER namedCurve (or the Ed25519 / Ed448 OID)
  EcKeyPair ec_key;
};
Pkcs8Key parse_pkcs8(ByteView der);

// 256/384/521/255/448. CKR_CURVE_NOT_SUPPORTED for well-formed but unsupported parameters,
// CKR_DOMAIN_PARAMS_INVALID for anything that is not DER.
size_t ec_params_bits(ByteView ec_params);
bool ec_params_is_ed25519(ByteView ec_params);
bool ec_params_is_edwards(ByteView ec_params);  // Ed25519 or Ed448
Curve ec_params_curve(ByteView ec_params);  // same errors as ec_params_bits
SecureBytes ec_params_der(Curve c);         // the namedCurve OID (Ed25519 1.3.101.112, Ed448 1.3.101.113)
SecureBytes der_octet_string(ByteView raw);  // CKA_EC_POINT is a DER OCTET STRING
// Accept raw or DER OCTET STRING and return raw; CKR_ATTRIBUTE_VALUE_INVALID if neither fits the curve.
SecureBytes unwrap_ec_point(ByteView ec_params, ByteView v);
SecureBytes public_key_info(const PKey& k);  // DER SubjectPublicKeyInfo (CKA_PUBLIC_KEY_INFO)

}  // namespace keyseal::crypto
