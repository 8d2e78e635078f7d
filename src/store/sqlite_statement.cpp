// SQLite statement wrapper and error mapping for store/ (see sqlite_statement.h).
#include "store/sqlite_statement.h"

#include <sqlite3.h>

#include <climits>

namespace keyseal::store {
namespace {
// SQLite treats a NULL data pointer as SQL NULL; a zero-length value needs some valid pointer.
const char kEmpty[1] = {0};
}  // namespace

void fail_sqlite(sqlite3* db, int rc, std::string_view context) {
  std::string d(context);
  d += ": ";
  d += db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
  d += " (" + std::to_string(rc) + ")";
  switch (rc & 0xff) {
    case SQLITE_FULL: fail(CKR_DEVICE_MEMORY, std::move(d));
    case SQLITE_NOMEM: fail(CKR_HOST_MEMORY, std::move(d));
    default: fail(CKR_DEVICE_ERROR, std::move(d));
  }
}

void exec_sql(sqlite3* db, const char* sql, std::string_view context) {
  int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) fail_sqlite(db, rc, context);
}

Statement::Statement(sqlite3* db, std::string_view sql) {
  int rc = sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_,
                              nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
    fail_sqlite(db, rc, "prepare statement");
  }
}

Statement::Statement(Statement&& o) noexcept : stmt_(o.stmt_) { o.stmt_ = nullptr; }

Statement& Statement::operator=(Statement&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(stmt_);
    stmt_ = o.stmt_;
    o.stmt_ = nullptr;
  }
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

void Statement::bind_int(int i, int64_t v) {
  int rc = sqlite3_bind_int64(stmt_, i, v);
  if (rc != SQLITE_OK) fail_sqlite(sqlite3_db_handle(stmt_), rc, "bind");
}

void Statement::bind_blob(int i, ByteView v) {
  require(v.size() <= INT_MAX, CKR_DEVICE_MEMORY, "value too large for the token store");
  const void* p = v.empty() ? static_cast<const void*>(kEmpty) : v.data();
  int rc = sqlite3_bind_blob(stmt_, i, p, static_cast<int>(v.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK) fail_sqlite(sqlite3_db_handle(stmt_), rc, "bind");
}

void Statement::bind_text(int i, std::string_view v) {
  require(v.size() <= INT_MAX, CKR_DEVICE_MEMORY, "value too large for the token store");
  const char* p = v.empty() ? kEmpty : v.data();
  int rc = sqlite3_bind_text(stmt_, i, p, static_cast<int>(v.size()), SQLITE_STATIC);
  if (rc != SQLITE_OK) fail_sqlite(sqlite3_db_handle(stmt_), rc, "bind");
}

bool Statement::step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail_sqlite(sqlite3_db_handle(stmt_), rc, "statement");
}

void Statement::run() {
  while (step()) {
  }
}

int64_t Statement::column_int(int i) { return sqlite3_column_int64(stmt_, i); }

SecureBytes Statement::column_blob(int i) {
  auto p = static_cast<const uint8_t*>(sqlite3_column_blob(stmt_, i));
  int n = sqlite3_column_bytes(stmt_, i);  // after column_blob, as SQLite's documentation requires
  if (!p || n <= 0) return {};
  return SecureBytes(p, p + n);
}

std::string Statement::column_text(int i) {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, i));
  int n = sqlite3_column_bytes(stmt_, i);
  if (!p || n <= 0) return {};
  return std::string(p, static_cast<size_t>(n));
}

void Statement::reset() noexcept {
  if (!stmt_) return;
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

}  // namespace keyseal::store
