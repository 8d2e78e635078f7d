// TokenDb: one token's SQLite file, with cached prepared statements and one recursive mutex per connection
// (see token_db.h; objects are PKCS#11 3.0 section 4.4 storage objects).
#include "store/token_db.h"

#include "store/sqlite_statement.h"
#include "store/token_schema.h"
#include "platform/files.h"
#include "platform/paths.h"
#include "platform/process.h"

#include <sqlite3.h>

#include <array>
#include <mutex>

namespace keyseal::store {
namespace {

constexpr const char* kColumns = "id, uid, cls, key_type, is_private, ckaid, label, attrs";

// CK_ULONG values (up to 2^64-1, e.g. CK_UNAVAILABLE_INFORMATION) are kept as the same 64 bits in INTEGER.
int64_t to_db(CK_ULONG v) { return static_cast<int64_t>(static_cast<uint64_t>(v)); }
CK_ULONG from_db(int64_t v) { return static_cast<CK_ULONG>(static_cast<uint64_t>(v)); }

// Bits of a find query's shape; one statement is prepared per shape on first use.
constexpr unsigned kCls = 1, kKeyType = 2, kCkaId = 4, kLabel = 8, kUid = 16, kPrivate = 32;

unsigned query_shape(const ObjectQuery& q) {
  return (q.cls ? kCls : 0) | (q.key_type ? kKeyType : 0) | (q.ckaid ? kCkaId : 0) | (q.label ? kLabel : 0) |
         (q.uid ? kUid : 0) | (q.include_private ? kPrivate : 0);
}

// The most selective filter present gets its index; the others are written "+col" so that SQLite cannot pick
// a worse index for them (without ANALYZE statistics its choice between two equality indexes is a guess).
std::string find_sql(unsigned shape) {
  unsigned primary = (shape & kUid) ? kUid : (shape & kCkaId) ? kCkaId : (shape & kLabel) ? kLabel : kCls;
  std::string sql = std::string("SELECT ") + kColumns + " FROM objects WHERE 1";
  auto add = [&](unsigned bit, unsigned index_bits, const char* col, int param) {
    if (!(shape & bit)) return;
    sql += (primary & index_bits) ? " AND " : " AND +";
    sql += std::string(col) + " = ?" + std::to_string(param);
  };
  add(kUid, kUid, "uid", 1);
  add(kCkaId, kCkaId, "ckaid", 2);
  add(kLabel, kLabel, "label", 3);
  add(kCls, kCls, "cls", 4);
  add(kKeyType, kCls, "key_type", 5);  // second column of objects_class, usable only with cls
  if (!(shape & kPrivate)) sql += " AND +is_private = 0";
  return sql + " ORDER BY id";
}

ObjectRow read_row(Statement& s) {
  ObjectRow r;
  r.id = s.column_int(0);
  r.uid = s.column_text(1);
  r.cls = from_db(s.column_int(2));
  r.key_type = from_db(s.column_int(3));
  r.is_private = s.column_int(4) != 0;
  r.ckaid = s.column_blob(5);
  r.label = s.column_text(6);
  r.attrs = s.column_blob(7);
  return r;
}

void bind_row(Statement& s, const ObjectRow& r) {
  s.bind_text(1, r.uid);
  s.bind_int(2, to_db(r.cls));
  s.bind_int(3, to_db(r.key_type));
  s.bind_int(4, r.is_private ? 1 : 0);
  s.bind_blob(5, view(r.ckaid));
  s.bind_text(6, r.label);
  s.bind_blob(7, view(r.attrs));
}

}  // namespace

struct TokenDb::Impl {
  // Declared first so it is destroyed last, after every statement is finalized.
  struct Connection {
    sqlite3* db = nullptr;
    ~Connection() { sqlite3_close_v2(db); }
  } conn;
  std::filesystem::path path;
  uint64_t pid = platform::process_id();
  std::recursive_mutex mu;
  int tx_depth = 0;
  bool read_only = false;
  Statement get_meta, set_meta, delete_meta, meta_keys, insert, update, remove, load, count, remove_all, data_version, begin,
      commit, rollback;
  std::array<std::unique_ptr<Statement>, 64> find;

  std::unique_lock<std::recursive_mutex> lock() {
    require(pid == platform::process_id(), CKR_GENERAL_ERROR, "token database connection inherited across fork()");
    return std::unique_lock<std::recursive_mutex>(mu);
  }

  void prepare() {
    sqlite3* db = conn.db;
    get_meta = Statement(db, "SELECT value FROM meta WHERE key = ?1");
    set_meta = Statement(db, "INSERT INTO meta(key, value) VALUES(?1, ?2) "
                             "ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    delete_meta = Statement(db, "DELETE FROM meta WHERE key = ?1");
    meta_keys = Statement(db, "SELECT key FROM meta ORDER BY key");
    insert = Statement(db, "INSERT INTO objects(uid, cls, key_type, is_private, ckaid, label, attrs) "
                           "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)");
    update = Statement(db, "UPDATE objects SET uid = ?1, cls = ?2, key_type = ?3, is_private = ?4, ckaid = ?5, "
                           "label = ?6, attrs = ?7 WHERE id = ?8");
    remove = Statement(db, "DELETE FROM objects WHERE id = ?1");
    load = Statement(db, std::string("SELECT ") + kColumns + " FROM objects WHERE id = ?1");
    count = Statement(db, "SELECT count(*) FROM objects");
    remove_all = Statement(db, "DELETE FROM objects");
    data_version = Statement(db, "PRAGMA data_version");
    begin = Statement(db, "BEGIN IMMEDIATE");
    commit = Statement(db, "COMMIT");
    rollback = Statement(db, "ROLLBACK");
  }

  Statement& find_statement(unsigned shape) {
    auto& s = find[shape];
    if (!s) s = std::make_unique<Statement>(conn.db, find_sql(shape));
    return *s;
  }

  // After a failed statement SQLite may already have rolled back (SQLITE_FULL, IOERR, BUSY); then there is
  // nothing left to undo and ROLLBACK would only fail.
  void rollback_quietly() noexcept {
    if (sqlite3_get_autocommit(conn.db)) return;
    Statement::Use u(rollback);
    try {
      rollback.run();
    } catch (...) {
    }
  }
};

namespace {

// A path as an SQLite URI path: '%', '?' and '#' escaped.
std::string uri_path(const std::filesystem::path& file) {
  std::string out;
  std::string abs = platform::path_to_utf8(std::filesystem::absolute(file));
  // SQLite URIs use forward slashes; a Windows drive path becomes /C:/...
  for (char& c : abs)
    if (c == '\\') c = '/';
  if (!abs.empty() && abs[0] != '/') abs.insert(abs.begin(), '/');
  for (char c : abs) {
    if (c == '%' || c == '?' || c == '#') {
      static const char* hex = "0123456789ABCDEF";
      out += '%';
      out += hex[(static_cast<unsigned char>(c) >> 4) & 15];
      out += hex[static_cast<unsigned char>(c) & 15];
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

TokenDb::TokenDb(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

TokenDb::~TokenDb() {
  // SQLite forbids using (or closing) a connection in a forked child: the parent still owns its locks and its
  // WAL. A child that inherited this object leaks it instead.
  if (impl_ && impl_->pid != platform::process_id()) (void)impl_.release();
}

std::unique_ptr<TokenDb> TokenDb::open(const std::filesystem::path& file, OpenMode mode) {
  if (mode == OpenMode::create_new) create_token_file(file);
  auto impl = std::make_unique<Impl>();
  impl->path = file;
  try {
    // A token on a read-only medium (a read-only mount, a write-protected file) opens read-only: usable,
    // reported as CKF_WRITE_PROTECTED, instead of disabled. SQLite cannot keep a WAL file there, so the file
    // is opened immutable: nothing can be changing it.
    const bool writable = mode == OpenMode::create_new || platform::storage_writable(file);
    impl->read_only = !writable;
    int rc;
    if (writable) {
      rc = sqlite3_open_v2(platform::path_to_utf8(file).c_str(), &impl->conn.db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
    } else {
      const std::string uri = "file:" + uri_path(file) + "?mode=ro&immutable=1";
      rc = sqlite3_open_v2(uri.c_str(), &impl->conn.db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX,
                           nullptr);
    }
    if (rc != SQLITE_OK) fail_sqlite(impl->conn.db, rc, "cannot open");
    configure_connection(impl->conn.db);
    check_token_and_enable_wal(impl->conn.db, impl->read_only);
    impl->prepare();
  } catch (const Error& e) {
    fail(CKR_TOKEN_NOT_RECOGNIZED, platform::path_to_utf8(file) + ": " + e.detail);
  }
  return std::unique_ptr<TokenDb>(new TokenDb(std::move(impl)));
}

const std::filesystem::path& TokenDb::path() const { return impl_->path; }

bool TokenDb::read_only() const { return impl_->read_only; }

std::optional<SecureBytes> TokenDb::get_meta(std::string_view key) {
  auto l = impl_->lock();
  Statement& s = impl_->get_meta;
  Statement::Use u(s);
  s.bind_text(1, key);
  if (!s.step()) return std::nullopt;
  return s.column_blob(0);
}

void TokenDb::set_meta(std::string_view key, ByteView value) {
  auto l = impl_->lock();
  Statement& s = impl_->set_meta;
  Statement::Use u(s);
  s.bind_text(1, key);
  s.bind_blob(2, value);
  s.run();
}

std::vector<std::string> TokenDb::meta_keys() {
  auto l = impl_->lock();
  Statement& s = impl_->meta_keys;
  Statement::Use u(s);
  std::vector<std::string> out;
  while (s.step()) out.push_back(s.column_text(0));
  return out;
}

void TokenDb::delete_meta(std::string_view key) {
  auto l = impl_->lock();
  Statement& s = impl_->delete_meta;
  Statement::Use u(s);
  s.bind_text(1, key);
  s.run();
}

int64_t TokenDb::insert_object(const ObjectRow& row) {
  auto l = impl_->lock();
  Statement& s = impl_->insert;
  Statement::Use u(s);
  bind_row(s, row);
  s.run();
  return sqlite3_last_insert_rowid(impl_->conn.db);
}

void TokenDb::update_object(const ObjectRow& row) {
  auto l = impl_->lock();
  Statement& s = impl_->update;
  Statement::Use u(s);
  bind_row(s, row);
  s.bind_int(8, row.id);
  s.run();
  require(sqlite3_changes(impl_->conn.db) == 1, CKR_OBJECT_HANDLE_INVALID, "object no longer exists");
}

void TokenDb::delete_object(int64_t id) {
  auto l = impl_->lock();
  Statement& s = impl_->remove;
  Statement::Use u(s);
  s.bind_int(1, id);
  s.run();
  require(sqlite3_changes(impl_->conn.db) == 1, CKR_OBJECT_HANDLE_INVALID, "object no longer exists");
}

std::optional<ObjectRow> TokenDb::load_object(int64_t id) {
  auto l = impl_->lock();
  Statement& s = impl_->load;
  Statement::Use u(s);
  s.bind_int(1, id);
  if (!s.step()) return std::nullopt;
  return read_row(s);
}

std::vector<ObjectRow> TokenDb::find_objects(const ObjectQuery& q) {
  auto l = impl_->lock();
  Statement& s = impl_->find_statement(query_shape(q));
  Statement::Use u(s);
  if (q.uid) s.bind_text(1, *q.uid);
  if (q.ckaid) s.bind_blob(2, view(*q.ckaid));
  if (q.label) s.bind_text(3, *q.label);
  if (q.cls) s.bind_int(4, to_db(*q.cls));
  if (q.key_type) s.bind_int(5, to_db(*q.key_type));
  std::vector<ObjectRow> out;
  while (s.step()) out.push_back(read_row(s));
  return out;
}

std::string TokenDb::explain_find(const ObjectQuery& q) {
  auto l = impl_->lock();
  Statement s(impl_->conn.db, "EXPLAIN QUERY PLAN " + find_sql(query_shape(q)));
  std::string plan;
  while (s.step()) plan += (plan.empty() ? "" : "; ") + s.column_text(3);
  return plan;
}

size_t TokenDb::count_objects() {
  auto l = impl_->lock();
  Statement& s = impl_->count;
  Statement::Use u(s);
  s.step();
  return static_cast<size_t>(s.column_int(0));
}

void TokenDb::delete_all_objects() {
  auto l = impl_->lock();
  Statement& s = impl_->remove_all;
  Statement::Use u(s);
  s.run();  // AUTOINCREMENT keeps sqlite_sequence, so ids are not reused afterwards either
}

uint64_t TokenDb::data_version() {
  auto l = impl_->lock();
  Statement& s = impl_->data_version;
  Statement::Use u(s);
  s.step();
  return static_cast<uint64_t>(s.column_int(0));
}

void TokenDb::transaction(const std::function<void()>& fn) {
  auto l = impl_->lock();
  Impl& m = *impl_;
  if (m.tx_depth > 0) {
    // Nested: a savepoint, so an exception the outer fn catches undoes only the inner part.
    std::string name = "nested" + std::to_string(m.tx_depth);
    exec_sql(m.conn.db, ("SAVEPOINT " + name).c_str(), "transaction");
    ++m.tx_depth;
    try {
      fn();
    } catch (...) {
      --m.tx_depth;
      if (!sqlite3_get_autocommit(m.conn.db)) {
        sqlite3_exec(m.conn.db, ("ROLLBACK TO " + name + "; RELEASE " + name).c_str(), nullptr, nullptr, nullptr);
      }
      throw;
    }
    --m.tx_depth;
    exec_sql(m.conn.db, ("RELEASE " + name).c_str(), "transaction");
    return;
  }
  {
    Statement::Use u(m.begin);
    m.begin.run();
  }
  m.tx_depth = 1;
  try {
    fn();
    m.tx_depth = 0;
    Statement::Use u(m.commit);
    m.commit.run();
  } catch (...) {
    m.tx_depth = 0;
    m.rollback_quietly();
    throw;
  }
}

}  // namespace keyseal::store
