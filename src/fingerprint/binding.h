// Tolerant k-of-n binding of a random secret to the machine's factors (issue 5, item 2): enrol splits a
// secret, masks share i with a key derived from factor i (no per-share check), recover tries k-subsets.
// Version 2 (issue 11, item 9) keys every mask with the caller's mask key as well (the soft token uses one
// derived from the stretched PIN): with n > k the shares are redundant, so under version 1 guessed factor
// values could be confirmed from the record alone; under version 2 not without the mask key.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "common/secure_bytes.h"
#include "fingerprint/factor.h"

namespace keyseal::fingerprint {

inline constexpr uint8_t kRecordVersion = 2;        // masks keyed by factor value and mask key
inline constexpr uint8_t kFactorOnlyVersion = 1;    // masks keyed by factor value alone (issue 5)
inline constexpr size_t kMaskKeyLen = 32;
inline constexpr size_t kSecretLen = 32;
inline constexpr size_t kSaltLen = 32;
inline constexpr size_t kMaxIdLen = 64;

// The stored binding record. Share i has x = i + 1 and belongs to factor_ids[i].
struct Record {
  uint8_t version = kRecordVersion;
  uint8_t k = 0;
  uint8_t n = 0;
  std::vector<uint8_t> salt;                 // kSaltLen random bytes, per record
  std::vector<std::string> factor_ids;       // n ids, unique, [a-z0-9-], 1..kMaxIdLen chars
  std::vector<std::vector<uint8_t>> masked;  // n masked shares of kSecretLen bytes
};

// Wire form: version | k | n | salt[32] | n x (id_len | id | masked[32]). No trailing bytes. Version 1 masks:
// HKDF-SHA256(value, salt, "keyseal/fp/v1/" + id); version 2: HKDF-SHA256(mask key || value, salt,
// "keyseal/fp/v2/" + id). A version-1 record with k < n confirms factor guesses offline (a share beyond k must
// lie on the polynomial of the others): only a k = n one (no redundancy) carries no such check.
std::vector<uint8_t> serialize(const Record& r);
// Full bounds and consistency checks; anything malformed gives Error(CKR_DEVICE_ERROR, ...).
Record parse_record(ByteView bytes);

struct Enrollment {
  SecureBytes secret;  // kSecretLen random bytes; the caller feeds it into its key derivation
  Record record;
};

// Binds a fresh random secret to the present factors: n = present factors, k = threshold(their bits,
// tolerated_changes): n - tolerated_changes, raised until every k-subset carries kMinSubsetBits.
// `mask_key` (kMaskKeyLen bytes) makes a version-2 record; empty makes a version-1 one (factors alone).
// No present factor at all gives CKR_FUNCTION_FAILED (there is nothing to bind to); duplicate ids or a mask
// key of another length give CKR_ARGUMENTS_BAD.
Enrollment enrol(const std::vector<Factor>& factors, ByteView mask_key, unsigned tolerated_changes = 1);

// The same for a GIVEN secret (kSecretLen bytes, else CKR_ARGUMENTS_BAD) with fresh polynomial randomness and a
// fresh salt: re-enrolment after a factor changed, or recovery onto new hardware, keeps the token's secret, so
// nothing sealed under it needs re-sealing.
Record enrol_secret(ByteView secret, const std::vector<Factor>& factors, ByteView mask_key,
                    unsigned tolerated_changes = 1);

struct Recovery {
  SecureBytes secret;
  std::vector<std::string> used;     // ids of the k factors whose shares gave the accepted secret
  std::vector<std::string> matched;  // every recorded id whose current value still matches
  std::vector<std::string> changed;  // recorded ids that are missing or changed now
  bool needs_reenrol() const { return !changed.empty(); }
};

// The caller's check (the GCM tag over the wrapped master key); the only check there is.
using SecretCheck = std::function<bool(ByteView candidate_secret)>;

// Tries each k-subset of the recorded factors that are present now, in lexicographic order of record
// position (so with every factor present the first subset is the first k), calling check until it
// returns true. nullopt when no subset is accepted (too many changes, or a wrong PIN in the caller's check).
// `mask_key` as at enrolment (empty for a version-1 record; a version-2 record with another key only yields
// wrong shares, exactly like changed factors).
std::optional<Recovery> recover(const Record& record, const std::vector<Factor>& current, ByteView mask_key,
                                const SecretCheck& check);

}  // namespace keyseal::fingerprint
