// Public-key operations as keyseal::Operation objects (PKCS#11 3.0 current mechanisms 2.1 RSA,
// 2.3 ECDSA/ECDH, 2.3.14 EdDSA). Both backends use these for public-key work; the soft token also signs here.
#pragma once
#include "common/mechanism_params.h"
#include "common/operation.h"
#include "crypto/keys.h"

#include <memory>

namespace keyseal::crypto {

// CKM_RSA_PKCS (input = DigestInfo or raw, at most k-11 bytes, else CKR_DATA_LEN_RANGE), CKM_RSA_X_509
// (input <= k bytes), CKM_SHA1/224/256/384/512_RSA_PKCS, CKM_RSA_PKCS_PSS (input = hash; m.hash, m.mgf_hash,
// m.salt_len), CKM_SHA*_RSA_PKCS_PSS, CKM_ECDSA (input = hash of any length, truncated per FIPS 186-4),
// CKM_ECDSA_SHA1/224/256/384/512, CKM_EDDSA (pure Ed25519 and Ed448; m.eddsa_*
// asking for a context or prehash: CKR_MECHANISM_PARAM_INVALID; multipart input is buffered).
// ECDSA signatures are r||s, each padded to the order size. Single-part-only mechanisms
// (CKM_RSA_PKCS, CKM_RSA_X_509, CKM_RSA_PKCS_PSS, CKM_ECDSA) report multipart() == false.
// Key of the wrong kind: CKR_KEY_TYPE_INCONSISTENT; unknown mechanism: CKR_MECHANISM_INVALID.
std::unique_ptr<Operation> make_signer(const PKey& priv, const MechanismParams& m);
// Same list; verify()/verify_finish(). Wrong length: CKR_SIGNATURE_LEN_RANGE, bad: CKR_SIGNATURE_INVALID.
std::unique_ptr<Operation> make_verifier(const PKey& pub, const MechanismParams& m);

// CKM_RSA_PKCS, CKM_RSA_X_509, CKM_RSA_PKCS_OAEP (m.hash, m.mgf_hash, m.label may be non-empty). Single part.
std::unique_ptr<Operation> make_rsa_encryptor(const PKey& pub, const MechanismParams& m);
// Padding failure: CKR_ENCRYPTED_DATA_INVALID; input not k bytes: CKR_ENCRYPTED_DATA_LEN_RANGE.
std::unique_ptr<Operation> make_rsa_decryptor(const PKey& priv, const MechanismParams& m);

// CKM_ECDH1_DERIVE with CKD_NULL: the raw shared secret (x coordinate, field size). peer_point raw or
// DER-wrapped; a point not on the private key's curve gives CKR_MECHANISM_PARAM_INVALID.
SecureBytes ecdh_derive(const PKey& priv, ByteView peer_point);

}  // namespace keyseal::crypto
