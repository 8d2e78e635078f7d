// Key management and random numbers (PKCS#11 3.0 sections 5.14 and 5.15).
#include "crypto/random.h"
#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "pkcs11/marshal.h"

using namespace keyseal;
using namespace keyseal::pkcs11;

extern "C" {

KS_EXPORT CK_RV C_GenerateKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                              CK_OBJECT_HANDLE_PTR phKey) {
  return with_session(__func__, h, [&](core::Session& s) {
    require(phKey != nullptr, CKR_ARGUMENTS_BAD, "NULL key handle pointer");
    *phKey = s.generate_key(read_mechanism(m), read_map(t, n));
  });
}

KS_EXPORT CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_ATTRIBUTE_PTR pub, CK_ULONG npub,
                                  CK_ATTRIBUTE_PTR priv, CK_ULONG npriv, CK_OBJECT_HANDLE_PTR phPublicKey,
                                  CK_OBJECT_HANDLE_PTR phPrivateKey) {
  return with_session(__func__, h, [&](core::Session& s) {
    require(phPublicKey != nullptr && phPrivateKey != nullptr, CKR_ARGUMENTS_BAD, "NULL key handle pointer");
    auto [hpub, hpriv] = s.generate_key_pair(read_mechanism(m), read_map(pub, npub), read_map(priv, npriv));
    *phPublicKey = hpub;
    *phPrivateKey = hpriv;
  });
}

KS_EXPORT CK_RV C_WrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey,
                          CK_BYTE_PTR pWrappedKey, CK_ULONG_PTR pulWrappedKeyLen) {
  return with_session(__func__, h, [&](core::Session& s) {
    require(pulWrappedKeyLen != nullptr, CKR_ARGUMENTS_BAD, "NULL length pointer");
    const SecureBytes wrapped = s.wrap_key(read_mechanism(m), hWrappingKey, hKey);
    return put_bytes(view(wrapped), pWrappedKey, pulWrappedKeyLen);
  });
}

KS_EXPORT CK_RV C_UnwrapKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE hUnwrappingKey,
                            CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen, CK_ATTRIBUTE_PTR t, CK_ULONG n,
                            CK_OBJECT_HANDLE_PTR phKey) {
  return with_session(__func__, h, [&](core::Session& s) {
    require(phKey != nullptr && pWrappedKey != nullptr, CKR_ARGUMENTS_BAD, "NULL argument");
    *phKey = s.unwrap_key(read_mechanism(m), hUnwrappingKey, input(pWrappedKey, ulWrappedKeyLen), read_map(t, n));
  });
}

KS_EXPORT CK_RV C_DeriveKey(CK_SESSION_HANDLE h, CK_MECHANISM_PTR m, CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR t,
                            CK_ULONG n, CK_OBJECT_HANDLE_PTR phKey) {
  return with_session(__func__, h, [&](core::Session& s) {
    require(phKey != nullptr, CKR_ARGUMENTS_BAD, "NULL key handle pointer");
    *phKey = s.derive_key(read_mechanism(m), hBaseKey, read_map(t, n));
  });
}

KS_EXPORT CK_RV C_SeedRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen) {
  return with_session(__func__, h, [&](core::Session&) -> CK_RV {
    require(pSeed != nullptr || ulSeedLen == 0, CKR_ARGUMENTS_BAD, "NULL seed");
    return CKR_RANDOM_SEED_NOT_SUPPORTED;  // OpenSSL's DRBG seeds itself from the OS
  });
}

KS_EXPORT CK_RV C_GenerateRandom(CK_SESSION_HANDLE h, CK_BYTE_PTR pRandomData, CK_ULONG ulRandomLen) {
  return with_session(__func__, h, [&](core::Session&) {
    require(pRandomData != nullptr || ulRandomLen == 0, CKR_ARGUMENTS_BAD, "NULL output");
    if (ulRandomLen) crypto::random_bytes(pRandomData, ulRandomLen);
  });
}

}  // extern "C"
