// The TPM token on Windows (issue 12): a core::Backend over the Microsoft Platform Crypto Provider through the
// pcp::Provider seam (provider.h). Kind "tpm", like the Linux TPM token.
//
// Design (docs in the report of issue 12 item 4):
// - The token's master key is kept behind each PIN role by a per-token, per-role PCP RSA-2048 decryption key
//   whose usage auth is SHA-256("keyseal/pcp-pin/v1" 0 uid 0 role 0 PIN); the master key is RSA-OAEP(SHA-256)
//   encrypted to that key's public half (label: "keyseal/pcp-master-key/v1" 0 uid 0 role) and the record
//   (key name, ciphertext) kept in the token's store (meta "pcp.pin.so" / "pcp.pin.user"). unlock() asks the
//   TPM to decrypt it: a wrong PIN is a TPM authorisation failure.
// - Wrong PINs are counted per token by core in the store (pin_counter() stays nullopt): the TPM's own
//   dictionary-attack counter is global to the machine and cannot give one token's count. It still bounds
//   guessing (a copy of the store cannot be attacked offline: only the TPM can test a PIN); when the TPM is
//   in lockout, C_Login answers CKR_PIN_LOCKED and the token info shows both PINs locked.
// - Key pairs (RSA 2048/3072, ECDSA P-256/P-384) are persisted PCP keys named "keyseal-<32 hex>", export
//   forbidden; each has a random 32-byte usage auth kept in a sealed backend attribute (so using it needs
//   the master key, i.e. a login). CKA_EXTRACTABLE is false and CKA_SENSITIVE true (asking otherwise is
//   CKR_ATTRIBUTE_VALUE_INVALID); core then sets NEVER_EXTRACTABLE, ALWAYS_SENSITIVE and LOCAL.
// - Import of private keys is refused (CKR_TEMPLATE_INCONSISTENT): every private key of this token was made
//   by the TPM. Public keys and secret keys (AES, HMAC, generic) are handled like the Linux TPM token does:
//   by a soft backend, secret values sealed under the master key.
#pragma once
#include "core/backend.h"
#include "pcp/provider.h"
#include "pcp/status.h"
#include "softtoken/soft_backend.h"

#include <chrono>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>

namespace keyseal::pcp {

// Backend attributes of a PCP private key (core/backend_attributes.h).
inline constexpr CK_ULONG kKeyNameAttr = 0x0101;  // public: the PCP key name
inline constexpr CK_ULONG kKeyAuthAttr = 0x0102;  // sealed: the key's usage auth

class PcpBackend final : public core::Backend {
 public:
  // `info`: the device info read when connecting. `ak_dir`: where this user's AIK certificate chain is kept
  // (attest/ak_cert_file.h), put into CKA_KEYSEAL_ATTESTATION; empty: none.
  PcpBackend(std::shared_ptr<Provider> provider, DeviceInfo info, std::filesystem::path ak_dir = {});
  std::string_view kind() const override { return "tpm"; }
  bool supports(CK_MECHANISM_TYPE mechanism) const override;
  void limit_mechanism_info(CK_MECHANISM_TYPE mechanism, CK_MECHANISM_INFO& info) const override;

  SecureBytes create_master_key(store::TokenDb& db, ByteView so_pin, uint32_t pin_limit) override;
  SecureBytes unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView pin) override;
  void set_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) override;
  bool has_pin(store::TokenDb& db, CK_USER_TYPE who) override;
  void remove_pin(store::TokenDb& db, CK_USER_TYPE who) override;
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

  // Deletes the PCP key behind a private key object (nothing for other objects): C_DestroyObject, a session
  // key dropped, a re-initialised token's old keys. A key already gone is not an error.
  void destroy_key(const core::AttributeMap& attrs) override;
  // CKA_KEYSEAL_TPM_PUBLIC (the PCP key blob's public area; no login needed) and CKA_KEYSEAL_ATTESTATION
  // (NCryptCreateClaim with this user's AIK over `nonce`, as evidence JSON; needs the key's usage auth, so a
  // login) of a private key, as the Linux TPM token answers them (pcp/attestation.h). nullopt for other
  // objects and where attestation is not built.
  std::optional<SecureBytes> vendor_attribute(const core::Object& key, CK_ATTRIBUTE_TYPE type,
                                              ByteView nonce) override;
  Provider& provider() { return *provider_; }

 private:
  DeviceInfo current_info();  // re-read at most every 2 s (C_GetTokenInfo polling), else the last one

  std::shared_ptr<Provider> provider_;
  std::filesystem::path ak_dir_;
  softtoken::SoftBackend soft_;
  std::mutex info_mu_;
  DeviceInfo info_;
  std::chrono::steady_clock::time_point info_read_;
};

// The backend over `provider`, or null and a one-line reason ("no TPM: Tbsi_GetDeviceInfo:
// TBS_E_TPM_NOT_FOUND (0x8028400F)"). Never throws. `ak_dir` as for PcpBackend.
std::shared_ptr<core::Backend> connect_backend(std::shared_ptr<Provider> provider, std::string& why,
                                               std::filesystem::path ak_dir = {});
// The same over the system's provider (Windows), for the module's composition.
std::shared_ptr<core::Backend> connect_backend(std::string& why, std::filesystem::path ak_dir = {});

}  // namespace keyseal::pcp
