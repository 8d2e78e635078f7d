// Test helpers for softtoken/: a fake machine (factor id -> value, through the FactorSource boundary) and a
// fresh token database in a temporary directory.
#pragma once
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>

#include "common/error.h"
#include "crypto/kdf.h"
#include "fingerprint/factor.h"
#include "softtoken/fp_binding.h"
#include "softtoken/soft_backend.h"
#include "store/token_db.h"

namespace keyseal::softtoken::testing {

class FakeSource final : public fingerprint::FactorSource {
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

// Six factors by default, each worth 32 bits; tests change, remove or add values between logins.
struct FakeMachine {
  std::map<std::string, std::optional<std::string>> values = {{"machine-id", "m-1"},       {"nic-mac", "n-1"},
                                                              {"disk-serial", "d-1"},      {"cpu-id", "c-1"},
                                                              {"dmi-product-uuid", "u-1"}, {"dmi-board-serial", "b-1"}};
  int reads = 0;

  FactorProvider provider() {
    return [this](const std::filesystem::path&) {
      ++reads;
      std::vector<std::unique_ptr<fingerprint::FactorSource>> sources;
      for (const auto& [id, v] : values) sources.push_back(std::make_unique<FakeSource>(id, v, 32));
      return fingerprint::read_factors(sources);
    };
  }
};

// A TPM stand-in for the soft token's TPM share: seals into a table keyed by a random record. `present` false
// is this TPM gone (CKR_DEVICE_ERROR); clear() is a TPM cleared, or another machine's (records do not open).
class FakeTpm final : public TpmSealer {
 public:
  bool present = true;
  int seals = 0;
  SecureBytes seal(ByteView secret) override {
    require(present, CKR_DEVICE_ERROR, "fake TPM: not answering");
    ++seals;
    SecureBytes record(16);
    std::random_device rd;
    for (auto& b : record) b = static_cast<uint8_t>(rd());
    sealed_[std::string(record.begin(), record.end())] = to_bytes(secret);
    return record;
  }
  std::optional<SecureBytes> unseal(ByteView record) override {
    require(present, CKR_DEVICE_ERROR, "fake TPM: not answering");
    auto it = sealed_.find(std::string(record.begin(), record.end()));
    if (it == sealed_.end()) return std::nullopt;
    return it->second;
  }
  void clear() { sealed_.clear(); }

 private:
  std::map<std::string, SecureBytes> sealed_;
};

// A temporary directory with one empty token database that has an identity (meta "uid").
struct TempToken {
  std::filesystem::path dir;
  std::unique_ptr<store::TokenDb> db;

  TempToken() {
    std::random_device rd;
    dir = std::filesystem::temp_directory_path() / ("keyseal-softtoken-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(dir);
    db = store::TokenDb::open(dir / "token-0.db", store::OpenMode::create_new);
    db->set_meta("uid", view(std::string_view("0123456789abcdef0123456789abcdef")));
  }
  ~TempToken() {
    db.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  std::optional<SecureBytes> meta(std::string_view key) { return db->get_meta(key); }
};

inline ByteView pin_of(std::string_view s) {
  return view(s);
}

// Tests only: a real token uses the configured Argon2id parameters.
inline const crypto::Argon2Params kFast{1, 64, 1};
inline constexpr std::string_view kSo = "so-pin-1234", kUser = "user-pin-5678";

// The CK_RV a call throws (CKR_OK when it returns).
inline CK_RV rv_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.rv;
  }
  return CKR_OK;
}

// C_InitToken then C_InitPIN, as core drives the backend: the SO record (kSo) in a transaction, then the
// user's (kUser). Returns the token's master key.
inline SecureBytes init_pins(SoftBackend& backend, TempToken& token) {
  SecureBytes mk;
  token.db->transaction([&] { mk = backend.create_master_key(*token.db, pin_of(kSo), 10); });
  backend.set_pin(*token.db, CKU_USER, view(mk), pin_of(kUser));
  return mk;
}

// What core does at C_Login: unlock, then the upgrade hook. Returns the master key.
inline SecureBytes login_as(SoftBackend& backend, TempToken& token, CK_USER_TYPE who, std::string_view pin) {
  SecureBytes got = backend.unlock(*token.db, who, pin_of(pin));
  backend.after_unlock(*token.db, who, view(got), pin_of(pin));
  return got;
}

}  // namespace keyseal::softtoken::testing
