// How the soft token keeps its master key behind a PIN: a versioned record stored in the token's metadata.
// Scheme 1: KEK = Argon2id(PIN, salt; t, m, p), master key sealed with AES-256-GCM under the KEK, with the token
// id and the role as associated data. Later schemes (the hardware fingerprint) add inputs to the KEK and get a
// new scheme number; old records keep opening.
#pragma once
#include "common/secure_bytes.h"
#include "crypto/kdf.h"

#include <cstdint>
#include <string_view>

namespace keyseal::softtoken {

enum class PinScheme : uint8_t { argon2id_v1 = 1 };

// Seals `master_key` under `pin`; `context` binds it to a token and role.
SecureBytes seal_master_key(ByteView master_key, ByteView pin, std::string_view context,
                            const crypto::Argon2Params& params);
// Opens a record; throws CKR_PIN_INCORRECT when the PIN does not open it, CKR_DEVICE_ERROR when the record is
// malformed or of an unknown scheme.
SecureBytes open_master_key(ByteView record, ByteView pin, std::string_view context);

}  // namespace keyseal::softtoken
