// The soft token's hardware-fingerprint binding (issue 5) kept in the token's metadata: the binding record
// ("fp.binding"), the fingerprint secret S sealed under the master key ("fp.secret"), and the scheme-2 PIN
// records that mix S into their KEK. No core/ dependency, so the CLI uses it on a token file directly.
#pragma once
#include <keyseal/pkcs11.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/secure_bytes.h"
#include "crypto/kdf.h"
#include "fingerprint/binding.h"
#include "fingerprint/factor.h"
#include "softtoken/pin_wrap.h"

namespace keyseal::store {
class TokenDb;
}

namespace keyseal::softtoken {

// The factors of this machine as read now, for a token whose file lies in `store_dir` (the disk factor
// depends on it). Tests inject fakes here.
using FactorProvider = std::function<std::vector<fingerprint::Factor>(const std::filesystem::path& store_dir)>;
FactorProvider linux_factor_provider();  // fingerprint::linux_sources(store_dir)

inline constexpr unsigned kToleratedChanges = 1;  // by default one factor may change between logins

// Metadata keys.
inline constexpr std::string_view kBindingKey = "fp.binding";
inline constexpr std::string_view kSealedSecretKey = "fp.secret";
std::string pin_meta_key(CK_USER_TYPE who);                     // "pin.so" / "pin.user"
std::string pin_context(store::TokenDb& db, CK_USER_TYPE who);  // "<token uid>/so" / "<token uid>/user"

// The stored binding record, or nullopt when the token has none (never bound). A record that does not
// parse throws Error(CKR_DEVICE_ERROR, "the token's fingerprint binding record is unreadable: ...").
std::optional<fingerprint::Record> load_binding(store::TokenDb& db);

// The token's fingerprint secret S (fp.secret opened with the master key). A token without one is enrolled
// now, in one store transaction, if any factor is present here; nullopt when none is (the token then stays
// on scheme 1: PIN only). A sealed secret that does not open gives CKR_DEVICE_ERROR.
std::optional<SecureBytes> ensure_fingerprint_secret(store::TokenDb& db, ByteView master_key,
                                                     const FactorProvider& factors);

struct Unlocked {
  SecureBytes master_key;
  PinScheme scheme = PinScheme::argon2id_v1;
  std::optional<fingerprint::Recovery> recovery;  // scheme 2: which factors matched / changed
};

// Opens the PIN record of `who`: Argon2id once, then (scheme 2) each k-subset of the binding is tried with
// HKDF + the GCM tag. CKR_PIN_INCORRECT for a wrong PIN and for a machine that no longer matches, alike;
// CKR_USER_PIN_NOT_INITIALIZED without a record; CKR_DEVICE_ERROR for a malformed record or binding.
Unlocked unlock_master_key(store::TokenDb& db, CK_USER_TYPE who, ByteView pin, const FactorProvider& factors);

// Seals the master key under `pin` for `who`: scheme 2 when the token has (or can now get) a binding, else
// scheme 1. Argon2id runs outside any store transaction.
void seal_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
              const crypto::Argon2Params& params, const FactorProvider& factors);

// After a successful unlock of `who`: binds a token that has no binding yet, re-seals a scheme-1 record of
// `who` as scheme 2 (same Argon2 parameters), and re-enrols S with the current factor values when a
// recorded factor changed or went missing, so changes do not add up.
struct Refresh {
  bool bound = false;                // the token got its first binding
  bool resealed = false;             // who's record went from scheme 1 to scheme 2
  bool reenrolled = false;           // the binding now holds the current factor values
  std::vector<std::string> changed;  // ids of the recorded factors that had changed or gone
};
Refresh refresh_binding(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
                        const FactorProvider& factors);

// Writes a new binding of S to the present `current` factors (same S, fresh shares and salt).
// CKR_FUNCTION_FAILED when no factor is present.
void reenrol(store::TokenDb& db, ByteView secret, const std::vector<fingerprint::Factor>& current);

// How strong the recorded binding is: its factor ids and threshold, with the bit estimates of this
// machine's sources (an id they do not know counts 0 bits).
fingerprint::Strength binding_strength(const fingerprint::Record& r, const std::vector<fingerprint::Factor>& current);

// For `keyseal status` and `keyseal fingerprint`: "binding: weak, 1 factor" (as Strength::summary), or
// "binding: none (PIN only: no hardware factor found)", or "binding: none yet (made at the next login)".
std::string binding_summary(store::TokenDb& db, const FactorProvider& factors = linux_factor_provider());
// Opens the token file (a keyseal soft token; the store's own locking makes this safe beside a running
// module) and summarises its binding. Errors as store::TokenDb::open and load_binding.
std::string binding_summary(const std::filesystem::path& token_file);

}  // namespace keyseal::softtoken
