// The factor-source boundary of the hardware fingerprint (issue 5, part 1): one source per machine property,
// each with a fixed id, a canonical value (or none) and a strength estimate. Tests substitute fakes here.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/secure_bytes.h"

namespace keyseal::fingerprint {

class FactorSource {
 public:
  virtual ~FactorSource() = default;
  // Fixed id, e.g. "machine-id"; it names the factor in records and in the HKDF info string.
  virtual std::string id() const = 0;
  // The canonical value, or nullopt when the property is missing, unreadable or a known junk value.
  // Missing is normal, never an error.
  virtual std::optional<SecureBytes> read() const = 0;
  // Estimated bits an attacker holding the record must guess to reproduce this factor.
  virtual double strength_bits() const = 0;
};

// The id of the factor derived from the TPM's endorsement key (tpm/ek_factor.h reads it): it comes with the
// TPM, so it says nothing about a copy that has the TPM's state too (a cloned VM with its virtual TPM).
inline constexpr std::string_view kTpmEkFactorId = "tpm-ek";

// One factor as read now. value is nullopt when the factor is missing.
struct Factor {
  std::string id;
  std::optional<SecureBytes> value;
  double strength_bits = 0;
  bool present() const { return value.has_value(); }
};

// Reads every source once, in the given order.
std::vector<Factor> read_factors(const std::vector<std::unique_ptr<FactorSource>>& sources);

// How strong a binding made from these factors is, for `keyseal status` and the token info.
struct Strength {
  size_t factors = 0;           // present factors
  double total_bits = 0;        // sum over present factors
  double effective_bits = 0;    // sum over the k weakest present factors: what an attacker must match
  std::string level;            // "weak", "moderate" or "strong"
  std::string summary() const;  // e.g. "binding: weak, 1 factor"
};

// weak: fewer than 2 present factors or under 64 effective bits; strong: at least 3 factors and 128
// effective bits; moderate otherwise. tolerated_changes as in enrol().
Strength describe(const std::vector<Factor>& factors, unsigned tolerated_changes = 1);

// A change is tolerated only while the factors left can still stand in for the changed one: every k-subset
// must carry at least this many estimated bits (else a copy of the file on a machine that shares the weak
// factors, e.g. the same CPU model and disk image, would open without the strong ones).
inline constexpr double kMinSubsetBits = 64;

// The threshold k for factors of these estimated strengths: the smallest k >= n - tolerated_changes (and
// >= 1) whose k weakest factors sum to at least kMinSubsetBits; n when no k does. 0 for no factors.
unsigned threshold(std::vector<double> present_bits, unsigned tolerated_changes);

// The strength of a binding of factors with these estimated bits and threshold k (levels as describe()).
Strength strength_of(std::vector<double> bits, size_t k);

// Canonical text form shared by the sources: trimmed, runs of whitespace collapsed to one space.
std::string canonical_text(std::string_view raw);
// Known placeholder values ("To be filled by O.E.M.", "Default string", all-zero/all-FF UUIDs, ...),
// compared case-insensitively on the canonical text.
bool is_junk(std::string_view canonical);

}  // namespace keyseal::fingerprint
