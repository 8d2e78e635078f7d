// Token identity, PINs and login (PKCS#11 3.0 sections 5.5 and 5.6). Objects are in token_objects.cpp.
#include "core/token.h"

#include "common/log.h"
#include "core/padded.h"
#include "store/token_db.h"

#include <cstring>

namespace keyseal::core {
namespace {

constexpr CK_ULONG kMinPin = 4, kMaxPin = 255;
constexpr std::string_view kFormat = "keyseal-token-1";

std::string meta_string(store::TokenDb& db, std::string_view key) {
  auto v = db.get_meta(key);
  return v ? std::string(v->begin(), v->end()) : std::string();
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
      SecureBytes mk = t->backend_->create_master_key(*t->db_, so_pin);
    });
  } catch (...) {
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

uint32_t Token::failures(CK_USER_TYPE who) {
  auto v = db_->get_meta(who == CKU_SO ? store::kPinFailuresSo : store::kPinFailuresUser);
  if (!v || v->empty()) return 0;
  return static_cast<uint32_t>(std::strtoul(std::string(v->begin(), v->end()).c_str(), nullptr, 10));
}

void Token::set_failures(CK_USER_TYPE who, uint32_t n) {
  db_->set_meta(who == CKU_SO ? store::kPinFailuresSo : store::kPinFailuresUser, view(std::to_string(n)));
}

void Token::fill_info(CK_TOKEN_INFO& info, CK_ULONG sessions, CK_ULONG rw_sessions) {
  std::memset(&info, 0, sizeof info);
  put_padded(info.label, label());
  put_padded(info.manufacturerID, "keyseal");
  put_padded(info.model, std::string(backend_->kind()) + " token");
  put_padded(info.serialNumber, uid_.substr(0, 16));
  CK_FLAGS f = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_TOKEN_INITIALIZED;
  const uint32_t max = config_.max_pin_attempts;
  if (backend_->has_pin(*db_, CKU_USER)) f |= CKF_USER_PIN_INITIALIZED;
  for (CK_USER_TYPE who : {CKU_USER, CKU_SO}) {
    const uint32_t n = failures(who);
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

SecureBytes Token::verify_pin(CK_USER_TYPE who, ByteView pin) {
  const CK_USER_TYPE acct = who == CKU_SO ? CKU_SO : CKU_USER;
  if (acct == CKU_USER && !backend_->has_pin(*db_, CKU_USER))
    fail(CKR_USER_PIN_NOT_INITIALIZED, "the user PIN is not initialised");
  const uint32_t max = config_.max_pin_attempts;
  // The attempt is counted before the PIN is tried, in one store transaction, so parallel guesses (threads or
  // processes) cannot get past the limit; a right PIN sets the count back.
  uint32_t before = 0;
  db_->transaction([&] {
    before = failures(acct);
    if (before >= max) fail(CKR_PIN_LOCKED, std::string(role(acct)) + " PIN is locked");
    set_failures(acct, before + 1);
  });
  try {
    SecureBytes mk = backend_->unlock(*db_, acct, pin);
    db_->transaction([&] { set_failures(acct, 0); });
    try {
      backend_->after_unlock(*db_, acct, view(mk), pin);
    } catch (const Error& e) {  // the unlock stands; the upgrade is tried again next time
      log::warn("token in slot " + std::to_string(slot_) + ": record upgrade after login failed: " + e.detail);
    }
    return mk;
  } catch (const Error& e) {
    if (e.rv == CKR_PIN_INCORRECT) {
      log::warn(std::string("wrong ") + role(acct) + " PIN for token in slot " + std::to_string(slot_));
    } else {
      db_->transaction([&] { set_failures(acct, before); });  // not a guess: give the attempt back
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
  {
    std::shared_lock g(mu_);
    check_state();
  }
  // Argon2id runs with no token lock held, so signers on other sessions are not stalled by a login.
  SecureBytes mk = verify_pin(who, pin);
  std::unique_lock g(mu_);
  check_state();  // another thread may have logged in meanwhile
  master_key_ = std::move(mk);
  state_ = want;
  loaded_.clear();  // reload token objects with their secret components
}

void Token::check_pin(CK_USER_TYPE who, ByteView pin) { verify_pin(who, pin); }

void Token::logout() {
  std::unique_lock g(mu_);
  require(state_ != LoginState::none, CKR_USER_NOT_LOGGED_IN, "not logged in");
  state_ = LoginState::none;
  secure_wipe(master_key_.data(), master_key_.size());
  master_key_.clear();
  loaded_.clear();  // drop decrypted secret components
  // Section 5.6.10: handles to private objects become invalid (also after a new login), and private session
  // objects are destroyed.
  forget_private_locked();
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
}

void Token::set_pin(ByteView old_pin, ByteView new_pin) {
  check_pin_length(new_pin);
  const LoginState s = login_state();
  const CK_USER_TYPE who = s == LoginState::so ? CKU_SO : CKU_USER;
  SecureBytes mk = verify_pin(who, old_pin);
  backend_->set_pin(*db_, who, view(mk), new_pin);
}

void Token::reinitialize(ByteView so_pin, ByteView label32) {
  verify_pin(CKU_SO, so_pin);
  std::unique_lock g(mu_);
  db_->transaction([&] {
    db_->delete_all_objects();
    backend_->remove_pin(*db_, CKU_USER);
    set_failures(CKU_USER, 0);
    db_->set_meta("label", view(trim_padded(label32)));
  });
  token_handles_.clear();
  row_handles_.clear();
  loaded_.clear();
  session_objects_.clear();
  state_ = LoginState::none;
  secure_wipe(master_key_.data(), master_key_.size());
  master_key_.clear();
  log::info("re-initialised token in slot " + std::to_string(slot_));
}

}  // namespace keyseal::core
