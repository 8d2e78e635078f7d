// The soft token backend: keys live in the token's store, their secret components sealed under the master key
// (core does the sealing); every private- and secret-key operation runs in crypto/ with a key loaded once per
// object. The master key is bound to the PIN and this machine's hardware fingerprint (fp_binding.h).
#pragma once
#include "core/backend.h"
#include "crypto/kdf.h"
#include "softtoken/fp_binding.h"

#include <chrono>
#include <map>
#include <mutex>

namespace keyseal::softtoken {

class SoftBackend final : public core::Backend {
 public:
  // `machine`: this machine's fingerprint factors for a token directory and its TPM, if any (tests pass
  // fake factors and a swtpm).
  explicit SoftBackend(crypto::Argon2Params new_token_params, Machine machine = Machine())
      : params_(new_token_params), machine_(std::move(machine)) {}
  std::string_view kind() const override { return "soft"; }
  bool supports(CK_MECHANISM_TYPE mechanism) const override;

  SecureBytes create_master_key(store::TokenDb& db, ByteView so_pin, uint32_t pin_limit) override;
  SecureBytes unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView pin) override;
  void set_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) override;
  bool has_pin(store::TokenDb& db, CK_USER_TYPE who) override;
  void remove_pin(store::TokenDb& db, CK_USER_TYPE who) override;
  void after_unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) override;
  // model: "soft <level> <n>f" from the recorded binding, e.g. "soft weak 1f", "soft tpm <n>f" with a TPM
  // share; "soft unbound" without a binding.
  void fill_token_info(store::TokenDb& db, CK_TOKEN_INFO& info) override;

  void generate_key_pair(const MechanismParams& m, core::AttributeMap& pub, core::AttributeMap& priv) override;
  void generate_key(const MechanismParams& m, core::AttributeMap& key) override;
  void import_key(core::AttributeMap& key) override;

  std::unique_ptr<Operation> sign(const core::Object& key, const MechanismParams& m) override;
  std::unique_ptr<Operation> verify(const core::Object& key, const MechanismParams& m) override;
  std::unique_ptr<Operation> encrypt(const core::Object& key, const MechanismParams& m) override;
  std::unique_ptr<Operation> decrypt(const core::Object& key, const MechanismParams& m) override;
  SecureBytes derive(const core::Object& key, const MechanismParams& m) override;
  SecureBytes wrap(const core::Object& wrapping_key, const MechanismParams& m, ByteView key_value) override;
  SecureBytes unwrap(const core::Object& unwrapping_key, const MechanismParams& m, ByteView wrapped) override;

 private:
  // Bit estimates of this machine's factors per token directory (they do not depend on the values), read at
  // most once a minute: C_GetTokenInfo is called often and must not read sysfs each time.
  std::vector<fingerprint::Factor> factor_estimates(const std::filesystem::path& dir);

  crypto::Argon2Params params_;
  Machine machine_;
  // What each token's last unlock found (scheme, changed factors), for after_unlock, which core calls right
  // after a successful unlock: whether to re-seal is known only with the PIN's Argon2id, which ran there.
  // Keyed by token file and role; the master key is kept to match the note to its login.
  std::mutex notes_mu_;
  std::map<std::pair<std::filesystem::path, CK_USER_TYPE>, Unlocked> notes_;
  std::mutex estimates_mu_;
  std::map<std::filesystem::path, std::pair<std::chrono::steady_clock::time_point, std::vector<fingerprint::Factor>>>
      estimates_;
};

}  // namespace keyseal::softtoken
