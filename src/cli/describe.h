// Words for PKCS#11 object attributes (classes, key types, curves from CKA_EC_PARAMS) used by `list`.
#pragma once
#include <keyseal/pkcs11.h>

#include <cstdint>
#include <span>
#include <string>
#include <utility>

#ifndef CKK_EC_MONTGOMERY
#define CKK_EC_MONTGOMERY 0x00000041UL  // PKCS#11 3.0; missing from p11-kit 0.24's header
#endif

namespace keyseal::cli {

std::string class_name(CK_OBJECT_CLASS cls);  // "private key", "certificate", "class 0x..."
std::string key_type_name(CK_KEY_TYPE kt);    // "RSA", "EC", "AES", "key type 0x..."
// Curve name and size from DER CKA_EC_PARAMS (namedCurve OID or printable name): "prime256v1", 256.
// Returns "unknown curve" and 0 for anything else.
std::pair<std::string, unsigned> curve_of(std::span<const uint8_t> ec_params);

}  // namespace keyseal::cli
