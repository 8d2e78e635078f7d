// How the soft token keeps its master key behind a PIN: a versioned record stored in the token's metadata.
// Scheme 1: KEK = Argon2id(PIN, salt; t, m, p), master key sealed with AES-256-GCM under the KEK, with the token
// id and the role as associated data. Scheme 2 (issue 5) adds the token's hardware-fingerprint secret S:
// KEK = HKDF-SHA256(ikm = Argon2id(PIN, salt) || S, info = "keyseal/kek/v2/" + context). Old records keep opening.
#pragma once
#include <cstdint>
#include <functional>
#include <string_view>

#include "common/secure_bytes.h"
#include "crypto/kdf.h"

namespace keyseal::softtoken {

enum class PinScheme : uint8_t { argon2id_v1 = 1, argon2id_fingerprint_v2 = 2 };

// Record layout (both schemes): scheme(1) | t_cost(4) | m_cost_kib(4) | lanes(4) | salt(16) | nonce || ct || tag.
// The scheme byte and the Argon2 parameters of a record; CKR_DEVICE_ERROR when malformed or unknown.
PinScheme record_scheme(ByteView record);
crypto::Argon2Params record_params(ByteView record);

// Scheme 1: seals `master_key` under `pin`; `context` binds it to a token and role.
SecureBytes seal_master_key(ByteView master_key, ByteView pin, std::string_view context,
                            const crypto::Argon2Params& params);
// Scheme 2: the same, with the fingerprint secret (32 bytes) mixed into the KEK.
SecureBytes seal_master_key_v2(ByteView master_key, ByteView pin, ByteView fingerprint_secret, std::string_view context,
                               const crypto::Argon2Params& params);

// Scheme 2 opening: the caller enumerates candidate fingerprint secrets (the k-subsets of the binding) and
// offers each to `check`, stopping at the first it accepts; it returns whether one was accepted. `check` is
// the only test there is: HKDF + the GCM tag of the record (Argon2id has already run once).
using SecretCheckFn = std::function<bool(ByteView candidate_secret)>;
using SecretSearch = std::function<bool(const SecretCheckFn& check)>;

// Opens a record of either scheme (`search` is only used by scheme 2). Throws CKR_PIN_INCORRECT when the PIN
// (or, for scheme 2, the PIN with every candidate secret) does not open it, with the same detail text either
// way; CKR_DEVICE_ERROR when the record is malformed or of an unknown scheme.
SecureBytes open_master_key(ByteView record, ByteView pin, std::string_view context, const SecretSearch& search);
// Scheme 1 only (a scheme-2 record gives CKR_DEVICE_ERROR here).
SecureBytes open_master_key(ByteView record, ByteView pin, std::string_view context);

}  // namespace keyseal::softtoken
