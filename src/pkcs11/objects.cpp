// Object management (PKCS#11 3.0 section 5.7).
#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "pkcs11/marshal.h"

using namespace keyseal;
using namespace keyseal::pkcs11;

extern "C" {

KS_EXPORT CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
                               CK_OBJECT_HANDLE_PTR phObject) {
  return with_session(__func__, hSession, [&](core::Session& s) {
    require(phObject != nullptr && pTemplate != nullptr, CKR_ARGUMENTS_BAD, "NULL template or handle pointer");
    *phObject = s.create_object(read_map(pTemplate, ulCount));
  });
}

KS_EXPORT CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                             CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject) {
  return with_session(__func__, hSession, [&](core::Session& s) {
    require(phNewObject != nullptr, CKR_ARGUMENTS_BAD, "NULL handle pointer");
    *phNewObject = s.copy_object(hObject, read_map(pTemplate, ulCount));
  });
}

KS_EXPORT CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject) {
  return with_session(__func__, hSession, [&](core::Session& s) { s.destroy_object(hObject); });
}

KS_EXPORT CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ULONG_PTR pulSize) {
  return with_session(__func__, hSession, [&](core::Session& s) {
    require(pulSize != nullptr, CKR_ARGUMENTS_BAD, "NULL size pointer");
    *pulSize = s.object_size(hObject);
  });
}

KS_EXPORT CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                                    CK_ULONG ulCount) {
  return with_session(__func__, hSession, [&](core::Session& s) -> CK_RV {
    require(pTemplate != nullptr || ulCount == 0, CKR_ARGUMENTS_BAD, "NULL template");
    core::ObjectPtr o = s.object(hObject);
    std::vector<CK_ATTRIBUTE_TYPE> vendor;
    for (CK_ULONG i = 0; i < ulCount; ++i)
      if (core::is_keyseal_vendor_attribute(pTemplate[i].type)) vendor.push_back(pTemplate[i].type);
    if (!vendor.empty()) {
      // Computed values (a TPM attestation) join a private copy of the object for this read only.
      core::AttributeMap extra = s.vendor_attributes(*o, vendor);
      if (!extra.empty()) {
        auto copy = std::make_shared<core::Object>();
        copy->handle = o->handle;
        copy->attrs = o->attrs;
        copy->secrets_loaded = o->secrets_loaded;
        for (auto& [type, value] : extra) copy->attrs[type] = std::move(value);
        o = std::move(copy);
      }
    }
    return get_attributes(*o, pTemplate, ulCount);
  });
}

KS_EXPORT CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject, CK_ATTRIBUTE_PTR pTemplate,
                                    CK_ULONG ulCount) {
  return with_session(__func__, hSession, [&](core::Session& s) {
    require(pTemplate != nullptr || ulCount == 0, CKR_ARGUMENTS_BAD, "NULL template");
    Template t = read_template(pTemplate, ulCount);
    // The attestation nonce belongs to the session, not to the key: set it apart from the object's attributes,
    // after they were changed (so a refused change leaves the nonce as it was).
    std::optional<SecureBytes> nonce;
    for (auto it = t.begin(); it != t.end();) {
      if (it->first == CKA_KEYSEAL_ATTESTATION_NONCE) {
        nonce = std::move(it->second);
        it = t.erase(it);
      } else {
        ++it;
      }
    }
    for (const auto& [type, value] : t) core::check_value_encoding(type, view(value));
    if (nonce) s.check_attestation_nonce(hObject, view(*nonce));
    if (!t.empty() || !nonce) s.set_attributes(hObject, t);
    if (nonce) s.set_attestation_nonce(hObject, view(*nonce));
  });
}

KS_EXPORT CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount) {
  return with_session(__func__, hSession, [&](core::Session& s) {
    require(pTemplate != nullptr || ulCount == 0, CKR_ARGUMENTS_BAD, "NULL template");
    s.find_init(read_map(pTemplate, ulCount));
  });
}

KS_EXPORT CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject, CK_ULONG ulMaxObjectCount,
                              CK_ULONG_PTR pulObjectCount) {
  return with_session(__func__, hSession, [&](core::Session& s) {
    require(phObject != nullptr && pulObjectCount != nullptr, CKR_ARGUMENTS_BAD, "NULL output");
    const auto found = s.find_next(ulMaxObjectCount);
    std::copy(found.begin(), found.end(), phObject);
    *pulObjectCount = found.size();
  });
}

KS_EXPORT CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession) {
  return with_session(__func__, hSession, [&](core::Session& s) { s.find_final(); });
}

}  // extern "C"
