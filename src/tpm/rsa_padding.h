// The RSA encodings done in software around the TPM's raw RSA (PKCS#1 v2.2 = RFC 8017 sections 7.1.2 OAEP
// decoding, 9.2 EMSA-PKCS1-v1_5 with its DigestInfo prefixes): used when the TPM cannot do the whole
// mechanism itself (a hash it lacks, an OAEP label without the trailing zero the TPM requires, raw
// CKM_RSA_PKCS input that is not a DigestInfo).
#pragma once
#include "common/secure_bytes.h"

#include <keyseal/pkcs11.h>

namespace keyseal::tpm {

ByteView digest_info_prefix(CK_MECHANISM_TYPE hash);  // DER prefix before the digest; empty if unknown
// A DigestInfo of a known hash: its hash mechanism and digest.
bool parse_digest_info(ByteView in, CK_MECHANISM_TYPE& hash, ByteView& digest);
// 00 01 FF..FF 00 || t, k bytes (CKR_DATA_LEN_RANGE when t is longer than k - 11).
SecureBytes pkcs1_type1(ByteView t, size_t k);
// EME-PKCS1-v1_5 decoding (00 02 PS 00 M, PS at least 8 nonzero bytes); CKR_ENCRYPTED_DATA_INVALID on failure.
SecureBytes pkcs1_type2_decode(ByteView em);
// EME-OAEP decoding of the raw RSA result `em` (k bytes); CKR_ENCRYPTED_DATA_INVALID on any failure.
SecureBytes oaep_decode(ByteView em, CK_MECHANISM_TYPE hash, CK_MECHANISM_TYPE mgf_hash, ByteView label);

}  // namespace keyseal::tpm
