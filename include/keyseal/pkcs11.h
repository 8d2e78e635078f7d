/* keyseal's view of the PKCS#11 API: p11-kit's pkcs11.h (2.40) plus the PKCS#11 3.0 definitions that
 * header lacks, written from the OASIS PKCS#11 3.0 base specification (sections 3, 4.13 and 5.2, 5.21).
 *
 * Windows: CK_ULONG is 32 bits (unsigned long under LLP64) and every PKCS#11 structure is packed to 1 byte.
 * p11-kit's header packs its own structures and pops the packing at its end, so the declarations below are
 * wrapped in the same packing. p11-kit declares the C_* functions __declspec(dllexport) when CRYPTOKI_EXPORTS
 * is defined (the module's own build) and __declspec(dllimport) otherwise (hosts); the 3.0 functions declared
 * here follow the same rule through CK_SPEC. tests/unit/abi checks the resulting sizes and offsets. */
#ifndef KEYSEAL_PKCS11_H
#define KEYSEAL_PKCS11_H

#include <p11-kit/pkcs11.h>

#if defined(_WIN32) || defined(CRYPTOKI_FORCE_WIN32)
#pragma pack(push, cryptoki, 1)
#endif

#ifdef __cplusplus
extern "C" {
#endif

#ifndef CKA_UNIQUE_ID
#define CKA_UNIQUE_ID 0x00000004UL
#endif
#ifndef CKO_PROFILE
#define CKO_PROFILE 0x00000009UL
#endif
#ifndef CKA_PROFILE_ID
#define CKA_PROFILE_ID 0x00000601UL
#endif
#ifndef CKP_BASELINE_PROVIDER
#define CKP_INVALID_ID 0x00000000UL
#define CKP_BASELINE_PROVIDER 0x00000001UL
#define CKP_EXTENDED_PROVIDER 0x00000002UL
#define CKP_AUTHENTICATION_TOKEN 0x00000003UL
#define CKP_PUBLIC_CERTIFICATES_TOKEN 0x00000004UL
#endif
#ifndef CKF_INTERFACE_FORK_SAFE
#define CKF_INTERFACE_FORK_SAFE 0x00000001UL
#endif
#ifndef CKF_EC_OID
#define CKF_EC_OID (1UL << 23)
#endif
#ifndef CKR_OPERATION_CANCEL_FAILED
#define CKR_OPERATION_CANCEL_FAILED 0x00000202UL
#endif
#ifndef CKF_FIND_OBJECTS
#define CKF_FIND_OBJECTS 0x00400000UL
#endif
#ifndef CKF_END_OF_MESSAGE
#define CKF_END_OF_MESSAGE 0x00000001UL
#endif

typedef struct KS_CK_INTERFACE {
  CK_CHAR *pInterfaceName;
  CK_VOID_PTR pFunctionList;
  CK_FLAGS flags;
} KS_CK_INTERFACE;
typedef KS_CK_INTERFACE CK_INTERFACE;
typedef CK_INTERFACE *CK_INTERFACE_PTR;
typedef CK_INTERFACE_PTR *CK_INTERFACE_PTR_PTR;

/* The functions PKCS#11 3.0 adds (section 5). */
#define KS_DECLARE_30(name, args) typedef CK_RV (*CK_##name) args; CK_RV CK_SPEC name args

KS_DECLARE_30(C_GetInterfaceList, (CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount));
KS_DECLARE_30(C_GetInterface, (CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                               CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags));
KS_DECLARE_30(C_LoginUser, (CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
                            CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen));
KS_DECLARE_30(C_SessionCancel, (CK_SESSION_HANDLE hSession, CK_FLAGS flags));
KS_DECLARE_30(C_MessageEncryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                     CK_OBJECT_HANDLE hKey));
KS_DECLARE_30(C_EncryptMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                 CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pPlaintext,
                                 CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext, CK_ULONG_PTR pulCiphertextLen));
KS_DECLARE_30(C_EncryptMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                      CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                                      CK_ULONG ulAssociatedDataLen));
KS_DECLARE_30(C_EncryptMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                     CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart,
                                     CK_ULONG ulPlaintextPartLen, CK_BYTE_PTR pCiphertextPart,
                                     CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags));
KS_DECLARE_30(C_MessageEncryptFinal, (CK_SESSION_HANDLE hSession));
KS_DECLARE_30(C_MessageDecryptInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                     CK_OBJECT_HANDLE hKey));
KS_DECLARE_30(C_DecryptMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                 CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen, CK_BYTE_PTR pCiphertext,
                                 CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext, CK_ULONG_PTR pulPlaintextLen));
KS_DECLARE_30(C_DecryptMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                      CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData,
                                      CK_ULONG ulAssociatedDataLen));
KS_DECLARE_30(C_DecryptMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                     CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart,
                                     CK_ULONG ulCiphertextPartLen, CK_BYTE_PTR pPlaintextPart,
                                     CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags));
KS_DECLARE_30(C_MessageDecryptFinal, (CK_SESSION_HANDLE hSession));
KS_DECLARE_30(C_MessageSignInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey));
KS_DECLARE_30(C_SignMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                              CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                              CK_ULONG_PTR pulSignatureLen));
KS_DECLARE_30(C_SignMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen));
KS_DECLARE_30(C_SignMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                  CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                  CK_ULONG_PTR pulSignatureLen));
KS_DECLARE_30(C_MessageSignFinal, (CK_SESSION_HANDLE hSession));
KS_DECLARE_30(C_MessageVerifyInit, (CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
                                    CK_OBJECT_HANDLE hKey));
KS_DECLARE_30(C_VerifyMessage, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                CK_ULONG ulSignatureLen));
KS_DECLARE_30(C_VerifyMessageBegin, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
                                     CK_ULONG ulParameterLen));
KS_DECLARE_30(C_VerifyMessageNext, (CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
                                    CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
                                    CK_ULONG ulSignatureLen));
KS_DECLARE_30(C_MessageVerifyFinal, (CK_SESSION_HANDLE hSession));
#undef KS_DECLARE_30

/* The 3.0 function list: the 2.40 list, then the 3.0 functions in specification order. */
typedef struct KS_CK_FUNCTION_LIST_3_0 {
  CK_VERSION version;
  CK_C_Initialize C_Initialize;
  CK_C_Finalize C_Finalize;
  CK_C_GetInfo C_GetInfo;
  CK_C_GetFunctionList C_GetFunctionList;
  CK_C_GetSlotList C_GetSlotList;
  CK_C_GetSlotInfo C_GetSlotInfo;
  CK_C_GetTokenInfo C_GetTokenInfo;
  CK_C_GetMechanismList C_GetMechanismList;
  CK_C_GetMechanismInfo C_GetMechanismInfo;
  CK_C_InitToken C_InitToken;
  CK_C_InitPIN C_InitPIN;
  CK_C_SetPIN C_SetPIN;
  CK_C_OpenSession C_OpenSession;
  CK_C_CloseSession C_CloseSession;
  CK_C_CloseAllSessions C_CloseAllSessions;
  CK_C_GetSessionInfo C_GetSessionInfo;
  CK_C_GetOperationState C_GetOperationState;
  CK_C_SetOperationState C_SetOperationState;
  CK_C_Login C_Login;
  CK_C_Logout C_Logout;
  CK_C_CreateObject C_CreateObject;
  CK_C_CopyObject C_CopyObject;
  CK_C_DestroyObject C_DestroyObject;
  CK_C_GetObjectSize C_GetObjectSize;
  CK_C_GetAttributeValue C_GetAttributeValue;
  CK_C_SetAttributeValue C_SetAttributeValue;
  CK_C_FindObjectsInit C_FindObjectsInit;
  CK_C_FindObjects C_FindObjects;
  CK_C_FindObjectsFinal C_FindObjectsFinal;
  CK_C_EncryptInit C_EncryptInit;
  CK_C_Encrypt C_Encrypt;
  CK_C_EncryptUpdate C_EncryptUpdate;
  CK_C_EncryptFinal C_EncryptFinal;
  CK_C_DecryptInit C_DecryptInit;
  CK_C_Decrypt C_Decrypt;
  CK_C_DecryptUpdate C_DecryptUpdate;
  CK_C_DecryptFinal C_DecryptFinal;
  CK_C_DigestInit C_DigestInit;
  CK_C_Digest C_Digest;
  CK_C_DigestUpdate C_DigestUpdate;
  CK_C_DigestKey C_DigestKey;
  CK_C_DigestFinal C_DigestFinal;
  CK_C_SignInit C_SignInit;
  CK_C_Sign C_Sign;
  CK_C_SignUpdate C_SignUpdate;
  CK_C_SignFinal C_SignFinal;
  CK_C_SignRecoverInit C_SignRecoverInit;
  CK_C_SignRecover C_SignRecover;
  CK_C_VerifyInit C_VerifyInit;
  CK_C_Verify C_Verify;
  CK_C_VerifyUpdate C_VerifyUpdate;
  CK_C_VerifyFinal C_VerifyFinal;
  CK_C_VerifyRecoverInit C_VerifyRecoverInit;
  CK_C_VerifyRecover C_VerifyRecover;
  CK_C_DigestEncryptUpdate C_DigestEncryptUpdate;
  CK_C_DecryptDigestUpdate C_DecryptDigestUpdate;
  CK_C_SignEncryptUpdate C_SignEncryptUpdate;
  CK_C_DecryptVerifyUpdate C_DecryptVerifyUpdate;
  CK_C_GenerateKey C_GenerateKey;
  CK_C_GenerateKeyPair C_GenerateKeyPair;
  CK_C_WrapKey C_WrapKey;
  CK_C_UnwrapKey C_UnwrapKey;
  CK_C_DeriveKey C_DeriveKey;
  CK_C_SeedRandom C_SeedRandom;
  CK_C_GenerateRandom C_GenerateRandom;
  CK_C_GetFunctionStatus C_GetFunctionStatus;
  CK_C_CancelFunction C_CancelFunction;
  CK_C_WaitForSlotEvent C_WaitForSlotEvent;
  CK_C_GetInterfaceList C_GetInterfaceList;
  CK_C_GetInterface C_GetInterface;
  CK_C_LoginUser C_LoginUser;
  CK_C_SessionCancel C_SessionCancel;
  CK_C_MessageEncryptInit C_MessageEncryptInit;
  CK_C_EncryptMessage C_EncryptMessage;
  CK_C_EncryptMessageBegin C_EncryptMessageBegin;
  CK_C_EncryptMessageNext C_EncryptMessageNext;
  CK_C_MessageEncryptFinal C_MessageEncryptFinal;
  CK_C_MessageDecryptInit C_MessageDecryptInit;
  CK_C_DecryptMessage C_DecryptMessage;
  CK_C_DecryptMessageBegin C_DecryptMessageBegin;
  CK_C_DecryptMessageNext C_DecryptMessageNext;
  CK_C_MessageDecryptFinal C_MessageDecryptFinal;
  CK_C_MessageSignInit C_MessageSignInit;
  CK_C_SignMessage C_SignMessage;
  CK_C_SignMessageBegin C_SignMessageBegin;
  CK_C_SignMessageNext C_SignMessageNext;
  CK_C_MessageSignFinal C_MessageSignFinal;
  CK_C_MessageVerifyInit C_MessageVerifyInit;
  CK_C_VerifyMessage C_VerifyMessage;
  CK_C_VerifyMessageBegin C_VerifyMessageBegin;
  CK_C_VerifyMessageNext C_VerifyMessageNext;
  CK_C_MessageVerifyFinal C_MessageVerifyFinal;
} CK_FUNCTION_LIST_3_0;
typedef CK_FUNCTION_LIST_3_0 *CK_FUNCTION_LIST_3_0_PTR;
typedef CK_FUNCTION_LIST_3_0_PTR *CK_FUNCTION_LIST_3_0_PTR_PTR;

/* CK_EDDSA_PARAMS (PKCS#11 3.0 current mechanisms, 2.3.14), absent from p11-kit's header. */
typedef struct KS_CK_EDDSA_PARAMS {
  CK_BBOOL phFlag;
  CK_ULONG ulContextDataLen;
  CK_BYTE_PTR pContextData;
} CK_EDDSA_PARAMS;
typedef CK_EDDSA_PARAMS *CK_EDDSA_PARAMS_PTR;

/* HKDF (PKCS#11 3.0 current mechanisms, 2.43 and 6.x key types), absent from p11-kit's header. */
#ifndef CKK_HKDF
#define CKK_HKDF 0x00000042UL
#endif
#ifndef CKM_HKDF_DERIVE
#define CKM_HKDF_DERIVE 0x0000402aUL
#define CKM_HKDF_DATA 0x0000402bUL
#define CKM_HKDF_KEY_GEN 0x0000402cUL
#endif
#ifndef CKF_HKDF_SALT_NULL
#define CKF_HKDF_SALT_NULL 0x00000001UL
#define CKF_HKDF_SALT_DATA 0x00000002UL
#define CKF_HKDF_SALT_KEY 0x00000004UL
#endif
typedef struct KS_CK_HKDF_PARAMS {
  CK_BBOOL bExtract;
  CK_BBOOL bExpand;
  CK_MECHANISM_TYPE prfHashMechanism;
  CK_ULONG ulSaltType;
  CK_BYTE_PTR pSalt;
  CK_ULONG ulSaltLen;
  CK_OBJECT_HANDLE hSaltKey;
  CK_BYTE_PTR pInfo;
  CK_ULONG ulInfoLen;
} CK_HKDF_PARAMS;
typedef CK_HKDF_PARAMS *CK_HKDF_PARAMS_PTR;

/* CK_GCM_PARAMS as PKCS#11 2.40 printed it before its errata (no ulIvBits); some callers still pass it. Declared
 * here, packed like the real one, so that the module tells the two apart by size on every platform. */
typedef struct KS_CK_GCM_PARAMS_NO_IV_BITS {
  CK_BYTE_PTR pIv;
  CK_ULONG ulIvLen;
  CK_BYTE_PTR pAAD;
  CK_ULONG ulAADLen;
  CK_ULONG ulTagBits;
} KS_CK_GCM_PARAMS_NO_IV_BITS;

/* keyseal's vendor attributes (docs/attestation.md). Read-only unless said otherwise; on other objects and on
 * soft-token keys C_GetAttributeValue answers CKR_ATTRIBUTE_TYPE_INVALID.
 * CKA_KEYSEAL_TPM_PUBLIC: a TPM token private key's TPMT_PUBLIC as the TPM made it (TPM 2.0 Part 2 marshalling).
 * CKA_KEYSEAL_ATTESTATION_NONCE: 0 to 64 bytes of qualifying data for the next attestation. Settable with
 *   C_SetAttributeValue in any session, also read-only ones and on unmodifiable keys: it is kept by the session,
 *   never stored with the key, and forgotten when the session closes.
 * CKA_KEYSEAL_ATTESTATION: TPM2_Certify (and TPM2_CertifyCreation) of the key by this TPM's attestation key over
 *   the session's nonce, as the JSON document of `keyseal attest --format json` (UTF-8). Made once per nonce and
 *   session, so a size query and the read that follows return the same bytes. */
#define CKA_KEYSEAL_TPM_PUBLIC (CKA_VENDOR_DEFINED | 0x6B730001UL)
#define CKA_KEYSEAL_ATTESTATION_NONCE (CKA_VENDOR_DEFINED | 0x6B730002UL)
#define CKA_KEYSEAL_ATTESTATION (CKA_VENDOR_DEFINED | 0x6B730003UL)

#ifdef __cplusplus
}
#endif

#if defined(_WIN32) || defined(CRYPTOKI_FORCE_WIN32)
#pragma pack(pop, cryptoki)
#endif
#endif /* KEYSEAL_PKCS11_H */
