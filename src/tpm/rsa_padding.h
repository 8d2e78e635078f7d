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
// EMSA-PSS encoding (RFC 8017 section 9.1.1) of the hash `m_hash` for a modulus of `mod_bits` bits, with a
// random salt of `salt_len` bytes and MGF1 over `mgf_hash`; the block is left-padded to k = ceil(mod_bits / 8)
// bytes, ready for raw RSA. CKR_MECHANISM_PARAM_INVALID when the salt does not fit.
SecureBytes pss_encode(ByteView m_hash, CK_MECHANISM_TYPE hash, CK_MECHANISM_TYPE mgf_hash, size_t salt_len,
                       size_t mod_bits);
// The largest PSS salt a modulus of `mod_bits` bits takes with a hash of `hash_len` bytes (0 if none).
size_t pss_max_salt(size_t hash_len, size_t mod_bits);
// EME-PKCS1-v1_5 decoding (00 02 PS 00 M, PS at least 8 nonzero bytes); CKR_ENCRYPTED_DATA_INVALID on failure.
SecureBytes pkcs1_type2_decode(ByteView em);
// EME-OAEP decoding of the raw RSA result `em` (k bytes); CKR_ENCRYPTED_DATA_INVALID on any failure.
SecureBytes oaep_decode(ByteView em, CK_MECHANISM_TYPE hash, CK_MECHANISM_TYPE mgf_hash, ByteView label);

}  // namespace keyseal::tpm
