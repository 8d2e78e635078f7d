// The seam between the PCP token backend and Windows: exactly the Microsoft Platform Crypto Provider (NCrypt)
// and TPM Base Services (TBS) calls the backend needs, in plain C++ types (no windows.h). The one real adapter
// (ncrypt_provider_win.cpp) is the only file that includes <ncrypt.h>/<tbs.h>; FakeProvider (fake_provider.h)
// behaves like the PCP as documented, so the backend's logic runs on Linux and under wine.
//
// Every call answers a Status carrying the NTSTATUS/HRESULT-like code the Windows call returned (0 = success)
// and the name of that call, so the backend can map codes to CK_RVs and say which call failed.
#pragma once
#include "common/secure_bytes.h"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace keyseal::pcp {

// The codes the backend tells apart (winerror.h / tbs.h values; the adapter passes others through as they are).
namespace code {
inline constexpr uint32_t kOk = 0;
inline constexpr uint32_t kBadKeyset = 0x80090016;        // NTE_BAD_KEYSET: no key of that name
inline constexpr uint32_t kExists = 0x8009000F;           // NTE_EXISTS
inline constexpr uint32_t kNotSupported = 0x80090029;     // NTE_NOT_SUPPORTED
inline constexpr uint32_t kInvalidParameter = 0x80090027; // NTE_INVALID_PARAMETER
inline constexpr uint32_t kBadData = 0x80090005;          // NTE_BAD_DATA
inline constexpr uint32_t kPerm = 0x80090010;             // NTE_PERM
inline constexpr uint32_t kNoMemory = 0x8009000E;         // NTE_NO_MEMORY
inline constexpr uint32_t kBufferTooSmall = 0x80090028;   // NTE_BUFFER_TOO_SMALL
inline constexpr uint32_t kInternalError = 0x8009002D;    // NTE_INTERNAL_ERROR
inline constexpr uint32_t kDeviceNotReady = 0x80090030;   // NTE_DEVICE_NOT_READY
inline constexpr uint32_t kDecryptionFailure = 0x8009002C;  // NTE_DECRYPTION_FAILURE
inline constexpr uint32_t kTpm12AuthFail = 0x80280001;    // TPM_E_AUTHFAIL (TPM 1.2 numbering)
inline constexpr uint32_t kTpmAuthFail = 0x8028008E;      // TPM_20_E_AUTH_FAIL (TPM_RC_AUTH_FAIL)
inline constexpr uint32_t kTpmAuthFailSession1 = 0x8028098E;  // the same for the first session (what PCP returns)
inline constexpr uint32_t kTpmBadAuth = 0x802800A2;       // TPM_20_E_BAD_AUTH (TPM_RC_BAD_AUTH)
inline constexpr uint32_t kTpmLockout = 0x80280921;       // TPM_20_E_LOCKOUT (TPM_RC_LOCKOUT)
inline constexpr uint32_t kTpm12DefendLock = 0x80280803;  // TPM_E_DEFEND_LOCK_RUNNING
inline constexpr uint32_t kPcpDeviceNotReady = 0x80290401;     // TPM_E_PCP_DEVICE_NOT_READY
inline constexpr uint32_t kPcpAuthenticationFailed = 0x80290408;  // TPM_E_PCP_AUTHENTICATION_FAILED
inline constexpr uint32_t kTbsInternalError = 0x80284001;  // TBS_E_INTERNAL_ERROR
inline constexpr uint32_t kTbsServiceNotRunning = 0x80284008;  // TBS_E_SERVICE_NOT_RUNNING
inline constexpr uint32_t kTbsTpmNotFound = 0x8028400F;   // TBS_E_TPM_NOT_FOUND
}  // namespace code

// "TPM_20_E_LOCKOUT (0x80280921)"; unknown codes as "0x...".
std::string code_text(uint32_t c);

struct Status {
  uint32_t code = code::kOk;
  std::string call;  // the Windows call that answered `code`, e.g. "NCryptSignHash"
  bool ok() const { return code == code::kOk; }
  std::string text() const;  // "NCryptSignHash: TPM_20_E_LOCKOUT (0x80280921)"
};

template <class T>
struct Result {
  Status status;
  T value{};
  bool ok() const { return status.ok(); }
};

enum class KeyAlg { rsa, ecdsa_p256, ecdsa_p384 };
enum class Hash { none, sha1, sha256, sha384, sha512 };  // none: PKCS#1 v1.5 over the caller's bytes as given

struct KeySpec {
  std::string name;        // NCryptCreatePersistedKey's key name
  KeyAlg alg = KeyAlg::rsa;
  uint32_t bits = 2048;    // RSA: NCRYPT_LENGTH_PROPERTY (2048 or 3072); ignored for ECDSA
  bool sign = true;        // NCRYPT_KEY_USAGE_PROPERTY: NCRYPT_ALLOW_SIGNING_FLAG
  bool decrypt = false;    //                             NCRYPT_ALLOW_DECRYPT_FLAG
  SecureBytes usage_auth;  // NCRYPT_PCP_USAGEAUTH_PROPERTY (32 bytes, a SHA-256-sized secret)
  // Always: NCRYPT_EXPORT_POLICY_PROPERTY = 0 (no export), UI policy silent, overwrite refused.
};

struct PublicKey {
  KeyAlg alg = KeyAlg::rsa;
  SecureBytes n, e;   // RSA, big-endian (BCRYPT_RSAPUBLIC_BLOB)
  SecureBytes point;  // ECDSA: 04 || X || Y (BCRYPT_ECCPUBLIC_BLOB)
};

struct SignParams {
  enum class Padding { pkcs1, pss, ecdsa } padding = Padding::pkcs1;
  Hash hash = Hash::sha256;  // pkcs1: the DigestInfo's hash (none: no DigestInfo); pss: hash and MGF1 hash
  uint32_t salt_len = 0;     // pss
};

struct DecryptParams {
  enum class Padding { pkcs1, oaep } padding = Padding::oaep;
  Hash hash = Hash::sha256;  // oaep: hash and MGF1 hash
  SecureBytes label;         // oaep
};

struct DeviceInfo {
  uint32_t tpm_version = 0;        // Tbsi_GetDeviceInfo: 1 (TPM 1.2) or 2 (TPM 2.0)
  uint32_t manufacturer = 0;       // TPM_PT_MANUFACTURER, 4 ASCII characters big-endian ("INTC")
  std::string vendor;              // TPM_PT_VENDOR_STRING_1..4, trailing NULs removed
  uint32_t firmware1 = 0, firmware2 = 0;  // TPM_PT_FIRMWARE_VERSION_1/2
  uint32_t spec_revision = 0;      // TPM_PT_REVISION, e.g. 159 for 1.59
  // Dictionary-attack state (TPM_PT_LOCKOUT_COUNTER, TPM_PT_MAX_AUTH_FAIL, TPM_PT_LOCKOUT_INTERVAL, the
  // inLockout bit of TPM_PT_PERMANENT); the counter is the TPM's, global to every key on the machine.
  uint32_t lockout_counter = 0, max_auth_fail = 0, lockout_interval = 0;
  bool in_lockout = false;
};

// Over the PCP ("Microsoft Platform Crypto Provider") and TBS. Keys are per-user persisted PCP keys, named.
// Private-key calls take the key's usage auth each time (NCryptOpenKey(SILENT) + NCRYPT_PIN_PROPERTY).
// Implementations are thread-safe.
class Provider {
 public:
  virtual ~Provider() = default;
  // Tbsi_GetDeviceInfo; then TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES) through Tbsip_Submit_Command.
  virtual Result<DeviceInfo> device_info() = 0;
  // NCryptGetProperty(provider, NCRYPT_PCP_PLATFORM_TYPE_PROPERTY): e.g. "TPM-Version:2.0 -Level:0-Revision:...".
  virtual Result<std::string> platform_type() = 0;
  // NCryptCreatePersistedKey + NCryptSetProperty (length, usage, export policy 0, usage auth, UI policy) +
  // NCryptFinalizeKey(SILENT). NTE_EXISTS when the name is taken.
  virtual Status create_key(const KeySpec& spec) = 0;
  virtual Status open_key(const std::string& name) = 0;  // NCryptOpenKey(SILENT): NTE_BAD_KEYSET if absent
  virtual Result<std::vector<std::string>> enum_keys() = 0;  // NCryptEnumKeys
  virtual Status delete_key(const std::string& name) = 0;    // NCryptOpenKey + NCryptDeleteKey
  virtual Result<PublicKey> export_public(const std::string& name) = 0;  // NCryptExportKey(public blob)
  // NCryptSignHash: RSA signature (k bytes) or ECDSA r||s (each the order's size). `digest` is the hash
  // (pkcs1/pss/ecdsa) or, for pkcs1 with Hash::none, the bytes to pad.
  virtual Result<SecureBytes> sign(const std::string& name, ByteView usage_auth, const SignParams& p,
                                   ByteView digest) = 0;
  virtual Result<SecureBytes> decrypt(const std::string& name, ByteView usage_auth, const DecryptParams& p,
                                      ByteView ciphertext) = 0;  // NCryptDecrypt
  // NCRYPT_PIN_PROPERTY = old, then NCRYPT_PCP_CHANGEPASSWORD_PROPERTY = new.
  virtual Status change_auth(const std::string& name, ByteView old_auth, ByteView new_auth) = 0;

  // Key attestation (issue 14; docs/design/pcp-attestation.md). Byte layouts are the PCP's own (TPM structures
  // big-endian, PCP headers little-endian); src/attest/pcp_claim.h parses them. A provider without them
  // answers NTE_NOT_SUPPORTED (the defaults).
  //
  // An identity key (AIK): NCryptCreatePersistedKey(L"RSA", name) + Length 2048 + PCP_KEY_USAGE_POLICY =
  // NCRYPT_PCP_IDENTITY_KEY + NCryptFinalizeKey. The PCP keeps it; no usage auth.
  virtual Status create_identity_key(const std::string& name);
  // NCryptExportKey(key, BCRYPT_OPAQUE_KEY_BLOB): the PCP key blob ("PCPM": TPM2B_PUBLIC, the wrapped private
  // part, ...). Needs no usage auth; the TPM public area of the key is read from it.
  virtual Result<std::vector<uint8_t>> key_blob(const std::string& key);
  // NCryptGetProperty(aik, PCP_TPM12_IDBINDING): TPM2B_PUBLIC || TPM2B_CREATION_DATA || TPM2B_ATTEST ||
  // TPMT_SIGNATURE.
  virtual Result<std::vector<uint8_t>> identity_binding(const std::string& aik);
  // NCryptCreateClaim(key, aik, NCRYPT_CLAIM_AUTHORITY_AND_SUBJECT, {KEYATTESTATION_NONCE: nonce}): the
  // KeyAttestationStatement ("KAST") with TPM2_Certify(key, aik, qualifyingData = nonce) inside.
  virtual Result<std::vector<uint8_t>> key_claim(const std::string& key, ByteView key_auth, const std::string& aik,
                                                 ByteView nonce);
  // NCryptGetProperty(provider, PCP_EKPUB): BCRYPT_RSAPUBLIC_BLOB of the RSA EK.
  virtual Result<std::vector<uint8_t>> ek_public();
  // PCP_RSA_EKNVCERT, PCP_ECC_EKNVCERT, then PCP_EKNVCERT (HCERTSTORE handles): the certificates, DER.
  virtual Result<std::vector<std::vector<uint8_t>>> ek_certificates();
  // NCryptSetProperty(aik, PCP_TPM12_IDACTIVATION, TPM2B_ID_OBJECT || TPM2B_ENCRYPTED_SECRET), then
  // NCryptGetProperty of it: the secret TPM2_ActivateCredential recovered.
  virtual Result<SecureBytes> activate(const std::string& aik, ByteView blob);
};

// The real provider (Windows: NCrypt/TBS), or null and why not (other systems, or no provider).
std::shared_ptr<Provider> make_system_provider(std::string& why);

}  // namespace keyseal::pcp
