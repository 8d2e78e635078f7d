// FakeProvider: the Platform Crypto Provider's documented behaviour over OpenSSL keys held in memory.
#include "pcp/fake_provider.h"
#include "pcp/fake_provider_key.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

namespace keyseal::pcp {

using namespace fake_detail;

FakeProvider::FakeProvider(uint32_t lockout_threshold) : threshold_(lockout_threshold) {}
FakeProvider::~FakeProvider() = default;

Status FakeProvider::gate(const char* call) {
  if (fail_code_ != 0) {
    if (fail_skip_ > 0) {
      --fail_skip_;
    } else {
      const uint32_t c = fail_code_;
      if (fail_once_) fail_code_ = 0;
      return st(c, call);
    }
  }
  if (absent_) return st(code::kNotSupported, call);  // what wine's PCP answers for most key calls
  return st(code::kOk, call);
}

Status FakeProvider::check_auth(Key& k, ByteView auth, const char* call) {
  // The TPM refuses every DA-protected authorisation while in lockout, the right one too; a wrong one counts.
  if (failures_ >= threshold_) return st(code::kTpmLockout, call);
  if (!equal_constant_time(view(k.spec.usage_auth), auth)) {
    ++failures_;  // the failure that reaches the threshold is still reported as one; the next meets lockout
    return st(code::kTpmAuthFailSession1, call);
  }
  return st(code::kOk, call);
}

Result<DeviceInfo> FakeProvider::device_info() {
  std::lock_guard g(mu_);
  Result<DeviceInfo> r;
  if (absent_) {
    r.status = st(code::kTbsTpmNotFound, "Tbsi_GetDeviceInfo");
    return r;
  }
  r.status = gate("Tbsip_Submit_Command");
  if (!r.ok()) return r;
  DeviceInfo& d = r.value;
  d.tpm_version = version_;
  d.manufacturer = 0x4B53464B;  // "KSFK"
  d.vendor = "keyseal fake PCP";
  d.firmware1 = 0x00070055;  // 7.85
  d.firmware2 = 0x00000002;
  d.spec_revision = 159;
  d.lockout_counter = failures_;
  d.max_auth_fail = threshold_;
  d.lockout_interval = 7200;
  d.in_lockout = failures_ >= threshold_;
  return r;
}

Result<std::string> FakeProvider::platform_type() {
  std::lock_guard g(mu_);
  Result<std::string> r;
  r.status = gate("NCryptGetProperty");
  if (r.ok() && (version_ != 2 || !platform_readable_)) r.status = st(code::kNotSupported, "NCryptGetProperty");
  if (r.ok()) r.value = "TPM-Version:2.0 -Level:0-Revision:1.59-VendorID:'KSFK'-Firmware:7.85";
  return r;
}

Status FakeProvider::create_key(const KeySpec& spec) {
  std::lock_guard g(mu_);
  Status s = gate("NCryptFinalizeKey");
  if (!s.ok()) return s;
  if (spec.name.empty() || spec.usage_auth.empty()) return st(code::kInvalidParameter, "NCryptSetProperty");
  if (keys_.count(spec.name)) return st(code::kExists, "NCryptCreatePersistedKey");
  EVP_PKEY* p = nullptr;
  switch (spec.alg) {
    case KeyAlg::rsa:
      if (spec.bits != 2048 && spec.bits != 3072) return st(code::kNotSupported, "NCryptFinalizeKey");
      p = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(spec.bits));
      break;
    case KeyAlg::ecdsa_p256: p = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyAlg::ecdsa_p384: p = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
  }
  if (!p) return st(code::kInternalError, "NCryptFinalizeKey");
  auto k = std::make_unique<Key>();
  k->spec = spec;
  k->pkey.reset(p);
  keys_.emplace(spec.name, std::move(k));
  return st(code::kOk, "NCryptFinalizeKey");
}

Status FakeProvider::open_key(const std::string& name) {
  std::lock_guard g(mu_);
  Status s = gate("NCryptOpenKey");
  if (!s.ok()) return s;
  return st(keys_.count(name) ? code::kOk : code::kBadKeyset, "NCryptOpenKey");
}

Result<std::vector<std::string>> FakeProvider::enum_keys() {
  std::lock_guard g(mu_);
  Result<std::vector<std::string>> r;
  r.status = gate("NCryptEnumKeys");
  if (!r.ok()) return r;
  for (const auto& [name, k] : keys_) r.value.push_back(name);
  return r;
}

Status FakeProvider::delete_key(const std::string& name) {
  std::lock_guard g(mu_);
  Status s = gate("NCryptDeleteKey");
  if (!s.ok()) return s;
  return st(keys_.erase(name) ? code::kOk : code::kBadKeyset, "NCryptOpenKey");
}

Result<PublicKey> FakeProvider::export_public(const std::string& name) {
  std::lock_guard g(mu_);
  Result<PublicKey> r;
  r.status = gate("NCryptExportKey");
  if (!r.ok()) return r;
  auto it = keys_.find(name);
  if (it == keys_.end()) {
    r.status = st(code::kBadKeyset, "NCryptOpenKey");
    return r;
  }
  EVP_PKEY* p = it->second->pkey.get();
  r.value.alg = it->second->spec.alg;
  if (r.value.alg == KeyAlg::rsa) {
    BIGNUM *n = nullptr, *e = nullptr;
    if (EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        EVP_PKEY_get_bn_param(p, OSSL_PKEY_PARAM_RSA_E, &e) != 1) {
      BN_free(n);
      r.status = st(code::kInternalError, "NCryptExportKey");
      return r;
    }
    r.value.n = bn_bytes(n);
    r.value.e = bn_bytes(e);
    BN_free(n);
    BN_free(e);
  } else {
    uint8_t buf[200];
    size_t len = 0;
    if (EVP_PKEY_get_octet_string_param(p, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, buf, sizeof buf, &len) != 1) {
      r.status = st(code::kInternalError, "NCryptExportKey");
      return r;
    }
    r.value.point.assign(buf, buf + len);
  }
  return r;
}

Result<SecureBytes> FakeProvider::sign(const std::string& name, ByteView auth, const SignParams& sp,
                                       ByteView digest) {
  std::lock_guard g(mu_);
  Result<SecureBytes> r;
  r.status = gate("NCryptSignHash");
  if (!r.ok()) return r;
  auto it = keys_.find(name);
  if (it == keys_.end()) {
    r.status = st(code::kBadKeyset, "NCryptOpenKey");
    return r;
  }
  Key& k = *it->second;
  const bool ec = k.spec.alg != KeyAlg::rsa;
  if (!k.spec.sign || ec != (sp.padding == SignParams::Padding::ecdsa)) {
    r.status = st(code::kInvalidParameter, "NCryptSignHash");
    return r;
  }
  r.status = check_auth(k, auth, "NCryptSignHash");
  if (!r.ok()) return r;
  const EVP_MD* md = md_of(sp.hash);
  // The TPM signs digests of a hash it knows: the digest's size must be that hash's.
  const bool sized = ec ? (digest.size() == 20 || digest.size() == 32 || digest.size() == 48 || digest.size() == 64)
                        : (md ? digest.size() == static_cast<size_t>(EVP_MD_get_size(md))
                              : sp.padding == SignParams::Padding::pkcs1);
  CtxPtr ctx(EVP_PKEY_CTX_new(k.pkey.get(), nullptr));
  if (!sized || !ctx || EVP_PKEY_sign_init(ctx.get()) != 1) {
    r.status = st(code::kInvalidParameter, "NCryptSignHash");
    return r;
  }
  bool ok = true;
  if (sp.padding == SignParams::Padding::pkcs1) {
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1 &&
         (!md || EVP_PKEY_CTX_set_signature_md(ctx.get(), md) == 1);
  } else if (sp.padding == SignParams::Padding::pss) {
    ok = md && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PSS_PADDING) == 1 &&
         EVP_PKEY_CTX_set_signature_md(ctx.get(), md) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) == 1 &&
         EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx.get(), static_cast<int>(sp.salt_len)) == 1;
  }
  size_t len = 0;
  ok = ok && EVP_PKEY_sign(ctx.get(), nullptr, &len, digest.data(), digest.size()) == 1;
  SecureBytes sig(len);
  ok = ok && EVP_PKEY_sign(ctx.get(), sig.data(), &len, digest.data(), digest.size()) == 1;
  if (!ok) {
    r.status = st(code::kInvalidParameter, "NCryptSignHash");
    return r;
  }
  sig.resize(len);
  if (ec) {  // DER ECDSA-Sig-Value to r || s, as NCrypt returns it
    const size_t nb = k.spec.alg == KeyAlg::ecdsa_p256 ? 32 : 48;
    const uint8_t* q = sig.data();
    ECDSA_SIG* es = d2i_ECDSA_SIG(nullptr, &q, static_cast<long>(sig.size()));
    if (!es) {
      r.status = st(code::kInternalError, "NCryptSignHash");
      return r;
    }
    SecureBytes rs = bn_bytes(ECDSA_SIG_get0_r(es), nb);
    SecureBytes s = bn_bytes(ECDSA_SIG_get0_s(es), nb);
    ECDSA_SIG_free(es);
    rs.insert(rs.end(), s.begin(), s.end());
    sig = std::move(rs);
  }
  ++uses_;
  r.value = std::move(sig);
  return r;
}

Result<SecureBytes> FakeProvider::decrypt(const std::string& name, ByteView auth, const DecryptParams& dp,
                                          ByteView ct) {
  std::lock_guard g(mu_);
  Result<SecureBytes> r;
  r.status = gate("NCryptDecrypt");
  if (!r.ok()) return r;
  auto it = keys_.find(name);
  if (it == keys_.end()) {
    r.status = st(code::kBadKeyset, "NCryptOpenKey");
    return r;
  }
  Key& k = *it->second;
  if (k.spec.alg != KeyAlg::rsa || !k.spec.decrypt) {
    r.status = st(code::kInvalidParameter, "NCryptDecrypt");
    return r;
  }
  r.status = check_auth(k, auth, "NCryptDecrypt");
  if (!r.ok()) return r;
  CtxPtr ctx(EVP_PKEY_CTX_new(k.pkey.get(), nullptr));
  bool ok = ctx && EVP_PKEY_decrypt_init(ctx.get()) == 1;
  if (ok && dp.padding == DecryptParams::Padding::pkcs1) {
    ok = EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_PADDING) == 1;
  } else if (ok) {
    const EVP_MD* md = md_of(dp.hash);
    ok = md && EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING) == 1 &&
         EVP_PKEY_CTX_set_rsa_oaep_md(ctx.get(), md) == 1 && EVP_PKEY_CTX_set_rsa_mgf1_md(ctx.get(), md) == 1;
    if (ok && !dp.label.empty()) {
      void* l = OPENSSL_memdup(dp.label.data(), dp.label.size());
      ok = l && EVP_PKEY_CTX_set0_rsa_oaep_label(ctx.get(), l, static_cast<int>(dp.label.size())) == 1;
      if (!ok) OPENSSL_free(l);
    }
  }
  if (!ok) {
    r.status = st(code::kInvalidParameter, "NCryptDecrypt");
    return r;
  }
  size_t len = 0;
  SecureBytes out;
  ok = EVP_PKEY_decrypt(ctx.get(), nullptr, &len, ct.data(), ct.size()) == 1;
  if (ok) {
    out.resize(len);
    ok = EVP_PKEY_decrypt(ctx.get(), out.data(), &len, ct.data(), ct.size()) == 1;
  }
  if (!ok) {
    r.status = st(code::kBadData, "NCryptDecrypt");
    return r;
  }
  out.resize(len);
  ++uses_;
  r.value = std::move(out);
  return r;
}

Status FakeProvider::change_auth(const std::string& name, ByteView old_auth, ByteView new_auth) {
  std::lock_guard g(mu_);
  Status s = gate("NCryptSetProperty");
  if (!s.ok()) return s;
  auto it = keys_.find(name);
  if (it == keys_.end()) return st(code::kBadKeyset, "NCryptOpenKey");
  if (new_auth.empty()) return st(code::kInvalidParameter, "NCryptSetProperty");
  s = check_auth(*it->second, old_auth, "NCryptSetProperty");
  if (!s.ok()) return s;
  it->second->spec.usage_auth = to_bytes(new_auth);
  ++uses_;
  return s;
}

void FakeProvider::set_absent(bool absent) {
  std::lock_guard g(mu_);
  absent_ = absent;
}

void FakeProvider::set_platform_readable(bool readable) {
  std::lock_guard g(mu_);
  platform_readable_ = readable;
}

void FakeProvider::set_tpm_version(uint32_t v) {
  std::lock_guard g(mu_);
  version_ = v;
}

void FakeProvider::fail_all(uint32_t c) {
  std::lock_guard g(mu_);
  fail_code_ = c;
  fail_once_ = false;
  fail_skip_ = 0;
}

void FakeProvider::fail_after(unsigned skip, uint32_t c) {
  std::lock_guard g(mu_);
  fail_code_ = c;
  fail_once_ = true;
  fail_skip_ = skip;
}

uint32_t FakeProvider::da_failures() const {
  std::lock_guard g(mu_);
  return failures_;
}

void FakeProvider::lockout_reset() {
  std::lock_guard g(mu_);
  failures_ = 0;
}

size_t FakeProvider::key_count() const {
  std::lock_guard g(mu_);
  return keys_.size();
}

uint64_t FakeProvider::private_uses() const {
  std::lock_guard g(mu_);
  return uses_;
}

}  // namespace keyseal::pcp
