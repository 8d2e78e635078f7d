// Issue 11, item 9: the fingerprint binding must give no offline check of factor guesses. The attacker here
// holds the token file only (read with sqlite3, no keyseal code but the public record formats), knows every
// factor value but one, and has a right and a wrong candidate for that one (a NIC MAC). With issue 5's
// shared k-of-n split (n > k) the share beyond the first k tells them apart with one HKDF per share; after the
// upgrade at the next login (and on a new token) nothing in the file does without an Argon2id of the PIN.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <map>
#include <string>
#include <vector>

#include "common/error.h"
#include "crypto/kdf.h"
#include "fake_machine.h"
#include "fingerprint/binding.h"
#include "fingerprint/shamir.h"
#include "legacy_token.h"
#include "softtoken/pin_wrap.h"
#include "softtoken/soft_backend.h"

namespace keyseal::softtoken {
namespace {

using testing::FakeMachine;
using testing::kFast;
using testing::kSo;
using testing::kUser;
using testing::login_as;
using testing::pin_of;
using testing::TempToken;


// Every fingerprint split in the file, as the attacker finds them: the meta values that are split records
// (fp.binding, fp.transit after its role byte) and the splits inside scheme-3 PIN records.
std::vector<fingerprint::Record> splits_in_file(const std::filesystem::path& file) {
  sqlite3* db = nullptr;
  EXPECT_EQ(sqlite3_open_v2(file.string().c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(db, "SELECT key, value FROM meta", -1, &st, nullptr), SQLITE_OK);
  std::vector<fingerprint::Record> out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const std::string key = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    const auto* p = static_cast<const uint8_t*>(sqlite3_column_blob(st, 1));
    const ByteView value(p, static_cast<size_t>(sqlite3_column_bytes(st, 1)));
    try {
      if (key == "fp.binding") out.push_back(fingerprint::parse_record(value));
      if (key == "fp.transit") out.push_back(fingerprint::parse_record(value.subspan(1)));
      if (key.rfind("pin.", 0) == 0 && value[0] == 3) out.push_back(fingerprint::parse_record(record_binding(value)));
    } catch (const Error&) {
    }
  }
  sqlite3_finalize(st);
  sqlite3_close(db);
  return out;
}

// The attacker's check of one guess of every factor value: unmask each share (masks keyed by the value alone,
// or, lacking the PIN, by a guessed mask key) and test whether the shares beyond the first k lie on the
// polynomial through the first k. nullopt: the split has no share beyond k, so there is nothing to test.
std::optional<bool> share_check(const fingerprint::Record& r, const std::map<std::string, std::string>& guess) {
  if (r.n <= r.k) return std::nullopt;
  const SecureBytes key_guess(fingerprint::kMaskKeyLen, 0);
  std::vector<fingerprint::Share> shares;
  for (size_t i = 0; i < r.n; ++i) {
    const std::string& value = guess.at(r.factor_ids[i]);
    SecureBytes ikm;
    if (r.version != fingerprint::kFactorOnlyVersion) ikm = key_guess;
    ikm.insert(ikm.end(), value.begin(), value.end());
    const std::string info = (r.version == fingerprint::kFactorOnlyVersion ? "keyseal/fp/v1/" : "keyseal/fp/v2/") +
                             r.factor_ids[i];
    const SecureBytes mask = crypto::hkdf_sha256(view(ikm), r.salt, view(info), fingerprint::kSecretLen);
    fingerprint::Share s{static_cast<uint8_t>(i + 1), SecureBytes(fingerprint::kSecretLen)};
    for (size_t b = 0; b < fingerprint::kSecretLen; ++b) s.y[b] = r.masked[i][b] ^ mask[b];
    shares.push_back(std::move(s));
  }
  const std::vector<fingerprint::Share> first(shares.begin(), shares.begin() + r.k);
  for (size_t i = r.k; i < r.n; ++i)
    if (!equal_bytes(view(fingerprint::interpolate_at(first, shares[i].x)), view(shares[i].y))) return false;
  return true;
}

// Does anything in the file tell the right value of nic-mac from a wrong one?
bool file_separates(const std::filesystem::path& file, const FakeMachine& machine) {
  std::map<std::string, std::string> right, wrong;
  for (const auto& [id, v] : machine.values) right[id] = *v;
  wrong = right;
  wrong["nic-mac"] = "a-wrong-mac-guess";
  bool separates = false;
  for (const auto& r : splits_in_file(file)) separates |= share_check(r, right) != share_check(r, wrong);
  return separates;
}

struct Oracle : ::testing::Test {
  FakeMachine machine;
  TempToken token;
  SoftBackend backend{kFast, machine.provider()};
  std::filesystem::path file() { return token.dir / "token-0.db"; }
  void login(CK_USER_TYPE who, std::string_view pin) { login_as(backend, token, who, pin); }
};

TEST_F(Oracle, IssueFiveSplitConfirmsAFactorGuessFromTheFileAlone) {
  const SecureBytes mk(32, 0x42);
  testing::write_issue5_token(token, view(mk), pin_of(kSo), pin_of(kUser), machine.provider()(token.dir), kFast);
  EXPECT_TRUE(file_separates(file(), machine)) << "the attack no longer works on the legacy record";
}

TEST_F(Oracle, UpgradedTokenGivesNoCheckWithoutThePin) {
  const SecureBytes mk(32, 0x42);
  testing::write_issue5_token(token, view(mk), pin_of(kSo), pin_of(kUser), machine.provider()(token.dir), kFast);
  login(CKU_USER, kUser);  // the upgrade: the user's record now carries its own split; the SO's is scheme 2
  EXPECT_FALSE(token.meta(kLegacyBindingKey).has_value());
  EXPECT_EQ(record_scheme(view(*token.meta("pin.user"))), PinScheme::argon2id_fingerprint_v3);
  EXPECT_EQ(record_scheme(view(*token.meta("pin.so"))), PinScheme::argon2id_fingerprint_v2);
  ASSERT_TRUE(token.meta(kTransitKey).has_value()) << "the SO's scheme-2 record needs a split of F";
  EXPECT_FALSE(splits_in_file(file()).empty());
  EXPECT_FALSE(file_separates(file(), machine));
  for (const auto& r : splits_in_file(file())) {  // the transitional split has no redundant share at all
    if (r.version == fingerprint::kFactorOnlyVersion) {
      EXPECT_EQ(r.k, r.n);
    }
  }

  login(CKU_SO, kSo);  // the SO catches up: nothing factor-only is left
  EXPECT_EQ(record_scheme(view(*token.meta("pin.so"))), PinScheme::argon2id_fingerprint_v3);
  EXPECT_FALSE(token.meta(kTransitKey).has_value());
  EXPECT_FALSE(file_separates(file(), machine));
  EXPECT_TRUE(equal_bytes(view(backend.unlock(*token.db, CKU_SO, pin_of(kSo))), view(mk)));
  EXPECT_TRUE(equal_bytes(view(backend.unlock(*token.db, CKU_USER, pin_of(kUser))), view(mk)));
}

TEST_F(Oracle, NewTokenGivesNoCheckWithoutThePin) {
  SecureBytes mk;
  token.db->transaction([&] { mk = backend.create_master_key(*token.db, pin_of(kSo), 10); });
  backend.set_pin(*token.db, CKU_USER, view(mk), pin_of(kUser));
  const auto splits = splits_in_file(file());
  ASSERT_EQ(splits.size(), 2u);  // one per PIN record
  for (const auto& r : splits) {
    EXPECT_EQ(r.version, fingerprint::kRecordVersion);
    EXPECT_LT(r.k, r.n) << "one change is still tolerated";
  }
  EXPECT_FALSE(file_separates(file(), machine));
  // With the PIN the check exists (that is how a login with one changed factor still opens): the cost of
  // testing factor guesses starts with an Argon2id per PIN guess.
  machine.values["nic-mac"] = "n-2";
  EXPECT_TRUE(equal_bytes(view(backend.unlock(*token.db, CKU_USER, pin_of(kUser))), view(mk)));
}

TEST_F(Oracle, UpgradeKeepsTheTpmShareAndStillOpensWithOneChange) {
  auto tpm = std::make_shared<testing::FakeTpm>();
  SoftBackend with_tpm{kFast, Machine(machine.provider(), tpm)};
  const SecureBytes mk(32, 0x42);
  testing::write_issue5_token(token, view(mk), pin_of(kSo), pin_of(kUser), machine.provider()(token.dir), kFast,
                              tpm.get());
  machine.values["disk-serial"] = "d-2";
  SecureBytes got = with_tpm.unlock(*token.db, CKU_USER, pin_of(kUser));
  with_tpm.after_unlock(*token.db, CKU_USER, view(got), pin_of(kUser));
  EXPECT_TRUE(equal_bytes(view(got), view(mk)));
  EXPECT_FALSE(token.meta(kLegacyBindingKey).has_value());
  EXPECT_TRUE(token.meta(kTpmShareKey).has_value());
  EXPECT_FALSE(file_separates(file(), machine));
  machine.values["cpu-id"] = "c-2";  // one more change: the user's record was re-enrolled, so one is tolerated
  EXPECT_TRUE(equal_bytes(view(with_tpm.unlock(*token.db, CKU_USER, pin_of(kUser))), view(mk)));
  tpm->clear();  // the TPM share is still needed
  EXPECT_THROW(with_tpm.unlock(*token.db, CKU_USER, pin_of(kUser)), Error);
}

}  // namespace
}  // namespace keyseal::softtoken
