// Enrolment and recovery of the fingerprint binding, and its versioned record (issue 5, item 2; mask key:
// issue 11, item 9). A wrong factor only yields a wrong share; nothing here tells, and with a version-2 record
// the redundant shares cannot be checked against each other without the mask key either.
#include "fingerprint/binding.h"

#include <algorithm>

#include "common/error.h"
#include "crypto/kdf.h"
#include "crypto/random.h"
#include "fingerprint/shamir.h"

namespace keyseal::fingerprint {
namespace {

// Version 1: the factor value alone; version 2: the mask key first (fixed length, so the concatenation is
// unambiguous), then the value.
SecureBytes factor_mask(uint8_t version, ByteView mask_key, ByteView value, ByteView salt, const std::string& id) {
  if (version == kFactorOnlyVersion) return crypto::hkdf_sha256(value, salt, view("keyseal/fp/v1/" + id), kSecretLen);
  SecureBytes ikm(mask_key.begin(), mask_key.end());
  ikm.insert(ikm.end(), value.begin(), value.end());
  return crypto::hkdf_sha256(view(ikm), salt, view("keyseal/fp/v2/" + id), kSecretLen);
}

bool known_version(uint8_t v) { return v == kRecordVersion || v == kFactorOnlyVersion; }

void check_mask_key(uint8_t version, ByteView mask_key) {
  require(version == kFactorOnlyVersion ? mask_key.empty() : mask_key.size() == kMaskKeyLen, CKR_ARGUMENTS_BAD,
          "fingerprint: a version-2 record needs a 32-byte mask key, a version-1 record none");
}

bool valid_id(const std::string& id) {
  if (id.empty() || id.size() > kMaxIdLen) return false;
  return std::all_of(id.begin(), id.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

const Factor* find_factor(const std::vector<Factor>& factors, const std::string& id) {
  for (const auto& f : factors)
    if (f.id == id) return &f;
  return nullptr;
}

void check_record(const Record& r) {
  require(known_version(r.version), CKR_DEVICE_ERROR, "fingerprint record: unknown version");
  require(r.n >= 1 && r.k >= 1 && r.k <= r.n, CKR_DEVICE_ERROR, "fingerprint record: bad threshold");
  require(r.salt.size() == kSaltLen, CKR_DEVICE_ERROR, "fingerprint record: bad salt length");
  require(r.factor_ids.size() == r.n && r.masked.size() == r.n, CKR_DEVICE_ERROR,
          "fingerprint record: share count mismatch");
  for (size_t i = 0; i < r.n; ++i) {
    require(valid_id(r.factor_ids[i]), CKR_DEVICE_ERROR, "fingerprint record: bad factor id");
    require(r.masked[i].size() == kSecretLen, CKR_DEVICE_ERROR, "fingerprint record: bad share length");
    for (size_t j = 0; j < i; ++j)
      require(r.factor_ids[i] != r.factor_ids[j], CKR_DEVICE_ERROR, "fingerprint record: duplicate factor id");
  }
}

}  // namespace

std::vector<uint8_t> serialize(const Record& r) {
  check_record(r);
  std::vector<uint8_t> out{r.version, r.k, r.n};
  out.insert(out.end(), r.salt.begin(), r.salt.end());
  for (size_t i = 0; i < r.n; ++i) {
    out.push_back(static_cast<uint8_t>(r.factor_ids[i].size()));
    out.insert(out.end(), r.factor_ids[i].begin(), r.factor_ids[i].end());
    out.insert(out.end(), r.masked[i].begin(), r.masked[i].end());
  }
  return out;
}

Record parse_record(ByteView bytes) {
  size_t pos = 0;
  auto take = [&](size_t len) {
    require(len <= bytes.size() - pos, CKR_DEVICE_ERROR, "fingerprint record: truncated");
    ByteView v = bytes.subspan(pos, len);
    pos += len;
    return v;
  };
  Record r;
  require(bytes.size() >= 3, CKR_DEVICE_ERROR, "fingerprint record: truncated");
  r.version = take(1)[0];
  require(known_version(r.version), CKR_DEVICE_ERROR, "fingerprint record: unknown version");
  r.k = take(1)[0];
  r.n = take(1)[0];
  require(r.n >= 1 && r.k >= 1 && r.k <= r.n, CKR_DEVICE_ERROR, "fingerprint record: bad threshold");
  auto salt = take(kSaltLen);
  r.salt.assign(salt.begin(), salt.end());
  for (unsigned i = 0; i < r.n; ++i) {
    const size_t id_len = take(1)[0];
    require(id_len >= 1 && id_len <= kMaxIdLen, CKR_DEVICE_ERROR, "fingerprint record: bad factor id length");
    auto id = take(id_len);
    r.factor_ids.emplace_back(id.begin(), id.end());
    auto m = take(kSecretLen);
    r.masked.emplace_back(m.begin(), m.end());
  }
  require(pos == bytes.size(), CKR_DEVICE_ERROR, "fingerprint record: trailing bytes");
  check_record(r);
  return r;
}

Record enrol_secret(ByteView secret, const std::vector<Factor>& factors, ByteView mask_key,
                    unsigned tolerated_changes) {
  require(secret.size() == kSecretLen, CKR_ARGUMENTS_BAD, "fingerprint: the secret must be 32 bytes");
  const uint8_t version = mask_key.empty() ? kFactorOnlyVersion : kRecordVersion;
  check_mask_key(version, mask_key);
  std::vector<const Factor*> present;
  for (const auto& f : factors) {
    require(valid_id(f.id), CKR_ARGUMENTS_BAD, "fingerprint: bad factor id");
    require(find_factor(factors, f.id) == &f, CKR_ARGUMENTS_BAD, "fingerprint: duplicate factor id");
    if (f.present()) present.push_back(&f);
  }
  require(!present.empty(), CKR_FUNCTION_FAILED, "fingerprint: no factor present to bind to");
  require(present.size() <= 255, CKR_ARGUMENTS_BAD, "fingerprint: too many factors");
  const unsigned n = static_cast<unsigned>(present.size());
  std::vector<double> bits;
  for (const Factor* f : present) bits.push_back(f->strength_bits);
  const unsigned k = threshold(bits, tolerated_changes);

  Record record;
  record.version = version;
  record.k = static_cast<uint8_t>(k);
  record.n = static_cast<uint8_t>(n);
  SecureBytes salt = crypto::random_bytes(kSaltLen);
  record.salt.assign(salt.begin(), salt.end());
  const auto shares = split(secret, k, n);
  for (unsigned i = 0; i < n; ++i) {
    const SecureBytes mask = factor_mask(version, mask_key, view(*present[i]->value), view(salt), present[i]->id);
    std::vector<uint8_t> masked(kSecretLen);
    for (size_t b = 0; b < kSecretLen; ++b) masked[b] = shares[i].y[b] ^ mask[b];
    record.factor_ids.push_back(present[i]->id);
    record.masked.push_back(std::move(masked));
  }
  return record;
}

Enrollment enrol(const std::vector<Factor>& factors, ByteView mask_key, unsigned tolerated_changes) {
  Enrollment e;
  e.secret = crypto::random_bytes(kSecretLen);
  e.record = enrol_secret(view(e.secret), factors, mask_key, tolerated_changes);
  return e;
}

std::optional<Recovery> recover(const Record& record, const std::vector<Factor>& current, ByteView mask_key,
                                const SecretCheck& check) {
  check_record(record);
  check_mask_key(record.version, mask_key);
  // Unmask the share of every recorded factor that is present now; a changed value gives garbage.
  std::vector<Share> candidates;
  std::vector<size_t> position;  // record index of each candidate
  for (size_t i = 0; i < record.n; ++i) {
    const Factor* f = find_factor(current, record.factor_ids[i]);
    if (!f || !f->present()) continue;
    const SecureBytes mask = factor_mask(record.version, mask_key, view(*f->value), record.salt, record.factor_ids[i]);
    Share s;
    s.x = static_cast<uint8_t>(i + 1);
    s.y.resize(kSecretLen);
    for (size_t b = 0; b < kSecretLen; ++b) s.y[b] = record.masked[i][b] ^ mask[b];
    candidates.push_back(std::move(s));
    position.push_back(i);
  }
  const size_t k = record.k;
  if (candidates.size() < k) return std::nullopt;

  // Lexicographic k-subsets of the candidates.
  std::vector<size_t> pick(k);
  for (size_t i = 0; i < k; ++i) pick[i] = i;
  for (;;) {
    std::vector<Share> subset;
    for (size_t i : pick) subset.push_back(candidates[i]);
    SecureBytes secret = combine(subset);
    if (check(view(secret))) {
      Recovery r;
      r.secret = std::move(secret);
      for (size_t i : pick) r.used.push_back(record.factor_ids[position[i]]);
      // The accepted subset fixes the polynomial; a factor matches iff its unmasked share lies on it.
      std::vector<bool> ok(record.n, false);
      for (size_t c = 0; c < candidates.size(); ++c) {
        const SecureBytes expected = interpolate_at(subset, candidates[c].x);
        ok[position[c]] = equal_constant_time(view(expected), view(candidates[c].y));
      }
      for (size_t i = 0; i < record.n; ++i) (ok[i] ? r.matched : r.changed).push_back(record.factor_ids[i]);
      return r;
    }
    // Next combination: rightmost index that can still advance.
    size_t i = k;
    while (i > 0 && pick[i - 1] == candidates.size() - k + (i - 1)) --i;
    if (i == 0) return std::nullopt;
    ++pick[i - 1];
    for (size_t j = i; j < k; ++j) pick[j] = pick[j - 1] + 1;
  }
}

}  // namespace keyseal::fingerprint
