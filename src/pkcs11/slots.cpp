// Slot and token management (PKCS#11 3.0 section 5.5) and the PIN functions C_InitToken, C_InitPIN, C_SetPIN.
#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "pkcs11/marshal.h"

#include <cstring>

using namespace keyseal;
using namespace keyseal::pkcs11;

extern "C" {

KS_EXPORT CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount) {
  return guarded(__func__, [&]() -> CK_RV {
    core::Module& m = module();
    require(pulCount != nullptr, CKR_ARGUMENTS_BAD, "NULL count");
    const auto slots = m.slot_list(tokenPresent);
    if (!pSlotList) {
      *pulCount = slots.size();
      return CKR_OK;
    }
    if (*pulCount < slots.size()) {
      *pulCount = slots.size();
      return CKR_BUFFER_TOO_SMALL;
    }
    std::copy(slots.begin(), slots.end(), pSlotList);
    *pulCount = slots.size();
    return CKR_OK;
  });
}

KS_EXPORT CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo) {
  return guarded(__func__, [&] {
    core::Module& m = module();
    require(pInfo != nullptr, CKR_ARGUMENTS_BAD, "NULL info");
    m.slot_info(slotID, *pInfo);
  });
}

KS_EXPORT CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo) {
  return guarded(__func__, [&] {
    core::Module& m = module();
    require(pInfo != nullptr, CKR_ARGUMENTS_BAD, "NULL info");
    m.token_info(slotID, *pInfo);
  });
}

KS_EXPORT CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList, CK_ULONG_PTR pulCount) {
  return guarded(__func__, [&]() -> CK_RV {
    core::Module& m = module();
    require(pulCount != nullptr, CKR_ARGUMENTS_BAD, "NULL count");
    const auto list = m.mechanism_list(slotID);
    if (!pMechanismList) {
      *pulCount = list.size();
      return CKR_OK;
    }
    if (*pulCount < list.size()) {
      *pulCount = list.size();
      return CKR_BUFFER_TOO_SMALL;
    }
    std::copy(list.begin(), list.end(), pMechanismList);
    *pulCount = list.size();
    return CKR_OK;
  });
}

KS_EXPORT CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type, CK_MECHANISM_INFO_PTR pInfo) {
  return guarded(__func__, [&] {
    core::Module& m = module();
    require(pInfo != nullptr, CKR_ARGUMENTS_BAD, "NULL info");
    *pInfo = m.mechanism_info(slotID, type);
  });
}

KS_EXPORT CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pLabel) {
  return guarded(__func__, [&] {
    core::Module& m = module();
    require(pLabel != nullptr, CKR_ARGUMENTS_BAD, "NULL label");
    require(pPin != nullptr, CKR_ARGUMENTS_BAD, "NULL PIN (no protected authentication path)");
    const SecureBytes pin = to_bytes(input(pPin, ulPinLen));
    m.init_token(slotID, view(pin), ByteView(pLabel, 32));
  });
}

KS_EXPORT CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen) {
  return with_session(__func__, hSession, [&](core::Session& s) {
    require(pPin != nullptr, CKR_ARGUMENTS_BAD, "NULL PIN (no protected authentication path)");
    require(s.so(), CKR_USER_NOT_LOGGED_IN, "C_InitPIN needs the SO logged in");
    require(s.rw(), CKR_SESSION_READ_ONLY, "C_InitPIN needs a read/write session");
    const SecureBytes pin = to_bytes(input(pPin, ulPinLen));
    s.token().init_pin(view(pin));
  });
}

KS_EXPORT CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin,
                         CK_ULONG ulNewLen) {
  return with_session(__func__, hSession, [&](core::Session& s) {
    require(pOldPin != nullptr && pNewPin != nullptr, CKR_ARGUMENTS_BAD, "NULL PIN (no protected authentication path)");
    require(s.rw(), CKR_SESSION_READ_ONLY, "C_SetPIN needs a read/write session");
    const SecureBytes old_pin = to_bytes(input(pOldPin, ulOldLen)), new_pin = to_bytes(input(pNewPin, ulNewLen));
    s.token().set_pin(view(old_pin), view(new_pin));
  });
}

KS_EXPORT CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved) {
  return guarded(__func__, [&]() -> CK_RV {
    module();
    require(pSlot != nullptr && pReserved == nullptr, CKR_ARGUMENTS_BAD, "bad arguments");
    // Slots do not change by themselves (tokens are files); there is never an event to report.
    if (flags & CKF_DONT_BLOCK) return CKR_NO_EVENT;
    return CKR_FUNCTION_NOT_SUPPORTED;
  });
}

}  // extern "C"
