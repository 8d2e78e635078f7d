// Functions keyseal does not offer yet: signatures with recovery, dual-function updates, and the PKCS#11 3.0
// message-based functions. Each says so with CKR_FUNCTION_NOT_SUPPORTED (after the initialisation check);
// the legacy parallel-function calls answer CKR_FUNCTION_NOT_PARALLEL as section 5.16 requires.
#include "pkcs11/entry.h"
#include "pkcs11/guard.h"

using namespace keyseal;
using namespace keyseal::pkcs11;

namespace {
CK_RV not_supported(const char* fn) {
  return guarded(fn, []() -> CK_RV {
    module();
    return CKR_FUNCTION_NOT_SUPPORTED;
  });
}
}  // namespace

extern "C" {

KS_EXPORT CK_RV C_SignRecoverInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) { return not_supported(__func__); }
KS_EXPORT CK_RV C_SignRecover(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_VerifyRecover(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE h) {
  return with_session(__func__, h, [](core::Session&) { return CKR_FUNCTION_NOT_PARALLEL; });
}
KS_EXPORT CK_RV C_CancelFunction(CK_SESSION_HANDLE h) {
  return with_session(__func__, h, [](core::Session&) { return CKR_FUNCTION_NOT_PARALLEL; });
}

KS_EXPORT CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_EncryptMessage(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG,
                                 CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                     CK_ULONG_PTR, CK_FLAGS) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE) { return not_supported(__func__); }
KS_EXPORT CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_DecryptMessage(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG,
                                 CK_BYTE_PTR, CK_ULONG_PTR) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                     CK_ULONG_PTR, CK_FLAGS) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE) { return not_supported(__func__); }
KS_EXPORT CK_RV C_MessageSignInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) { return not_supported(__func__); }
KS_EXPORT CK_RV C_SignMessage(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                              CK_ULONG_PTR) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_SignMessageBegin(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG) { return not_supported(__func__); }
KS_EXPORT CK_RV C_SignMessageNext(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                  CK_ULONG_PTR) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_MessageSignFinal(CK_SESSION_HANDLE) { return not_supported(__func__); }
KS_EXPORT CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE, CK_MECHANISM_PTR, CK_OBJECT_HANDLE) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_VerifyMessage(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG) { return not_supported(__func__); }
KS_EXPORT CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE, CK_VOID_PTR, CK_ULONG, CK_BYTE_PTR, CK_ULONG, CK_BYTE_PTR,
                                    CK_ULONG) {
  return not_supported(__func__);
}
KS_EXPORT CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE) { return not_supported(__func__); }

}  // extern "C"
