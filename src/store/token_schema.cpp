// Token database schema version 1: creation (atomic, via a temporary file published without replacing
// anything: platform::publish_no_replace) and recognition.
#include "store/token_schema.h"

#include "common/error.h"
#include "platform/files.h"
#include "platform/paths.h"
#include "platform/process.h"
#include "store/sqlite_statement.h"

#include <sqlite3.h>

#include <atomic>
#include <set>
#include <system_error>
#include <utility>

namespace keyseal::store {
namespace {

// Search columns are copies of attributes also present in `attrs`, kept so lookups use an index instead of
// decoding every record (SoftHSMv2 scans linearly: ~130 ms among 10,000 objects).
constexpr const char* kSchemaSql = R"sql(
CREATE TABLE meta(key TEXT PRIMARY KEY NOT NULL, value BLOB NOT NULL) WITHOUT ROWID;
CREATE TABLE objects(
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  uid TEXT NOT NULL,
  cls INTEGER NOT NULL,
  key_type INTEGER NOT NULL,
  is_private INTEGER NOT NULL CHECK (is_private IN (0, 1)),
  ckaid BLOB NOT NULL,
  label TEXT NOT NULL,
  attrs BLOB NOT NULL);
CREATE UNIQUE INDEX objects_uid ON objects(uid);
CREATE INDEX objects_ckaid ON objects(ckaid);
CREATE INDEX objects_label ON objects(label);
CREATE INDEX objects_class ON objects(cls, key_type);
)sql";

const std::set<std::pair<std::string, std::string>> kExpectedSchema = {
    {"table", "meta"},          {"table", "objects"},       {"table", "sqlite_sequence"},
    {"index", "objects_uid"},   {"index", "objects_ckaid"}, {"index", "objects_label"},
    {"index", "objects_class"},
};

void remove_temp(const std::filesystem::path& tmp) {
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    std::filesystem::path p = tmp;
    p += suffix;
    platform::remove_quietly(p);
  }
}

void build_schema(const std::filesystem::path& tmp) {
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(platform::path_to_utf8(tmp).c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  struct Closer {
    sqlite3*& db;
    ~Closer() { sqlite3_close_v2(db); }
  } closer{db};
  if (rc != SQLITE_OK) fail_sqlite(db, rc, "create token");
  configure_connection(db);
  // WAL is a property of the file, so every later connection (any process) uses it.
  exec_sql(db, "PRAGMA journal_mode=WAL", "create token");
  exec_sql(db, "BEGIN IMMEDIATE", "create token");
  exec_sql(db, ("PRAGMA application_id=" + std::to_string(kApplicationId)).c_str(), "create token");
  exec_sql(db, kSchemaSql, "create token");
  exec_sql(db,
           ("INSERT INTO meta(key, value) VALUES('" + std::string(kSchemaVersionKey) + "', '" +
            std::to_string(kSchemaVersion) + "')")
               .c_str(),
           "create token");
  exec_sql(db, "COMMIT", "create token");
  // Closing the only connection checkpoints the WAL into the file and deletes the -wal and -shm files.
  rc = sqlite3_close(db);
  if (rc != SQLITE_OK) fail_sqlite(db, rc, "create token: close");
  db = nullptr;
}

}  // namespace

void configure_connection(sqlite3* db) {
  int rc = sqlite3_busy_timeout(db, 5000);
  if (rc != SQLITE_OK) fail_sqlite(db, rc, "busy timeout");
  // The file is data, not code: no schema tricks, no triggers calling unsafe functions.
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, nullptr);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, nullptr);
  sqlite3_extended_result_codes(db, 1);
  exec_sql(db, "PRAGMA foreign_keys=ON", "configure");
}

void create_token_file(const std::filesystem::path& file) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path tmp;
  for (int attempt = 0;; ++attempt) {
    tmp = file;
    tmp += ".tmp-" + std::to_string(platform::process_id()) + "-" + std::to_string(counter++);
    try {
      if (platform::create_new_private_file(tmp)) break;  // token files are private
    } catch (const std::system_error& e) {
      fail(CKR_DEVICE_ERROR, e.what());
    }
    if (attempt >= 100) fail(CKR_DEVICE_ERROR, "cannot create " + platform::path_to_utf8(tmp) + ": file exists");
  }
  try {
    build_schema(tmp);
    // Durable once this returns: a power loss cannot lose a token that was reported created.
    bool published = false;
    try {
      published = platform::publish_no_replace(tmp, file);
    } catch (const std::system_error& e) {
      fail(CKR_DEVICE_ERROR, e.what());
    }
    if (!published) fail(CKR_DEVICE_ERROR, platform::path_to_utf8(file) + ": token file already exists");
  } catch (...) {
    remove_temp(tmp);
    throw;
  }
  remove_temp(tmp);
}

void check_token_and_enable_wal(sqlite3* db, bool read_only) {
  Statement app(db, "PRAGMA application_id");
  app.step();
  int64_t id = app.column_int(0);
  app.reset();
  require(id == kApplicationId, CKR_TOKEN_NOT_RECOGNIZED, "not a keyseal token (SQLite application_id differs)");

  std::set<std::pair<std::string, std::string>> found;
  Statement schema(db, "SELECT type, name FROM sqlite_schema WHERE name NOT LIKE 'sqlite_autoindex_%'");
  while (schema.step()) found.emplace(schema.column_text(0), schema.column_text(1));
  schema.reset();
  require(found.count({"table", "meta"}) == 1, CKR_TOKEN_NOT_RECOGNIZED, "not a keyseal token (no meta table)");

  Statement version(db, "SELECT value FROM meta WHERE key = ?1");
  version.bind_text(1, kSchemaVersionKey);
  require(version.step(), CKR_TOKEN_NOT_RECOGNIZED, "not a keyseal token (no schema version)");
  std::string v = version.column_text(0);
  version.reset();
  if (v != std::to_string(kSchemaVersion)) {
    // Future versions migrate older files here. A newer file is left untouched for the newer module.
    fail(CKR_TOKEN_NOT_RECOGNIZED, "unsupported schema version '" + v.substr(0, 16) + "' (this module reads " +
                                       std::to_string(kSchemaVersion) + ")");
  }
  require(found == kExpectedSchema, CKR_TOKEN_NOT_RECOGNIZED, "unexpected tables, indexes or triggers in schema");

  Statement check(db, "PRAGMA quick_check(1)");
  require(check.step(), CKR_TOKEN_NOT_RECOGNIZED, "quick_check returned nothing");
  std::string result = check.column_text(0);
  check.reset();
  if (result != "ok") fail(CKR_TOKEN_NOT_RECOGNIZED, "corrupt: " + result.substr(0, 200));
  if (read_only) return;  // immutable: no WAL, nothing written

  Statement wal(db, "PRAGMA journal_mode=WAL");
  require(wal.step() && wal.column_text(0) == "wal", CKR_TOKEN_NOT_RECOGNIZED, "cannot use WAL journal mode");
  wal.reset();
  // NORMAL in WAL mode: a committed transaction survives a process crash without an fsync per commit (this is
  // what makes inserts fast); a power loss or OS crash may lose the last transactions, never corrupt the file.
  exec_sql(db, "PRAGMA synchronous=NORMAL", "configure");
  // Each checkpoint costs two fdatasyncs; checkpointing every 4000 pages (16 MiB of WAL, about 600 inserted
  // objects) instead of SQLite's 1000 cuts that cost per insert by 4; the WAL is cut back to 16 MiB after.
  exec_sql(db, "PRAGMA wal_autocheckpoint=4000", "configure");
  exec_sql(db, "PRAGMA journal_size_limit=16777216", "configure");
  // Deleted records (old ciphertext) are overwritten when that costs no extra I/O.
  exec_sql(db, "PRAGMA secure_delete=FAST", "configure");
}

}  // namespace keyseal::store
