// One token's persistent state in one SQLite database file: token metadata and objects with indexed search
// columns (PKCS#11 3.0 section 4.4 storage objects; C_FindObjects, section 5.7, is served from these indexes).
#pragma once
#include "common/error.h"
#include "common/secure_bytes.h"

#include <keyseal/pkcs11.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace keyseal::store {

// Metadata keys of the failed-login counters: core counts them at C_Login; a soft token's recovery clears them.
inline constexpr std::string_view kPinFailuresSo = "pin_failures.so";
inline constexpr std::string_view kPinFailuresUser = "pin_failures.user";

struct ObjectRow {
  int64_t id = 0;                                   // SQLite rowid, AUTOINCREMENT (never reused)
  std::string uid;                                  // CKA_UNIQUE_ID (unique index)
  CK_OBJECT_CLASS cls = 0;
  CK_ULONG key_type = CK_UNAVAILABLE_INFORMATION;   // CKA_KEY_TYPE or CKA_CERTIFICATE_TYPE, else unavailable
  bool is_private = false;                          // CKA_PRIVATE
  SecureBytes ckaid;                                // CKA_ID (indexed)
  std::string label;                                // CKA_LABEL (indexed)
  SecureBytes attrs;                                // encode_attributes() blob
};

// Every set field must match exactly; include_private=false leaves out rows with is_private.
struct ObjectQuery {
  std::optional<CK_OBJECT_CLASS> cls;
  std::optional<CK_ULONG> key_type;
  std::optional<SecureBytes> ckaid;
  std::optional<std::string> label;
  std::optional<std::string> uid;
  bool include_private = false;
};

enum class OpenMode { create_new, existing };

class Statement;

// All methods are thread-safe: one internal recursive mutex is held per call and for a whole transaction().
// Several processes may open the same file at once (WAL mode, 5 s busy timeout). A TokenDb must not be used
// in a child process after fork(): the child opens its own (using an inherited one throws CKR_GENERAL_ERROR).
class TokenDb {
 public:
  // existing: a file that is missing, not SQLite, not a keyseal token, of a newer schema or corrupt throws
  // Error(CKR_TOKEN_NOT_RECOGNIZED, "<path>: <why>").
  // create_new: makes the file atomically (readers never see a half-made token); CKR_DEVICE_ERROR if it exists.
  static std::unique_ptr<TokenDb> open(const std::filesystem::path& file, OpenMode mode);
  ~TokenDb();
  TokenDb(const TokenDb&) = delete;
  TokenDb& operator=(const TokenDb&) = delete;

  const std::filesystem::path& path() const;
  // Opened read-only because the file or its directory cannot be written (a read-only mount): every write
  // fails, and callers report the token as write-protected.
  bool read_only() const;

  std::optional<SecureBytes> get_meta(std::string_view key);
  void set_meta(std::string_view key, ByteView value);
  void delete_meta(std::string_view key);
  std::vector<std::string> meta_keys();  // every key, sorted

  int64_t insert_object(const ObjectRow& row);  // row.id is ignored; returns the new id
  void update_object(const ObjectRow& row);     // by row.id; CKR_OBJECT_HANDLE_INVALID if gone
  void delete_object(int64_t id);               // CKR_OBJECT_HANDLE_INVALID if gone
  std::optional<ObjectRow> load_object(int64_t id);
  std::vector<ObjectRow> find_objects(const ObjectQuery& q);  // uses one index; ordered by id
  size_t count_objects();
  void delete_all_objects();

  // PRAGMA data_version: changes when ANOTHER connection (this or another process) has committed.
  uint64_t data_version();

  // Runs fn inside BEGIN IMMEDIATE ... COMMIT; ROLLBACK and rethrow on exception. Reentrant from the same
  // thread (nested calls just run fn; an exception still rolls back the outermost transaction).
  void transaction(const std::function<void()>& fn);

  // The query plan SQLite uses for q (EXPLAIN QUERY PLAN details joined by "; "), for tests and diagnostics.
  std::string explain_find(const ObjectQuery& q);

 private:
  struct Impl;
  explicit TokenDb(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace keyseal::store
