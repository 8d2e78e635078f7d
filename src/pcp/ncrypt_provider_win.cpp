// The real pcp::Provider: the Microsoft Platform Crypto Provider (NCrypt) and TPM Base Services (TBS). The only
// file in keyseal that includes <ncrypt.h>/<tbs.h>; compiled on Windows only (src/pcp/CMakeLists.txt).
//
// What only a real Windows TPM can confirm (wine answers TBS_E_TPM_NOT_FOUND, and its PCP is a software stub):
// see the list in docs of issue 12 item 4 and the comments marked "real TPM:" below.
#ifndef _WIN32_WINNT
#define _WIN32_WINNT 0x0A00
#endif
#include <windows.h>
#include <bcrypt.h>
#include <ncrypt.h>
#include <tbs.h>
#include <wincrypt.h>

#include "pcp/provider.h"

#include <cstring>
#include <mutex>

// --- declarations mingw-w64's headers lack (from Microsoft's documentation of tbs.h and ncrypt.h) ---
extern "C" {
// Tbsi_GetDeviceInfo(UINT32 Size, PVOID Info) fills a TPM_DEVICE_INFO (tbs.h, Windows 8 and later).
TBS_RESULT WINAPI Tbsi_GetDeviceInfo(UINT32 Size, PVOID Info);
}

namespace keyseal::pcp {

namespace {

struct KsTpmDeviceInfo {  // TPM_DEVICE_INFO
  UINT32 structVersion;
  UINT32 tpmVersion;  // TPM_VERSION_12 (1) or TPM_VERSION_20 (2)
  UINT32 tpmInterfaceType;
  UINT32 tpmImpRevision;
};
constexpr UINT32 kTpmVersion20 = 2;  // TPM_VERSION_20

struct KsTbsContextParams2 {  // TBS_CONTEXT_PARAMS2
  UINT32 version;             // TBS_CONTEXT_VERSION_TWO
  UINT32 flags;               // bit 0 requestRaw, bit 1 includeTpm12, bit 2 includeTpm20
};
constexpr UINT32 kTbsContextVersionTwo = 2;
constexpr UINT32 kIncludeTpm20 = 1u << 2;

constexpr wchar_t kPlatformProvider[] = L"Microsoft Platform Crypto Provider";  // MS_PLATFORM_CRYPTO_PROVIDER
constexpr wchar_t kPlatformType[] = L"PCP_PLATFORM_TYPE";    // NCRYPT_PCP_PLATFORM_TYPE_PROPERTY
constexpr wchar_t kUsageAuth[] = L"PCP_USAGEAUTH";           // NCRYPT_PCP_USAGEAUTH_PROPERTY
constexpr wchar_t kChangePassword[] = L"PCP_CHANGEPASSWORD";  // NCRYPT_PCP_CHANGEPASSWORD_PROPERTY
constexpr uint32_t kNoMoreItems = 0x8009002A;                 // NTE_NO_MORE_ITEMS

// --- attestation (docs/design/pcp-attestation.md): values from the Windows SDK's ncrypt.h, which mingw-w64's
// and Wine's headers lack ---
// SECURITY_STATUS NCryptCreateClaim(hSubjectKey, hAuthorityKey, dwClaimType, pParameterList, pbClaimBlob,
// cbClaimBlob, pcbResult, dwFlags): Windows 10 and later, resolved at run time so keyseal.dll loads on older
// systems (and under wine, whose ncrypt.dll lacks it).
using CreateClaimFn = SECURITY_STATUS(WINAPI*)(NCRYPT_KEY_HANDLE, NCRYPT_KEY_HANDLE, DWORD, BCryptBufferDesc*, PBYTE,
                                               DWORD, DWORD*, DWORD);
constexpr DWORD kClaimAuthorityAndSubject = 0x00000003;  // NCRYPT_CLAIM_AUTHORITY_AND_SUBJECT
constexpr ULONG kBufferKeyAttestationNonce = 49;         // NCRYPTBUFFER_CLAIM_KEYATTESTATION_NONCE
constexpr ULONG kBufferVersion = 0;                      // NCRYPTBUFFER_VERSION
constexpr wchar_t kKeyUsagePolicy[] = L"PCP_KEY_USAGE_POLICY";  // NCRYPT_PCP_KEY_USAGE_POLICY_PROPERTY
constexpr DWORD kPcpIdentityKey = 0x00000008;                   // NCRYPT_PCP_IDENTITY_KEY
constexpr wchar_t kIdBinding[] = L"PCP_TPM12_IDBINDING";        // NCRYPT_PCP_TPM12_IDBINDING_PROPERTY
constexpr wchar_t kIdActivation[] = L"PCP_TPM12_IDACTIVATION";  // NCRYPT_PCP_TPM12_IDACTIVATION_PROPERTY
constexpr wchar_t kEkPub[] = L"PCP_EKPUB";                      // NCRYPT_PCP_EKPUB_PROPERTY
constexpr wchar_t kRsaEkNvCert[] = L"PCP_RSA_EKNVCERT";         // NCRYPT_PCP_RSA_EKNVCERT_PROPERTY
constexpr wchar_t kEccEkNvCert[] = L"PCP_ECC_EKNVCERT";         // NCRYPT_PCP_ECC_EKNVCERT_PROPERTY
constexpr wchar_t kEkNvCert[] = L"PCP_EKNVCERT";                // NCRYPT_PCP_EKNVCERT_PROPERTY

Status st(SECURITY_STATUS s, const char* call) { return Status{static_cast<uint32_t>(s), call}; }

std::wstring wide(const std::string& s) { return std::wstring(s.begin(), s.end()); }  // key names are ASCII
std::string narrow(const wchar_t* w) {
  std::string s;
  for (; w && *w; ++w) s.push_back(*w < 0x80 ? static_cast<char>(*w) : '?');
  return s;
}

const wchar_t* hash_alg(Hash h) {
  switch (h) {
    case Hash::sha1: return BCRYPT_SHA1_ALGORITHM;
    case Hash::sha256: return BCRYPT_SHA256_ALGORITHM;
    case Hash::sha384: return BCRYPT_SHA384_ALGORITHM;
    case Hash::sha512: return BCRYPT_SHA512_ALGORITHM;
    default: return nullptr;
  }
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
void put32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24), p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8), p[3] = static_cast<uint8_t>(v);
}

class Key {  // an open NCrypt key handle, freed at scope end
 public:
  Key() = default;
  ~Key() {
    if (h_) NCryptFreeObject(h_);
  }
  Key(const Key&) = delete;
  Key& operator=(const Key&) = delete;
  NCRYPT_KEY_HANDLE* out() { return &h_; }
  NCRYPT_KEY_HANDLE get() const { return h_; }
  NCRYPT_KEY_HANDLE release() {
    NCRYPT_KEY_HANDLE h = h_;
    h_ = 0;
    return h;
  }

 private:
  NCRYPT_KEY_HANDLE h_ = 0;
};

class NcryptProvider final : public Provider {
 public:
  explicit NcryptProvider(NCRYPT_PROV_HANDLE h) : prov_(h) {}
  ~NcryptProvider() override { NCryptFreeObject(prov_); }

  Result<DeviceInfo> device_info() override {
    Result<DeviceInfo> r;
    KsTpmDeviceInfo di{};
    di.structVersion = 1;
    if (TBS_RESULT t = Tbsi_GetDeviceInfo(sizeof di, &di); t != 0) {
      r.status = st(static_cast<SECURITY_STATUS>(t), "Tbsi_GetDeviceInfo");
      return r;
    }
    r.value.tpm_version = di.tpmVersion;
    if (di.tpmVersion != kTpmVersion20) return r;
    // TPM2_GetCapability(TPM_CAP_TPM_PROPERTIES) for the fixed (0x100) and variable (0x200) properties. Real
    // TPM: TBS lets a standard user send it (it is not on the blocked-command list).
    KsTbsContextParams2 params{kTbsContextVersionTwo, kIncludeTpm20};
    TBS_HCONTEXT ctx = nullptr;
    if (TBS_RESULT t = Tbsi_Context_Create(reinterpret_cast<const TBS_CONTEXT_PARAMS*>(&params), &ctx); t != 0) {
      r.status = st(static_cast<SECURITY_STATUS>(t), "Tbsi_Context_Create");
      return r;
    }
    for (uint32_t first : {0x100u, 0x200u}) {
      uint8_t cmd[22];
      cmd[0] = 0x80, cmd[1] = 0x01;  // TPM_ST_NO_SESSIONS
      put32(cmd + 2, sizeof cmd);
      put32(cmd + 6, 0x0000017A);   // TPM_CC_GetCapability
      put32(cmd + 10, 6);           // TPM_CAP_TPM_PROPERTIES
      put32(cmd + 14, first);
      put32(cmd + 18, 64);
      uint8_t resp[4096];
      UINT32 n = sizeof resp;
      TBS_RESULT t = Tbsip_Submit_Command(ctx, TBS_COMMAND_LOCALITY_ZERO, TBS_COMMAND_PRIORITY_NORMAL, cmd,
                                          sizeof cmd, resp, &n);
      if (t == 0 && (n < 19 || be32(resp + 6) != 0)) t = n >= 10 ? (0x80280000u | (be32(resp + 6) & 0xFFF)) : 0x80284001u;
      if (t != 0) {
        r.status = st(static_cast<SECURITY_STATUS>(t), "Tbsip_Submit_Command(TPM2_GetCapability)");
        break;
      }
      // header(10) moreData(1) capability(4) count(4) then (property, value) pairs
      const uint32_t count = be32(resp + 15);
      for (uint32_t i = 0; i < count && 19 + 8 * (i + 1) <= n; ++i) {
        const uint32_t prop = be32(resp + 19 + 8 * i), v = be32(resp + 23 + 8 * i);
        DeviceInfo& d = r.value;
        switch (prop) {
          case 0x102: d.spec_revision = v; break;   // TPM_PT_REVISION
          case 0x105: d.manufacturer = v; break;    // TPM_PT_MANUFACTURER
          case 0x106: case 0x107: case 0x108: case 0x109:  // TPM_PT_VENDOR_STRING_1..4
            for (int s = 24; s >= 0; s -= 8)
              if (const char c = static_cast<char>((v >> s) & 0xFF); c != 0) d.vendor.push_back(c);
            break;
          case 0x10B: d.firmware1 = v; break;       // TPM_PT_FIRMWARE_VERSION_1
          case 0x10C: d.firmware2 = v; break;       // TPM_PT_FIRMWARE_VERSION_2
          case 0x200: d.in_lockout = (v >> 9) & 1; break;  // TPM_PT_PERMANENT.inLockout
          case 0x20E: d.lockout_counter = v; break;  // TPM_PT_LOCKOUT_COUNTER
          case 0x20F: d.max_auth_fail = v; break;    // TPM_PT_MAX_AUTH_FAIL
          case 0x210: d.lockout_interval = v; break;  // TPM_PT_LOCKOUT_INTERVAL
          default: break;
        }
      }
    }
    Tbsip_Context_Close(ctx);
    return r;
  }

  Result<std::string> platform_type() override {
    Result<std::string> r;
    wchar_t buf[256] = {};
    DWORD n = 0;
    SECURITY_STATUS s = NCryptGetProperty(prov_, kPlatformType, reinterpret_cast<PBYTE>(buf), sizeof buf - sizeof(wchar_t),
                                          &n, 0);
    r.status = st(s, "NCryptGetProperty");
    if (r.ok()) r.value = narrow(buf);
    return r;
  }

  Status create_key(const KeySpec& spec) override {
    const wchar_t* alg = spec.alg == KeyAlg::rsa        ? BCRYPT_RSA_ALGORITHM
                         : spec.alg == KeyAlg::ecdsa_p256 ? BCRYPT_ECDSA_P256_ALGORITHM
                                                          : BCRYPT_ECDSA_P384_ALGORITHM;
    return create_persisted(alg, spec.name, [&](NCRYPT_KEY_HANDLE k) {
      SECURITY_STATUS s = ERROR_SUCCESS;
      if (spec.alg == KeyAlg::rsa && (s = set_dword(k, NCRYPT_LENGTH_PROPERTY, spec.bits)) != ERROR_SUCCESS)
        return st(s, "NCryptSetProperty(Length)");
      const DWORD usage = (spec.sign ? NCRYPT_ALLOW_SIGNING_FLAG : 0) | (spec.decrypt ? NCRYPT_ALLOW_DECRYPT_FLAG : 0);
      if ((s = set_dword(k, NCRYPT_KEY_USAGE_PROPERTY, usage)) != ERROR_SUCCESS)
        return st(s, "NCryptSetProperty(Key Usage)");
      // Real TPM: the PCP never exports private keys; it may answer NTE_NOT_SUPPORTED to setting the policy.
      if ((s = set_dword(k, NCRYPT_EXPORT_POLICY_PROPERTY, 0)) != ERROR_SUCCESS &&
          static_cast<uint32_t>(s) != code::kNotSupported)
        return st(s, "NCryptSetProperty(Export Policy)");
      return st(NCryptSetProperty(k, kUsageAuth, const_cast<PBYTE>(spec.usage_auth.data()),
                                  static_cast<DWORD>(spec.usage_auth.size()), 0),
                "NCryptSetProperty(PCP_USAGEAUTH)");
    });
  }

  Status open_key(const std::string& name) override {
    Key k;
    return open(name, k);
  }

  Result<std::vector<std::string>> enum_keys() override {
    Result<std::vector<std::string>> r;
    PVOID state = nullptr;
    for (;;) {
      NCryptKeyName* kn = nullptr;
      SECURITY_STATUS s = NCryptEnumKeys(prov_, nullptr, &kn, &state, NCRYPT_SILENT_FLAG);
      if (static_cast<uint32_t>(s) == kNoMoreItems) break;
      if (s != ERROR_SUCCESS) {
        r.status = st(s, "NCryptEnumKeys");
        break;
      }
      r.value.push_back(narrow(kn->pszName));
      NCryptFreeBuffer(kn);
    }
    if (state) NCryptFreeBuffer(state);
    return r;
  }

  Status delete_key(const std::string& name) override {
    Key k;
    if (Status s = open(name, k); !s.ok()) return s;
    SECURITY_STATUS s = NCryptDeleteKey(k.get(), NCRYPT_SILENT_FLAG);
    if (s == ERROR_SUCCESS) k.release();  // NCryptDeleteKey freed the handle
    return st(s, "NCryptDeleteKey");
  }

  Result<PublicKey> export_public(const std::string& name) override {
    Result<PublicKey> r;
    Key k;
    if (r.status = open(name, k); !r.ok()) return r;
    DWORD alg_len = 0;
    wchar_t alg[64] = {};
    SECURITY_STATUS s = NCryptGetProperty(k.get(), NCRYPT_ALGORITHM_GROUP_PROPERTY, reinterpret_cast<PBYTE>(alg),
                                          sizeof alg - sizeof(wchar_t), &alg_len, 0);
    if (s != ERROR_SUCCESS) {
      r.status = st(s, "NCryptGetProperty(Algorithm Group)");
      return r;
    }
    const bool rsa = std::wcscmp(alg, NCRYPT_RSA_ALGORITHM_GROUP) == 0;
    const wchar_t* blob_type = rsa ? BCRYPT_RSAPUBLIC_BLOB : BCRYPT_ECCPUBLIC_BLOB;
    DWORD n = 0;
    if ((s = NCryptExportKey(k.get(), 0, blob_type, nullptr, nullptr, 0, &n, 0)) != ERROR_SUCCESS) {
      r.status = st(s, "NCryptExportKey");
      return r;
    }
    std::vector<uint8_t> blob(n);
    if ((s = NCryptExportKey(k.get(), 0, blob_type, nullptr, blob.data(), n, &n, 0)) != ERROR_SUCCESS) {
      r.status = st(s, "NCryptExportKey");
      return r;
    }
    r.status = st(code::kInternalError, "NCryptExportKey");  // until the blob parses
    if (rsa) {
      BCRYPT_RSAKEY_BLOB h;
      if (n < sizeof h) return r;
      std::memcpy(&h, blob.data(), sizeof h);
      if (h.Magic != BCRYPT_RSAPUBLIC_MAGIC || sizeof h + h.cbPublicExp + h.cbModulus > n) return r;
      const uint8_t* p = blob.data() + sizeof h;
      r.value.alg = KeyAlg::rsa;
      r.value.e.assign(p, p + h.cbPublicExp);
      r.value.n.assign(p + h.cbPublicExp, p + h.cbPublicExp + h.cbModulus);
    } else {
      BCRYPT_ECCKEY_BLOB h;
      if (n < sizeof h) return r;
      std::memcpy(&h, blob.data(), sizeof h);
      if (sizeof h + 2 * size_t{h.cbKey} > n || (h.cbKey != 32 && h.cbKey != 48)) return r;
      r.value.alg = h.cbKey == 32 ? KeyAlg::ecdsa_p256 : KeyAlg::ecdsa_p384;
      r.value.point.push_back(0x04);
      r.value.point.insert(r.value.point.end(), blob.begin() + sizeof h, blob.begin() + sizeof h + 2 * h.cbKey);
    }
    r.status = st(ERROR_SUCCESS, "NCryptExportKey");
    return r;
  }

  Result<SecureBytes> sign(const std::string& name, ByteView auth, const SignParams& p, ByteView digest) override {
    Result<SecureBytes> r;
    Key k;
    if (r.status = open_with_auth(name, auth, k); !r.ok()) return r;
    BCRYPT_PKCS1_PADDING_INFO pkcs1{hash_alg(p.hash)};
    BCRYPT_PSS_PADDING_INFO pss{hash_alg(p.hash), p.salt_len};
    void* info = nullptr;
    DWORD flags = NCRYPT_SILENT_FLAG;
    if (p.padding == SignParams::Padding::pkcs1) {
      info = &pkcs1;  // real TPM: a null pszAlgId (no DigestInfo) is untested
      flags |= NCRYPT_PAD_PKCS1_FLAG;
    } else if (p.padding == SignParams::Padding::pss) {
      info = &pss;
      flags |= NCRYPT_PAD_PSS_FLAG;
    }
    DWORD n = 0;
    SECURITY_STATUS s = NCryptSignHash(k.get(), info, const_cast<PBYTE>(digest.data()),
                                       static_cast<DWORD>(digest.size()), nullptr, 0, &n, flags);
    if (s == ERROR_SUCCESS) {
      r.value.resize(n);
      s = NCryptSignHash(k.get(), info, const_cast<PBYTE>(digest.data()), static_cast<DWORD>(digest.size()),
                         r.value.data(), n, &n, flags);
      r.value.resize(n);
    }
    r.status = st(s, "NCryptSignHash");
    return r;
  }

  Result<SecureBytes> decrypt(const std::string& name, ByteView auth, const DecryptParams& p,
                              ByteView ct) override {
    Result<SecureBytes> r;
    Key k;
    if (r.status = open_with_auth(name, auth, k); !r.ok()) return r;
    BCRYPT_OAEP_PADDING_INFO oaep{hash_alg(p.hash), const_cast<PUCHAR>(p.label.data()),
                                  static_cast<ULONG>(p.label.size())};
    void* info = p.padding == DecryptParams::Padding::oaep ? &oaep : nullptr;
    const DWORD flags = NCRYPT_SILENT_FLAG |
                        (p.padding == DecryptParams::Padding::oaep ? NCRYPT_PAD_OAEP_FLAG : NCRYPT_PAD_PKCS1_FLAG);
    DWORD n = 0;
    SECURITY_STATUS s = NCryptDecrypt(k.get(), const_cast<PBYTE>(ct.data()), static_cast<DWORD>(ct.size()), info,
                                      nullptr, 0, &n, flags);
    if (s == ERROR_SUCCESS) {
      r.value.resize(n);
      s = NCryptDecrypt(k.get(), const_cast<PBYTE>(ct.data()), static_cast<DWORD>(ct.size()), info, r.value.data(),
                        n, &n, flags);
      r.value.resize(n);
    }
    r.status = st(s, "NCryptDecrypt");
    return r;
  }

  Status change_auth(const std::string& name, ByteView old_auth, ByteView new_auth) override {
    Key k;
    if (Status s = open_with_auth(name, old_auth, k); !s.ok()) return s;
    return st(NCryptSetProperty(k.get(), kChangePassword, const_cast<PBYTE>(new_auth.data()),
                                static_cast<DWORD>(new_auth.size()), 0),
              "NCryptSetProperty(PCP_CHANGEPASSWORD)");
  }

  Status create_identity_key(const std::string& name) override {
    // Real TPM: PCPTool's samples run elevated; whether a standard user may make an identity key is open.
    return create_persisted(BCRYPT_RSA_ALGORITHM, name, [](NCRYPT_KEY_HANDLE k) {
      SECURITY_STATUS s = set_dword(k, NCRYPT_LENGTH_PROPERTY, 2048);
      if (s != ERROR_SUCCESS) return st(s, "NCryptSetProperty(Length)");
      return st(set_dword(k, kKeyUsagePolicy, kPcpIdentityKey), "NCryptSetProperty(PCP_KEY_USAGE_POLICY)");
    });
  }

  Result<std::vector<uint8_t>> key_blob(const std::string& key) override {
    Result<std::vector<uint8_t>> r;
    Key k;
    if (r.status = open(key, k); !r.ok()) return r;
    DWORD n = 0;
    SECURITY_STATUS s = NCryptExportKey(k.get(), 0, BCRYPT_OPAQUE_KEY_BLOB, nullptr, nullptr, 0, &n, 0);
    if (s == ERROR_SUCCESS) {
      r.value.resize(n);
      s = NCryptExportKey(k.get(), 0, BCRYPT_OPAQUE_KEY_BLOB, nullptr, r.value.data(), n, &n, 0);
      r.value.resize(s == ERROR_SUCCESS ? n : 0);
    }
    r.status = st(s, "NCryptExportKey(BCRYPT_OPAQUE_KEY_BLOB)");
    return r;
  }

  Result<std::vector<uint8_t>> identity_binding(const std::string& aik) override {
    Result<std::vector<uint8_t>> r;
    Key k;
    if (r.status = open(aik, k); !r.ok()) return r;
    r.status = get_bytes(k.get(), kIdBinding, "NCryptGetProperty(PCP_TPM12_IDBINDING)", r.value);
    return r;
  }

  Result<std::vector<uint8_t>> key_claim(const std::string& key, ByteView key_auth, const std::string& aik,
                                         ByteView nonce) override {
    Result<std::vector<uint8_t>> r;
    HMODULE dll = GetModuleHandleW(L"ncrypt.dll");
    const auto create_claim =
        dll ? reinterpret_cast<CreateClaimFn>(reinterpret_cast<void*>(GetProcAddress(dll, "NCryptCreateClaim"))) : nullptr;
    if (!create_claim) {
      r.status = st(static_cast<SECURITY_STATUS>(code::kNotSupported), "NCryptCreateClaim");
      return r;
    }
    Key subject, authority;
    if (r.status = open_with_auth(key, key_auth, subject); !r.ok()) return r;
    if (r.status = open(aik, authority); !r.ok()) return r;
    // The nonce becomes TPM2_Certify's qualifyingData (TPMS_ATTEST.extraData); without a parameter list the
    // PCP certifies with empty extraData.
    BCryptBuffer buf{static_cast<ULONG>(nonce.size()), kBufferKeyAttestationNonce, const_cast<PBYTE>(nonce.data())};
    BCryptBufferDesc desc{kBufferVersion, 1, &buf};
    BCryptBufferDesc* params = nonce.empty() ? nullptr : &desc;
    DWORD n = 0;
    SECURITY_STATUS s =
        create_claim(subject.get(), authority.get(), kClaimAuthorityAndSubject, params, nullptr, 0, &n, 0);
    if (s == ERROR_SUCCESS) {
      r.value.resize(n);
      s = create_claim(subject.get(), authority.get(), kClaimAuthorityAndSubject, params, r.value.data(), n, &n, 0);
      r.value.resize(s == ERROR_SUCCESS ? n : 0);
    }
    r.status = st(s, "NCryptCreateClaim");
    return r;
  }

  Result<std::vector<uint8_t>> ek_public() override {
    Result<std::vector<uint8_t>> r;
    r.status = get_bytes(prov_, kEkPub, "NCryptGetProperty(PCP_EKPUB)", r.value);
    return r;
  }

  // Each property answers an HCERTSTORE handle (not DER). The RSA store first, then the ECC one (its failure is
  // not fatal), and the generic PCP_EKNVCERT only when both gave nothing; an empty store is a valid answer.
  Result<std::vector<std::vector<uint8_t>>> ek_certificates() override {
    Result<std::vector<std::vector<uint8_t>>> r;
    Status rsa = read_cert_store(kRsaEkNvCert, "NCryptGetProperty(PCP_RSA_EKNVCERT)", r.value);
    (void)read_cert_store(kEccEkNvCert, "NCryptGetProperty(PCP_ECC_EKNVCERT)", r.value);
    if (r.value.empty()) {
      Status any = read_cert_store(kEkNvCert, "NCryptGetProperty(PCP_EKNVCERT)", r.value);
      r.status = rsa.ok() ? rsa : any;
    }
    return r;
  }

  Result<SecureBytes> activate(const std::string& aik, ByteView blob) override {
    Result<SecureBytes> r;
    Key k;
    if (r.status = open(aik, k); !r.ok()) return r;
    SECURITY_STATUS s = NCryptSetProperty(k.get(), kIdActivation, const_cast<PBYTE>(blob.data()),
                                          static_cast<DWORD>(blob.size()), 0);
    if (s != ERROR_SUCCESS) {
      r.status = st(s, "NCryptSetProperty(PCP_TPM12_IDACTIVATION)");
      return r;
    }
    // The recovered secret, raw (a TPM2B_DIGEST's contents): at most a digest, 256 bytes is ample.
    uint8_t secret[256];
    DWORD n = 0;
    s = NCryptGetProperty(k.get(), kIdActivation, secret, sizeof secret, &n, 0);
    r.status = st(s, "NCryptGetProperty(PCP_TPM12_IDACTIVATION)");
    if (r.ok()) r.value.assign(secret, secret + (n <= sizeof secret ? n : 0));
    SecureZeroMemory(secret, sizeof secret);
    return r;
  }

 private:
  static SECURITY_STATUS set_dword(NCRYPT_KEY_HANDLE k, const wchar_t* prop, DWORD v) {
    return NCryptSetProperty(k, prop, reinterpret_cast<PBYTE>(&v), sizeof v, 0);
  }
  // NCryptCreatePersistedKey, `configure` (its properties), NCryptFinalizeKey(SILENT). No
  // NCRYPT_OVERWRITE_KEY_FLAG: an existing name answers NTE_EXISTS. Per-user key (no machine-key flag). A key
  // that fails half-way is deleted, never left persisted.
  template <class F>
  Status create_persisted(const wchar_t* alg, const std::string& name, F configure) {
    const std::wstring w = wide(name);
    Key k;
    SECURITY_STATUS s = NCryptCreatePersistedKey(prov_, k.out(), alg, w.c_str(), 0, 0);
    if (s != ERROR_SUCCESS) return st(s, "NCryptCreatePersistedKey");
    Status out = configure(k.get());
    if (out.ok()) out = st(NCryptFinalizeKey(k.get(), NCRYPT_SILENT_FLAG), "NCryptFinalizeKey");
    if (!out.ok()) (void)NCryptDeleteKey(k.release(), NCRYPT_SILENT_FLAG);
    return out;
  }

  Status open(const std::string& name, Key& k) {
    const std::wstring w = wide(name);
    return st(NCryptOpenKey(prov_, k.out(), w.c_str(), 0, NCRYPT_SILENT_FLAG), "NCryptOpenKey");
  }
  // Real TPM: the PCP takes the usage auth as a raw digest through PCP_USAGEAUTH on the key handle (the PIN
  // property would hash a PIN string itself); the TPM checks it at the next private-key command.
  Status open_with_auth(const std::string& name, ByteView auth, Key& k) {
    if (Status s = open(name, k); !s.ok()) return s;
    return st(NCryptSetProperty(k.get(), kUsageAuth, const_cast<PBYTE>(auth.data()), static_cast<DWORD>(auth.size()), 0),
              "NCryptSetProperty(PCP_USAGEAUTH)");
  }

  // The two-call NCryptGetProperty of a byte property.
  static Status get_bytes(NCRYPT_HANDLE h, const wchar_t* prop, const char* call, std::vector<uint8_t>& out) {
    DWORD n = 0;
    SECURITY_STATUS s = NCryptGetProperty(h, prop, nullptr, 0, &n, 0);
    if (s == ERROR_SUCCESS) {
      out.resize(n);
      s = NCryptGetProperty(h, prop, out.data(), n, &n, 0);
      out.resize(s == ERROR_SUCCESS ? n : 0);
    }
    return st(s, call);
  }

  // A provider property holding an HCERTSTORE: its certificates appended as DER; the store is closed.
  Status read_cert_store(const wchar_t* prop, const char* call, std::vector<std::vector<uint8_t>>& out) {
    HCERTSTORE store = nullptr;
    DWORD n = 0;
    SECURITY_STATUS s = NCryptGetProperty(prov_, prop, reinterpret_cast<PBYTE>(&store), sizeof store, &n, 0);
    if (s != ERROR_SUCCESS) return st(s, call);
    if (!store || n != sizeof store) return st(static_cast<SECURITY_STATUS>(code::kInternalError), call);
    for (PCCERT_CONTEXT c = CertEnumCertificatesInStore(store, nullptr); c;
         c = CertEnumCertificatesInStore(store, c))  // each call frees the previous context
      out.emplace_back(c->pbCertEncoded, c->pbCertEncoded + c->cbCertEncoded);
    CertCloseStore(store, 0);
    return st(ERROR_SUCCESS, call);
  }

  NCRYPT_PROV_HANDLE prov_;
};

}  // namespace

std::shared_ptr<Provider> make_system_provider(std::string& why) {
  NCRYPT_PROV_HANDLE h = 0;
  // Opening succeeds under wine too: it never says a TPM is there (pcp::probe decides).
  const SECURITY_STATUS s = NCryptOpenStorageProvider(&h, kPlatformProvider, 0);
  if (s != ERROR_SUCCESS) {
    why = "no TPM: " + Status{static_cast<uint32_t>(s), "NCryptOpenStorageProvider"}.text();
    return nullptr;
  }
  return std::make_shared<NcryptProvider>(h);
}

}  // namespace keyseal::pcp
