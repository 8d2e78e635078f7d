// An in-memory Provider that behaves like the Platform Crypto Provider as Microsoft documents it, with OpenSSL
// inside: keys by name, the usage auth checked on every private-key use, a TPM-like dictionary-attack counter
// (global to all keys, lockout at a threshold, never reset by a right auth), no export of private keys, canned
// device info (manufacturer "KSFK"), and fault injection (TPM absent, a device error on a chosen call).
// Portable: runs on Linux and under wine. For tests and for keyseal's own diagnostics only.
#pragma once
#include "pcp/provider.h"

#include <map>
#include <mutex>

namespace keyseal::pcp {

class FakeProvider final : public Provider {
 public:
  explicit FakeProvider(uint32_t lockout_threshold = 32);
  ~FakeProvider() override;

  Result<DeviceInfo> device_info() override;
  Result<std::string> platform_type() override;
  Status create_key(const KeySpec& spec) override;
  Status open_key(const std::string& name) override;
  Result<std::vector<std::string>> enum_keys() override;
  Status delete_key(const std::string& name) override;
  Result<PublicKey> export_public(const std::string& name) override;
  Result<SecureBytes> sign(const std::string& name, ByteView usage_auth, const SignParams& p,
                           ByteView digest) override;
  Result<SecureBytes> decrypt(const std::string& name, ByteView usage_auth, const DecryptParams& p,
                              ByteView ciphertext) override;
  Status change_auth(const std::string& name, ByteView old_auth, ByteView new_auth) override;

  // Attestation (fake_attest.cpp, when built with keyseal_attest; else NTE_NOT_SUPPORTED): an RSA 2048 EK from
  // the TCG template L-1 with a certificate from a test CA this fake owns, AIKs with the PCP's template (RSA
  // 2048, attributes 0x00050472, RSASSA-SHA1), claims in the KAST/KADS/PCPM layouts with a TPMS_ATTEST made as
  // TPM2_Certify makes it, and TPM2_ActivateCredential in software.
  Status create_identity_key(const std::string& name) override;
  Result<std::vector<uint8_t>> key_blob(const std::string& key) override;
  Result<std::vector<uint8_t>> identity_binding(const std::string& aik) override;
  Result<std::vector<uint8_t>> key_claim(const std::string& key, ByteView key_auth, const std::string& aik,
                                         ByteView nonce) override;
  Result<std::vector<uint8_t>> ek_public() override;
  Result<std::vector<std::vector<uint8_t>>> ek_certificates() override;
  Result<SecureBytes> activate(const std::string& aik, ByteView blob) override;
  // The test CA's root certificate (DER) that issued the EK certificate: the verifier's trust anchor in tests.
  // Empty when attestation is not built in.
  std::vector<uint8_t> ek_root();
  // What the test CA issues an AIK after enrolment: a certificate for its key under the same root, with EKU
  // 2.23.133.8.3 (DER). Empty when there is no such AIK or attestation is not built in.
  std::vector<uint8_t> issue_ak_certificate(const std::string& aik);

  // Faults. absent: TBS answers TBS_E_TPM_NOT_FOUND and the platform type does not read (as under wine).
  void set_absent(bool absent);
  void set_tpm_version(uint32_t v);  // device info's version (1: a TPM 1.2)
  void set_platform_readable(bool readable);  // PCP_PLATFORM_TYPE answers NTE_NOT_SUPPORTED when false
  // Every call from now on fails with `c` (0: stop), or only the call after `skip` successful ones.
  void fail_all(uint32_t c);
  void fail_after(unsigned skip, uint32_t c);
  // The dictionary-attack state: lockout_reset is what an administrator's TPM2_DictionaryAttackLockReset does.
  uint32_t da_failures() const;
  void lockout_reset();
  size_t key_count() const;
  uint64_t private_uses() const;  // successful private-key operations (sign, decrypt, change_auth)

 private:
  struct Key;
  struct Attestation;
  Attestation& attestation();  // made on first use: RSA key generation is slow (lock held)
  Status gate(const char* call);                     // fault injection and absence (lock held)
  Status check_auth(Key& k, ByteView auth, const char* call);  // the DA counter (lock held)

  mutable std::mutex mu_;
  std::map<std::string, std::unique_ptr<Key>> keys_;
  uint32_t threshold_;
  uint32_t failures_ = 0;
  bool absent_ = false;
  uint32_t version_ = 2;
  bool platform_readable_ = true;
  uint32_t fail_code_ = 0;
  bool fail_once_ = false;
  unsigned fail_skip_ = 0;
  uint64_t uses_ = 0;
  std::shared_ptr<Attestation> att_;
};

}  // namespace keyseal::pcp
