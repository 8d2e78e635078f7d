// Factor reading, junk rejection and the strength summary shown by `keyseal status` (issue 5, items 1, 3).
#include "fingerprint/factor.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace keyseal::fingerprint {

std::vector<Factor> read_factors(const std::vector<std::unique_ptr<FactorSource>>& sources) {
  std::vector<Factor> out;
  for (const auto& s : sources) out.push_back(Factor{s->id(), s->read(), s->strength_bits()});
  return out;
}

std::string canonical_text(std::string_view raw) {
  std::string out;
  bool space = false;
  for (char c : raw) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (std::isspace(u) || u == 0) {
      space = !out.empty();
      continue;
    }
    if (space) out.push_back(' ');
    space = false;
    out.push_back(c);
  }
  return out;
}

bool is_junk(std::string_view canonical) {
  if (canonical.empty()) return true;
  std::string lower;
  for (char c : canonical) lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  static constexpr std::array<std::string_view, 22> kJunk = {"to be filled by o.e.m.",
                                                             "to be filled by oem",
                                                             "default string",
                                                             "none",
                                                             "0123456789",
                                                             "123456789",
                                                             "1234567890",
                                                             "not specified",
                                                             "not applicable",
                                                             "system serial number",
                                                             "system product name",
                                                             "base board serial number",
                                                             "chassis serial number",
                                                             "serial",
                                                             "unknown",
                                                             "n/a",
                                                             "na",
                                                             "oem",
                                                             "empty",
                                                             "invalid",
                                                             "virtio",
                                                             "qemu"};
  if (std::find(kJunk.begin(), kJunk.end(), lower) != kJunk.end()) return true;
  // Generic emulated-disk serials (QEMU "QM00001") and placeholder fills ("00000000-0000-...", "FFFF...",
  // "XXXXXXXX", "........"): the value minus separators is one repeated character.
  if (lower.size() == 7 && lower.starts_with("qm000")) return true;
  std::string core;
  for (char c : lower)
    if (c != '-' && c != ':' && c != ' ' && c != '.') core.push_back(c);
  if (core.empty()) return true;
  return std::all_of(core.begin(), core.end(), [&](char c) { return c == core.front(); });
}

unsigned threshold(std::vector<double> bits, unsigned tolerated_changes) {
  const size_t n = bits.size();
  if (n == 0) return 0;
  std::sort(bits.begin(), bits.end());
  size_t k = n > tolerated_changes ? n - tolerated_changes : 1;
  for (; k < n; ++k) {
    double weakest = 0;
    for (size_t i = 0; i < k; ++i) weakest += bits[i];
    if (weakest >= kMinSubsetBits) break;
  }
  return static_cast<unsigned>(k);
}

Strength strength_of(std::vector<double> bits, size_t k) {
  Strength s;
  s.factors = bits.size();
  std::sort(bits.begin(), bits.end());
  for (size_t i = 0; i < bits.size(); ++i) {
    s.total_bits += bits[i];
    if (i < k) s.effective_bits += bits[i];
  }
  if (s.factors < 2 || s.effective_bits < 64)
    s.level = "weak";
  else if (s.factors >= 3 && s.effective_bits >= 128)
    s.level = "strong";
  else
    s.level = "moderate";
  return s;
}

Strength describe(const std::vector<Factor>& factors, unsigned tolerated_changes) {
  std::vector<double> bits;
  for (const auto& f : factors)
    if (f.present()) bits.push_back(f.strength_bits);
  const size_t k = threshold(bits, tolerated_changes);
  return strength_of(std::move(bits), k);
}

std::string Strength::summary() const {
  return "binding: " + level + ", " + std::to_string(factors) + (factors == 1 ? " factor" : " factors");
}

}  // namespace keyseal::fingerprint
