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
    const std::wstring name = wide(spec.name);
    Key k;
    // No NCRYPT_OVERWRITE_KEY_FLAG: an existing name answers NTE_EXISTS. Per-user key (no machine-key flag).
    SECURITY_STATUS s = NCryptCreatePersistedKey(prov_, k.out(), alg, name.c_str(), 0, 0);
    if (s != ERROR_SUCCESS) return st(s, "NCryptCreatePersistedKey");
    auto set_dword = [&](const wchar_t* prop, DWORD v) {
      return NCryptSetProperty(k.get(), prop, reinterpret_cast<PBYTE>(&v), sizeof v, 0);
    };
    Status out = st(ERROR_SUCCESS, "NCryptFinalizeKey");
    if (spec.alg == KeyAlg::rsa && (s = set_dword(NCRYPT_LENGTH_PROPERTY, spec.bits)) != ERROR_SUCCESS)
      out = st(s, "NCryptSetProperty(Length)");
    const DWORD usage = (spec.sign ? NCRYPT_ALLOW_SIGNING_FLAG : 0) | (spec.decrypt ? NCRYPT_ALLOW_DECRYPT_FLAG : 0);
    if (out.ok() && (s = set_dword(NCRYPT_KEY_USAGE_PROPERTY, usage)) != ERROR_SUCCESS)
      out = st(s, "NCryptSetProperty(Key Usage)");
    // Real TPM: the PCP never exports private keys; it may answer NTE_NOT_SUPPORTED to setting the policy.
    if (out.ok() && (s = set_dword(NCRYPT_EXPORT_POLICY_PROPERTY, 0)) != ERROR_SUCCESS &&
        static_cast<uint32_t>(s) != code::kNotSupported)
      out = st(s, "NCryptSetProperty(Export Policy)");
    if (out.ok() && (s = NCryptSetProperty(k.get(), kUsageAuth, const_cast<PBYTE>(spec.usage_auth.data()),
                                           static_cast<DWORD>(spec.usage_auth.size()), 0)) != ERROR_SUCCESS)
      out = st(s, "NCryptSetProperty(PCP_USAGEAUTH)");
    if (out.ok() && (s = NCryptFinalizeKey(k.get(), NCRYPT_SILENT_FLAG)) != ERROR_SUCCESS)
      out = st(s, "NCryptFinalizeKey");
    if (!out.ok()) (void)NCryptDeleteKey(k.release(), NCRYPT_SILENT_FLAG);  // no half-made persisted key
    return out;
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

 private:
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
