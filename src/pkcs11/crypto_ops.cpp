// Encryption, decryption, digests, signatures and verification (PKCS#11 3.0 sections 5.8 to 5.12). Each entry
// point marshals its arguments and calls the session; the size convention lives in Session and put_output.
// An argument error during an active operation ends it, as any other failure does (section 5.2).
#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "pkcs11/marshal.h"

using namespace keyseal;
using namespace keyseal::pkcs11;
using K = keyseal::core::OpKind;

namespace {

template <class F>
CK_RV in_operation(const char* fn, CK_SESSION_HANDLE h, K kind, F&& body) {
  return with_session(fn, h, [&](core::Session& s) -> CK_RV {
    s.require_active(kind);
    try {
      return body(s);
    } catch (const Error& e) {
      if (e.rv == CKR_ARGUMENTS_BAD) s.abort(kind);
      throw;
    }
  });
}

CK_RV single(const char* fn, CK_SESSION_HANDLE h, K kind, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
             CK_ULONG_PTR out_len) {
  return in_operation(fn, h, kind, [&](core::Session& s) {
    const ByteView data = input(in, in_len);
    return put_output(s.single(kind, data, out_spec(out, out_len)), out, out_len);
  });
}

CK_RV update(const char* fn, CK_SESSION_HANDLE h, K kind, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
             CK_ULONG_PTR out_len) {
  return in_operation(fn, h, kind, [&](core::Session& s) {
    const ByteView data = input(in, in_len);
    if (kind != K::encrypt && kind != K::decrypt) {  // sign, verify and digest updates have no output
      s.update(kind, data, core::OutSpec{});
      return CKR_OK;
    }
    return put_output(s.update(kind, data, out_spec(out, out_len)), out, out_len);  // NULL out_len ends it
  });
}

CK_RV final(const char* fn, CK_SESSION_HANDLE h, K kind, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return in_operation(fn, h, kind, [&](core::Session& s) {
    return put_output(s.final(kind, out_spec(out, out_len)), out, out_len);
  });
}

// PKCS#11 3.0 (C_EncryptInit and the other *Init functions): a NULL mechanism ends the active operation;
// with no operation active it is just a bad argument.
void cancel_or_reject(core::Session& s, K kind) {
  require(s.is_active(kind), CKR_ARGUMENTS_BAD, "NULL mechanism");
  s.abort(kind);
}

CK_RV init(const char* fn, CK_SESSION_HANDLE h, K kind, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return with_session(fn, h, [&](core::Session& s) {
    if (!m) return cancel_or_reject(s, kind);
    s.op_init(kind, read_mechanism(m), key);
  });
}

}  // namespace

extern "C" {

KS_EXPORT CK_RV C_EncryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return init(__func__, h, K::encrypt, m, key);
}
KS_EXPORT CK_RV C_Encrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return single(__func__, h, K::encrypt, in, in_len, out, out_len);
}
KS_EXPORT CK_RV C_EncryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                                CK_ULONG_PTR out_len) {
  return update(__func__, h, K::encrypt, in, in_len, out, out_len);
}
KS_EXPORT CK_RV C_EncryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return final(__func__, h, K::encrypt, out, out_len);
}

KS_EXPORT CK_RV C_DecryptInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return init(__func__, h, K::decrypt, m, key);
}
KS_EXPORT CK_RV C_Decrypt(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return single(__func__, h, K::decrypt, in, in_len, out, out_len);
}
KS_EXPORT CK_RV C_DecryptUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out,
                                CK_ULONG_PTR out_len) {
  return update(__func__, h, K::decrypt, in, in_len, out, out_len);
}
KS_EXPORT CK_RV C_DecryptFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return final(__func__, h, K::decrypt, out, out_len);
}

KS_EXPORT CK_RV C_DigestInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m) {
  return with_session(__func__, h, [&](core::Session& s) {
    if (!m) return cancel_or_reject(s, K::digest);
    s.digest_init(read_mechanism(m));
  });
}
KS_EXPORT CK_RV C_Digest(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return single(__func__, h, K::digest, in, in_len, out, out_len);
}
KS_EXPORT CK_RV C_DigestUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len) {
  return update(__func__, h, K::digest, in, in_len, nullptr, nullptr);
}
KS_EXPORT CK_RV C_DigestKey(CK_SESSION_HANDLE h, CK_OBJECT_HANDLE key) {
  return in_operation(__func__, h, K::digest, [&](core::Session& s) {
    s.digest_key(key);
    return CKR_OK;
  });
}
KS_EXPORT CK_RV C_DigestFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return final(__func__, h, K::digest, out, out_len);
}

KS_EXPORT CK_RV C_SignInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return init(__func__, h, K::sign, m, key);
}
KS_EXPORT CK_RV C_Sign(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return single(__func__, h, K::sign, in, in_len, out, out_len);
}
KS_EXPORT CK_RV C_SignUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len) {
  return update(__func__, h, K::sign, in, in_len, nullptr, nullptr);
}
KS_EXPORT CK_RV C_SignFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR out, CK_ULONG_PTR out_len) {
  return final(__func__, h, K::sign, out, out_len);
}

KS_EXPORT CK_RV C_VerifyInit(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE key) {
  return init(__func__, h, K::verify, m, key);
}
KS_EXPORT CK_RV C_Verify(CK_SESSION_HANDLE h, CK_BYTE_PTR data, CK_ULONG data_len, CK_BYTE_PTR sig, CK_ULONG sig_len) {
  return in_operation(__func__, h, K::verify, [&](core::Session& s) {
    const ByteView d = input(data, data_len), sg = input(sig, sig_len);
    s.verify(d, sg);
    return CKR_OK;
  });
}
KS_EXPORT CK_RV C_VerifyUpdate(CK_SESSION_HANDLE h, CK_BYTE_PTR in, CK_ULONG in_len) {
  return update(__func__, h, K::verify, in, in_len, nullptr, nullptr);
}
KS_EXPORT CK_RV C_VerifyFinal(CK_SESSION_HANDLE h, CK_BYTE_PTR sig, CK_ULONG sig_len) {
  return in_operation(__func__, h, K::verify, [&](core::Session& s) {
    s.verify_final(input(sig, sig_len));
    return CKR_OK;
  });
}

}  // extern "C"
