// TpmBackend's PINs (PKCS#11 3.0 sections 5.5 C_GetTokenInfo, 5.6 C_InitToken/C_InitPIN/C_SetPIN/C_Login): the
// master key sealed per PIN role behind the role's PIN-fail NV index (pin_nv.h, pin_seal.h), the count read
// for core, the old DA-counted records and their upgrade, and the token-info fields the TPM knows.
#include "tpm/tpm_token.h"

#include "common/log.h"
#include "crypto/random.h"
#include "store/token_db.h"
#include "tpm/connection.h"
#include "tpm/pin_nv.h"
#include "tpm/pin_seal.h"
#include "tpm/probe.h"

#include <algorithm>
#include <cstring>

namespace keyseal::tpm {

namespace {

const char* role(CK_USER_TYPE who) {
  return who == CKU_SO ? "so" : "user";
}
std::string pin_key(CK_USER_TYPE who) {
  return std::string("tpm.pin.") + role(who);
}
constexpr const char* kPcrsKey = "tpm.pcrs";
constexpr const char* kPinLimitKey = "tpm.pin_limit";  // the limit given at C_InitToken, for new indexes
constexpr const char* kCorePinLimitKey = "pin_limit";  // core's copy: tokens from before kPinLimitKey
constexpr uint32_t kDefaultPinLimit = 10;
constexpr auto kCounterTtl = std::chrono::seconds(1);  // polling C_GetTokenInfo reads each count once a second

std::string meta_string(store::TokenDb& db, const char* key) {
  auto v = db.get_meta(key);
  return v ? std::string(v->begin(), v->end()) : std::string();
}

void put_padded(CK_UTF8CHAR* dst, size_t n, const std::string& s) {
  std::memset(dst, ' ', n);
  std::memcpy(dst, s.data(), std::min(n, s.size()));
}

uint32_t parse_limit(const std::optional<SecureBytes>& v) {
  if (!v || v->empty() || v->size() > 9) return 0;
  uint32_t n = 0;
  for (uint8_t c : *v) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return n;
}

// The PIN-fail index of a role's record, 0 for none (version 1, or no record). A malformed record has none;
// unlock() reports it.
TPM2_HANDLE nv_of(store::TokenDb& db, CK_USER_TYPE who) {
  auto rec = db.get_meta(pin_key(who));
  if (!rec) return 0;
  try {
    return sealed_nv_index(view(*rec));
  } catch (const Error&) {
    return 0;
  }
}

CK_BYTE clamp(uint32_t v) {
  return static_cast<CK_BYTE>(std::min<uint32_t>(v, 255));
}

}  // namespace

SecureBytes TpmBackend::create_master_key(store::TokenDb& db, ByteView so_pin, uint32_t pin_limit) {
  SecureBytes mk = crypto::random_bytes(32);
  if (!options_.pcrs.empty()) db.set_meta(kPcrsKey, view(options_.pcrs));
  db.set_meta(kPinLimitKey, view(std::to_string(pin_limit)));
  seal_pin(db, CKU_SO, view(mk), so_pin, pin_limit, false);  // replaces (and frees) a previous SO record
  return mk;
}

std::optional<core::Backend::PinCounter> TpmBackend::pin_counter(store::TokenDb& db, CK_USER_TYPE who) {
  const TPM2_HANDLE nv = nv_of(db, who);
  if (nv == 0) return std::nullopt;  // counted by core in the store
  const auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lk(counter_mu_);
    auto it = counters_.find(nv);
    if (it != counters_.end() && now - it->second.read_at < kCounterTtl) return it->second.count;
  }
  PinCount c;
  {
    auto g = conn_->lock();
    c = read_pin_index(g, nv);
  }
  const PinCounter pc{c.failures, c.limit};
  std::lock_guard<std::mutex> lk(counter_mu_);
  counters_[nv] = CachedCounter{pc, now};
  return pc;
}

void TpmBackend::forget_counter(TPM2_HANDLE nv) {
  std::lock_guard<std::mutex> lk(counter_mu_);
  counters_.erase(nv);
}

SecureBytes TpmBackend::unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView pin) {
  auto rec = db.get_meta(pin_key(who));
  require(rec.has_value(), CKR_USER_PIN_NOT_INITIALIZED, "no PIN is set");
  const SecureBytes auth = pin_auth(meta_string(db, "uid"), role(who), pin);
  const TPM2_HANDLE nv = nv_of(db, who);
  try {
    SecureBytes mk;
    {
      auto g = conn_->lock();
      mk = unseal_secret(g, view(*rec), view(auth), meta_string(db, kPcrsKey));
    }
    if (nv) count_outcome(nv, CKR_OK);
    return mk;
  } catch (const Error& e) {
    if (nv) count_outcome(nv, e.rv);
    throw;
  }
}

void TpmBackend::count_outcome(uint32_t nv, CK_RV rv) {
  // What the TPM just did to the count, so that C_GetTokenInfo after a C_Login needs no read: a right PIN set
  // it to 0, a wrong one added 1. Anything else: read it afresh.
  std::lock_guard<std::mutex> lk(counter_mu_);
  auto it = counters_.find(nv);
  if (it == counters_.end()) return;
  if (rv == CKR_OK) {
    it->second.count.failures = 0;
  } else if (rv == CKR_PIN_INCORRECT && it->second.count.failures < it->second.count.limit) {
    ++it->second.count.failures;
  } else {
    counters_.erase(it);
    return;
  }
  it->second.read_at = std::chrono::steady_clock::now();
}

uint32_t TpmBackend::limit_of(store::TokenDb& db) {
  // The SO's index holds the limit fixed at C_InitToken in the TPM itself, where a store edit cannot raise it.
  if (const TPM2_HANDLE so = nv_of(db, CKU_SO)) {
    try {
      auto g = conn_->lock();
      const uint32_t l = read_pin_index(g, so).limit;
      if (l != 0) return l;
    } catch (const Error& e) {
      log::debug("TPM token: SO PIN-fail index unreadable: " + e.detail);
    }
  }
  for (const char* key : {kPinLimitKey, kCorePinLimitKey})
    if (const uint32_t l = parse_limit(db.get_meta(key)); l != 0) return l;
  return kDefaultPinLimit;
}

bool TpmBackend::seal_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin, uint32_t limit,
                          bool only_with_index) {
  const SecureBytes auth = pin_auth(meta_string(db, "uid"), role(who), pin);
  const TPM2_HANDLE old_nv = nv_of(db, who);
  TPM2_HANDLE nv = 0;
  SecureBytes rec;
  {
    auto g = conn_->lock();
    std::string why;
    if (auto h = define_pin_index(g, view(auth), limit, why)) {
      nv = *h;
    } else {
      if (only_with_index) {
        log::debug("TPM token: " + std::string(role(who)) +
                   " PIN stays on the TPM's dictionary-attack counter: " + why);
        return false;
      }
      log::warn("TPM token: no PIN-fail NV index for the " + std::string(role(who)) + " PIN (" + why +
                "); its wrong PINs are counted by keyseal in the token and the PIN object is protected by the "
                "TPM-wide dictionary-attack counter instead (docs/tpm.md)");
    }
    try {
      rec = seal_secret(g, master_key, view(auth), meta_string(db, kPcrsKey), nv);
    } catch (...) {
      if (nv) (void)undefine_pin_index(g, nv);
      throw;
    }
  }
  try {
    db.set_meta(pin_key(who), view(rec));
  } catch (...) {
    if (nv) {
      auto g = conn_->lock();
      (void)undefine_pin_index(g, nv);
    }
    throw;
  }
  // The new record is in place: the old index goes (a new one is defined first, so a failure above leaves the
  // old PIN working).
  if (old_nv && old_nv != nv) {
    auto g = conn_->lock();
    (void)undefine_pin_index(g, old_nv);
    forget_counter(old_nv);
  }
  if (nv) forget_counter(nv);
  return true;
}

void TpmBackend::set_pin(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) {
  // A fresh index at pinCount 0: the SO's C_InitPIN resets the user's count; C_SetPIN gives the new PIN its own.
  seal_pin(db, who, master_key, pin, limit_of(db), false);
}

void TpmBackend::after_unlock(store::TokenDb& db, CK_USER_TYPE who, ByteView master_key, ByteView pin) {
  // A token sealed the version 1 way (DA-protected, counted by core) moves to its own PIN-fail index at its
  // first right PIN, if the TPM can give one; else it stays as it is, and this process does not ask again.
  if (nv_of(db, who) != 0 || !db.get_meta(pin_key(who)) || nv_unavailable_.load()) return;
  if (seal_pin(db, who, master_key, pin, limit_of(db), true))
    log::info("TPM token: the " + std::string(role(who)) + " PIN is now counted by its own PIN-fail NV index");
  else
    nv_unavailable_ = true;
}

bool TpmBackend::has_pin(store::TokenDb& db, CK_USER_TYPE who) {
  return db.get_meta(pin_key(who)).has_value();
}

void TpmBackend::remove_pin(store::TokenDb& db, CK_USER_TYPE who) {
  if (const TPM2_HANDLE nv = nv_of(db, who)) {
    auto g = conn_->lock();
    (void)undefine_pin_index(g, nv);
    forget_counter(nv);
  }
  db.delete_meta(pin_key(who));
}

void TpmBackend::fill_token_info(store::TokenDb& db, CK_TOKEN_INFO& info) {
  const TpmInfo& i = *info_;
  put_padded(info.manufacturerID, sizeof info.manufacturerID, manufacturer_name(i.manufacturer));
  put_padded(info.model, sizeof info.model, "tpm token");
  info.firmwareVersion = {clamp(i.firmware1 >> 16), clamp(i.firmware1 & 0xFFFF)};
  info.hardwareVersion = {clamp(i.spec_revision / 100), clamp(i.spec_revision % 100)};  // TPM spec revision
  // The PIN counts themselves are core's flags (from pin_counter() for a role with a PIN-fail index). What the
  // TPM-wide dictionary-attack state adds is only what C_Login would then answer: a role on its own index is
  // refused while the TPM is in lockout (its sealed object is DA-protected); a version 1 role also one failure
  // before it (keyseal never spends the TPM's last attempt). Applications poll C_GetTokenInfo, so the TPM is
  // asked at most every 2 seconds.
  bool in_lockout = false, da_refuses_now = false;
  {
    std::lock_guard<std::mutex> lk(lockout_mu_);
    const auto now = std::chrono::steady_clock::now();
    if (now - lockout_checked_ > std::chrono::seconds(2)) {
      lockout_checked_ = now;
      try {
        auto g = conn_->lock();
        g.refresh_variable_state();
        in_lockout_ = g.info().in_lockout;
        da_refuses_ = da_refuses(g.info());
      } catch (const Error&) {
      }
    }
    in_lockout = in_lockout_, da_refuses_now = da_refuses_;
  }
  for (CK_USER_TYPE who : {CKU_USER, CKU_SO}) {
    if (!db.get_meta(pin_key(who))) continue;
    const bool refused = nv_of(db, who) != 0 ? in_lockout : da_refuses_now;
    if (!refused) continue;
    info.flags |= who == CKU_SO ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
    info.flags &= ~(who == CKU_SO ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY);
  }
}

}  // namespace keyseal::tpm
