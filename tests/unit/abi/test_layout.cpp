// Sizes and offsets of the PKCS#11 structures that hosts compiled elsewhere (Firefox, Java, OpenSC, MSVC-built
// tools) rely on. Every expected value is written out by hand from the field lists of the PKCS#11 3.0
// specification, for two platforms:
//   LP64 (Linux x86_64): CK_ULONG 8 bytes, pointers 8, natural alignment (a CK_ULONG or pointer after a
//                        CK_VERSION or a byte array starts at the next multiple of 8; sizes round up to 8);
//   Windows x64:         CK_ULONG 4 bytes (LLP64), pointers 8, every structure packed to 1 byte (no padding).
// KS_LP64_WIN(a, b) picks a on LP64 and b on Windows. None of these numbers comes from sizeof.
#include <gtest/gtest.h>
#include <keyseal/pkcs11.h>

#include <cstddef>

#if defined(_WIN32) && defined(_WIN64)
#define KS_LP64_WIN(lp64, win) (win)
#elif defined(__LP64__)
#define KS_LP64_WIN(lp64, win) (lp64)
#else
#error "the expected PKCS#11 layouts are written for LP64 and Windows x64 only"
#endif

#define EXPECT_SIZE(type, lp64, win) EXPECT_EQ(sizeof(type), size_t{KS_LP64_WIN(lp64, win)}) << #type
#define EXPECT_OFFSET(type, field, lp64, win) \
  EXPECT_EQ(offsetof(type, field), size_t{KS_LP64_WIN(lp64, win)}) << #type "." #field

namespace {

TEST(AbiLayout, BasicTypes) {
  EXPECT_SIZE(CK_ULONG, 8, 4);
  EXPECT_SIZE(CK_LONG, 8, 4);
  EXPECT_SIZE(CK_FLAGS, 8, 4);
  EXPECT_SIZE(CK_RV, 8, 4);
  EXPECT_SIZE(CK_VOID_PTR, 8, 8);
  EXPECT_SIZE(CK_BBOOL, 1, 1);
}

TEST(AbiLayout, Version) {
  EXPECT_SIZE(CK_VERSION, 2, 2);
  EXPECT_OFFSET(CK_VERSION, major, 0, 0);
  EXPECT_OFFSET(CK_VERSION, minor, 1, 1);
}

TEST(AbiLayout, Info) {
  // cryptokiVersion (2), manufacturerID[32], flags, libraryDescription[32], libraryVersion (2)
  EXPECT_OFFSET(CK_INFO, cryptokiVersion, 0, 0);
  EXPECT_OFFSET(CK_INFO, manufacturerID, 2, 2);
  EXPECT_OFFSET(CK_INFO, flags, 40, 34);  // LP64: 34 rounded up to 8
  EXPECT_OFFSET(CK_INFO, libraryDescription, 48, 38);
  EXPECT_OFFSET(CK_INFO, libraryVersion, 80, 70);
  EXPECT_SIZE(CK_INFO, 88, 72);  // LP64: 82 rounded up to 8
}

TEST(AbiLayout, SlotInfo) {
  // slotDescription[64], manufacturerID[32], flags, hardwareVersion, firmwareVersion
  EXPECT_OFFSET(CK_SLOT_INFO, slotDescription, 0, 0);
  EXPECT_OFFSET(CK_SLOT_INFO, manufacturerID, 64, 64);
  EXPECT_OFFSET(CK_SLOT_INFO, flags, 96, 96);
  EXPECT_OFFSET(CK_SLOT_INFO, hardwareVersion, 104, 100);
  EXPECT_OFFSET(CK_SLOT_INFO, firmwareVersion, 106, 102);
  EXPECT_SIZE(CK_SLOT_INFO, 112, 104);  // LP64: 108 rounded up to 8
}

TEST(AbiLayout, TokenInfo) {
  // label[32], manufacturerID[32], model[16], serialNumber[16], flags, ten CK_ULONG counters,
  // hardwareVersion, firmwareVersion, utcTime[16]
  EXPECT_OFFSET(CK_TOKEN_INFO, label, 0, 0);
  EXPECT_OFFSET(CK_TOKEN_INFO, manufacturerID, 32, 32);
  EXPECT_OFFSET(CK_TOKEN_INFO, model, 64, 64);
  EXPECT_OFFSET(CK_TOKEN_INFO, serialNumber, 80, 80);
  EXPECT_OFFSET(CK_TOKEN_INFO, flags, 96, 96);
  EXPECT_OFFSET(CK_TOKEN_INFO, ulMaxSessionCount, 104, 100);
  EXPECT_OFFSET(CK_TOKEN_INFO, ulSessionCount, 112, 104);
  EXPECT_OFFSET(CK_TOKEN_INFO, ulMaxRwSessionCount, 120, 108);
  EXPECT_OFFSET(CK_TOKEN_INFO, ulRwSessionCount, 128, 112);
  EXPECT_OFFSET(CK_TOKEN_INFO, ulMaxPinLen, 136, 116);
  EXPECT_OFFSET(CK_TOKEN_INFO, ulMinPinLen, 144, 120);
  EXPECT_OFFSET(CK_TOKEN_INFO, ulTotalPublicMemory, 152, 124);
  EXPECT_OFFSET(CK_TOKEN_INFO, ulFreePublicMemory, 160, 128);
  EXPECT_OFFSET(CK_TOKEN_INFO, ulTotalPrivateMemory, 168, 132);
  EXPECT_OFFSET(CK_TOKEN_INFO, ulFreePrivateMemory, 176, 136);
  EXPECT_OFFSET(CK_TOKEN_INFO, hardwareVersion, 184, 140);
  EXPECT_OFFSET(CK_TOKEN_INFO, firmwareVersion, 186, 142);
  EXPECT_OFFSET(CK_TOKEN_INFO, utcTime, 188, 144);
  EXPECT_SIZE(CK_TOKEN_INFO, 208, 160);  // LP64: 204 rounded up to 8
}

TEST(AbiLayout, SessionInfo) {
  EXPECT_OFFSET(CK_SESSION_INFO, slotID, 0, 0);
  EXPECT_OFFSET(CK_SESSION_INFO, state, 8, 4);
  EXPECT_OFFSET(CK_SESSION_INFO, flags, 16, 8);
  EXPECT_OFFSET(CK_SESSION_INFO, ulDeviceError, 24, 12);
  EXPECT_SIZE(CK_SESSION_INFO, 32, 16);
}

TEST(AbiLayout, MechanismAndAttribute) {
  // CK_MECHANISM: mechanism, pParameter, ulParameterLen
  EXPECT_OFFSET(CK_MECHANISM, mechanism, 0, 0);
  EXPECT_OFFSET(CK_MECHANISM, pParameter, 8, 4);
  EXPECT_OFFSET(CK_MECHANISM, ulParameterLen, 16, 12);
  EXPECT_SIZE(CK_MECHANISM, 24, 16);
  // CK_MECHANISM_INFO: ulMinKeySize, ulMaxKeySize, flags
  EXPECT_OFFSET(CK_MECHANISM_INFO, ulMinKeySize, 0, 0);
  EXPECT_OFFSET(CK_MECHANISM_INFO, ulMaxKeySize, 8, 4);
  EXPECT_OFFSET(CK_MECHANISM_INFO, flags, 16, 8);
  EXPECT_SIZE(CK_MECHANISM_INFO, 24, 12);
  // CK_ATTRIBUTE: type, pValue, ulValueLen
  EXPECT_OFFSET(CK_ATTRIBUTE, type, 0, 0);
  EXPECT_OFFSET(CK_ATTRIBUTE, pValue, 8, 4);
  EXPECT_OFFSET(CK_ATTRIBUTE, ulValueLen, 16, 12);
  EXPECT_SIZE(CK_ATTRIBUTE, 24, 16);
  EXPECT_SIZE(CK_DATE, 8, 8);
}

TEST(AbiLayout, InitializeArgs) {
  // CreateMutex, DestroyMutex, LockMutex, UnlockMutex, flags, pReserved
  EXPECT_OFFSET(CK_C_INITIALIZE_ARGS, CreateMutex, 0, 0);
  EXPECT_OFFSET(CK_C_INITIALIZE_ARGS, DestroyMutex, 8, 8);
  EXPECT_OFFSET(CK_C_INITIALIZE_ARGS, LockMutex, 16, 16);
  EXPECT_OFFSET(CK_C_INITIALIZE_ARGS, UnlockMutex, 24, 24);
  EXPECT_OFFSET(CK_C_INITIALIZE_ARGS, flags, 32, 32);
  EXPECT_OFFSET(CK_C_INITIALIZE_ARGS, pReserved, 40, 36);
  EXPECT_SIZE(CK_C_INITIALIZE_ARGS, 48, 44);
}

TEST(AbiLayout, Interface) {
  // PKCS#11 3.0 CK_INTERFACE: pInterfaceName, pFunctionList, flags. keyseal declares it, not p11-kit.
  EXPECT_OFFSET(CK_INTERFACE, pInterfaceName, 0, 0);
  EXPECT_OFFSET(CK_INTERFACE, pFunctionList, 8, 8);
  EXPECT_OFFSET(CK_INTERFACE, flags, 16, 16);
  EXPECT_SIZE(CK_INTERFACE, 24, 20);
}

// The function lists: CK_VERSION, then one pointer per function (8 bytes on both platforms), the first at 8
// on LP64 (aligned) and at 2 on Windows (packed). The 2.40 list has 68 functions, C_Initialize (index 0) to
// C_WaitForSlotEvent (67); the 3.0 list continues with C_GetInterfaceList (68) to C_MessageVerifyFinal (91).
TEST(AbiLayout, FunctionList240) {
  EXPECT_OFFSET(CK_FUNCTION_LIST, version, 0, 0);
  EXPECT_OFFSET(CK_FUNCTION_LIST, C_Initialize, 8, 2);
  EXPECT_OFFSET(CK_FUNCTION_LIST, C_Finalize, 16, 10);
  EXPECT_OFFSET(CK_FUNCTION_LIST, C_GetFunctionList, 32, 26);  // index 3
  EXPECT_OFFSET(CK_FUNCTION_LIST, C_GetSlotList, 40, 34);      // index 4
  EXPECT_OFFSET(CK_FUNCTION_LIST, C_OpenSession, 104, 98);     // index 12
  EXPECT_OFFSET(CK_FUNCTION_LIST, C_Login, 152, 146);          // index 18
  EXPECT_OFFSET(CK_FUNCTION_LIST, C_SignInit, 344, 338);       // index 42
  EXPECT_OFFSET(CK_FUNCTION_LIST, C_GenerateKeyPair, 480, 474);  // index 59
  EXPECT_OFFSET(CK_FUNCTION_LIST, C_WaitForSlotEvent, 544, 538);  // index 67
  EXPECT_SIZE(CK_FUNCTION_LIST, 552, 546);                     // 8 + 68 * 8, 2 + 68 * 8
}

TEST(AbiLayout, FunctionList30) {
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, version, 0, 0);
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_Initialize, 8, 2);
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_GetFunctionList, 32, 26);
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_WaitForSlotEvent, 544, 538);     // index 67
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_GetInterfaceList, 552, 546);     // index 68
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_GetInterface, 560, 554);         // index 69
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_LoginUser, 568, 562);            // index 70
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_SessionCancel, 576, 570);        // index 71
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_MessageEncryptInit, 584, 578);   // index 72
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_MessageDecryptInit, 624, 618);   // index 77
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_MessageSignInit, 664, 658);      // index 82
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_MessageVerifyInit, 704, 698);    // index 87
  EXPECT_OFFSET(CK_FUNCTION_LIST_3_0, C_MessageVerifyFinal, 736, 730);   // index 91
  EXPECT_SIZE(CK_FUNCTION_LIST_3_0, 744, 738);                           // 8 + 92 * 8, 2 + 92 * 8
}

TEST(AbiLayout, RsaParams) {
  // CK_RSA_PKCS_PSS_PARAMS: hashAlg, mgf, sLen
  EXPECT_OFFSET(CK_RSA_PKCS_PSS_PARAMS, hashAlg, 0, 0);
  EXPECT_OFFSET(CK_RSA_PKCS_PSS_PARAMS, mgf, 8, 4);
  EXPECT_OFFSET(CK_RSA_PKCS_PSS_PARAMS, sLen, 16, 8);
  EXPECT_SIZE(CK_RSA_PKCS_PSS_PARAMS, 24, 12);
  // CK_RSA_PKCS_OAEP_PARAMS: hashAlg, mgf, source, pSourceData, ulSourceDataLen
  EXPECT_OFFSET(CK_RSA_PKCS_OAEP_PARAMS, hashAlg, 0, 0);
  EXPECT_OFFSET(CK_RSA_PKCS_OAEP_PARAMS, mgf, 8, 4);
  EXPECT_OFFSET(CK_RSA_PKCS_OAEP_PARAMS, source, 16, 8);
  EXPECT_OFFSET(CK_RSA_PKCS_OAEP_PARAMS, pSourceData, 24, 12);
  EXPECT_OFFSET(CK_RSA_PKCS_OAEP_PARAMS, ulSourceDataLen, 32, 20);
  EXPECT_SIZE(CK_RSA_PKCS_OAEP_PARAMS, 40, 24);
}

TEST(AbiLayout, EcdhParams) {
  // CK_ECDH1_DERIVE_PARAMS: kdf, ulSharedDataLen, pSharedData, ulPublicDataLen, pPublicData
  EXPECT_OFFSET(CK_ECDH1_DERIVE_PARAMS, kdf, 0, 0);
  EXPECT_OFFSET(CK_ECDH1_DERIVE_PARAMS, ulSharedDataLen, 8, 4);
  EXPECT_OFFSET(CK_ECDH1_DERIVE_PARAMS, pSharedData, 16, 8);
  EXPECT_OFFSET(CK_ECDH1_DERIVE_PARAMS, ulPublicDataLen, 24, 16);
  EXPECT_OFFSET(CK_ECDH1_DERIVE_PARAMS, pPublicData, 32, 20);
  EXPECT_SIZE(CK_ECDH1_DERIVE_PARAMS, 40, 28);
}

TEST(AbiLayout, HkdfParams) {
  // CK_HKDF_PARAMS (3.0): bExtract, bExpand (CK_BBOOL), prfHashMechanism, ulSaltType, pSalt, ulSaltLen,
  // hSaltKey, pInfo, ulInfoLen. LP64: the CK_ULONG after the two bytes starts at 8; Windows: at 2, no padding.
  EXPECT_OFFSET(CK_HKDF_PARAMS, bExtract, 0, 0);
  EXPECT_OFFSET(CK_HKDF_PARAMS, bExpand, 1, 1);
  EXPECT_OFFSET(CK_HKDF_PARAMS, prfHashMechanism, 8, 2);
  EXPECT_OFFSET(CK_HKDF_PARAMS, ulSaltType, 16, 6);
  EXPECT_OFFSET(CK_HKDF_PARAMS, pSalt, 24, 10);
  EXPECT_OFFSET(CK_HKDF_PARAMS, ulSaltLen, 32, 18);
  EXPECT_OFFSET(CK_HKDF_PARAMS, hSaltKey, 40, 22);
  EXPECT_OFFSET(CK_HKDF_PARAMS, pInfo, 48, 26);
  EXPECT_OFFSET(CK_HKDF_PARAMS, ulInfoLen, 56, 34);
  EXPECT_SIZE(CK_HKDF_PARAMS, 64, 38);
}

TEST(AbiLayout, AesParams) {
  // CK_GCM_PARAMS (2.40 errata and 3.0): pIv, ulIvLen, ulIvBits, pAAD, ulAADLen, ulTagBits
  EXPECT_OFFSET(CK_GCM_PARAMS, pIv, 0, 0);
  EXPECT_OFFSET(CK_GCM_PARAMS, ulIvLen, 8, 8);
  EXPECT_OFFSET(CK_GCM_PARAMS, ulIvBits, 16, 12);
  EXPECT_OFFSET(CK_GCM_PARAMS, pAAD, 24, 16);
  EXPECT_OFFSET(CK_GCM_PARAMS, ulAADLen, 32, 24);
  EXPECT_OFFSET(CK_GCM_PARAMS, ulTagBits, 40, 28);
  EXPECT_SIZE(CK_GCM_PARAMS, 48, 32);
  // The layout before the 2.40 errata, which the module also accepts, told apart by its size: pIv, ulIvLen,
  // pAAD, ulAADLen, ulTagBits. (Unpacked on Windows it would be 32 bytes, the size of the real one.)
  EXPECT_OFFSET(KS_CK_GCM_PARAMS_NO_IV_BITS, pIv, 0, 0);
  EXPECT_OFFSET(KS_CK_GCM_PARAMS_NO_IV_BITS, ulIvLen, 8, 8);
  EXPECT_OFFSET(KS_CK_GCM_PARAMS_NO_IV_BITS, pAAD, 16, 12);
  EXPECT_OFFSET(KS_CK_GCM_PARAMS_NO_IV_BITS, ulAADLen, 24, 20);
  EXPECT_OFFSET(KS_CK_GCM_PARAMS_NO_IV_BITS, ulTagBits, 32, 24);
  EXPECT_SIZE(KS_CK_GCM_PARAMS_NO_IV_BITS, 40, 28);
  // CK_AES_CTR_PARAMS: ulCounterBits, cb[16]
  EXPECT_OFFSET(CK_AES_CTR_PARAMS, ulCounterBits, 0, 0);
  EXPECT_OFFSET(CK_AES_CTR_PARAMS, cb, 8, 4);
  EXPECT_SIZE(CK_AES_CTR_PARAMS, 24, 20);
}

TEST(AbiLayout, EddsaParams) {
  // CK_EDDSA_PARAMS: phFlag (CK_BBOOL), ulContextDataLen, pContextData
  EXPECT_OFFSET(CK_EDDSA_PARAMS, phFlag, 0, 0);
  EXPECT_OFFSET(CK_EDDSA_PARAMS, ulContextDataLen, 8, 1);
  EXPECT_OFFSET(CK_EDDSA_PARAMS, pContextData, 16, 5);
  EXPECT_SIZE(CK_EDDSA_PARAMS, 24, 13);
}

}  // namespace
