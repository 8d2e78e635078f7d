// Session management (PKCS#11 3.0 section 5.6): open, close, info, login and logout, operation state.
#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "pkcs11/marshal.h"

using namespace keyseal;
using namespace keyseal::pkcs11;

extern "C" {

KS_EXPORT CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication, CK_NOTIFY Notify,
                              CK_SESSION_HANDLE_PTR phSession) {
  return guarded(__func__, [&] {
    core::Module& m = module();
    require(phSession != nullptr, CKR_ARGUMENTS_BAD, "NULL session handle pointer");
    *phSession = m.open_session(slotID, flags);  // keyseal never calls Notify: it has no surrender points
  });
}

KS_EXPORT CK_RV C_CloseSession(CK_SESSION_HANDLE hSession) {
  return guarded(__func__, [&] { module().close_session(hSession); });
}

KS_EXPORT CK_RV C_CloseAllSessions(CK_SLOT_ID slotID) {
  return guarded(__func__, [&] { module().close_all_sessions(slotID); });
}

KS_EXPORT CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo) {
  return with_session(__func__, hSession, [&](core::Session& s) {
    require(pInfo != nullptr, CKR_ARGUMENTS_BAD, "NULL info");
    pInfo->slotID = s.slot();
    pInfo->state = s.state();
    pInfo->flags = CKF_SERIAL_SESSION | (s.rw() ? CKF_RW_SESSION : 0);
    pInfo->ulDeviceError = 0;
  });
}

KS_EXPORT CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                    CK_ULONG_PTR pulOperationStateLen) {
  return with_session(__func__, hSession, [&](core::Session&) -> CK_RV {
    require(pulOperationStateLen != nullptr, CKR_ARGUMENTS_BAD, "NULL length");
    return CKR_STATE_UNSAVEABLE;  // OpenSSL contexts cannot be exported safely
  });
}

KS_EXPORT CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
                                    CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
                                    CK_OBJECT_HANDLE hAuthenticationKey) {
  return with_session(__func__, hSession, [&](core::Session&) -> CK_RV {
    require(pOperationState != nullptr, CKR_ARGUMENTS_BAD, "NULL state");
    return CKR_SAVED_STATE_INVALID;  // no state is ever saved by C_GetOperationState
  });
}

KS_EXPORT CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen) {
  return guarded(__func__, [&] {
    core::Module& m = module();
    require(pPin != nullptr, CKR_ARGUMENTS_BAD, "NULL PIN (no protected authentication path)");
    const SecureBytes pin = to_bytes(input(pPin, ulPinLen));
    m.login(hSession, userType, view(pin));
  });
}

KS_EXPORT CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                            CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen) {
  return guarded(__func__, [&] {
    core::Module& m = module();
    require(pPin != nullptr, CKR_ARGUMENTS_BAD, "NULL PIN (no protected authentication path)");
    // Tokens have one user; a user name is accepted only if empty (section 5.6.9 lets tokens ignore it).
    require(ulUsernameLen == 0 || pUsername != nullptr, CKR_ARGUMENTS_BAD, "NULL user name");
    const SecureBytes pin = to_bytes(input(pPin, ulPinLen));
    m.login(hSession, userType, view(pin));
  });
}

KS_EXPORT CK_RV C_Logout(CK_SESSION_HANDLE hSession) {
  return guarded(__func__, [&] { module().logout(hSession); });
}

KS_EXPORT CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags) {
  return with_session(__func__, hSession, [&](core::Session& s) {
    using K = core::OpKind;
    if (flags & CKF_SIGN) s.abort(K::sign);
    if (flags & CKF_VERIFY) s.abort(K::verify);
    if (flags & CKF_ENCRYPT) s.abort(K::encrypt);
    if (flags & CKF_DECRYPT) s.abort(K::decrypt);
    if (flags & CKF_DIGEST) s.abort(K::digest);
    if (flags & CKF_FIND_OBJECTS) {
      try {
        s.find_final();
      } catch (const Error&) {
      }
    }
  });
}

}  // extern "C"
