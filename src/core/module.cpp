// Slots, tokens and sessions of the module (PKCS#11 3.0 sections 5.5 slot and token management and 5.6 session
// management). A token that cannot be opened disables its own slot with a log line; the others keep working.
#include "core/module.h"

#include "common/log.h"
#include "core/mechanisms.h"
#include "core/padded.h"
#include "store/token_dir.h"

#include <atomic>
#include <cstring>

namespace keyseal::core {
namespace {

// A mechanism is offered when the backend can do it, or when it needs no key the backend holds (digests,
// and verification or encryption, which run in crypto/ with public keys).
bool offered(Backend& b, const MechanismRow& row) {
  return b.supports(row.type) || (row.flags & (CKF_DIGEST | CKF_VERIFY | CKF_ENCRYPT)) == row.flags;
}

CK_SESSION_HANDLE new_session_handle() {
  static std::atomic<CK_SESSION_HANDLE> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

}  // namespace

Module::Module(Config config, std::vector<std::shared_ptr<Backend>> backends, std::string unavailable)
    : config_(std::move(config)), backends_(std::move(backends)), unavailable_(std::move(unavailable)) {
  // Slots, token info and C_InitToken all speak for the first backend: a module without one is a
  // composition error, refused here rather than met as a null pointer later.
  require(!backends_.empty() && backends_.front() != nullptr, CKR_GENERAL_ERROR, "no token backend");
  std::unique_lock g(slots_mu_);
  rescan_locked();
}

Module::~Module() = default;

void Module::rescan_locked() {
  for (const auto& f : store::list_token_files(config_.store_dir)) {
    auto it = slots_.find(f.slot_id);
    if (it != slots_.end() && (it->second.token || !it->second.broken.empty())) continue;
    Slot s;
    s.id = f.slot_id;
    for (const auto& b : backends_) {
      try {
        s.token = Token::open(f.slot_id, f.path, b, config_);
        s.broken.clear();
        break;
      } catch (const Error& e) {
        s.broken = e.detail;
      }
    }
    if (!s.token && !unavailable_.empty()) s.broken += " (" + unavailable_ + ")";
    if (!s.token) log::error("token in slot " + std::to_string(f.slot_id) + " disabled: " + s.broken);
    slots_[f.slot_id] = std::move(s);
  }
  CK_SLOT_ID next = 0;
  for (const auto& [id, s] : slots_)
    if (s.token || !s.broken.empty()) next = std::max(next, id + 1);
  empty_slot_ = next;
  if (!slots_.count(empty_slot_)) slots_[empty_slot_] = Slot{empty_slot_, nullptr, ""};
  // Forget empty slots left behind by a token another process created.
  std::erase_if(slots_, [&](const auto& kv) {
    return kv.first != empty_slot_ && !kv.second.token && kv.second.broken.empty();
  });
}

Module::Slot& Module::slot_locked(CK_SLOT_ID id) {
  auto it = slots_.find(id);
  require(it != slots_.end(), CKR_SLOT_ID_INVALID, "no such slot");
  return it->second;
}

std::shared_ptr<Token> Module::token_of(CK_SLOT_ID id) {
  std::shared_lock g(slots_mu_);
  Slot& s = slot_locked(id);
  require(s.broken.empty(), CKR_TOKEN_NOT_PRESENT, "token disabled: " + s.broken);
  return s.token;
}

std::vector<CK_SLOT_ID> Module::slot_list(bool token_present) {
  std::unique_lock g(slots_mu_);
  rescan_locked();
  std::vector<CK_SLOT_ID> out;
  for (const auto& [id, s] : slots_)
    if (!token_present || s.broken.empty()) out.push_back(id);
  return out;
}

void Module::slot_info(CK_SLOT_ID id, CK_SLOT_INFO& info) {
  std::shared_lock g(slots_mu_);
  Slot& s = slot_locked(id);
  std::memset(&info, 0, sizeof info);
  std::string desc = s.token ? "keyseal " + std::string(s.token->backend().kind()) + " token"
                     : s.broken.empty() ? "keyseal empty slot (C_InitToken creates a token)"
                                        : "keyseal token (disabled: unreadable store)";
  put_padded(info.slotDescription, desc);
  put_padded(info.manufacturerID, "keyseal");
  info.flags = s.broken.empty() ? CKF_TOKEN_PRESENT : 0;
  info.hardwareVersion = {0, 0};
  info.firmwareVersion = {0, 1};
}

void Module::count_sessions(CK_SLOT_ID slot, CK_ULONG& all, CK_ULONG& rw) {
  all = rw = 0;
  std::shared_lock g(sessions_mu_);
  for (const auto& [h, s] : sessions_) {
    if (s->slot() != slot) continue;
    ++all;
    if (s->rw()) ++rw;
  }
}

void Module::token_info(CK_SLOT_ID id, CK_TOKEN_INFO& info) {
  std::shared_ptr<Token> t = token_of(id);
  CK_ULONG all, rw;
  count_sessions(id, all, rw);
  if (t) {
    t->fill_info(info, all, rw);
    return;
  }
  // The empty slot holds an uninitialised token (CKF_TOKEN_INITIALIZED clear) for C_InitToken.
  std::memset(&info, 0, sizeof info);
  put_padded(info.label, "");
  put_padded(info.manufacturerID, "keyseal");
  put_padded(info.model, std::string(backends_.front()->kind()) + " token");
  put_padded(info.serialNumber, "");
  info.flags = CKF_RNG | CKF_LOGIN_REQUIRED;
  info.ulMaxSessionCount = info.ulMaxRwSessionCount = CK_EFFECTIVELY_INFINITE;
  info.ulMaxPinLen = 255;
  info.ulMinPinLen = 4;
  info.ulTotalPublicMemory = info.ulFreePublicMemory = CK_UNAVAILABLE_INFORMATION;
  info.ulTotalPrivateMemory = info.ulFreePrivateMemory = CK_UNAVAILABLE_INFORMATION;
  info.firmwareVersion = {0, 1};
  std::memset(info.utcTime, ' ', sizeof info.utcTime);
}

Backend& Module::backend_for_slot_locked(const Slot& s) {
  return s.token ? s.token->backend() : *backends_.front();
}

std::vector<CK_MECHANISM_TYPE> Module::mechanism_list(CK_SLOT_ID id) {
  std::shared_lock g(slots_mu_);
  Backend& b = backend_for_slot_locked(slot_locked(id));
  std::vector<CK_MECHANISM_TYPE> out;
  for (const auto& row : mechanism_table())
    if (offered(b, row)) out.push_back(row.type);
  return out;
}

CK_MECHANISM_INFO Module::mechanism_info(CK_SLOT_ID id, CK_MECHANISM_TYPE type) {
  std::shared_lock g(slots_mu_);
  Backend& b = backend_for_slot_locked(slot_locked(id));
  const MechanismRow* row = find_mechanism(type);
  require(row && offered(b, *row), CKR_MECHANISM_INVALID, "mechanism not supported");
  CK_MECHANISM_INFO info{row->min_key, row->max_key, row->flags};
  b.limit_mechanism_info(type, info);
  return info;
}

void Module::init_token(CK_SLOT_ID id, ByteView so_pin, ByteView label32) {
  std::unique_lock g(slots_mu_);
  Slot& s = slot_locked(id);
  require(s.broken.empty(), CKR_TOKEN_NOT_PRESENT, "token disabled: " + s.broken);
  {
    std::shared_lock sg(sessions_mu_);
    for (const auto& [h, sess] : sessions_)
      require(sess->slot() != id, CKR_SESSION_EXISTS, "close the token's sessions first");
  }
  if (s.token) {
    s.token->reinitialize(so_pin, label32);
    return;
  }
  Backend& b = *backends_.front();
  if (config_.backend != "auto" && b.kind() != config_.backend)
    fail(CKR_DEVICE_ERROR, "cannot create a " + config_.backend + " token: " + unavailable_);
  store::ensure_store_dir(config_.store_dir);
  s.token = Token::create(id, store::token_file_path(config_.store_dir, id), backends_.front(), config_, so_pin,
                          label32);
  rescan_locked();  // a new empty slot appears
}

CK_SESSION_HANDLE Module::open_session(CK_SLOT_ID id, CK_FLAGS flags) {
  require(flags & CKF_SERIAL_SESSION, CKR_SESSION_PARALLEL_NOT_SUPPORTED, "CKF_SERIAL_SESSION must be set");
  std::shared_ptr<Token> t = token_of(id);
  require(t != nullptr, CKR_TOKEN_NOT_RECOGNIZED, "the token in this slot is not initialised");
  const bool rw = flags & CKF_RW_SESSION;
  if (rw) require(!t->write_protected(), CKR_TOKEN_WRITE_PROTECTED, "the token's store is read-only");
  if (!rw) require(t->login_state() != LoginState::so, CKR_SESSION_READ_WRITE_SO_EXISTS, "the SO is logged in");
  const CK_SESSION_HANDLE h = new_session_handle();
  std::shared_lock slots(slots_mu_);  // C_InitToken checks "no sessions" under the exclusive lock
  std::unique_lock g(sessions_mu_);
  sessions_[h] = std::make_shared<Session>(h, id, std::move(t), rw);
  return h;
}

std::shared_ptr<Session> Module::session(CK_SESSION_HANDLE h) {
  std::shared_lock g(sessions_mu_);
  auto it = sessions_.find(h);
  require(it != sessions_.end(), CKR_SESSION_HANDLE_INVALID, "no such session");
  return it->second;
}

void Module::close_session(CK_SESSION_HANDLE h) {
  std::shared_ptr<Session> s;
  {
    std::unique_lock g(sessions_mu_);
    auto it = sessions_.find(h);
    require(it != sessions_.end(), CKR_SESSION_HANDLE_INVALID, "no such session");
    s = it->second;
    sessions_.erase(it);
  }
  {
    // Wait for a call still running on this session, so no object it creates outlives it.
    std::lock_guard<std::mutex> sg(s->mu);
    s->close();
    s->token().drop_session_objects(h);
  }
  // Closing the application's last session with a token logs it out (section 5.6, C_CloseSession). Decided
  // and done under the session table's lock, so a session opened meanwhile is not logged out behind its back.
  std::unique_lock g(sessions_mu_);
  for (const auto& [oh, o] : sessions_)
    if (o->slot() == s->slot()) return;
  s->token().all_sessions_closed();  // also ends a C_Login still checking its PIN
}

void Module::close_all_sessions(CK_SLOT_ID id) {
  std::shared_ptr<Token> t = token_of(id);
  std::vector<CK_SESSION_HANDLE> handles;
  {
    std::shared_lock g(sessions_mu_);
    for (const auto& [h, s] : sessions_)
      if (s->slot() == id) handles.push_back(h);
  }
  for (CK_SESSION_HANDLE h : handles) {
    try {
      close_session(h);
    } catch (const Error&) {
    }
  }
}

void Module::login(CK_SESSION_HANDLE h, CK_USER_TYPE who, ByteView pin) {
  std::shared_ptr<Session> s = session(h);
  if (who == CKU_CONTEXT_SPECIFIC) {
    std::lock_guard<std::mutex> g(s->mu);
    s->context_login(pin);
    return;
  }
  if (who == CKU_SO) {
    std::shared_lock g(sessions_mu_);
    for (const auto& [oh, o] : sessions_)
      require(o->slot() != s->slot() || o->rw(), CKR_SESSION_READ_ONLY_EXISTS, "a read-only session is open");
  }
  s->token().login(who, pin);
}

void Module::logout(CK_SESSION_HANDLE h) {
  std::shared_ptr<Session> s = session(h);
  s->token().logout();
  // Active operations keep the key they were started with; new ones need the login again.
}

}  // namespace keyseal::core
