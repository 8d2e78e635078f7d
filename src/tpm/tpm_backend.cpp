// TpmBackend: PINs as TPM-sealed master keys, keys created/imported in the TPM, private-key operations in the
// TPM, secret keys through the soft backend; connect_backend() and probe_status() (PKCS#11 3.0 sections
// 5.5 C_GetTokenInfo, 5.6 PINs, 5.8-5.14).
#include "tpm/tpm_token.h"

#include "core/mechanisms.h"
#include "crypto/asym.h"
#include "crypto/random.h"
#include "store/token_db.h"
#include "tpm/connection.h"
#include "tpm/key_blobs.h"
#include "common/log.h"
#include "tpm/operations.h"
#include "tpm/pin_nv.h"
#include "tpm/pin_seal.h"
#include "tpm/probe.h"
#include "tpm/tss_errors.h"

#include <algorithm>
#include <cstring>

namespace keyseal::tpm {

namespace {

const char* role(CK_USER_TYPE who) { return who == CKU_SO ? "so" : "user"; }
std::string pin_key(CK_USER_TYPE who) { return std::string("tpm.pin.") + role(who); }
constexpr const char* kPcrsKey = "tpm.pcrs";
constexpr const char* kPinLimitKey = "tpm.pin_limit";     // the limit given at C_InitToken, for new indexes
constexpr const char* kCorePinLimitKey = "pin_limit";     // core's copy: tokens from before kPinLimitKey
constexpr uint32_t kDefaultPinLimit = 10;
constexpr auto kCounterTtl = std::chrono::seconds(1);   // C_GetTokenInfo polling costs at most 3 commands/s

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

CK_BYTE clamp(uint32_t v) { return static_cast<CK_BYTE>(std::min<uint32_t>(v, 255)); }

TpmHashes hashes_of(const TpmInfo& i) {
  TpmHashes h;
  h.sha1 = i.has(TPM2_ALG_SHA1);
  h.sha256 = i.has(TPM2_ALG_SHA256);
  h.sha384 = i.has(TPM2_ALG_SHA384);
  h.sha512 = i.has(TPM2_ALG_SHA512);
  h.rsapss = i.has(TPM2_ALG_RSAPSS);
  h.oaep = i.has(TPM2_ALG_OAEP);
  return h;
}

std::shared_ptr<const KeyBlobs> blobs(const core::Object& key) {
  return key.cached<KeyBlobs>(core::Object::backend_slot, [&]() -> std::shared_ptr<const void> {
    return std::make_shared<const KeyBlobs>(blobs_of(key.attrs));
  });
}

Status status_of(Connection& c) {
  Status s;
  try {
    auto g = c.lock();
    g.refresh_variable_state();
    const TpmInfo& i = g.info();
    s.present = true;
    s.manufacturer = manufacturer_name(i.manufacturer);
    s.vendor_string = i.vendor_string;
    s.firmware = firmware_text(i);
    s.spec_level = spec_text(i);
    for (TPMI_ALG_HASH h : i.pcr_banks) s.pcr_banks.push_back(hash_name(h));
    s.lockout = lockout_text(i);
    if (!i.storage_enabled) s.why = "the storage hierarchy is disabled";
    else if (!g.parent_error().empty()) s.why = g.parent_error();
    s.ready = s.why.empty();
  } catch (const std::exception& e) {
    s = Status{};
    s.why = e.what();
  }
  return s;
}

}  // namespace

TpmBackend::TpmBackend(std::shared_ptr<Connection> c, Options o)
    : conn_(std::move(c)), options_(std::move(o)), soft_(crypto::Argon2Params{}) {
  auto g = conn_->lock();
  info_ = std::make_unique<TpmInfo>(g.info());
  if (!options_.pcrs.empty()) options_.pcrs = pcrs_text(parse_pcrs(options_.pcrs, info_->pcr_banks));
}

TpmBackend::~TpmBackend() = default;

bool TpmBackend::supports(CK_MECHANISM_TYPE mechanism) const {
  const core::MechanismRow* row = core::find_mechanism(mechanism);
  if (!row) return false;
  const TpmInfo& i = *info_;
  const TpmHashes h = hashes_of(i);
  switch (row->key_type) {
    case CKK_RSA:
      if (!i.has(TPM2_ALG_RSA) || i.rsa_bits.empty()) return false;
      if (row->param == core::ParamKind::pss) return h.rsapss && (row->digest == 0 || h.has(row->digest));
      return true;  // PKCS#1 v1.5, X.509 and OAEP work for every hash (raw RSA + software encoding)
    case CKK_EC:
      if (!i.has(TPM2_ALG_ECC) || i.curves.empty()) return false;
      if (mechanism == CKM_ECDH1_DERIVE) return i.has(TPM2_ALG_ECDH);
      if (row->flags & (CKF_SIGN | CKF_VERIFY)) return i.has(TPM2_ALG_ECDSA);
      return mechanism == CKM_EC_KEY_PAIR_GEN;
    case CKK_EC_EDWARDS:
      return false;  // no TPM has Ed25519
    default:
      return soft_.supports(mechanism);  // digests, AES, HMAC, generic secrets
  }
}

// Key sizes are what this TPM makes: the RSA sizes TPM2_TestParms accepted, the NIST curves it lists. RSA and
// EC private-key work is done by the TPM: CKF_HW.
void TpmBackend::limit_mechanism_info(CK_MECHANISM_TYPE mechanism, CK_MECHANISM_INFO& info) const {
  const core::MechanismRow* row = core::find_mechanism(mechanism);
  if (!row) return;
  if (row->key_type == CKK_RSA || row->key_type == CKK_EC) info.flags |= CKF_HW;
  const TpmInfo& i = *info_;
  if (row->key_type == CKK_RSA && !i.rsa_bits.empty()) {
    info.ulMinKeySize = std::max<CK_ULONG>(info.ulMinKeySize, *i.rsa_bits.begin());
    info.ulMaxKeySize = std::min<CK_ULONG>(info.ulMaxKeySize, *i.rsa_bits.rbegin());
  } else if (row->key_type == CKK_EC) {
    CK_ULONG lo = 0, hi = 0;
    for (const auto& [curve, bits] : {std::pair{TPM2_ECC_NIST_P256, 256UL}, std::pair{TPM2_ECC_NIST_P384, 384UL},
                                      std::pair{TPM2_ECC_NIST_P521, 521UL}}) {
      if (!i.curves.count(curve)) continue;
      if (lo == 0) lo = bits;
      hi = bits;
    }
    if (lo != 0) {
      info.ulMinKeySize = std::max<CK_ULONG>(info.ulMinKeySize, lo);
      info.ulMaxKeySize = std::min<CK_ULONG>(info.ulMaxKeySize, hi);
    }
  }
}

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
        log::debug("TPM token: " + std::string(role(who)) + " PIN stays on the TPM's dictionary-attack counter: " + why);
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

bool TpmBackend::has_pin(store::TokenDb& db, CK_USER_TYPE who) { return db.get_meta(pin_key(who)).has_value(); }

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

void TpmBackend::generate_key_pair(const MechanismParams& m, core::AttributeMap& pub, core::AttributeMap& priv) {
  CK_KEY_TYPE kt;
  if (m.type == CKM_RSA_PKCS_KEY_PAIR_GEN) kt = CKK_RSA;
  else if (m.type == CKM_EC_KEY_PAIR_GEN) kt = CKK_EC;
  else fail(CKR_MECHANISM_INVALID, "the TPM token makes RSA and EC key pairs only");
  auto g = conn_->lock();
  create_key_pair(g, kt, pub, priv);
}

void TpmBackend::generate_key(const MechanismParams& m, core::AttributeMap& key) { soft_.generate_key(m, key); }

void TpmBackend::import_key(core::AttributeMap& key) {
  const CK_OBJECT_CLASS cls = core::get_ulong(key, CKA_CLASS).value_or(CK_UNAVAILABLE_INFORMATION);
  const CK_KEY_TYPE kt = core::get_ulong(key, CKA_KEY_TYPE).value_or(CK_UNAVAILABLE_INFORMATION);
  if (cls != CKO_PRIVATE_KEY) return soft_.import_key(key);  // public and secret keys: checked, kept as given
  require(kt != CKK_EC_EDWARDS, CKR_CURVE_NOT_SUPPORTED, "the TPM cannot hold Ed25519 keys");
  {
    auto g = conn_->lock();
    import_private_key(g, key);
  }
  if (kt != CKK_RSA) return;  // the EC public point was computed from the private value
  // The TPM takes n and one prime without checking that the prime divides n: prove the key with one signature.
  static constexpr std::string_view kProbe = "keyseal: imported key check";
  MechanismParams m;
  m.type = CKM_SHA256_RSA_PKCS;
  SecureBytes sig;
  try {
    sig = make_signer(conn_, std::make_shared<const KeyBlobs>(blobs_of(key)), m, hashes_of(*info_))->run(view(kProbe));
  } catch (const TssError& e) {  // TPM2_Load refuses a prime that does not divide n (TPM_RC_BINDING)
    if (is_connection_error(e.tss_rc)) throw;
    fail(CKR_ATTRIBUTE_VALUE_INVALID, "the TPM refused the imported RSA key: " + e.detail);
  }
  try {
    const SecureBytes* n = core::get_bytes(key, CKA_MODULUS);
    const SecureBytes* e = core::get_bytes(key, CKA_PUBLIC_EXPONENT);
    crypto::make_verifier(crypto::rsa_public_key(view(*n), view(*e)), m)->verify(view(kProbe), view(sig));
  } catch (const Error&) {
    fail(CKR_ATTRIBUTE_VALUE_INVALID, "the RSA private key does not belong to its modulus");
  }
}

std::unique_ptr<Operation> TpmBackend::sign(const core::Object& key, const MechanismParams& m) {
  if (key.cls() == CKO_SECRET_KEY) return soft_.sign(key, m);
  return make_signer(conn_, blobs(key), m, hashes_of(*info_));
}

std::unique_ptr<Operation> TpmBackend::verify(const core::Object& key, const MechanismParams& m) {
  return soft_.verify(key, m);
}

std::unique_ptr<Operation> TpmBackend::encrypt(const core::Object& key, const MechanismParams& m) {
  return soft_.encrypt(key, m);
}

std::unique_ptr<Operation> TpmBackend::decrypt(const core::Object& key, const MechanismParams& m) {
  if (key.cls() == CKO_PRIVATE_KEY) return make_decryptor(conn_, blobs(key), m, hashes_of(*info_));
  return soft_.decrypt(key, m);
}

SecureBytes TpmBackend::derive(const core::Object& key, const MechanismParams& m) {
  require(m.type == CKM_ECDH1_DERIVE, CKR_MECHANISM_INVALID, "not a derivation mechanism");
  require(m.kdf == CKD_NULL, CKR_MECHANISM_PARAM_INVALID, "the TPM token derives with CKD_NULL only");
  return ecdh_zgen(*conn_, *blobs(key), view(m.public_data));
}

SecureBytes TpmBackend::wrap(const core::Object& wk, const MechanismParams& m, ByteView value) {
  return soft_.wrap(wk, m, value);
}

SecureBytes TpmBackend::unwrap(const core::Object& uk, const MechanismParams& m, ByteView wrapped) {
  if (uk.cls() == CKO_PRIVATE_KEY) return make_decryptor(conn_, blobs(uk), m, hashes_of(*info_))->run(wrapped);
  return soft_.unwrap(uk, m, wrapped);
}

uint64_t TpmBackend::tpm_commands() const { return conn_->commands(); }

size_t TpmBackend::loaded_objects() const { return conn_->loaded_objects(); }

Status TpmBackend::status() { return status_of(*conn_); }

void TpmBackend::with_esys(const std::function<void(ESYS_CONTEXT*)>& fn) {
  auto g = conn_->lock();
  fn(g.ctx());
}

std::shared_ptr<core::Backend> connect_backend(const Options& o, std::string& why) {
  try {
    return std::make_shared<TpmBackend>(Connection::shared(o.tcti), o);
  } catch (const std::exception& e) {
    why = e.what();
  } catch (...) {
    why = "unknown failure while connecting to the TPM";
  }
  return nullptr;
}

Status probe_status(const std::string& tcti) {
  try {
    return status_of(*Connection::shared(tcti));
  } catch (const std::exception& e) {
    Status s;
    s.why = e.what();
    return s;
  }
}

}  // namespace keyseal::tpm
