// Enrolment, recovery and the binding record, with the machine varied through fake factor sources.
#include "fingerprint/binding.h"

#include <gtest/gtest.h>

#include <map>

#include "common/error.h"
#include "crypto/kdf.h"
#include "fingerprint/factor.h"
#include "fingerprint/shamir.h"

namespace keyseal::fingerprint {
namespace {

class FakeSource final : public FactorSource {
 public:
  FakeSource(std::string id, std::optional<std::string> value, double bits)
      : id_(std::move(id)), value_(std::move(value)), bits_(bits) {}
  std::string id() const override { return id_; }
  std::optional<SecureBytes> read() const override {
    if (!value_) return std::nullopt;
    return to_bytes(view(*value_));
  }
  double strength_bits() const override { return bits_; }

 private:
  std::string id_;
  std::optional<std::string> value_;
  double bits_;
};

const std::vector<std::string> kIds = {"machine-id", "nic-mac",          "disk-serial",
                                       "cpu-id",     "dmi-product-uuid", "dmi-board-serial"};

// A machine: id -> value (nullopt = missing), read through the FactorSource boundary.
std::vector<Factor> machine(const std::map<std::string, std::optional<std::string>>& overrides = {}) {
  std::vector<std::unique_ptr<FactorSource>> sources;
  for (const auto& id : kIds) {
    std::optional<std::string> v = "value-of-" + id;
    if (auto it = overrides.find(id); it != overrides.end()) v = it->second;
    sources.push_back(std::make_unique<FakeSource>(id, v, 32));
  }
  return read_factors(sources);
}

// The caller's mask key (the soft token derives it from the stretched PIN).
const SecureBytes kKey(kMaskKeyLen, 0x5a);

struct Counter {
  SecureBytes expected;
  int calls = 0;
  SecretCheck check() {
    return [this](ByteView c) {
      ++calls;
      return equal_bytes(c, view(expected));
    };
  }
};

TEST(Binding, EnrolChoosesThreshold) {
  auto e = enrol(machine(), view(kKey));
  EXPECT_EQ(e.record.n, 6);
  EXPECT_EQ(e.record.k, 5);
  EXPECT_EQ(e.record.factor_ids, kIds);
  EXPECT_EQ(e.secret.size(), kSecretLen);
  EXPECT_EQ(enrol(machine(), view(kKey), 2).record.k, 4);
  EXPECT_EQ(enrol(machine(), view(kKey), 9).record.k, 2);  // one 32-bit factor alone may not open: 2 x 32 >= 64
  auto single = enrol(machine({{"nic-mac", std::nullopt},
                               {"disk-serial", std::nullopt},
                               {"cpu-id", std::nullopt},
                               {"dmi-product-uuid", std::nullopt},
                               {"dmi-board-serial", std::nullopt}}),
                      view(kKey));
  EXPECT_EQ(single.record.n, 1);
  EXPECT_EQ(single.record.k, 1);
  EXPECT_EQ(single.record.factor_ids, std::vector<std::string>{"machine-id"});
}

TEST(Binding, EnrolRejectsNothingToBindAndDuplicates) {
  std::map<std::string, std::optional<std::string>> none;
  for (const auto& id : kIds) none[id] = std::nullopt;
  try {
    enrol(machine(none), view(kKey));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.rv, CKR_FUNCTION_FAILED);
  }
  auto dup = machine();
  dup[1].id = dup[0].id;
  try {
    enrol(dup, view(kKey));
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.rv, CKR_ARGUMENTS_BAD);
  }
}

TEST(Binding, FreshSecretAndSaltEachTime) {
  auto a = enrol(machine(), view(kKey)), b = enrol(machine(), view(kKey));
  EXPECT_NE(a.secret, b.secret);
  EXPECT_NE(a.record.salt, b.record.salt);
  EXPECT_NE(a.record.masked, b.record.masked);
}

TEST(Binding, SameMachineRecoversOnFirstTry) {
  auto e = enrol(machine(), view(kKey));
  Counter c{e.secret};
  auto r = recover(parse_record(serialize(e.record)), machine(), view(kKey), c.check());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->secret, e.secret);
  EXPECT_EQ(c.calls, 1);  // the all-matching set comes first
  EXPECT_EQ(r->used, std::vector<std::string>(kIds.begin(), kIds.begin() + 5));
  EXPECT_EQ(r->matched, kIds);
  EXPECT_TRUE(r->changed.empty());
  EXPECT_FALSE(r->needs_reenrol());
}

TEST(Binding, OneChangedFactorRecoversAndIsReported) {
  for (const auto& changed_id : kIds) {
    auto e = enrol(machine(), view(kKey));
    Counter c{e.secret};
    auto r = recover(e.record, machine({{changed_id, "new-card"}}), view(kKey), c.check());
    ASSERT_TRUE(r) << changed_id;
    EXPECT_EQ(r->secret, e.secret);
    EXPECT_EQ(r->changed, std::vector<std::string>{changed_id});
    EXPECT_EQ(r->matched.size(), 5u);
    EXPECT_TRUE(std::find(r->used.begin(), r->used.end(), changed_id) == r->used.end());
    EXPECT_TRUE(r->needs_reenrol());
  }
}

TEST(Binding, MissingFactorCountsAsChanged) {
  auto e = enrol(machine(), view(kKey));
  Counter c{e.secret};
  auto r = recover(e.record, machine({{"disk-serial", std::nullopt}}), view(kKey), c.check());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->secret, e.secret);
  EXPECT_EQ(r->changed, std::vector<std::string>{"disk-serial"});
  EXPECT_EQ(c.calls, 1);  // only one 5-subset of the 5 present factors
}

TEST(Binding, TwoChangedWithToleranceOneFails) {
  auto e = enrol(machine(), view(kKey));
  Counter c{e.secret};
  auto r = recover(e.record, machine({{"nic-mac", "x"}, {"cpu-id", "y"}}), view(kKey), c.check());
  EXPECT_FALSE(r);
  EXPECT_EQ(c.calls, 6);  // every 5-subset of 6 tried, none accepted
}

TEST(Binding, TwoMissingWithToleranceOneNeverCallsCheck) {
  auto e = enrol(machine(), view(kKey));
  Counter c{e.secret};
  EXPECT_FALSE(recover(e.record, machine({{"nic-mac", std::nullopt}, {"cpu-id", std::nullopt}}), view(kKey), c.check()));
  EXPECT_EQ(c.calls, 0);
}

TEST(Binding, TwoChangedWithToleranceTwoRecovers) {
  auto e = enrol(machine(), view(kKey), 2);
  Counter c{e.secret};
  auto r = recover(e.record, machine({{"machine-id", "x"}, {"dmi-board-serial", std::nullopt}}), view(kKey), c.check());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->secret, e.secret);
  EXPECT_EQ(r->changed, (std::vector<std::string>{"machine-id", "dmi-board-serial"}));
}

TEST(Binding, RejectingCheckLooksLikeChangedMachine) {
  // A wrong PIN (the caller's check never accepts) and a changed machine both end in nullopt.
  auto e = enrol(machine(), view(kKey));
  int calls = 0;
  EXPECT_FALSE(recover(e.record, machine(), view(kKey), [&](ByteView) { return ++calls, false; }));
  EXPECT_EQ(calls, 6);
}

TEST(Binding, UnknownCurrentFactorsAreIgnored) {
  auto e = enrol(machine(), view(kKey));
  auto now = machine();
  now.push_back(Factor{"tpm-ek", to_bytes(view(std::string("ek"))), 64});
  Counter c{e.secret};
  auto r = recover(e.record, now, view(kKey), c.check());
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->changed.empty());
}

// The check an attacker with the record alone can make when n > k: unmask every share with guessed factor
// values (and a guessed mask key), and see whether the share beyond the first k lies on their polynomial.
bool shares_consistent(const Record& r, const std::vector<Factor>& guess, ByteView key_guess) {
  std::vector<Share> shares;
  for (size_t i = 0; i < r.n; ++i) {
    SecureBytes ikm(key_guess.begin(), key_guess.end());
    ikm.insert(ikm.end(), guess[i].value->begin(), guess[i].value->end());
    const std::string info = std::string(r.version == kFactorOnlyVersion ? "keyseal/fp/v1/" : "keyseal/fp/v2/") +
                             r.factor_ids[i];
    const SecureBytes mask = crypto::hkdf_sha256(view(ikm), r.salt, view(info), kSecretLen);
    Share s{static_cast<uint8_t>(i + 1), SecureBytes(kSecretLen)};
    for (size_t b = 0; b < kSecretLen; ++b) s.y[b] = r.masked[i][b] ^ mask[b];
    shares.push_back(std::move(s));
  }
  const std::vector<Share> first(shares.begin(), shares.begin() + r.k);
  return equal_bytes(view(interpolate_at(first, shares.back().x)), view(shares.back().y));
}

TEST(Binding, FactorOnlyRecordConfirmsGuessesAndMaskKeyedRecordDoesNot) {
  const auto right = machine(), wrong = machine({{"nic-mac", "guessed-mac"}});
  // Version 1 with n > k (issue 5's record): one HKDF per share tells the right value from a wrong one.
  const Record v1 = enrol(right, ByteView()).record;
  ASSERT_EQ(v1.version, kFactorOnlyVersion);
  ASSERT_LT(v1.k, v1.n);
  EXPECT_TRUE(shares_consistent(v1, right, ByteView()));
  EXPECT_FALSE(shares_consistent(v1, wrong, ByteView()));
  // Version 2: without the mask key the right values look as wrong as any others.
  const Record v2 = enrol(right, view(kKey)).record;
  ASSERT_EQ(v2.version, kRecordVersion);
  const SecureBytes other_key(kMaskKeyLen, 0x33);
  for (const ByteView key_guess : {ByteView(), view(other_key)}) {
    EXPECT_FALSE(shares_consistent(v2, right, key_guess));
    EXPECT_FALSE(shares_consistent(v2, wrong, key_guess));
  }
  EXPECT_TRUE(shares_consistent(v2, right, view(kKey)));  // the check exists only for the key's holder
  // A version-1 record with k = n has no redundant share: there is nothing to be consistent with.
  const Record strict = enrol(right, ByteView(), 0).record;
  EXPECT_EQ(strict.k, strict.n);
}

TEST(Binding, MaskKeyMustMatchTheVersion) {
  const auto e = enrol(machine(), view(kKey));
  Counter c{e.secret};
  EXPECT_THROW(recover(e.record, machine(), ByteView(), c.check()), Error);
  EXPECT_FALSE(recover(e.record, machine(), view(SecureBytes(kMaskKeyLen, 1)), c.check()).has_value());
  EXPECT_THROW(enrol(machine(), view(SecureBytes(16, 1))), Error);
}

TEST(BindingRecord, RoundTrip) {
  auto e = enrol(machine(), view(kKey));
  auto bytes = serialize(e.record);
  EXPECT_EQ(
      bytes.size(), 3 + kSaltLen + [] {
        size_t s = 0;
        for (const auto& id : kIds) s += 1 + id.size() + kSecretLen;
        return s;
      }());
  EXPECT_EQ(bytes[0], kRecordVersion);
  Record r = parse_record(bytes);
  EXPECT_EQ(r.k, e.record.k);
  EXPECT_EQ(r.n, e.record.n);
  EXPECT_EQ(r.salt, e.record.salt);
  EXPECT_EQ(r.factor_ids, e.record.factor_ids);
  EXPECT_EQ(r.masked, e.record.masked);
  EXPECT_EQ(serialize(r), bytes);
}

void expect_device_error(const std::vector<uint8_t>& bytes, const std::string& what) {
  try {
    parse_record(bytes);
    ADD_FAILURE() << "accepted: " << what;
  } catch (const Error& e) {
    EXPECT_EQ(e.rv, CKR_DEVICE_ERROR) << what;
  }
}

TEST(BindingRecord, EveryTruncationAndTrailingByteRejected) {
  auto bytes = serialize(enrol(machine(), view(kKey)).record);
  for (size_t len = 0; len < bytes.size(); ++len)
    expect_device_error(std::vector<uint8_t>(bytes.begin(), bytes.begin() + len), "len " + std::to_string(len));
  auto longer = bytes;
  longer.push_back(0);
  expect_device_error(longer, "trailing byte");
}

TEST(BindingRecord, MalformedFieldsRejected) {
  const auto good = serialize(enrol(machine(), view(kKey)).record);
  const size_t first_id = 3 + kSaltLen;  // offset of the first id length byte
  auto mutate = [&](auto fn, const std::string& what) {
    auto b = good;
    fn(b);
    expect_device_error(b, what);
  };
  mutate([](auto& b) { b[0] = 0; }, "version 0");
  mutate([](auto& b) { b[0] = 3; }, "version 3");
  mutate([](auto& b) { b[1] = 0; }, "k 0");
  mutate([](auto& b) { b[1] = 7; }, "k > n");
  mutate([](auto& b) { b[2] = 0; }, "n 0");
  mutate([](auto& b) { b[2] = 5; }, "n too small: trailing");
  mutate([](auto& b) { b[2] = 7; }, "n too large: truncated");
  mutate([&](auto& b) { b[first_id] = 0; }, "id length 0");
  mutate([&](auto& b) { b[first_id] = 65; }, "id length 65");
  mutate([&](auto& b) { b[first_id] = 255; }, "id length 255");
  mutate([&](auto& b) { b[first_id + 1] = 'M'; }, "uppercase id");
  mutate([&](auto& b) { b[first_id + 1] = 0; }, "NUL in id");
  mutate(
      [&](auto& b) {  // second id "nic-mac" replaced by "machine-id": well-formed but duplicate
        const size_t second = first_id + 1 + 10 + kSecretLen;
        const std::string dup = "machine-id";
        b.erase(b.begin() + second + 1, b.begin() + second + 1 + 7);
        b[second] = static_cast<uint8_t>(dup.size());
        b.insert(b.begin() + second + 1, dup.begin(), dup.end());
      },
      "duplicate id");
}

TEST(BindingRecord, SerializeRefusesInconsistentRecord) {
  auto r = enrol(machine(), view(kKey)).record;
  r.masked.pop_back();
  EXPECT_THROW(serialize(r), Error);
}

TEST(Strength, VirtualMachineWithOnlyMachineIdIsWeak) {
  std::vector<Factor> vm = {Factor{"machine-id", SecureBytes(16, 1), 122}, Factor{"nic-mac", std::nullopt, 24}};
  auto s = describe(vm);
  EXPECT_EQ(s.factors, 1u);
  EXPECT_EQ(s.level, "weak");
  EXPECT_EQ(s.summary(), "binding: weak, 1 factor");
  EXPECT_DOUBLE_EQ(s.total_bits, 122);
  EXPECT_DOUBLE_EQ(s.effective_bits, 122);
}

TEST(Strength, LevelsFollowEffectiveBits) {
  auto m = machine();  // six factors of 32 bits each
  auto s = describe(m);
  EXPECT_EQ(s.factors, 6u);
  EXPECT_DOUBLE_EQ(s.total_bits, 192);
  EXPECT_DOUBLE_EQ(s.effective_bits, 160);  // the 5 weakest
  EXPECT_EQ(s.level, "strong");
  EXPECT_EQ(s.summary(), "binding: strong, 6 factors");
  std::vector<Factor> two = {Factor{"a", SecureBytes(1), 40}, Factor{"b", SecureBytes(1), 40},
                             Factor{"c", SecureBytes(1), 40}};
  EXPECT_EQ(describe(two).level, "moderate");  // 80 effective bits
  EXPECT_EQ(describe(two, 2).level, "moderate");  // k raised from 1 to 2: 80 effective bits
  EXPECT_EQ(describe({}).summary(), "binding: weak, 0 factors");
}

TEST(Strength, ToleranceOnlyWhereTheRestCanStandInForAChangedFactor) {
  // This microVM's shape: a strong machine-id, a disk serial and a weak CPU id. Tolerating one change
  // would let disk + CPU (40 bits) open a copy elsewhere, so no change is tolerated.
  EXPECT_EQ(threshold({122, 32, 8}, 1), 3u);
  EXPECT_EQ(threshold({122, 32, 24, 8}, 1), 3u);  // + a physical NIC: 8 + 24 + 32 = 64, one change tolerated
  EXPECT_EQ(threshold({122}, 1), 1u);
  EXPECT_EQ(threshold({}, 1), 0u);
  EXPECT_EQ(threshold({32, 32, 32, 32, 32, 32}, 1), 5u);
  EXPECT_EQ(threshold({32, 32, 32, 32, 32, 32}, 0), 6u);
  std::vector<Factor> vm = {Factor{"machine-id", SecureBytes(1), 122}, Factor{"disk-serial", SecureBytes(1), 32},
                            Factor{"cpu-id", SecureBytes(1), 8}};
  auto e = enrol(vm, view(kKey));
  EXPECT_EQ(e.record.k, 3);
  EXPECT_EQ(describe(vm).effective_bits, 162);
  // With the threshold at n, the changed machine-id alone is refused.
  vm[0].value = SecureBytes(1, 9);
  EXPECT_FALSE(recover(e.record, vm, view(kKey), [&](ByteView c) { return equal_bytes(c, view(e.secret)); }).has_value());
}

}  // namespace
}  // namespace keyseal::fingerprint
