// Helpers for the attribute policy tests: template builders for each supported object kind and an Error-to-CK_RV
// adapter, so table rows can state the expected CK_RV.
#pragma once
#include "common/error.h"
#include "core/attribute_policy.h"
#include "core/attributes.h"
#include "core/backend_attributes.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

namespace keyseal::core::test {

using Entry = std::pair<CK_ATTRIBUTE_TYPE, SecureBytes>;

inline Entry U(CK_ATTRIBUTE_TYPE t, CK_ULONG v) { return {t, ulong_bytes(v)}; }
inline Entry T(CK_ATTRIBUTE_TYPE t, bool v) { return {t, bool_bytes(v)}; }
inline Entry V(CK_ATTRIBUTE_TYPE t, std::initializer_list<uint8_t> bytes) { return {t, SecureBytes(bytes)}; }
inline Entry N(CK_ATTRIBUTE_TYPE t, size_t n, uint8_t fill = 0x5a) { return {t, SecureBytes(n, fill)}; }
inline Entry S(CK_ATTRIBUTE_TYPE t, std::string_view s) { return {t, to_bytes(view(s))}; }

// Runs f; CKR_OK if it returned, else the CK_RV of the keyseal::Error it threw.
template <class F>
CK_RV rv_of(F&& f) {
  try {
    f();
    return CKR_OK;
  } catch (const Error& e) {
    return e.rv;
  }
}

// Valid C_CreateObject templates, one per supported kind.
inline AttributeTemplate data_create() { return {U(CKA_CLASS, CKO_DATA), S(CKA_LABEL, "d")}; }
inline AttributeTemplate cert_create() {
  return {U(CKA_CLASS, CKO_CERTIFICATE), U(CKA_CERTIFICATE_TYPE, CKC_X_509), V(CKA_SUBJECT, {0x30, 0x00}),
          V(CKA_VALUE, {0x30, 0x03, 0x02, 0x01, 0x01})};
}
inline AttributeTemplate rsa_public_create() {
  return {U(CKA_CLASS, CKO_PUBLIC_KEY), U(CKA_KEY_TYPE, CKK_RSA), N(CKA_MODULUS, 256, 0xc1),
          V(CKA_PUBLIC_EXPONENT, {0x01, 0x00, 0x01})};
}
inline AttributeTemplate rsa_private_create() {
  return {U(CKA_CLASS, CKO_PRIVATE_KEY), U(CKA_KEY_TYPE, CKK_RSA), N(CKA_MODULUS, 256, 0xc1),
          V(CKA_PUBLIC_EXPONENT, {0x01, 0x00, 0x01}), N(CKA_PRIVATE_EXPONENT, 256, 0x33),
          N(CKA_PRIME_1, 128, 0x21), N(CKA_PRIME_2, 128, 0x23), N(CKA_EXPONENT_1, 128, 0x11),
          N(CKA_EXPONENT_2, 128, 0x12), N(CKA_COEFFICIENT, 128, 0x13)};
}
inline const uint8_t kP256Oid[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
inline Entry ec_params() { return {CKA_EC_PARAMS, to_bytes(kP256Oid, sizeof kP256Oid)}; }
inline AttributeTemplate ec_public_create(CK_KEY_TYPE kt = CKK_EC) {
  return {U(CKA_CLASS, CKO_PUBLIC_KEY), U(CKA_KEY_TYPE, kt), ec_params(), N(CKA_EC_POINT, 67, 0x04)};
}
inline AttributeTemplate ec_private_create(CK_KEY_TYPE kt = CKK_EC) {
  return {U(CKA_CLASS, CKO_PRIVATE_KEY), U(CKA_KEY_TYPE, kt), ec_params(), N(CKA_VALUE, 32, 0x42)};
}
inline AttributeTemplate aes_create(size_t n = 32) {
  return {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES), N(CKA_VALUE, n, 0x77)};
}
inline AttributeTemplate generic_create() {
  return {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_GENERIC_SECRET), N(CKA_VALUE, 20, 0x66)};
}

// Valid C_GenerateKey(Pair) templates as the lead passes them (class and key type already set).
inline AttributeTemplate aes_generate(CK_ULONG len = 32) {
  return {U(CKA_CLASS, CKO_SECRET_KEY), U(CKA_KEY_TYPE, CKK_AES), U(CKA_VALUE_LEN, len)};
}
inline AttributeTemplate rsa_public_generate() {
  return {U(CKA_CLASS, CKO_PUBLIC_KEY), U(CKA_KEY_TYPE, CKK_RSA), U(CKA_MODULUS_BITS, 2048)};
}
inline AttributeTemplate rsa_private_generate() { return {U(CKA_CLASS, CKO_PRIVATE_KEY), U(CKA_KEY_TYPE, CKK_RSA)}; }
inline AttributeTemplate ec_public_generate() {
  return {U(CKA_CLASS, CKO_PUBLIC_KEY), U(CKA_KEY_TYPE, CKK_EC), ec_params()};
}
inline AttributeTemplate ec_private_generate() { return {U(CKA_CLASS, CKO_PRIVATE_KEY), U(CKA_KEY_TYPE, CKK_EC)}; }

inline AttributeTemplate with(AttributeTemplate t, std::initializer_list<Entry> extra) {
  for (const auto& e : extra) {
    bool replaced = false;
    for (auto& [type, value] : t)
      if (type == e.first) value = e.second, replaced = true;
    if (!replaced) t.push_back(e);
  }
  return t;
}
inline AttributeTemplate without(AttributeTemplate t, CK_ATTRIBUTE_TYPE type) {
  std::erase_if(t, [&](const Entry& e) { return e.first == type; });
  return t;
}

// A finished object as the lead would store it.
inline AttributeMap make_object(const AttributeTemplate& t, Origin origin = Origin::create, bool so = false) {
  AttributeMap m = to_map(t);
  check_new_object(m, origin, so);
  finish_new_object(m, origin, CKM_AES_KEY_GEN, "uid-1");
  return m;
}

inline std::string rv_str(CK_RV rv) { return rv_name(rv); }

}  // namespace keyseal::core::test
