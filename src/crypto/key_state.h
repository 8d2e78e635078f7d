// Internal to crypto/: what a PKey holds, and curve facts shared by key import, signing and ECDH.
#pragma once
#include "crypto/keys.h"
#include "crypto/ossl.h"

#include <mutex>
#include <vector>

namespace keyseal::crypto {

struct PKey::State {
  PkeyPtr pkey;
  KeyKind kind = KeyKind::none;
  Curve curve = Curve::none;
  size_t bits = 0;
  size_t signature_size = 0;
  bool has_private = false;

  // ECDSA contexts already initialised for signing, reused by later operations: creating and initialising
  // one per signature costs about a quarter of a P-256 signature. A context is used by one thread at a time.
  mutable std::mutex pool_mu;
  mutable std::vector<EVP_PKEY_CTX*> sign_pool;
  // Ed25519 / Ed448: a context initialised once for EVP_DigestSign (built under pool_mu on first use, never changed
  // afterwards); each signature copies it instead of paying EVP_DigestSignInit_ex's fetch and setup.
  mutable EVP_MD_CTX* ed_sign_template = nullptr;

  State() = default;
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    for (EVP_PKEY_CTX* c : sign_pool) EVP_PKEY_CTX_free(c);
    EVP_MD_CTX_free(ed_sign_template);
  }
};

struct CurveInfo {
  const char* group;      // OpenSSL group name ("prime256v1"), or "ED25519" / "ED448"
  size_t bits;            // 256/384/521/255/448
  size_t field_bytes;     // coordinate / scalar size (Ed25519: 32, Ed448: 57)
};
const CurveInfo& curve_info(Curve c);

// Wraps a freshly made EVP_PKEY into a PKey, computing the cached size facts.
PKey make_pkey(PkeyPtr p, KeyKind kind, Curve curve, bool has_private);

}  // namespace keyseal::crypto
