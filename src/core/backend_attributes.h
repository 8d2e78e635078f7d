// Attributes a backend keeps with an object for itself (e.g. the TPM's wrapped key blobs). They live in a
// vendor-defined range the application can never name: templates naming them are refused with
// CKR_ATTRIBUTE_TYPE_INVALID, reads answer CKR_ATTRIBUTE_TYPE_INVALID, and the "secret" half of the range is
// sealed under the token's master key at rest like any secret key component.
#pragma once
#include <keyseal/pkcs11.h>

namespace keyseal::core {

inline constexpr CK_ATTRIBUTE_TYPE kBackendAttrBase = CKA_VENDOR_DEFINED | 0x4B530000UL;  // "KS"
inline constexpr CK_ATTRIBUTE_TYPE kBackendAttrMask = 0xFFFF0000UL;
inline constexpr CK_ATTRIBUTE_TYPE kBackendSecretBit = 0x8000UL;  // set: sealed at rest under the master key

// Backend-internal attribute number n (0..0x7FFF), public or sealed.
constexpr CK_ATTRIBUTE_TYPE backend_attr(CK_ULONG n) { return kBackendAttrBase | n; }
constexpr CK_ATTRIBUTE_TYPE backend_secret_attr(CK_ULONG n) { return kBackendAttrBase | kBackendSecretBit | n; }

constexpr bool is_backend_attr(CK_ATTRIBUTE_TYPE t) {
  return (t & ~kBackendAttrMask) <= 0xFFFFUL && (t & kBackendAttrMask) == kBackendAttrBase;
}
constexpr bool is_backend_secret_attr(CK_ATTRIBUTE_TYPE t) {
  return is_backend_attr(t) && (t & kBackendSecretBit) != 0;
}

}  // namespace keyseal::core
