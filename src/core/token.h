// A token (PKCS#11 3.0 sections 4.3, 5.5, 5.6, 5.7): its identity, its PINs with a per-token retry counter, the
// login state shared by the application's sessions, and its objects (token objects in the store, session
// objects in memory). Thread-safe; never calls back into sessions or the module (lock order: token before
// store).
#pragma once
#include "common/secure_bytes.h"
#include "core/attributes.h"
#include "core/backend.h"
#include "core/config.h"
#include "core/object.h"
#include "core/record_auth.h"
#include "platform/shared_mutex.h"

#include <keyseal/pkcs11.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

namespace keyseal::store {
class TokenDb;
struct ObjectRow;
}

namespace keyseal::core {

enum class LoginState { none, user, so };

CK_OBJECT_HANDLE new_object_handle();  // never reused while the module is loaded
std::string new_object_uid();          // a fresh CKA_UNIQUE_ID

class Token {
 public:
  // Opens the token in `file`; throws Error(CKR_TOKEN_NOT_RECOGNIZED) when it is corrupt or not a token.
  static std::shared_ptr<Token> open(CK_SLOT_ID slot, const std::filesystem::path& file,
                                     std::shared_ptr<Backend> backend, const Config& config);
  // Creates a new token file (C_InitToken on the empty slot).
  static std::shared_ptr<Token> create(CK_SLOT_ID slot, const std::filesystem::path& file,
                                       std::shared_ptr<Backend> backend, const Config& config, ByteView so_pin,
                                       ByteView label32);
  ~Token();

  CK_SLOT_ID slot_id() const { return slot_; }
  const std::filesystem::path& file() const;
  Backend& backend() { return *backend_; }
  void fill_info(CK_TOKEN_INFO& info, CK_ULONG sessions, CK_ULONG rw_sessions);
  std::string label() const;
  bool write_protected() const;  // the store is on a read-only medium (CKF_WRITE_PROTECTED)

  // C_InitToken on an initialised token: checks the SO PIN, destroys every object, removes the user PIN.
  void reinitialize(ByteView so_pin, ByteView label32);
  LoginState login_state() const;
  void login(CK_USER_TYPE who, ByteView pin);   // checks state first (already logged in etc.)
  void check_pin(CK_USER_TYPE who, ByteView pin); // counts retries; for CKU_CONTEXT_SPECIFIC and C_SetPIN
  void logout();
  void init_pin(ByteView pin);                  // SO logged in: sets the user PIN and unlocks it
  void set_pin(ByteView old_pin, ByteView new_pin);  // changes the PIN of who is logged in (user if none)

  // Objects. `user` says whether private objects are visible.
  ObjectPtr object(CK_OBJECT_HANDLE h, bool user);
  ObjectPtr add_object(AttributeMap attrs, CK_SESSION_HANDLE owner);  // CKA_TOKEN picks where it goes
  // Several objects at once (a key pair): the token objects among them are stored in one transaction, so
  // a crash never leaves one without the other.
  std::vector<ObjectPtr> add_objects(std::vector<AttributeMap> attrs, CK_SESSION_HANDLE owner);
  // C_SetAttributeValue: nullptr when `old` is no longer the current object (changed by another thread).
  ObjectPtr replace_object(const Object& old, AttributeMap attrs);
  void destroy_object(const Object& obj);
  std::vector<CK_OBJECT_HANDLE> find(const AttributeMap& tmpl, bool user);
  void drop_session_objects(CK_SESSION_HANDLE owner);  // session closed
  void drop_all_session_objects();
  // The application's last session with this token closed: log out, and make a login still running
  // (Argon2id, the TPM) end without logging in.
  void all_sessions_closed();

 private:
  Token(CK_SLOT_ID slot, std::unique_ptr<store::TokenDb> db, std::shared_ptr<Backend> backend,
        const Config& config);
  void sync_locked();  // drop cached token objects when another process changed the store
  ObjectPtr load_locked(CK_OBJECT_HANDLE h, int64_t row);
  ObjectPtr decode_row(CK_OBJECT_HANDLE h, const store::ObjectRow& row);
  store::ObjectRow to_row(const Object& obj) const;
  CK_OBJECT_HANDLE handle_for_row_locked(int64_t row, bool is_private);
  void make_profiles();
  void forget_private_locked();  // C_Logout: private handles die, private session objects are destroyed
  // Session objects for which `which` holds leave the token; what the backend kept for each is freed by the
  // next release_gone().
  void drop_session_objects_locked(const std::function<bool(const Object&)>& which);
  // Outside mu_: the backend's destroy_key for every object that left the token (gone_), a failure logged
  // (the object stays gone). A backend call may be a TPM round trip: no token lock is held across it.
  void release_gone() noexcept;
  uint32_t failures(CK_USER_TYPE who);
  void set_failures(CK_USER_TYPE who, uint32_t n);
  uint32_t pin_limit();  // the token's own limit (meta), never the caller's configuration
  SecureBytes verify_pin(CK_USER_TYPE who, ByteView pin);  // with the retry counter
  void require_unlocked(CK_USER_TYPE who, uint32_t failures, uint32_t limit) const;  // else CKR_PIN_LOCKED
  void after_unlock(CK_USER_TYPE who, ByteView master_key, ByteView pin);  // the backend's upgrade, logged
  bool settings_verify(const RecordKeys& keys);  // the settings tag is there and verifies under keys
  // After a right PIN: the record keys, with the settings checked and, for a token from before record
  // authentication, every record upgraded in one transaction. Throws CKR_DEVICE_ERROR only for a broken store.
  RecordKeys open_records(ByteView master_key);
  void upgrade_records(const RecordKeys& legacy, const RecordKeys& keys);
  void write_settings(const RecordKeys& keys, uint32_t limit);
  // In the caller's transaction: a new master key behind the SO PIN, and the settings tagged under it.
  void new_master_key(ByteView so_pin, uint32_t limit);
  bool records_authenticated();
  // Logged in and another connection committed: re-derive the record keys (another process upgraded the
  // records) and log out if the master key no longer opens the token's settings (it was re-initialised).
  void refresh_keys_locked();
  void clear_login_locked();

  const CK_SLOT_ID slot_;
  std::unique_ptr<store::TokenDb> db_;
  std::shared_ptr<Backend> backend_;
  const Config config_;
  std::string uid_;

  mutable platform::SharedMutex mu_;
  LoginState state_ = LoginState::none;
  SecureBytes master_key_;  // present while someone is logged in
  RecordKeys keys_;         // derived from it: sealing and tagging keys of the records
  uint64_t login_epoch_ = 0;  // bumped by every logout, so a login that raced one does not stand
  uint64_t seen_version_ = 0;
  // When the store's data version was last compared (steady clock, ns). A loaded key used again within
  // kRecheckNs skips the comparison: another process's change shows in key lookups within that time, and in
  // C_FindObjects at once.
  std::atomic<int64_t> last_check_ns_{0};
  struct RowRef {
    int64_t row;
    bool is_private;
    std::string uid;  // the object's unique id once decoded: a handle never comes to name another record
  };
  std::map<CK_OBJECT_HANDLE, RowRef> token_handles_;       // handle -> store row
  std::map<CK_OBJECT_HANDLE, ObjectPtr> profiles_;         // CKO_PROFILE objects: built in, read-only
  std::unordered_map<int64_t, CK_OBJECT_HANDLE> row_handles_;
  std::unordered_map<CK_OBJECT_HANDLE, ObjectPtr> loaded_;  // token objects decoded so far
  std::map<CK_OBJECT_HANDLE, ObjectPtr> session_objects_;
  std::vector<AttributeMap> gone_;  // objects that left the token, for release_gone()
};

}  // namespace keyseal::core
