// Implementation of ops.h: every single-part call uses the two-call size convention (NULL buffer for the
// length, then the buffer), multi-part calls feed chunks, as PKCS#11 3.0 sections 5.2 and 5.8-5.13 describe.
#include "ops.h"

#include <algorithm>

namespace keyseal::conformance {
namespace {

template <class F>
CK_RV two_call(F f, Bytes& out) {
  CK_ULONG len = 0;
  CK_RV rv = f(nullptr, &len);
  if (rv != CKR_OK) return rv;
  out.assign(len + 1, 0);  // never a NULL buffer, even for a zero-length result (NULL would be a size query)
  rv = f(out.data(), &len);
  if (rv == CKR_OK) out.resize(len);
  return rv;
}

// Empty input is passed as a valid pointer with length 0, so that only the length is under test.
CK_BYTE_PTR ptr(const Bytes& b) {
  static CK_BYTE empty[1];
  return b.empty() ? empty : const_cast<CK_BYTE_PTR>(b.data());
}

}  // namespace

CK_RV encrypt(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, Bytes& out) {
  if (CK_RV rv = p11()->C_EncryptInit(s, mech.ptr(), key); rv != CKR_OK) return rv;
  return two_call([&](CK_BYTE_PTR o, CK_ULONG_PTR l) { return p11()->C_Encrypt(s, ptr(in), in.size(), o, l); }, out);
}

CK_RV decrypt(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, Bytes& out) {
  if (CK_RV rv = p11()->C_DecryptInit(s, mech.ptr(), key); rv != CKR_OK) return rv;
  return two_call([&](CK_BYTE_PTR o, CK_ULONG_PTR l) { return p11()->C_Decrypt(s, ptr(in), in.size(), o, l); }, out);
}

CK_RV encrypt_parts(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, size_t chunk, Bytes& out) {
  if (CK_RV rv = p11()->C_EncryptInit(s, mech.ptr(), key); rv != CKR_OK) return rv;
  out.clear();
  for (size_t off = 0; off < in.size(); off += chunk) {
    Bytes part(in.begin() + off, in.begin() + std::min(in.size(), off + chunk)), o;
    CK_RV rv = two_call(
        [&](CK_BYTE_PTR p, CK_ULONG_PTR l) { return p11()->C_EncryptUpdate(s, part.data(), part.size(), p, l); }, o);
    if (rv != CKR_OK) return rv;
    out.insert(out.end(), o.begin(), o.end());
  }
  Bytes last;
  CK_RV rv = two_call([&](CK_BYTE_PTR p, CK_ULONG_PTR l) { return p11()->C_EncryptFinal(s, p, l); }, last);
  out.insert(out.end(), last.begin(), last.end());
  return rv;
}

CK_RV decrypt_parts(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, size_t chunk, Bytes& out) {
  if (CK_RV rv = p11()->C_DecryptInit(s, mech.ptr(), key); rv != CKR_OK) return rv;
  out.clear();
  for (size_t off = 0; off < in.size(); off += chunk) {
    Bytes part(in.begin() + off, in.begin() + std::min(in.size(), off + chunk)), o;
    CK_RV rv = two_call(
        [&](CK_BYTE_PTR p, CK_ULONG_PTR l) { return p11()->C_DecryptUpdate(s, part.data(), part.size(), p, l); }, o);
    if (rv != CKR_OK) return rv;
    out.insert(out.end(), o.begin(), o.end());
  }
  Bytes last;
  CK_RV rv = two_call([&](CK_BYTE_PTR p, CK_ULONG_PTR l) { return p11()->C_DecryptFinal(s, p, l); }, last);
  out.insert(out.end(), last.begin(), last.end());
  return rv;
}

CK_RV sign(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, Bytes& out) {
  if (CK_RV rv = p11()->C_SignInit(s, mech.ptr(), key); rv != CKR_OK) return rv;
  return two_call([&](CK_BYTE_PTR o, CK_ULONG_PTR l) { return p11()->C_Sign(s, ptr(in), in.size(), o, l); }, out);
}

CK_RV sign_parts(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, size_t chunk, Bytes& out) {
  if (CK_RV rv = p11()->C_SignInit(s, mech.ptr(), key); rv != CKR_OK) return rv;
  for (size_t off = 0; off < in.size(); off += chunk) {
    CK_ULONG n = std::min(chunk, in.size() - off);
    if (CK_RV rv = p11()->C_SignUpdate(s, ptr(in) + off, n); rv != CKR_OK) return rv;
  }
  return two_call([&](CK_BYTE_PTR o, CK_ULONG_PTR l) { return p11()->C_SignFinal(s, o, l); }, out);
}

CK_RV verify(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, const Bytes& sig) {
  if (CK_RV rv = p11()->C_VerifyInit(s, mech.ptr(), key); rv != CKR_OK) return rv;
  return p11()->C_Verify(s, ptr(in), in.size(), ptr(sig), sig.size());
}

CK_RV verify_parts(CK_SESSION_HANDLE s, Mech mech, CK_OBJECT_HANDLE key, const Bytes& in, size_t chunk,
                   const Bytes& sig) {
  if (CK_RV rv = p11()->C_VerifyInit(s, mech.ptr(), key); rv != CKR_OK) return rv;
  for (size_t off = 0; off < in.size(); off += chunk) {
    CK_ULONG n = std::min(chunk, in.size() - off);
    if (CK_RV rv = p11()->C_VerifyUpdate(s, ptr(in) + off, n); rv != CKR_OK) return rv;
  }
  return p11()->C_VerifyFinal(s, ptr(sig), sig.size());
}

CK_RV digest(CK_SESSION_HANDLE s, Mech mech, const Bytes& in, Bytes& out) {
  if (CK_RV rv = p11()->C_DigestInit(s, mech.ptr()); rv != CKR_OK) return rv;
  return two_call([&](CK_BYTE_PTR o, CK_ULONG_PTR l) { return p11()->C_Digest(s, ptr(in), in.size(), o, l); }, out);
}

CK_RV digest_parts(CK_SESSION_HANDLE s, Mech mech, const Bytes& in, size_t chunk, Bytes& out) {
  if (CK_RV rv = p11()->C_DigestInit(s, mech.ptr()); rv != CKR_OK) return rv;
  for (size_t off = 0; off < in.size(); off += chunk) {
    CK_ULONG n = std::min(chunk, in.size() - off);
    if (CK_RV rv = p11()->C_DigestUpdate(s, ptr(in) + off, n); rv != CKR_OK) return rv;
  }
  return two_call([&](CK_BYTE_PTR o, CK_ULONG_PTR l) { return p11()->C_DigestFinal(s, o, l); }, out);
}

CK_RSA_PKCS_MGF_TYPE mgf_for(CK_MECHANISM_TYPE d) {
  switch (d) {
    case CKM_SHA_1: return CKG_MGF1_SHA1;
    case CKM_SHA224: return CKG_MGF1_SHA224;
    case CKM_SHA256: return CKG_MGF1_SHA256;
    case CKM_SHA384: return CKG_MGF1_SHA384;
    case CKM_SHA512: return CKG_MGF1_SHA512;
    default: return 0;
  }
}

CK_ULONG digest_len(CK_MECHANISM_TYPE d) {
  switch (d) {
    case CKM_MD5: return 16;
    case CKM_SHA_1: return 20;
    case CKM_SHA224: return 28;
    case CKM_SHA256: return 32;
    case CKM_SHA384: return 48;
    case CKM_SHA512: return 64;
    default: return 0;
  }
}

Mech pss(CK_MECHANISM_TYPE mech, CK_MECHANISM_TYPE d, CK_ULONG salt) {
  CK_RSA_PKCS_PSS_PARAMS p{};
  p.hash_alg = d;
  p.mgf = mgf_for(d);
  p.s_len = salt;
  return Mech(mech, p);
}

Mech oaep(CK_MECHANISM_TYPE d, const Bytes& label) {
  auto storage = std::make_shared<Bytes>(label);
  CK_RSA_PKCS_OAEP_PARAMS p{};
  p.hash_alg = d;
  p.mgf = mgf_for(d);
  p.source = CKZ_DATA_SPECIFIED;
  p.source_data = storage->empty() ? nullptr : storage->data();
  p.source_data_len = storage->size();
  Mech m(CKM_RSA_PKCS_OAEP, p);
  m.extra = storage;
  return m;
}

Bytes digest_info_prefix(CK_MECHANISM_TYPE d) {
  switch (d) {
    case CKM_SHA_1: return unhex("3021300906052b0e03021a05000414");
    case CKM_SHA224: return unhex("302d300d06096086480165030402040500041c");
    case CKM_SHA256: return unhex("3031300d060960864801650304020105000420");
    case CKM_SHA384: return unhex("3041300d060960864801650304020205000430");
    case CKM_SHA512: return unhex("3051300d060960864801650304020305000440");
    default: return {};
  }
}

}  // namespace keyseal::conformance
