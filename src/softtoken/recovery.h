// Opt-in recovery of a soft token's hardware binding (issue 5, item 4): a random code, shown once at
// `keyseal init --recovery-code`, seals the token's fingerprint secret S ("fp.recovery"); `keyseal recover`
// opens S with the code and re-enrols it to this machine's factors. The PINs still guard the keys.
#pragma once
#include <string>

#include "common/secure_bytes.h"
#include "softtoken/fp_binding.h"

namespace keyseal::softtoken {

inline constexpr std::string_view kRecoveryKey = "fp.recovery";
inline constexpr size_t kRecoveryCodeBytes = 20;  // 160 bits

// A fresh code: 160 random bits as RFC 4648 base32 in 8 groups of 4, e.g. "ABCD-EFGH-...-2345" (39 chars).
SecureBytes make_recovery_code();
// The 20 code bytes of a typed code: case, '-' and blanks are ignored. CKR_ARGUMENTS_BAD if it is not one.
SecureBytes parse_recovery_code(ByteView typed);

bool has_recovery(store::TokenDb& db);
// Seals `secret` (S) under a key from the code: HKDF-SHA256(code bytes, random salt, token id) and AES-GCM.
void seal_recovery(store::TokenDb& db, ByteView secret, ByteView code);
// S from the code. CKR_PIN_INCORRECT "the recovery code does not open this token"; CKR_FUNCTION_FAILED when
// the token has no recovery record; CKR_DEVICE_ERROR when it is malformed.
SecureBytes open_recovery(store::TokenDb& db, ByteView code);

// For `keyseal init --recovery-code`: unlocks with `who`'s PIN, makes a code, stores S under it and returns
// the code (the only time it exists outside the user's hands). CKR_FUNCTION_FAILED when the token has no
// binding to recover (no hardware factor here).
SecureBytes add_recovery_code(store::TokenDb& db, CK_USER_TYPE who, ByteView pin, const Machine& machine);

// For `keyseal recover`: opens S with the code and binds it to this machine: the current factors and, where
// a TPM seals, a new TPM share (S is unchanged, so the PIN records stay valid). Returns the new binding
// summary ("binding: weak, 1 factor"). Both failed-login counters are cleared (logins refused on the changed
// hardware counted). CKR_FUNCTION_FAILED when no factor is present here.
std::string recover_binding(store::TokenDb& db, ByteView code, const Machine& machine);

}  // namespace keyseal::softtoken
