// Thin RAII layer over SQLite prepared statements and result codes, used only inside store/ (SQLite C API,
// https://sqlite.org/c3ref/). Maps SQLite failures onto the CK_RV the PKCS#11 3.0 spec names (section 5.1).
#pragma once
#include "common/error.h"
#include "common/secure_bytes.h"

#include <cstdint>
#include <string>
#include <string_view>

struct sqlite3;
struct sqlite3_stmt;

namespace keyseal::store {

// SQLITE_FULL → CKR_DEVICE_MEMORY, SQLITE_NOMEM → CKR_HOST_MEMORY, anything else → CKR_DEVICE_ERROR.
// The detail is "<context>: <sqlite errmsg> (<extended code>)"; SQL values are never part of it.
[[noreturn]] void fail_sqlite(sqlite3* db, int rc, std::string_view context);

// Runs SQL without results (schema, pragmas, BEGIN/COMMIT).
void exec_sql(sqlite3* db, const char* sql, std::string_view context);

// One prepared statement, prepared once and reused (reset after each use by Statement::Use).
class Statement {
 public:
  Statement() = default;
  Statement(sqlite3* db, std::string_view sql);  // throws via fail_sqlite
  Statement(Statement&& o) noexcept;
  Statement& operator=(Statement&& o) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

  // Scope guard: resets the statement and clears its bindings when it ends, so that no read transaction is
  // left open (an open one would block WAL checkpoints and hide other connections' commits).
  class Use {
   public:
    explicit Use(Statement& s) : s_(s) {}
    ~Use() { s_.reset(); }
    Use(const Use&) = delete;
    Use& operator=(const Use&) = delete;

   private:
    Statement& s_;
  };

  // Parameters are 1-based, as in SQLite. Empty blobs and strings bind as zero-length values, never NULL.
  void bind_int(int i, int64_t v);
  void bind_blob(int i, ByteView v);
  void bind_text(int i, std::string_view v);
  bool step();  // true: a row is ready; false: done. Throws on error.
  void run();   // step() for statements without a result row
  int64_t column_int(int i);
  SecureBytes column_blob(int i);
  std::string column_text(int i);
  void reset() noexcept;

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace keyseal::store
