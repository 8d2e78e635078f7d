// The mechanism table itself: the mechanisms keyseal offers, with flags and key sizes as C_GetMechanismInfo
// reports them (PKCS#11 3.0 current mechanisms spec, sections 2.1 RSA, 2.3 EC, 2.3.x EdDSA, 2.8-2.14 AES,
// 2.2 generic secret, 2.21-2.25 SHA-1/SHA-2 and their HMACs, 2.43 HKDF).
#include "core/mechanisms.h"

#include <algorithm>
#include <array>

namespace keyseal::core {
namespace {

constexpr CK_ULONG NA = CK_UNAVAILABLE_INFORMATION;
constexpr CK_FLAGS kEc = CKF_EC_F_P | CKF_EC_OID | CKF_EC_UNCOMPRESS;
constexpr CK_FLAGS kSV = CKF_SIGN | CKF_VERIFY;
constexpr CK_FLAGS kED = CKF_ENCRYPT | CKF_DECRYPT;
constexpr CK_FLAGS kWU = CKF_WRAP | CKF_UNWRAP;
// RSA keys keyseal can use (import may bring 1024-bit keys; generation starts at 2048).
constexpr CK_ULONG kRsaMin = 1024, kRsaMax = 8192;

const std::array kTable = {
    // RSA
    MechanismRow{CKM_RSA_PKCS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, 2048, 4096, CKK_RSA, ParamKind::none, 0, false},
    MechanismRow{CKM_RSA_PKCS, kSV | kED | kWU, kRsaMin, kRsaMax, CKK_RSA, ParamKind::none, 0, false},
    MechanismRow{CKM_RSA_X_509, kSV | kED, kRsaMin, kRsaMax, CKK_RSA, ParamKind::none, 0, false},
    MechanismRow{CKM_SHA1_RSA_PKCS, kSV, kRsaMin, kRsaMax, CKK_RSA, ParamKind::none, CKM_SHA_1, true},
    MechanismRow{CKM_SHA224_RSA_PKCS, kSV, kRsaMin, kRsaMax, CKK_RSA, ParamKind::none, CKM_SHA224, true},
    MechanismRow{CKM_SHA256_RSA_PKCS, kSV, kRsaMin, kRsaMax, CKK_RSA, ParamKind::none, CKM_SHA256, true},
    MechanismRow{CKM_SHA384_RSA_PKCS, kSV, kRsaMin, kRsaMax, CKK_RSA, ParamKind::none, CKM_SHA384, true},
    MechanismRow{CKM_SHA512_RSA_PKCS, kSV, kRsaMin, kRsaMax, CKK_RSA, ParamKind::none, CKM_SHA512, true},
    MechanismRow{CKM_RSA_PKCS_PSS, kSV, kRsaMin, kRsaMax, CKK_RSA, ParamKind::pss, 0, false},
    MechanismRow{CKM_SHA1_RSA_PKCS_PSS, kSV, kRsaMin, kRsaMax, CKK_RSA, ParamKind::pss, CKM_SHA_1, true},
    MechanismRow{CKM_SHA224_RSA_PKCS_PSS, kSV, kRsaMin, kRsaMax, CKK_RSA, ParamKind::pss, CKM_SHA224, true},
    MechanismRow{CKM_SHA256_RSA_PKCS_PSS, kSV, kRsaMin, kRsaMax, CKK_RSA, ParamKind::pss, CKM_SHA256, true},
    MechanismRow{CKM_SHA384_RSA_PKCS_PSS, kSV, kRsaMin, kRsaMax, CKK_RSA, ParamKind::pss, CKM_SHA384, true},
    MechanismRow{CKM_SHA512_RSA_PKCS_PSS, kSV, kRsaMin, kRsaMax, CKK_RSA, ParamKind::pss, CKM_SHA512, true},
    MechanismRow{CKM_RSA_PKCS_OAEP, kED | kWU, kRsaMin, kRsaMax, CKK_RSA, ParamKind::oaep, 0, false},
    // EC (NIST P-256, P-384, P-521)
    MechanismRow{CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR | kEc, 256, 521, CKK_EC, ParamKind::none, 0, false},
    MechanismRow{CKM_ECDSA, kSV | kEc, 256, 521, CKK_EC, ParamKind::none, 0, false},
    MechanismRow{CKM_ECDSA_SHA1, kSV | kEc, 256, 521, CKK_EC, ParamKind::none, CKM_SHA_1, true},
    MechanismRow{CKM_ECDSA_SHA224, kSV | kEc, 256, 521, CKK_EC, ParamKind::none, CKM_SHA224, true},
    MechanismRow{CKM_ECDSA_SHA256, kSV | kEc, 256, 521, CKK_EC, ParamKind::none, CKM_SHA256, true},
    MechanismRow{CKM_ECDSA_SHA384, kSV | kEc, 256, 521, CKK_EC, ParamKind::none, CKM_SHA384, true},
    MechanismRow{CKM_ECDSA_SHA512, kSV | kEc, 256, 521, CKK_EC, ParamKind::none, CKM_SHA512, true},
    MechanismRow{CKM_ECDH1_DERIVE, CKF_DERIVE | kEc, 256, 521, CKK_EC, ParamKind::ecdh, 0, false},
    // Ed25519 and Ed448 (key sizes in bits of the curve: 255 and 448)
    MechanismRow{CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR, 255, 448, CKK_EC_EDWARDS, ParamKind::none, 0,
                 false},
    MechanismRow{CKM_EDDSA, kSV, 255, 448, CKK_EC_EDWARDS, ParamKind::eddsa, 0, true},
    // AES (key sizes in bytes)
    MechanismRow{CKM_AES_KEY_GEN, CKF_GENERATE, 16, 32, CKK_AES, ParamKind::none, 0, false},
    MechanismRow{CKM_AES_ECB, kED | kWU, 16, 32, CKK_AES, ParamKind::none, 0, true},
    MechanismRow{CKM_AES_CBC, kED | kWU, 16, 32, CKK_AES, ParamKind::iv16, 0, true},
    MechanismRow{CKM_AES_CBC_PAD, kED | kWU, 16, 32, CKK_AES, ParamKind::iv16, 0, true},
    MechanismRow{CKM_AES_CTR, kED, 16, 32, CKK_AES, ParamKind::ctr, 0, true},
    MechanismRow{CKM_AES_GCM, kED, 16, 32, CKK_AES, ParamKind::gcm, 0, true},
    MechanismRow{CKM_AES_KEY_WRAP, kED | kWU, 16, 32, CKK_AES, ParamKind::optional_iv, 0, false},
    MechanismRow{CKM_AES_KEY_WRAP_PAD, kED | kWU, 16, 32, CKK_AES, ParamKind::optional_iv, 0, false},
    // Generic secret and HMAC (key sizes in bytes)
    MechanismRow{CKM_GENERIC_SECRET_KEY_GEN, CKF_GENERATE, 1, 512, CKK_GENERIC_SECRET, ParamKind::none, 0, false},
    MechanismRow{CKM_SHA_1_HMAC, kSV, 1, 512, CKK_GENERIC_SECRET, ParamKind::none, CKM_SHA_1, true},
    MechanismRow{CKM_SHA224_HMAC, kSV, 1, 512, CKK_GENERIC_SECRET, ParamKind::none, CKM_SHA224, true},
    MechanismRow{CKM_SHA256_HMAC, kSV, 1, 512, CKK_GENERIC_SECRET, ParamKind::none, CKM_SHA256, true},
    MechanismRow{CKM_SHA384_HMAC, kSV, 1, 512, CKK_GENERIC_SECRET, ParamKind::none, CKM_SHA384, true},
    MechanismRow{CKM_SHA512_HMAC, kSV, 1, 512, CKK_GENERIC_SECRET, ParamKind::none, CKM_SHA512, true},
    // HKDF (2.43; key sizes in bytes): base keys CKK_HKDF or CKK_GENERIC_SECRET
    MechanismRow{CKM_HKDF_KEY_GEN, CKF_GENERATE, 1, 512, CKK_HKDF, ParamKind::none, 0, false},
    MechanismRow{CKM_HKDF_DERIVE, CKF_DERIVE, 1, 512, CKK_HKDF, ParamKind::hkdf, 0, false},
    MechanismRow{CKM_HKDF_DATA, CKF_DERIVE, 1, 512, CKK_HKDF, ParamKind::hkdf, 0, false},
    // Digests
    MechanismRow{CKM_SHA_1, CKF_DIGEST, 0, 0, NA, ParamKind::none, CKM_SHA_1, true},
    MechanismRow{CKM_SHA224, CKF_DIGEST, 0, 0, NA, ParamKind::none, CKM_SHA224, true},
    MechanismRow{CKM_SHA256, CKF_DIGEST, 0, 0, NA, ParamKind::none, CKM_SHA256, true},
    MechanismRow{CKM_SHA384, CKF_DIGEST, 0, 0, NA, ParamKind::none, CKM_SHA384, true},
    MechanismRow{CKM_SHA512, CKF_DIGEST, 0, 0, NA, ParamKind::none, CKM_SHA512, true},
};

}  // namespace

std::span<const MechanismRow> mechanism_table() { return kTable; }

const MechanismRow* find_mechanism(CK_MECHANISM_TYPE type) {
  auto it = std::find_if(kTable.begin(), kTable.end(), [&](const MechanismRow& r) { return r.type == type; });
  return it == kTable.end() ? nullptr : &*it;
}

bool key_type_compatible(const MechanismRow& row, CK_KEY_TYPE key_type) {
  if (row.key_type == key_type) return true;
  // HMAC accepts any secret key with a value (generic secret, AES), as SoftHSMv2 and NSS expect.
  if (row.key_type == CKK_HKDF) return key_type == CKK_GENERIC_SECRET;  // 2.43: either may be the base key
  return row.key_type == CKK_GENERIC_SECRET && (row.flags & (CKF_SIGN | CKF_VERIFY)) && key_type == CKK_AES;
}

}  // namespace keyseal::core
