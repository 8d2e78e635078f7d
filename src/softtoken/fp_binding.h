// The soft token's hardware binding (issue 5) kept in the token's metadata: the binding secret S sealed under
// the master key ("fp.secret"), the scheme-2 PIN records that mix S into their KEK, and S split in two shares:
// where a TPM answers, a random T sealed by the TPM ("fp.tpm"), and F = S xor T (F = S without a TPM) split
// k-of-n across the fingerprint factors ("fp.binding"). No core/ dependency, so the CLI uses it on a token
// file directly.
#pragma once
#include <keyseal/pkcs11.h>

#include <filesystem>
#include <functional>
#include <memory>
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

// This machine's TPM as the soft token's second share (implemented in tpm/, which the module and the CLI
// inject; tests use a real swtpm).
class TpmSealer {
 public:
  virtual ~TpmSealer() = default;
  // Seals the 32-byte `secret` in this TPM; the record (opaque) is kept in the token. CKR_DEVICE_ERROR when
  // the TPM does not answer or cannot seal.
  virtual SecureBytes seal(ByteView secret) = 0;
  // The secret of a record seal() made; nullopt when this TPM cannot open it (another machine's TPM, or this
  // one was cleared). CKR_DEVICE_ERROR when the TPM does not answer or the record is malformed.
  virtual std::optional<SecureBytes> unseal(ByteView record) = 0;
};

// What a soft token binds to here: the fingerprint factors and, where a TPM is present, its sealer.
struct Machine {
  FactorProvider factors;
  std::shared_ptr<TpmSealer> tpm;  // null: no TPM on this machine
  Machine(FactorProvider f = linux_factor_provider(), std::shared_ptr<TpmSealer> t = nullptr)  // NOLINT: implicit
      : factors(std::move(f)), tpm(std::move(t)) {}
};

inline constexpr unsigned kToleratedChanges = 1;  // by default one factor may change between logins

// Metadata keys.
inline constexpr std::string_view kBindingKey = "fp.binding";
inline constexpr std::string_view kSealedSecretKey = "fp.secret";
inline constexpr std::string_view kTpmShareKey = "fp.tpm";
std::string pin_meta_key(CK_USER_TYPE who);                     // "pin.so" / "pin.user"
std::string pin_context(store::TokenDb& db, CK_USER_TYPE who);  // "<token uid>/so" / "<token uid>/user"

// The stored binding record, or nullopt when the token has none (never bound). A record that does not
// parse throws Error(CKR_DEVICE_ERROR, "the token's fingerprint binding record is unreadable: ...").
std::optional<fingerprint::Record> load_binding(store::TokenDb& db);

// The token's binding secret S (fp.secret opened with the master key). A token without one is enrolled now,
// in one store transaction, if any factor is present here (with a TPM share when the TPM seals); nullopt
// when none is (the token then stays on scheme 1: PIN only). A sealed secret that does not open gives
// CKR_DEVICE_ERROR.
std::optional<SecureBytes> ensure_fingerprint_secret(store::TokenDb& db, ByteView master_key, const Machine& machine);

bool has_tpm_share(store::TokenDb& db);

struct Unlocked {
  SecureBytes master_key;
  PinScheme scheme = PinScheme::argon2id_v1;
  std::optional<fingerprint::Recovery> recovery;  // scheme 2: which factors matched / changed (secret = F)
};

// Opens the PIN record of `who`: Argon2id once, then (scheme 2) the TPM unseals T (if the token has a TPM
// share) and each k-subset of the binding is tried with HKDF + the GCM tag. CKR_PIN_INCORRECT for a wrong PIN
// and for a machine that no longer matches (changed factors, another TPM), alike; CKR_DEVICE_ERROR when the
// token has a TPM share and no TPM answers, and for a malformed record or binding;
// CKR_USER_PIN_NOT_INITIALIZED without a record.
Unlocked unlock_master_key(store::TokenDb& db, CK_USER_TYPE who, ByteView pin, const Machine& machine);

// Seals the master key under `pin` for `who`: scheme 2 when the token has (or can now get) a binding, else
// scheme 1. Argon2id runs outside any store transaction.
void seal_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
              const crypto::Argon2Params& params, const Machine& machine);

// After a successful unlock of `who`: binds a token that has no binding yet, re-seals a scheme-1 record of
// `who` as scheme 2 (same Argon2 parameters), and re-enrols with the current factor values when a recorded
// factor changed or went missing, so changes do not add up; a token bound without a TPM share gets one when
// this machine's TPM seals (S is unchanged, so the PIN records stay as they are).
struct Refresh {
  bool bound = false;                // the token got its first binding
  bool resealed = false;             // who's record went from scheme 1 to scheme 2
  bool reenrolled = false;           // the binding now holds the current factor values
  bool tpm_added = false;            // the binding now includes a TPM share
  std::vector<std::string> changed;  // ids of the recorded factors that had changed or gone
};
Refresh refresh_binding(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
                        const Machine& machine);

// Writes a new binding of S to this machine (same S): a new TPM share when `machine` has a TPM that seals
// (else none), and fresh fingerprint shares of F for the present `current` factors, in one store
// transaction. CKR_FUNCTION_FAILED when no factor is present.
void rebind(store::TokenDb& db, ByteView secret, const std::vector<fingerprint::Factor>& current,
            const Machine& machine);

// How strong the recorded binding is: its factor ids and threshold, with the bit estimates of this
// machine's sources (an id they do not know counts 0 bits).
fingerprint::Strength binding_strength(const fingerprint::Record& r, const std::vector<fingerprint::Factor>& current);

// What a token bound now to these factors (and, `with_tpm`, a TPM share) would read, as binding_summary.
std::string machine_summary(const std::vector<fingerprint::Factor>& current, bool with_tpm);

// For `keyseal status` and `keyseal fingerprint`: "binding: weak, 1 factor" (as Strength::summary), with a
// TPM share "binding: strong, TPM-sealed secret + 4 factors (without the TPM: weak, 3 factors)" (the
// strength left against a copy that has the TPM's state too: the factors other than tpm-ek), or
// "binding: none (PIN only: no hardware factor found)", or "binding: none yet (made at the next login)".
std::string binding_summary(store::TokenDb& db, const Machine& machine = Machine());
// Opens the token file (a keyseal soft token; the store's own locking makes this safe beside a running
// module) and summarises its binding. Errors as store::TokenDb::open and load_binding.
std::string binding_summary(const std::filesystem::path& token_file, const Machine& machine = Machine());

}  // namespace keyseal::softtoken
