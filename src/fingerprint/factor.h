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

// Canonical text form shared by the sources: trimmed, runs of whitespace collapsed to one space.
std::string canonical_text(std::string_view raw);
// Known placeholder values ("To be filled by O.E.M.", "Default string", all-zero/all-FF UUIDs, ...),
// compared case-insensitively on the canonical text.
bool is_junk(std::string_view canonical);

}  // namespace keyseal::fingerprint
