// A token's objects (PKCS#11 3.0 sections 4.4 and 5.7): handles, the store rows behind token objects with
// their secret components sealed under the master key, session objects, and search through the store's
// indexes. Another process's commits are noticed through the store's data version.
#include "common/log.h"
#include "core/attribute_policy.h"
#include "core/record_auth.h"
#include "core/token.h"
#include "crypto/aead.h"
#include "crypto/random.h"
#include "store/attribute_codec.h"
#include "store/token_db.h"

#include <chrono>
#include <cstring>

namespace keyseal::core {
namespace {

}  // namespace

std::string new_object_uid() {
  static const char* d = "0123456789abcdef";
  SecureBytes r = crypto::random_bytes(16);
  std::string s;
  for (uint8_t c : r) {
    s.push_back(d[c >> 4]);
    s.push_back(d[c & 15]);
  }
  return s;
}

namespace {

bool visible(const Object& o, bool user) { return user || !o.is_private(); }

}  // namespace

namespace {
constexpr int64_t kRecheckNs = 20'000'000;  // 20 ms
int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
}  // namespace

void Token::sync_locked() {
  last_check_ns_.store(now_ns(), std::memory_order_relaxed);
  const uint64_t v = db_->data_version();
  if (v != seen_version_) {
    seen_version_ = v;
    loaded_.clear();
    if (!master_key_.empty()) refresh_keys_locked();
  }
}

CK_OBJECT_HANDLE Token::handle_for_row_locked(int64_t row, bool is_private) {
  auto it = row_handles_.find(row);
  if (it != row_handles_.end()) return it->second;
  const CK_OBJECT_HANDLE h = new_object_handle();
  row_handles_[row] = h;
  token_handles_[h] = RowRef{row, is_private, {}};
  return h;
}

// The profiles this token implements (PKCS#11 3.0 section 4.13, and the profiles specification), stated as
// read-only token objects that every session can find.
void Token::make_profiles() {
  for (CK_ULONG id : {CKP_BASELINE_PROVIDER, CKP_AUTHENTICATION_TOKEN, CKP_PUBLIC_CERTIFICATES_TOKEN}) {
    auto obj = std::make_shared<Object>();
    obj->handle = new_object_handle();
    obj->uid = uid_ + "-profile-" + std::to_string(id);
    set_ulong(obj->attrs, CKA_CLASS, CKO_PROFILE);
    set_ulong(obj->attrs, CKA_PROFILE_ID, id);
    set_bool(obj->attrs, CKA_TOKEN, true);
    set_bool(obj->attrs, CKA_PRIVATE, false);
    set_bool(obj->attrs, CKA_MODIFIABLE, false);
    set_bool(obj->attrs, CKA_COPYABLE, false);
    set_bool(obj->attrs, CKA_DESTROYABLE, false);
    set_bytes(obj->attrs, CKA_LABEL, ByteView());
    set_bytes(obj->attrs, CKA_UNIQUE_ID, view(obj->uid));
    profiles_[obj->handle] = obj;
  }
}

void Token::release_gone() noexcept {
  std::vector<AttributeMap> gone;
  {
    std::unique_lock g(mu_);
    gone.swap(gone_);
  }
  for (const AttributeMap& attrs : gone) {
    try {
      backend_->destroy_key(attrs);
    } catch (const Error& e) {
      log::warn("token in slot " + std::to_string(slot_) + ": the object is gone but the " +
                std::string(backend_->kind()) + " backend could not free its key: " + e.detail);
    } catch (const std::exception& e) {
      log::warn("token in slot " + std::to_string(slot_) + ": freeing a destroyed object's key: " + e.what());
    }
  }
}

void Token::drop_session_objects_locked(const std::function<bool(const Object&)>& which) {
  for (auto it = session_objects_.begin(); it != session_objects_.end();) {
    if (which(*it->second)) {
      gone_.push_back(it->second->attrs);
      it = session_objects_.erase(it);
    } else {
      ++it;
    }
  }
}

void Token::forget_private_locked() {
  drop_session_objects_locked([](const Object& o) { return o.is_private(); });
  for (auto it = token_handles_.begin(); it != token_handles_.end();) {
    if (it->second.is_private) {
      row_handles_.erase(it->second.row);
      loaded_.erase(it->first);
      it = token_handles_.erase(it);
    } else {
      ++it;
    }
  }
}

store::ObjectRow Token::to_row(const Object& obj) const {
  store::ObjectRow row = record_columns(obj.attrs, obj.uid);
  row.id = obj.row_id;
  if (!keys_.authenticated() && db_->get_meta(kRecordFormatKey).has_value())
    fail(CKR_USER_NOT_LOGGED_IN, "changing token objects needs a login (records are authenticated under the "
                                 "token's PIN-protected key)");
  row.attrs = encode_record(keys_, uid_, obj.uid, obj.attrs);
  return row;
}

ObjectPtr Token::decode_row(CK_OBJECT_HANDLE h, const store::ObjectRow& row) {
  // A handle names one object for its whole life: a record that another object's record was copied over
  // is refused rather than answered under the old handle.
  auto ref = token_handles_.find(h);
  if (ref != token_handles_.end() && !ref->second.uid.empty() && ref->second.uid != row.uid)
    fail(CKR_DEVICE_ERROR, "object " + std::to_string(row.id) + ": record now holds another object");
  DecodedRecord d = decode_record(keys_, uid_, row);
  auto obj = std::make_shared<Object>();
  obj->handle = h;
  obj->row_id = row.id;
  obj->uid = row.uid;
  obj->attrs = std::move(d.attrs);
  obj->secrets_loaded = d.secrets_loaded;
  if (ref != token_handles_.end()) ref->second.uid = row.uid;
  return obj;
}

ObjectPtr Token::load_locked(CK_OBJECT_HANDLE h, int64_t row) {
  auto r = db_->load_object(row);
  if (!r) fail(CKR_OBJECT_HANDLE_INVALID, "object no longer exists");
  ObjectPtr o;
  try {
    o = decode_row(h, *r);
  } catch (const Error& e) {
    log::error("token in slot " + std::to_string(slot_) + ": refusing object: " + e.detail);
    throw;
  }
  loaded_[h] = o;
  return o;
}

ObjectPtr Token::object(CK_OBJECT_HANDLE h, bool user) {
  {
    // Fast path, shared lock only: a session object, or a token object already loaded while the store is
    // unchanged by other processes. This is the path of every C_SignInit with a key in use.
    std::shared_lock g(mu_);
    if (auto it = session_objects_.find(h); it != session_objects_.end()) {
      require(visible(*it->second, user), CKR_OBJECT_HANDLE_INVALID, "private object needs a login");
      return it->second;
    }
    if (auto it = profiles_.find(h); it != profiles_.end()) return it->second;
    if (auto it = loaded_.find(h); it != loaded_.end()) {
      const int64_t now = now_ns();
      bool fresh = now - last_check_ns_.load(std::memory_order_relaxed) < kRecheckNs;
      if (!fresh && db_->data_version() == seen_version_) {
        last_check_ns_.store(now, std::memory_order_relaxed);
        fresh = true;
      }
      if (fresh) {
        require(visible(*it->second, user), CKR_OBJECT_HANDLE_INVALID, "private object needs a login");
        return it->second;
      }
    }
  }
  std::unique_lock g(mu_);
  sync_locked();
  auto th = token_handles_.find(h);
  require(th != token_handles_.end(), CKR_OBJECT_HANDLE_INVALID, "no such object");
  ObjectPtr o;
  if (auto it = loaded_.find(h); it != loaded_.end()) o = it->second;
  else o = load_locked(h, th->second.row);
  require(visible(*o, user), CKR_OBJECT_HANDLE_INVALID, "private object needs a login");
  return o;
}

ObjectPtr Token::add_object(AttributeMap attrs, CK_SESSION_HANDLE owner) {
  std::vector<AttributeMap> one;
  one.push_back(std::move(attrs));
  return add_objects(std::move(one), owner).front();
}

std::vector<ObjectPtr> Token::add_objects(std::vector<AttributeMap> attrs, CK_SESSION_HANDLE owner) {
  std::vector<std::shared_ptr<Object>> objs;
  for (auto& a : attrs) {
    auto obj = std::make_shared<Object>();
    const SecureBytes* u = get_bytes(a, CKA_UNIQUE_ID);
    obj->uid = u ? std::string(u->begin(), u->end()) : new_object_uid();
    set_bytes(a, CKA_UNIQUE_ID, view(obj->uid));
    obj->attrs = std::move(a);
    obj->owner = obj->is_token() ? 0 : owner;
    objs.push_back(std::move(obj));
  }
  std::unique_lock g(mu_);
  // Token objects first, all in one store transaction; session objects only once that has committed.
  db_->transaction([&] {
    for (auto& obj : objs)
      if (obj->is_token()) obj->row_id = db_->insert_object(to_row(*obj));
  });
  std::vector<ObjectPtr> out;
  for (auto& obj : objs) {
    if (obj->is_token()) {
      obj->handle = handle_for_row_locked(obj->row_id, obj->is_private());
      token_handles_[obj->handle].uid = obj->uid;
      loaded_[obj->handle] = obj;
    } else {
      obj->handle = new_object_handle();
      session_objects_[obj->handle] = obj;
    }
    out.push_back(obj);
  }
  return out;
}

ObjectPtr Token::replace_object(const Object& old, AttributeMap attrs) {
  auto obj = std::make_shared<Object>();
  obj->handle = old.handle;
  obj->row_id = old.row_id;
  obj->owner = old.owner;
  obj->uid = old.uid;
  obj->attrs = std::move(attrs);
  std::unique_lock g(mu_);
  if (old.row_id == 0) {
    auto it = session_objects_.find(old.handle);
    require(it != session_objects_.end(), CKR_OBJECT_HANDLE_INVALID, "object was destroyed");
    if (it->second.get() != &old) return nullptr;  // replaced meanwhile: the caller checks again
    it->second = obj;
    return obj;
  }
  if (auto it = loaded_.find(old.handle); it != loaded_.end() && it->second.get() != &old) return nullptr;
  require(old.secrets_loaded, CKR_USER_NOT_LOGGED_IN, "changing this object needs a login");
  db_->update_object(to_row(*obj));
  loaded_[obj->handle] = obj;
  return obj;
}

void Token::destroy_object(const Object& obj) {
  std::unique_lock g(mu_);
  if (obj.row_id == 0) {
    require(session_objects_.erase(obj.handle) != 0, CKR_OBJECT_HANDLE_INVALID, "object was destroyed");
  } else {
    db_->delete_object(obj.row_id);
    loaded_.erase(obj.handle);
    token_handles_.erase(obj.handle);  // the handle is retired, never reused
    row_handles_.erase(obj.row_id);
  }
  gone_.push_back(obj.attrs);
  g.unlock();
  release_gone();
}

std::vector<CK_OBJECT_HANDLE> Token::find(const AttributeMap& tmpl, bool user) {
  std::vector<CK_OBJECT_HANDLE> out;
  const auto token_flag = get_bool(tmpl, CKA_TOKEN);
  std::unique_lock g(mu_);
  if (token_flag.value_or(true)) {
    sync_locked();
    store::ObjectQuery q;
    q.cls = get_ulong(tmpl, CKA_CLASS);
    q.key_type = get_ulong(tmpl, CKA_KEY_TYPE);
    if (!q.key_type) q.key_type = get_ulong(tmpl, CKA_CERTIFICATE_TYPE);
    if (auto* id = get_bytes(tmpl, CKA_ID)) q.ckaid = *id;
    if (auto* l = get_bytes(tmpl, CKA_LABEL)) q.label = std::string(l->begin(), l->end());
    if (auto* u = get_bytes(tmpl, CKA_UNIQUE_ID)) q.uid = std::string(u->begin(), u->end());
    if (auto p = get_bool(tmpl, CKA_PRIVATE); p && *p && !user) return out;
    q.include_private = user;
    for (const auto& row : db_->find_objects(q)) {
      const CK_OBJECT_HANDLE h = handle_for_row_locked(row.id, row.is_private);
      ObjectPtr o;
      if (auto it = loaded_.find(h); it != loaded_.end()) {
        o = it->second;
      } else {
        try {
          loaded_[h] = o = decode_row(h, row);
        } catch (const Error& e) {
          // One unreadable record must not hide the rest of the token.
          log::error("token in slot " + std::to_string(slot_) + ": skipping unreadable object: " + e.detail);
          continue;
        }
      }
      if (visible(*o, user) && matches(o->attrs, tmpl)) out.push_back(h);
    }
  }
  if (token_flag.value_or(true)) {
    for (const auto& [h, o] : profiles_)
      if (matches(o->attrs, tmpl)) out.push_back(h);
  }
  if (!token_flag.value_or(false)) {
    for (const auto& [h, o] : session_objects_)
      if (visible(*o, user) && matches(o->attrs, tmpl)) out.push_back(h);
  }
  return out;
}

void Token::drop_session_objects(CK_SESSION_HANDLE owner) {
  std::unique_lock g(mu_);
  drop_session_objects_locked([&](const Object& o) { return o.owner == owner; });
  g.unlock();
  release_gone();
}

void Token::drop_all_session_objects() {
  std::unique_lock g(mu_);
  drop_session_objects_locked([](const Object&) { return true; });
  g.unlock();
  release_gone();
}

}  // namespace keyseal::core
