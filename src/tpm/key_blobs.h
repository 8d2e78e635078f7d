// TPM keys as PKCS#11 objects: templates for TPM2_Create (TPM 2.0 Part 3 section 12.1), TPM2_Import of an
// outside private key with no outer or inner wrapper (Part 3 section 13.3, Part 1 section 23.3), the
// TPM's public area turned into CKA_MODULUS / CKA_EC_POINT ..., and the blobs kept in backend attributes.
#pragma once
#include "core/attributes.h"
#include "core/backend_attributes.h"
#include "tpm/connection.h"

#include <optional>

namespace keyseal::tpm {

inline constexpr CK_ATTRIBUTE_TYPE kAttrPublic = core::backend_attr(1);        // marshalled TPM2B_PUBLIC
inline constexpr CK_ATTRIBUTE_TYPE kAttrPrivate = core::backend_attr(2);       // marshalled TPM2B_PRIVATE
inline constexpr CK_ATTRIBUTE_TYPE kAttrParent = core::backend_attr(3);        // storage parent's TPM2B_NAME
inline constexpr CK_ATTRIBUTE_TYPE kAttrCreationHash = core::backend_attr(4);  // TPM2B_DIGEST from TPM2_Create
inline constexpr CK_ATTRIBUTE_TYPE kAttrCreationTicket = core::backend_attr(5);  // its TPMT_TK_CREATION
inline constexpr CK_ATTRIBUTE_TYPE kAttrAuth = core::backend_secret_attr(1);   // the key's 32-byte authValue

SecureBytes marshal_public(const TPM2B_PUBLIC& p);
SecureBytes marshal_private(const TPM2B_PRIVATE& p);
TPM2B_PUBLIC unmarshal_public(ByteView b);    // CKR_DEVICE_ERROR when malformed
TPM2B_PRIVATE unmarshal_private(ByteView b);

// The blobs of a private key object, checked against it: CKR_KEY_HANDLE_INVALID (and an error log line) when
// it holds none, when it claims CKA_LOCAL or CKA_NEVER_EXTRACTABLE but the blob lacks fixedTPM, fixedParent or
// sensitiveDataOrigin, or when the blob's public key is not the object's (CKA_MODULUS, CKA_EC_PARAMS,
// CKA_EC_POINT or CKA_PUBLIC_KEY_INFO). CKR_USER_NOT_LOGGED_IN when its authValue is not loaded.
KeyBlobs blobs_of(const core::AttributeMap& a);

size_t curve_bytes(TPMI_ECC_CURVE c);               // 32, 48, 66
TPMI_ECC_CURVE tpm_curve_of(ByteView ec_params);    // CKR_CURVE_NOT_SUPPORTED if the TPM has no such curve id

// The creation hash and ticket kept with a key made inside the TPM (nullopt: an imported key, or one made
// before they were kept).
std::optional<Creation> creation_of(const core::AttributeMap& a);

// Key pair generation inside the TPM: adds the public values to both maps and the blobs to `priv`.
void create_key_pair(Connection::Guard& g, CK_KEY_TYPE kt, core::AttributeMap& pub, core::AttributeMap& priv);
// An RSA or EC private key from outside moved into the TPM: clear components replaced by the blobs.
void import_private_key(Connection::Guard& g, core::AttributeMap& key);

}  // namespace keyseal::tpm
