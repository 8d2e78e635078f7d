// Token identity, PINs and login (PKCS#11 3.0 sections 5.5 and 5.6). Objects are in token_objects.cpp.
#include "core/token.h"

#include "common/log.h"
#include "core/padded.h"
#include "store/token_db.h"
#include "store/token_schema.h"

#include <algorithm>
#include <cstring>

namespace keyseal::core {
namespace {

constexpr CK_ULONG kMinPin = 4, kMaxPin = 255;
// A token made before the retry limit was kept in the token uses the caller's setting, but never more than
// the default: a process's environment cannot lift a token's limit.
constexpr uint32_t kDefaultPinLimit = 10;
constexpr uint32_t kMaxPinLimit = 1000000;

uint32_t configured_limit(const Config& c) { return std::clamp<uint32_t>(c.max_pin_attempts, 1, kMaxPinLimit); }
constexpr std::string_view kFormat = "keyseal-token-1";

std::string meta_string(store::TokenDb& db, std::string_view key) {
  auto v = db.get_meta(key);
  return v ? std::string(v->begin(), v->end()) : std::string();
}

// What survives re-initialisation: the store's schema and the token's identity (kept so other processes'
// open handles on the file still name this token).
bool is_identity_key(std::string_view key) {
  return key == store::kSchemaVersionKey || key == "format" || key == "backend" || key == "uid" ||
         key == "label";
}

const char* role(CK_USER_TYPE who) { return who == CKU_SO ? "so" : "user"; }

void check_pin_length(ByteView pin) {
  require(pin.size() >= kMinPin && pin.size() <= kMaxPin, CKR_PIN_LEN_RANGE, "PIN length out of range (4-255)");
}

}  // namespace

CK_OBJECT_HANDLE new_object_handle() {
  static std::atomic<CK_OBJECT_HANDLE> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

Token::Token(CK_SLOT_ID slot, std::unique_ptr<store::TokenDb> db, std::shared_ptr<Backend> backend,
             const Config& config)
    : slot_(slot), db_(std::move(db)), backend_(std::move(backend)), config_(config) {}

Token::~Token() = default;

const std::filesystem::path& Token::file() const { return db_->path(); }

std::shared_ptr<Token> Token::open(CK_SLOT_ID slot, const std::filesystem::path& file,
                                   std::shared_ptr<Backend> backend, const Config& config) {
  auto db = store::TokenDb::open(file, store::OpenMode::existing);
  if (meta_string(*db, "format") != kFormat)
    fail(CKR_TOKEN_NOT_RECOGNIZED, file.string() + ": not a keyseal token (format marker missing)");
  if (meta_string(*db, "backend") != backend->kind())
    fail(CKR_TOKEN_NOT_RECOGNIZED, file.string() + ": token of backend '" + meta_string(*db, "backend") +
                                       "' is not available here");
  std::shared_ptr<Token> t(new Token(slot, std::move(db), std::move(backend), config));
  t->uid_ = meta_string(*t->db_, "uid");
  require(!t->uid_.empty(), CKR_TOKEN_NOT_RECOGNIZED, "token has no identity");
  t->seen_version_ = t->db_->data_version();
  t->make_profiles();
  return t;
}

std::shared_ptr<Token> Token::create(CK_SLOT_ID slot, const std::filesystem::path& file,
                                     std::shared_ptr<Backend> backend, const Config& config, ByteView so_pin,
                                     ByteView label32) {
  check_pin_length(so_pin);
  auto db = store::TokenDb::open(file, store::OpenMode::create_new);
  std::shared_ptr<Token> t(new Token(slot, std::move(db), std::move(backend), config));
  t->uid_ = new_object_uid();  // same form as object ids: 32 hex digits
  try {
    t->db_->transaction([&] {
      t->db_->set_meta("format", view(kFormat));
      t->db_->set_meta("backend", view(t->backend_->kind()));
      t->db_->set_meta("uid", view(t->uid_));
      t->db_->set_meta("label", view(trim_padded(label32)));
      t->new_master_key(so_pin, configured_limit(config));
    });
  } catch (...) {
    // Closed first: Windows cannot delete a file SQLite still holds open.
    t.reset();
    std::error_code ec;
    std::filesystem::remove(file, ec);
    throw;
  }
  t->seen_version_ = t->db_->data_version();
  t->make_profiles();
  log::info("created token in slot " + std::to_string(slot) + " at " + file.string());
  return t;
}

std::string Token::label() const { return meta_string(*db_, "label"); }

bool Token::write_protected() const { return db_->read_only(); }

uint32_t Token::failures(CK_USER_TYPE who) {
  auto v = db_->get_meta(who == CKU_SO ? store::kPinFailuresSo : store::kPinFailuresUser);
  if (!v || v->empty()) return 0;
  return static_cast<uint32_t>(std::strtoul(std::string(v->begin(), v->end()).c_str(), nullptr, 10));
}

void Token::set_failures(CK_USER_TYPE who, uint32_t n) {
  db_->set_meta(who == CKU_SO ? store::kPinFailuresSo : store::kPinFailuresUser, view(std::to_string(n)));
}

uint32_t Token::pin_limit() {
  auto v = db_->get_meta(kPinLimitKey);
  if (!v) return std::min(configured_limit(config_), kDefaultPinLimit);  // token from before the limit was kept
  const std::string text(v->begin(), v->end());
  char* end = nullptr;
  const unsigned long n = std::strtoul(text.c_str(), &end, 10);
  // Unparseable is not a reason to allow more: the smallest sane limit until the next login repairs it.
  if (text.empty() || *end != '\0' || n < 1 || n > kMaxPinLimit) return 1;
  return static_cast<uint32_t>(n);
}

bool Token::records_authenticated() {
  auto v = db_->get_meta(kRecordFormatKey);
  return v && equal_bytes(view(*v), view(kRecordFormatAuthenticated));
}

void Token::new_master_key(ByteView so_pin, uint32_t limit) {
  SecureBytes mk = backend_->create_master_key(*db_, so_pin, limit);
  try {
    RecordKeys keys = derive_record_keys(view(mk), uid_, true);
    write_settings(keys, limit);
    keys.wipe();
  } catch (...) {
    // The caller's transaction rolls back; what the backend made outside the store (a TPM NV index) must not
    // outlive it.
    try {
      backend_->remove_pin(*db_, CKU_SO);
    } catch (const Error& e) {
      log::warn("token in slot " + std::to_string(slot_) + ": could not undo the SO PIN record: " + e.detail);
    }
    throw;
  }
}

bool Token::settings_verify(const RecordKeys& keys) {
  auto tag = db_->get_meta(kSettingsTagKey);
  return tag && equal_constant_time(view(*tag), view(settings_tag(keys, uid_, pin_limit())));
}

void Token::write_settings(const RecordKeys& keys, uint32_t limit) {
  db_->set_meta(kRecordFormatKey, view(kRecordFormatAuthenticated));
  db_->set_meta(kPinLimitKey, view(std::to_string(limit)));
  db_->set_meta(kSettingsTagKey, view(settings_tag(keys, uid_, limit)));
}

void Token::fill_info(CK_TOKEN_INFO& info, CK_ULONG sessions, CK_ULONG rw_sessions) {
  std::memset(&info, 0, sizeof info);
  put_padded(info.label, label());
  put_padded(info.manufacturerID, "keyseal");
  put_padded(info.model, std::string(backend_->kind()) + " token");
  put_padded(info.serialNumber, uid_.substr(0, 16));
  CK_FLAGS f = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED;
  if (backend_->has_pin(*db_, CKU_USER)) f |= CKF_USER_PIN_INITIALIZED;
  if (db_->read_only()) f |= CKF_WRITE_PROTECTED;
  for (CK_USER_TYPE who : {CKU_USER, CKU_SO}) {
    // The same counter C_Login consults: the backend's (a TPM PIN-fail index) where it keeps one.
    uint32_t n = 0, max = 0;
    try {
      if (auto hw = backend_->pin_counter(*db_, who)) {
        n = hw->failures, max = hw->limit;
      } else {
        n = failures(who), max = pin_limit();
      }
    } catch (const Error& e) {
      log::debug("token in slot " + std::to_string(slot_) + ": PIN counter unreadable: " + e.detail);
      continue;
    }
    const bool so = who == CKU_SO;
    if (n > 0 && n < max) f |= so ? CKF_SO_PIN_COUNT_LOW : CKF_USER_PIN_COUNT_LOW;
    if (n + 1 == max) f |= so ? CKF_SO_PIN_FINAL_TRY : CKF_USER_PIN_FINAL_TRY;
    if (n >= max) f |= so ? CKF_SO_PIN_LOCKED : CKF_USER_PIN_LOCKED;
  }
  info.flags = f;
  info.ulMaxSessionCount = CK_EFFECTIVELY_INFINITE;
  info.ulSessionCount = sessions;
  info.ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
  info.ulRwSessionCount = rw_sessions;
  info.ulMaxPinLen = kMaxPin;
  info.ulMinPinLen = kMinPin;
  info.ulTotalPublicMemory = CK_UNAVAILABLE_INFORMATION;
  info.ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
  info.ulTotalPrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info.ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info.hardwareVersion = {0, 0};
  info.firmwareVersion = {0, 1};
  std::memset(info.utcTime, ' ', sizeof info.utcTime);  // no clock on token (CKF_CLOCK_ON_TOKEN clear)
  backend_->fill_token_info(*db_, info);
}

void Token::require_unlocked(CK_USER_TYPE who, uint32_t failures, uint32_t limit) const {
  if (failures >= limit) fail(CKR_PIN_LOCKED, std::string(role(who)) + " PIN is locked");
}

void Token::after_unlock(CK_USER_TYPE who, ByteView master_key, ByteView pin) {
  try {
    backend_->after_unlock(*db_, who, master_key, pin);
  } catch (const Error& e) {  // the unlock stands; the upgrade is tried again next time
    log::warn("token in slot " + std::to_string(slot_) + ": record upgrade after login failed: " + e.detail);
  }
}

SecureBytes Token::verify_pin(CK_USER_TYPE who, ByteView pin) {
  const CK_USER_TYPE acct = who == CKU_SO ? CKU_SO : CKU_USER;
  if (acct == CKU_USER && !backend_->has_pin(*db_, CKU_USER))
    fail(CKR_USER_PIN_NOT_INITIALIZED, "the user PIN is not initialised");
  // A backend that counts wrong PINs in hardware (the TPM, for this token alone) decides by itself.
  if (auto hw = backend_->pin_counter(*db_, acct)) {
    require_unlocked(acct, hw->failures, hw->limit);
    SecureBytes mk = backend_->unlock(*db_, acct, pin);
    after_unlock(acct, view(mk), pin);
    return mk;
  }
  if (db_->read_only()) {
    // A store on a read-only medium cannot count: its lock state is honoured, wrong PINs are not counted
    // (docs/security.md; whoever reads the medium can copy the file and guess against the copy anyway).
    require_unlocked(acct, failures(acct), pin_limit());
    return backend_->unlock(*db_, acct, pin);
  }
  // The attempt is counted before the PIN is tried, in one store transaction, so parallel guesses (threads or
  // processes) cannot get past the limit; a right PIN sets the count back. The limit is the token's own.
  db_->transaction([&] {
    const uint32_t before = failures(acct);
    require_unlocked(acct, before, pin_limit());
    set_failures(acct, before + 1);
  });
  try {
    SecureBytes mk = backend_->unlock(*db_, acct, pin);
    db_->transaction([&] { set_failures(acct, 0); });
    after_unlock(acct, view(mk), pin);
    return mk;
  } catch (const Error& e) {
    if (e.rv == CKR_PIN_INCORRECT) {
      log::warn(std::string("wrong ") + role(acct) + " PIN for token in slot " + std::to_string(slot_));
    } else {
      // Not a guess (out of memory, the TPM did not answer): give this attempt back. Decrement what is there
      // now, in one transaction: writing back the count read before would erase other processes' failures.
      db_->transaction([&] {
        const uint32_t now = failures(acct);
        if (now > 0) set_failures(acct, now - 1);
      });
    }
    throw;
  }
}

LoginState Token::login_state() const {
  std::shared_lock g(mu_);
  return state_;
}

void Token::login(CK_USER_TYPE who, ByteView pin) {
  require(who == CKU_USER || who == CKU_SO, CKR_USER_TYPE_INVALID, "unknown user type");
  const LoginState want = who == CKU_SO ? LoginState::so : LoginState::user;
  auto check_state = [&] {
    if (state_ == want) fail(CKR_USER_ALREADY_LOGGED_IN, "already logged in");
    if (state_ != LoginState::none) fail(CKR_USER_ANOTHER_ALREADY_LOGGED_IN, "another user is logged in");
  };
  uint64_t epoch = 0;
  {
    std::shared_lock g(mu_);
    check_state();
    epoch = login_epoch_;
  }
  // Argon2id runs with no token lock held, so signers on other sessions are not stalled by a login.
  SecureBytes mk = verify_pin(who, pin);
  RecordKeys keys = open_records(view(mk));
  std::unique_lock g(mu_);
  check_state();  // another thread may have logged in meanwhile
  if (epoch != login_epoch_) {
    // The application closed its last session (or logged out) while the PIN was checked: that ends the
    // login too, or the token would stay logged in with no session to log it out.
    keys.wipe();
    fail(CKR_SESSION_CLOSED, "the session was closed during C_Login");
  }
  master_key_ = std::move(mk);
  keys_ = std::move(keys);
  state_ = want;
  loaded_.clear();  // reload token objects with their secret components, verifying each record
}

RecordKeys Token::open_records(ByteView master_key) {
  if (db_->read_only()) {
    // Nothing can be upgraded or repaired on a read-only medium: records are read as they are stored.
    const bool authenticated = records_authenticated();
    RecordKeys keys = derive_record_keys(master_key, uid_, authenticated);
    if (authenticated && !settings_verify(keys))
      log::error("token in slot " + std::to_string(slot_) + ": its settings were changed outside keyseal");
    return keys;
  }
  RecordKeys keys = derive_record_keys(master_key, uid_, true);
  db_->transaction([&] {
    if (!records_authenticated()) {
      RecordKeys legacy = derive_record_keys(master_key, uid_, false);
      upgrade_records(legacy, keys);
      legacy.wipe();
      return;
    }
    if (!settings_verify(keys)) {
      // Changed outside keyseal. The limit already served this login; what it was is unknown, so it becomes
      // at most the default, and says so.
      const uint32_t repaired = std::min(pin_limit(), kDefaultPinLimit);
      log::error("token in slot " + std::to_string(slot_) + ": its settings were changed outside keyseal; PIN " +
                 "retry limit set to " + std::to_string(repaired));
      write_settings(keys, repaired);
    }
  });
  return keys;
}

void Token::upgrade_records(const RecordKeys& legacy, const RecordKeys& keys) {
  // A token from before record authentication: every record is sealed under the master key itself and
  // untagged. Re-seal and tag them all, in the caller's transaction. A record that carries a tag, or whose
  // sealed values open only under the new sealing key, shows that the token was upgraded already and that
  // someone removed its format marker to have altered records re-tagged: then nothing is re-tagged.
  struct Pending {
    store::ObjectRow row;
    DecodedRecord rec;
  };
  std::vector<Pending> pending;
  bool downgraded = false;
  store::ObjectQuery all;
  all.include_private = true;
  for (auto& row : db_->find_objects(all)) {
    try {
      DecodedRecord rec = decode_record(legacy, uid_, row);
      if (rec.tagged) downgraded = true;
      pending.push_back({std::move(row), std::move(rec)});
    } catch (const Error& e) {
      try {
        (void)decode_record(RecordKeys{keys.seal, {}}, uid_, row);
        downgraded = true;
      } catch (const Error&) {
        log::error("token in slot " + std::to_string(slot_) + ": not upgrading unreadable object: " + e.detail);
      }
    }
  }
  if (downgraded) {
    log::error("token in slot " + std::to_string(slot_) + ": the records' format marker was removed outside " +
               "keyseal; it is restored and records without a valid tag stay refused");
    write_settings(keys, std::min(pin_limit(), kDefaultPinLimit));
    return;
  }
  for (auto& p : pending) {
    p.row.attrs = encode_record(keys, uid_, p.row.uid, p.rec.attrs);
    db_->update_object(p.row);
    for (auto& [type, value] : p.rec.attrs) secure_wipe(value.data(), value.size());
  }
  write_settings(keys, pin_limit());
  log::info("token in slot " + std::to_string(slot_) + ": " + std::to_string(pending.size()) +
            " object record(s) upgraded to authenticated records");
}

void Token::refresh_keys_locked() {
  if (!keys_.authenticated()) {
    if (!records_authenticated()) return;
    keys_.wipe();
    keys_ = derive_record_keys(view(master_key_), uid_, true);  // another process upgraded the records
  }
  if (settings_verify(keys_)) return;
  // Re-initialised by another process (a new master key), or the settings were tampered with: this login
  // can no longer vouch for the records.
  log::warn("token in slot " + std::to_string(slot_) + ": the token's master key changed; logged out");
  clear_login_locked();
}

void Token::clear_login_locked() {
  state_ = LoginState::none;
  secure_wipe(master_key_.data(), master_key_.size());
  master_key_.clear();
  keys_.wipe();
  loaded_.clear();
  ++login_epoch_;
  forget_private_locked();
}

void Token::all_sessions_closed() {
  std::unique_lock g(mu_);
  clear_login_locked();
  g.unlock();
  release_gone();
}

void Token::check_pin(CK_USER_TYPE who, ByteView pin) { verify_pin(who, pin); }

void Token::logout() {
  std::unique_lock g(mu_);
  require(state_ != LoginState::none, CKR_USER_NOT_LOGGED_IN, "not logged in");
  // Drops decrypted secret components; section 5.6.10: handles to private objects become invalid (also after
  // a new login), and private session objects are destroyed.
  clear_login_locked();
  g.unlock();
  release_gone();
}

void Token::init_pin(ByteView pin) {
  check_pin_length(pin);
  SecureBytes mk;
  {
    std::shared_lock g(mu_);
    require(state_ == LoginState::so, CKR_USER_NOT_LOGGED_IN, "C_InitPIN needs the SO logged in");
    mk = master_key_;
  }
  // Sealing runs Argon2id: no token lock and no store transaction are held meanwhile.
  backend_->set_pin(*db_, CKU_USER, view(mk), pin);
  db_->transaction([&] { set_failures(CKU_USER, 0); });
  secure_wipe(mk.data(), mk.size());
}

void Token::set_pin(ByteView old_pin, ByteView new_pin) {
  check_pin_length(new_pin);
  const LoginState s = login_state();
  const CK_USER_TYPE who = s == LoginState::so ? CKU_SO : CKU_USER;
  SecureBytes mk = verify_pin(who, old_pin);
  backend_->set_pin(*db_, who, view(mk), new_pin);
}

void Token::reinitialize(ByteView so_pin, ByteView label32) {
  SecureBytes old = verify_pin(CKU_SO, so_pin);
  std::unique_lock g(mu_);
  // What the backend keeps outside the store for the old objects (persisted PCP keys) is freed once they are
  // gone. Read first, under the old master key: only records whose tag verifies name what is freed.
  std::vector<AttributeMap> old_objects;
  {
    RecordKeys old_keys = derive_record_keys(view(old), uid_, records_authenticated());
    secure_wipe(old.data(), old.size());
    store::ObjectQuery every;
    every.include_private = true;
    for (const store::ObjectRow& row : db_->find_objects(every)) {
      try {
        old_objects.push_back(decode_record(old_keys, uid_, row).attrs);
      } catch (const Error&) {
        // a record that does not verify names nothing this token frees
      }
    }
    old_keys.wipe();
  }
  // A new token in the old file: a new master key (so no PIN record of the old owner's, put back, opens
  // anything of the new owner's), every object destroyed, the limit of the configuration of today, all in
  // one transaction.
  db_->transaction([&] {
    db_->delete_all_objects();
    // Whatever the backend kept for the old master key goes (its PIN records first, so a backend can free
    // what stands behind them, e.g. TPM NV indexes), then every record but the token's identity.
    backend_->remove_pin(*db_, CKU_USER);
    backend_->remove_pin(*db_, CKU_SO);
    for (const std::string& key : db_->meta_keys())
      if (!is_identity_key(key)) db_->delete_meta(key);
    set_failures(CKU_USER, 0);
    set_failures(CKU_SO, 0);
    db_->set_meta("label", view(trim_padded(label32)));
    new_master_key(so_pin, configured_limit(config_));
  });
  token_handles_.clear();
  row_handles_.clear();
  drop_session_objects_locked([](const Object&) { return true; });
  clear_login_locked();
  for (AttributeMap& attrs : old_objects) gone_.push_back(std::move(attrs));
  g.unlock();
  release_gone();
  log::info("re-initialised token in slot " + std::to_string(slot_));
}

}  // namespace keyseal::core
