// The soft token backend: keys live in the token's store, their secret components sealed under the master key
// (core does the sealing); every private- and secret-key operation runs in crypto/ with a key loaded once per
// object.
#pragma once
#include "core/backend.h"
#include "crypto/kdf.h"

namespace keyseal::softtoken {

class SoftBackend final : public core::Backend {
 public:
  explicit SoftBackend(crypto::Argon2Params new_token_params) : params_(new_token_params) {}
  std::string_view kind() const override { return "soft"; }
  bool supports(CK_MECHANISM_TYPE mechanism) const override;

  SecureBytes create_master_key(store::TokenDb& db, ByteView so_pin) override;
  SecureBytes unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView pin) override;
  void set_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) override;
  bool has_pin(store::TokenDb& db, CK_USER_TYPE who) override;
  void remove_pin(store::TokenDb& db, CK_USER_TYPE who) override;

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
  crypto::Argon2Params params_;
};

}  // namespace keyseal::softtoken
