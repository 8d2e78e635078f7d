// The soft token's hardware binding (issue 5; issue 11, items 9 and 10) kept in the token's metadata: the
// binding secret S sealed under the master key ("fp.secret"), the PIN records that mix S into their KEK, and S
// split in two shares: where the token was bound to a TPM (at `keyseal init --bind-tpm` or `keyseal bind-tpm`,
// never as a side effect of a login), a random T sealed by the TPM ("fp.tpm"), and F = S xor T (F = S without
// a TPM) split k-of-n across the fingerprint factors. Each scheme-3 PIN record carries its own split of F,
// masked under a key from that PIN's Argon2id, so no factor guess is checkable without stretching a PIN guess.
// "fp.transit" is a factor-only n-of-n split of F (no redundant share, so nothing to check a guess against)
// for a role whose record has not caught up yet: a scheme-2 record after the upgrade, every record after a
// recovery; it goes when no role needs it. "fp.binding" is issue 5's shared k-of-n split (an offline oracle
// for factor guesses); it is read only to upgrade and removed at the first login. No core/ dependency, so the
// CLI uses it on a token file directly.
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
FactorProvider linux_factor_provider();  // fingerprint::linux_sources(store_dir); Linux only
// What a Machine reads when none is given: linux_factor_provider() on Linux (factors_linux.cpp); on Windows
// (factors_win.cpp) no factor, because the module and the CLI always pass compose::this_machine() there.
FactorProvider default_factor_provider();

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
  Machine(FactorProvider f = default_factor_provider(), std::shared_ptr<TpmSealer> t = nullptr)  // NOLINT: implicit
      : factors(std::move(f)), tpm(std::move(t)) {}
};

inline constexpr unsigned kToleratedChanges = 1;  // by default one factor may change between logins

// Metadata keys.
inline constexpr std::string_view kLegacyBindingKey = "fp.binding";  // issue 5's shared split: upgrade only
inline constexpr std::string_view kTransitKey = "fp.transit";
inline constexpr std::string_view kSealedSecretKey = "fp.secret";
inline constexpr std::string_view kTpmShareKey = "fp.tpm";
std::string pin_meta_key(CK_USER_TYPE who);                     // "pin.so" / "pin.user"
std::string pin_context(store::TokenDb& db, CK_USER_TYPE who);  // "<token uid>/so" / "<token uid>/user"

// The binding in effect, for display (factor ids and threshold; no PIN needed, as none is needed to read them
// from the file): the user's scheme-3 record's, else the SO's, else fp.transit's, else the legacy one; nullopt
// when the token has none (never bound). A record that does not parse throws Error(CKR_DEVICE_ERROR, "the
// token's fingerprint binding record is unreadable: ...").
std::optional<fingerprint::Record> load_binding(store::TokenDb& db);

// The token's binding secret S (fp.secret opened with the master key). A token without one gets one now (the
// PIN records that use it are written by the caller), if any factor is present here; nullopt when none is
// (the token then stays on scheme 1: PIN only). Never adds a TPM share. A sealed secret that does not open
// gives CKR_DEVICE_ERROR.
std::optional<SecureBytes> ensure_fingerprint_secret(store::TokenDb& db, ByteView master_key, const Machine& machine);

bool has_tpm_share(store::TokenDb& db);

struct Unlocked {
  SecureBytes master_key;
  PinScheme scheme = PinScheme::argon2id_v1;
  std::optional<fingerprint::Recovery> recovery;  // schemes 2, 3: which factors matched / changed (secret = F)
  bool via_transit = false;                       // F came from fp.transit, not from the record's own split
  // Whether after_unlock must re-seal the record: an older scheme, F from fp.transit, or a changed factor.
  bool needs_reseal() const {
    return scheme != PinScheme::argon2id_fingerprint_v3 || via_transit || (recovery && recovery->needs_reenrol());
  }
};

// Opens the PIN record of `who`: Argon2id once, then the TPM unseals T (if the token has a TPM share) and each
// k-subset of the record's split (scheme 3; masks keyed by the stretched PIN), or of the legacy shared split
// (scheme 2), then of fp.transit, is tried with HKDF + the GCM tag. CKR_PIN_INCORRECT for a wrong PIN and for
// a machine that no longer matches (changed factors, another TPM), alike; CKR_DEVICE_ERROR when the token has
// a TPM share and no TPM answers, and for a malformed record or binding; CKR_USER_PIN_NOT_INITIALIZED without
// a record.
Unlocked unlock_master_key(store::TokenDb& db, CK_USER_TYPE who, ByteView pin, const Machine& machine);

// Seals the master key under `pin` for `who`: scheme 3 with a split of F for the present factors when the
// token has (or can now get) a binding secret, else scheme 1. Argon2id runs outside any store transaction.
// CKR_DEVICE_ERROR when the token has a TPM share that this machine's TPM does not open.
void seal_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
              const crypto::Argon2Params& params, const Machine& machine);

// After a successful unlock of `who` (`u` is what that unlock found): gives a never-bound token its binding
// secret, and re-seals `who`'s record as scheme 3 with the current factor values (same Argon2 parameters, one
// more Argon2id) when u.needs_reseal(): the upgrade of a scheme-1/2 record, a factor that changed or went
// missing (so changes do not add up), or a record that had to use fp.transit. In the same store transaction
// the legacy shared split is removed (a scheme-2 record of the other role gets fp.transit instead) and
// fp.transit is dropped once no role needs it. Never adds a TPM share.
struct Refresh {
  bool bound = false;                // the token got its binding secret
  bool resealed = false;             // who's record was re-sealed (as scheme 3)
  bool upgraded = false;             // ... from scheme 1 or 2
  bool reenrolled = false;           // ... with the current values of changed factors
  bool legacy_removed = false;       // the legacy shared split (fp.binding) is gone
  std::vector<std::string> changed;  // ids of the recorded factors that had changed or gone
};
Refresh refresh_binding(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin,
                        const Machine& machine, const Unlocked& u);

// Binds the token to this machine's TPM (issue 11, item 10: only by explicit request): a new T sealed by the
// TPM, and every PIN record re-sealed as scheme 3 over the new F = S xor T, in one store transaction. Each
// existing PIN record needs its PIN (an empty PIN for a role without a record is fine). CKR_DEVICE_ERROR when
// no TPM is configured or it does not seal; CKR_FUNCTION_FAILED when the token already has a TPM share or no
// factor is present here; CKR_PIN_INCORRECT for a wrong PIN (nothing is written).
void bind_tpm(store::TokenDb& db, ByteView so_pin, ByteView user_pin, const Machine& machine);

// Writes a new binding of S to this machine (same S), for recovery: a new TPM share only if the token had one
// and `machine`'s TPM seals, and fp.transit (n-of-n over the present `current` factors) for every role with a
// fingerprint record, in one store transaction; the legacy split goes. Each role's record catches up (its own
// k-of-n split) at its next login. CKR_FUNCTION_FAILED when no factor is present.
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
