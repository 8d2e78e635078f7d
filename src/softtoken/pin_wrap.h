// How the soft token keeps its master key behind a PIN: a versioned record stored in the token's metadata.
// Scheme 1: KEK = Argon2id(PIN, salt; t, m, p), master key sealed with AES-256-GCM under the KEK, with the token
// id and the role as associated data. Scheme 2 (issue 5) adds the token's hardware-fingerprint secret S:
// KEK = HKDF-SHA256(ikm = Argon2id(PIN, salt) || S, info = "keyseal/kek/v2/" + context). Scheme 3 (issue 11,
// item 9) carries the role's own fingerprint shares in the record, masked under a key from the stretched PIN
// (so no factor guess can be checked without an Argon2id of a PIN guess); its KEK is scheme 2's with
// info "keyseal/kek/v3/". Old records keep opening.
#pragma once
#include <cstdint>
#include <functional>
#include <string_view>

#include "common/secure_bytes.h"
#include "crypto/kdf.h"

namespace keyseal::softtoken {

enum class PinScheme : uint8_t { argon2id_v1 = 1, argon2id_fingerprint_v2 = 2, argon2id_fingerprint_v3 = 3 };

// Record layout (schemes 1, 2): scheme(1) | t_cost(4) | m_cost_kib(4) | lanes(4) | salt(16) | nonce || ct || tag.
// Scheme 3: the same header, then binding_len(2, big-endian) | binding | nonce || ct || tag, where binding is
// a fingerprint::Record (version 2) and is part of the associated data.
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

// Scheme 3: `binding` is the serialized fingerprint record (built by the caller with mask_key_v3 of the
// stretched PIN); `stretched` = stretch_pin(pin, salt, params) for the `salt` given (kPinSaltLen bytes).
inline constexpr size_t kPinSaltLen = 16;
SecureBytes stretch_pin(ByteView pin, ByteView salt, const crypto::Argon2Params& params);
SecureBytes mask_key_v3(ByteView stretched, std::string_view context);
SecureBytes seal_master_key_v3(ByteView master_key, ByteView stretched, ByteView salt, const crypto::Argon2Params& params,
                               ByteView binding, ByteView fingerprint_secret, std::string_view context);
// The serialized fingerprint record of a scheme-3 record (no PIN needed: factor ids, threshold, masked shares).
ByteView record_binding(ByteView record);

// Scheme 3 opening: like SecretSearch, and the caller also gets the record's mask key and binding.
using BoundSecretSearch = std::function<bool(ByteView mask_key, ByteView binding, const SecretCheckFn& check)>;
// Opens a record of any scheme (scheme 2 gets an empty mask key and binding). Errors as below.
SecureBytes open_master_key_bound(ByteView record, ByteView pin, std::string_view context,
                                  const BoundSecretSearch& search);

// Opens a record of scheme 1 or 2 (`search` is only used by scheme 2). Throws CKR_PIN_INCORRECT when the PIN
// (or, for scheme 2, the PIN with every candidate secret) does not open it, with the same detail text either
// way; CKR_DEVICE_ERROR when the record is malformed or of an unknown scheme.
SecureBytes open_master_key(ByteView record, ByteView pin, std::string_view context, const SecretSearch& search);
// Scheme 1 only (a scheme-2 record gives CKR_DEVICE_ERROR here).
SecureBytes open_master_key(ByteView record, ByteView pin, std::string_view context);

}  // namespace keyseal::softtoken
