// The function lists and interfaces (PKCS#11 3.0 sections 5.4.3-5.4.5): the 2.40 list for C_GetFunctionList
// and the "PKCS 11" interface in versions 3.0 and 2.40 for C_GetInterfaceList / C_GetInterface. Both lists
// are written from one ordered list of names, in the order the specification gives.
#include "pkcs11/entry.h"

#define KS_FUNCTIONS_240(X) X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList) X(C_GetSlotList) \
   X(C_GetSlotInfo) X(C_GetTokenInfo) X(C_GetMechanismList) X(C_GetMechanismInfo) X(C_InitToken) X(C_InitPIN) \
   X(C_SetPIN) X(C_OpenSession) X(C_CloseSession) X(C_CloseAllSessions) X(C_GetSessionInfo) X(C_GetOperationState) \
   X(C_SetOperationState) X(C_Login) X(C_Logout) X(C_CreateObject) X(C_CopyObject) X(C_DestroyObject) \
   X(C_GetObjectSize) X(C_GetAttributeValue) X(C_SetAttributeValue) X(C_FindObjectsInit) X(C_FindObjects) \
   X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt) X(C_EncryptUpdate) X(C_EncryptFinal) X(C_DecryptInit) \
   X(C_Decrypt) X(C_DecryptUpdate) X(C_DecryptFinal) X(C_DigestInit) X(C_Digest) X(C_DigestUpdate) X(C_DigestKey) \
   X(C_DigestFinal) X(C_SignInit) X(C_Sign) X(C_SignUpdate) X(C_SignFinal) X(C_SignRecoverInit) X(C_SignRecover) \
   X(C_VerifyInit) X(C_Verify) X(C_VerifyUpdate) X(C_VerifyFinal) X(C_VerifyRecoverInit) X(C_VerifyRecover) \
   X(C_DigestEncryptUpdate) X(C_DecryptDigestUpdate) X(C_SignEncryptUpdate) X(C_DecryptVerifyUpdate) \
   X(C_GenerateKey) X(C_GenerateKeyPair) X(C_WrapKey) X(C_UnwrapKey) X(C_DeriveKey) X(C_SeedRandom) \
   X(C_GenerateRandom) X(C_GetFunctionStatus) X(C_CancelFunction) X(C_WaitForSlotEvent)

#define KS_FUNCTIONS_30(X) X(C_GetInterfaceList) X(C_GetInterface) X(C_LoginUser) X(C_SessionCancel) \
   X(C_MessageEncryptInit) X(C_EncryptMessage) X(C_EncryptMessageBegin) X(C_EncryptMessageNext) \
   X(C_MessageEncryptFinal) X(C_MessageDecryptInit) X(C_DecryptMessage) X(C_DecryptMessageBegin) \
   X(C_DecryptMessageNext) X(C_MessageDecryptFinal) X(C_MessageSignInit) X(C_SignMessage) X(C_SignMessageBegin) \
   X(C_SignMessageNext) X(C_MessageSignFinal) X(C_MessageVerifyInit) X(C_VerifyMessage) X(C_VerifyMessageBegin) \
   X(C_VerifyMessageNext) X(C_MessageVerifyFinal)

#define KS_ENTRY(name) name,

namespace keyseal::pkcs11 {
namespace {

CK_FUNCTION_LIST g_list_240 = {{2, 40}, KS_FUNCTIONS_240(KS_ENTRY)};
CK_FUNCTION_LIST_3_0 g_list_30 = {{3, 0}, KS_FUNCTIONS_240(KS_ENTRY) KS_FUNCTIONS_30(KS_ENTRY)};

CK_CHAR g_name[] = "PKCS 11";
CK_INTERFACE g_interfaces[] = {
    {g_name, &g_list_30, 0},
    {g_name, &g_list_240, 0},
};

}  // namespace

CK_FUNCTION_LIST* function_list_240() { return &g_list_240; }
CK_ULONG interface_count() { return sizeof g_interfaces / sizeof g_interfaces[0]; }
CK_INTERFACE* interface_at(CK_ULONG i) { return &g_interfaces[i]; }

}  // namespace keyseal::pkcs11
