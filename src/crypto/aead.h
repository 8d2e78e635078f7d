// Authenticated encryption for the keystore (sensitive attributes, master-key wrapping): AES-256-GCM with a
// random 96-bit nonce (NIST SP 800-38D), framed as nonce(12) || ciphertext || tag(16).
#pragma once
#include "common/secure_bytes.h"

namespace keyseal::crypto {

SecureBytes seal_aes256gcm(ByteView key32, ByteView aad, ByteView plaintext);
// Error(CKR_ENCRYPTED_DATA_INVALID) on any failure: short input, wrong key, tampered data or aad.
SecureBytes open_aes256gcm(ByteView key32, ByteView aad, ByteView sealed);

}  // namespace keyseal::crypto
