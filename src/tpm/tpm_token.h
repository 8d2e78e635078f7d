// TpmBackend: the Backend of a TPM token (PKCS#11 3.0 sections 5.6 PINs, 5.8-5.14 operations and key
// management). RSA and EC keys live in the TPM; AES, HMAC and generic secret keys are done by a soft backend
// with values sealed under the token master key, which only the TPM releases (see docs/tpm.md).
#pragma once
#include "softtoken/soft_backend.h"
#include "tpm/tpm_backend.h"

#include <atomic>
#include <chrono>
#include <map>
#include <functional>
#include <memory>
#include <mutex>

typedef struct ESYS_CONTEXT ESYS_CONTEXT;

namespace keyseal::tpm {

class Connection;
struct TpmInfo;

class TpmBackend final : public core::Backend {
 public:
  TpmBackend(std::shared_ptr<Connection> c, Options o);  // probes (throws CKR_DEVICE_ERROR when no TPM answers)
  ~TpmBackend() override;
  std::string_view kind() const override { return "tpm"; }
  bool supports(CK_MECHANISM_TYPE mechanism) const override;
  void limit_mechanism_info(CK_MECHANISM_TYPE mechanism, CK_MECHANISM_INFO& info) const override;

  SecureBytes create_master_key(store::TokenDb& db, ByteView so_pin, uint32_t pin_limit) override;
  std::optional<PinCounter> pin_counter(store::TokenDb& db, CK_USER_TYPE who) override;
  SecureBytes unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView pin) override;
  void set_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) override;
  bool has_pin(store::TokenDb& db, CK_USER_TYPE who) override;
  void remove_pin(store::TokenDb& db, CK_USER_TYPE who) override;
  void after_unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) override;
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
  // CKA_KEYSEAL_TPM_PUBLIC and CKA_KEYSEAL_ATTESTATION of a private key (tpm/attest.h).
  std::optional<SecureBytes> vendor_attribute(const core::Object& key, CK_ATTRIBUTE_TYPE type,
                                              ByteView nonce) override;

  // Diagnostics and tests.
  uint64_t tpm_commands() const;     // TPM commands sent on this backend's connection so far
  size_t loaded_objects() const;     // transient objects loaded now (never more than 3)
  Status status();                   // never throws
  // Runs fn with the raw ESYS context under the connection lock (administrative commands in tests:
  // TPM2_DictionaryAttackParameters, TPM2_PCR_Extend ...). TSS failures inside fn are fn's business.
  void with_esys(const std::function<void(ESYS_CONTEXT*)>& fn);

 private:
  // Seals the master key for `who` behind a new PIN-fail index with `limit` (or, when the TPM gives none and
  // !only_with_index, the version 1 way), stores the record and frees the role's previous index. False when
  // only_with_index and there was no index.
  bool seal_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin, uint32_t limit,
                bool only_with_index);
  uint32_t limit_of(store::TokenDb& db);  // the token's limit, for a role's new index
  void forget_counter(uint32_t nv);
  void count_outcome(uint32_t nv, CK_RV rv);  // an unlock's effect on the cached count

  std::shared_ptr<Connection> conn_;
  Options options_;
  std::unique_ptr<TpmInfo> info_;  // the probe at connect time
  softtoken::SoftBackend soft_;
  std::mutex lockout_mu_;  // the TPM's lockout state for token info, re-read at most every 2 s
  std::chrono::steady_clock::time_point lockout_checked_{};
  bool in_lockout_ = false;
  bool da_refuses_ = false;  // a version 1 PIN would be refused (lockout, or one failure from it)
  struct CachedCounter {
    PinCounter count;
    std::chrono::steady_clock::time_point read_at;
  };
  std::mutex counter_mu_;  // PIN-fail index reads, by NV handle, kept 1 s (C_GetTokenInfo polling)
  std::map<uint32_t, CachedCounter> counters_;
  std::atomic<bool> nv_unavailable_{false};  // a version 1 upgrade found no index: not asked again
};

}  // namespace keyseal::tpm
