// Single- and multi-part cryptographic calls (PKCS#11 3.0 sections 5.8-5.13) wrapped with the two-call
// output size convention of section 5.2, so mechanism tests read as "encrypt this, expect that".
#pragma once

#include "harness.h"

#include <cstring>
#include <memory>

namespace keyseal::conformance {

struct Mech {
  CK_MECHANISM m;
  Bytes param;
  std::shared_ptr<Bytes> extra;  // data the parameter points to (OAEP label), shared by copies
  explicit Mech(CK_MECHANISM_TYPE t) : m{t, nullptr, 0} {}
  template <class P>
  Mech(CK_MECHANISM_TYPE t, const P& p) : m{t, nullptr, 0}, param(sizeof(P)) {
    std::memcpy(param.data(), &p, sizeof(P));
    m.pParameter = param.data();
    m.ulParameterLen = param.size();
  }
  Mech(CK_MECHANISM_TYPE t, const Bytes& raw) : m{t, nullptr, 0}, param(raw) {
    m.pParameter = param.empty() ? nullptr : param.data();
    m.ulParameterLen = param.size();
  }
  Mech(const Mech& o) : m(o.m), param(o.param) {
    if (o.m.pParameter == o.param.data() && !param.empty()) m.pParameter = param.data();
  }
  CK_MECHANISM_PTR ptr() { return &m; }
};

// Each returns the first CK_RV that is not CKR_OK (out holds the result on CKR_OK).
CK_RV encrypt(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, Bytes& out);
CK_RV decrypt(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, Bytes& out);
CK_RV encrypt_parts(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, size_t chunk, Bytes& out);
CK_RV decrypt_parts(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, size_t chunk, Bytes& out);
CK_RV sign(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, Bytes& out);
CK_RV sign_parts(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, size_t chunk, Bytes& out);
CK_RV verify(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, const Bytes& sig);
CK_RV verify_parts(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, size_t chunk,
                   const Bytes& sig);
CK_RV digest(CK_SESSION_HANDLE s, Mech mech, const Bytes& in, Bytes& out);
CK_RV digest_parts(CK_SESSION_HANDLE s, Mech mech, const Bytes& in, size_t chunk, Bytes& out);

// PSS / OAEP parameter helpers.
CK_RSA_PKCS_MGF_TYPE mgf_for(CK_MECHANISM_TYPE digest);
CK_ULONG digest_len(CK_MECHANISM_TYPE digest);
Mech pss(CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE digest, CK_ULONG salt);
Mech oaep(CK_MECHANISM_TYPE digest, const Bytes& label);
// The DER DigestInfo prefix for a digest (PKCS #1 v2.2 section 9.2 note 1), for CKM_RSA_PKCS signatures.
Bytes digest_info_prefix(CK_MECHANISM_TYPE digest);

}  // namespace keyseal::conformance
