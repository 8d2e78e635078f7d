// Tests of store::TokenDb on real SQLite files: create/open, meta, object CRUD, indexed finds among 10,000
// objects, transactions, and rejection of files that are not (intact) keyseal tokens.
#include "store/token_db.h"
#include "store_test_util.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <fstream>
#include <random>
#include "forked_child.h"

namespace keyseal::store {
namespace {

using testing::bytes;
using testing::make_row;
using testing::rv_of;
using testing::TempDir;

void expect_rows_equal(const ObjectRow& a, const ObjectRow& b) {
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.uid, b.uid);
  EXPECT_EQ(a.cls, b.cls);
  EXPECT_EQ(a.key_type, b.key_type);
  EXPECT_EQ(a.is_private, b.is_private);
  EXPECT_TRUE(equal_bytes(view(a.ckaid), view(b.ckaid)));
  EXPECT_EQ(a.label, b.label);
  EXPECT_TRUE(equal_bytes(view(a.attrs), view(b.attrs)));
}

TEST(TokenDb, CreateNewThenReopen) {
  TempDir dir;
  auto file = dir / "token-1.db";
  {
    auto db = TokenDb::open(file, OpenMode::create_new);
    EXPECT_EQ(db->path(), file);
    db->set_meta("label", view(std::string_view("hello")));
  }
  namespace fs = std::filesystem;
  if (keyseal::test::posix_file_modes())  // Windows: the folder's ACL
    EXPECT_EQ(fs::status(file).permissions() & fs::perms::all, fs::perms::owner_read | fs::perms::owner_write);
  auto db = TokenDb::open(file, OpenMode::existing);
  auto v = db->get_meta("label");
  ASSERT_TRUE(v);
  EXPECT_TRUE(equal_bytes(view(*v), view(std::string_view("hello"))));
  // Only the token file is left: the temporary used while creating it is gone.
  size_t n = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path()))
    n += e.path().filename().string().find(".tmp-") != std::string::npos;
  EXPECT_EQ(n, 0u);
}

TEST(TokenDb, CreateNewFailsIfFileExists) {
  TempDir dir;
  auto file = dir / "token-1.db";
  TokenDb::open(file, OpenMode::create_new);
  EXPECT_EQ(rv_of([&] { TokenDb::open(file, OpenMode::create_new); }), CKR_DEVICE_ERROR);
  TokenDb::open(file, OpenMode::existing);  // the existing token is untouched
}

TEST(TokenDb, OpenMissingFileIsNotRecognized) {
  TempDir dir;
  EXPECT_EQ(rv_of([&] { TokenDb::open(dir / "token-9.db", OpenMode::existing); }), CKR_TOKEN_NOT_RECOGNIZED);
  EXPECT_FALSE(std::filesystem::exists(dir / "token-9.db"));
}

TEST(TokenDb, MetaSetGetReplaceDelete) {
  TempDir dir;
  auto db = TokenDb::open(dir / "t.db", OpenMode::create_new);
  EXPECT_FALSE(db->get_meta("k"));
  db->set_meta("k", view(bytes("one")));
  db->set_meta("k", view(bytes("two")));
  db->set_meta("empty", ByteView());
  EXPECT_TRUE(equal_bytes(view(*db->get_meta("k")), view(bytes("two"))));
  ASSERT_TRUE(db->get_meta("empty"));
  EXPECT_TRUE(db->get_meta("empty")->empty());
  db->delete_meta("k");
  EXPECT_FALSE(db->get_meta("k"));
  db->delete_meta("never there");
  EXPECT_TRUE(db->get_meta("schema_version"));
}

TEST(TokenDb, InsertLoadUpdateDelete) {
  TempDir dir;
  auto db = TokenDb::open(dir / "t.db", OpenMode::create_new);
  ObjectRow r = make_row(1, CKO_DATA, true);
  r.ckaid.clear();  // empty values stay empty, not NULL
  r.label.clear();
  r.id = db->insert_object(r);
  EXPECT_GT(r.id, 0);
  auto loaded = db->load_object(r.id);
  ASSERT_TRUE(loaded);
  expect_rows_equal(*loaded, r);
  EXPECT_EQ(loaded->key_type, CK_UNAVAILABLE_INFORMATION);

  r.label = "renamed";
  r.key_type = CKK_RSA;
  r.cls = CKO_VENDOR_DEFINED | 7;
  r.attrs = bytes("new attrs");
  db->update_object(r);
  expect_rows_equal(*db->load_object(r.id), r);

  db->delete_object(r.id);
  EXPECT_FALSE(db->load_object(r.id));
  EXPECT_EQ(rv_of([&] { db->delete_object(r.id); }), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(rv_of([&] { db->update_object(r); }), CKR_OBJECT_HANDLE_INVALID);
  EXPECT_EQ(db->count_objects(), 0u);
}

TEST(TokenDb, DuplicateUidIsDeviceError) {
  TempDir dir;
  auto db = TokenDb::open(dir / "t.db", OpenMode::create_new);
  db->insert_object(make_row(1));
  EXPECT_EQ(rv_of([&] { db->insert_object(make_row(1)); }), CKR_DEVICE_ERROR);
  EXPECT_EQ(db->count_objects(), 1u);
}

TEST(TokenDb, IdsAreNeverReused) {
  TempDir dir;
  auto db = TokenDb::open(dir / "t.db", OpenMode::create_new);
  int64_t a = db->insert_object(make_row(1));
  int64_t b = db->insert_object(make_row(2));
  db->delete_object(b);
  int64_t c = db->insert_object(make_row(3));
  EXPECT_GT(c, b);
  db->delete_all_objects();
  EXPECT_EQ(db->count_objects(), 0u);
  int64_t d = db->insert_object(make_row(4));
  EXPECT_GT(d, c);
  EXPECT_GT(b, a);
}

class TokenDbFind : public ::testing::Test {
 protected:
  void SetUp() override {
    db = TokenDb::open(dir / "t.db", OpenMode::create_new);
    // 10,000 objects: per id a public key, a private key (private) and a certificate share one CKA_ID.
    db->transaction([&] {
      for (int i = 0; i < 3334; ++i) {
        for (auto cls : {CKO_PUBLIC_KEY, CKO_PRIVATE_KEY, CKO_CERTIFICATE}) {
          if (n == 10000) return;
          ObjectRow r = make_row(n++, cls, cls == CKO_PRIVATE_KEY);
          r.ckaid = bytes("id-" + std::to_string(i));
          r.label = "key " + std::to_string(i);
          if (cls == CKO_CERTIFICATE) r.key_type = CKC_X_509;
          db->insert_object(r);
        }
      }
    });
  }
  TempDir dir;
  std::unique_ptr<TokenDb> db;
  int n = 0;
};

TEST_F(TokenDbFind, ByEachIndexAmongTenThousand) {
  ASSERT_EQ(db->count_objects(), 10000u);
  ObjectQuery q;
  q.ckaid = bytes("id-1234");
  auto rows = db->find_objects(q);  // public ones only
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].cls, CKO_PUBLIC_KEY);
  EXPECT_EQ(rows[1].cls, CKO_CERTIFICATE);
  EXPECT_LT(rows[0].id, rows[1].id);
  q.include_private = true;
  EXPECT_EQ(db->find_objects(q).size(), 3u);
  q.cls = CKO_PRIVATE_KEY;
  rows = db->find_objects(q);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_TRUE(rows[0].is_private);
  EXPECT_EQ(rows[0].uid, "uid-3703");

  ObjectQuery by_uid;
  by_uid.uid = "uid-9999";
  ASSERT_EQ(db->find_objects(by_uid).size(), 1u);
  EXPECT_EQ(db->find_objects(by_uid)[0].label, "key 3333");

  ObjectQuery by_label;
  by_label.label = "key 17";
  by_label.include_private = true;
  EXPECT_EQ(db->find_objects(by_label).size(), 3u);

  ObjectQuery by_class;
  by_class.cls = CKO_CERTIFICATE;
  by_class.key_type = CKC_X_509;
  EXPECT_EQ(db->find_objects(by_class).size(), 3333u);
  by_class.key_type = CKC_X_509_ATTR_CERT;
  EXPECT_TRUE(db->find_objects(by_class).empty());

  ObjectQuery none;
  none.ckaid = bytes("no such id");
  none.include_private = true;
  EXPECT_TRUE(db->find_objects(none).empty());
  ObjectQuery all;
  all.include_private = true;
  auto every = db->find_objects(all);
  ASSERT_EQ(every.size(), 10000u);
  EXPECT_TRUE(std::is_sorted(every.begin(), every.end(), [](auto& a, auto& b) { return a.id < b.id; }));
}

TEST_F(TokenDbFind, FindsUseTheIndexes) {
  ObjectQuery q;
  q.ckaid = bytes("x");
  q.cls = CKO_PRIVATE_KEY;
  q.key_type = CKK_EC;
  q.include_private = true;
  EXPECT_NE(db->explain_find(q).find("INDEX objects_ckaid"), std::string::npos) << db->explain_find(q);
  q.label = "l";
  q.ckaid.reset();
  EXPECT_NE(db->explain_find(q).find("INDEX objects_label"), std::string::npos) << db->explain_find(q);
  q.uid = "u";
  EXPECT_NE(db->explain_find(q).find("INDEX objects_uid"), std::string::npos) << db->explain_find(q);
  ObjectQuery c;
  c.cls = CKO_CERTIFICATE;
  EXPECT_NE(db->explain_find(c).find("INDEX objects_class"), std::string::npos) << db->explain_find(c);
}

TEST(TokenDbTransaction, ThrowRollsBackAndCommitKeeps) {
  TempDir dir;
  auto db = TokenDb::open(dir / "t.db", OpenMode::create_new);
  db->transaction([&] { db->insert_object(make_row(1)); });
  EXPECT_THROW(db->transaction([&] {
    db->insert_object(make_row(2));
    db->set_meta("m", view(bytes("v")));
    throw Error(CKR_FUNCTION_FAILED, "abort");
  }),
               Error);
  EXPECT_EQ(db->count_objects(), 1u);
  EXPECT_FALSE(db->get_meta("m"));
  // A fresh connection sees the same: the rollback reached the file.
  EXPECT_EQ(TokenDb::open(dir / "t.db", OpenMode::existing)->count_objects(), 1u);
}

TEST(TokenDbTransaction, NestedCallsJoinTheOuterTransaction) {
  TempDir dir;
  auto db = TokenDb::open(dir / "t.db", OpenMode::create_new);
  EXPECT_THROW(db->transaction([&] {
    db->insert_object(make_row(1));
    db->transaction([&] { db->insert_object(make_row(2)); });
    throw Error(CKR_FUNCTION_FAILED, "abort");
  }),
               Error);
  EXPECT_EQ(db->count_objects(), 0u);
  db->transaction([&] {
    db->insert_object(make_row(3));
    // An inner failure the outer code handles undoes only the inner part.
    EXPECT_THROW(db->transaction([&] {
      db->insert_object(make_row(4));
      throw Error(CKR_FUNCTION_FAILED, "inner");
    }),
                 Error);
    db->transaction([&] { db->insert_object(make_row(5)); });
  });
  EXPECT_EQ(db->count_objects(), 2u);
  ObjectQuery q;
  q.uid = "uid-4";
  EXPECT_TRUE(db->find_objects(q).empty());
}

// ---- files that are not intact keyseal tokens ----

void write_file(const std::filesystem::path& p, const std::string& data) {
  std::ofstream(p, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}

void expect_not_recognized(const std::filesystem::path& p) {
  try {
    TokenDb::open(p, OpenMode::existing);
    ADD_FAILURE() << p << " was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.rv, CKR_TOKEN_NOT_RECOGNIZED) << e.detail;
    EXPECT_EQ(e.detail.rfind(p.string() + ": ", 0), 0u) << e.detail;
  }
}

TEST(TokenDbCorrupt, RandomBytes) {
  TempDir dir;
  std::mt19937 rng(42);
  std::string junk(8192, '\0');
  for (auto& c : junk) c = static_cast<char>(rng());
  write_file(dir / "junk.db", junk);
  expect_not_recognized(dir / "junk.db");
  write_file(dir / "empty.db", "");
  expect_not_recognized(dir / "empty.db");
}

TEST(TokenDbCorrupt, ForeignSqliteDatabase) {
  TempDir dir;
  auto p = dir / "other.db";
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(p.string().c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TABLE meta(key TEXT, value BLOB); INSERT INTO meta VALUES('schema_version','1')",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  expect_not_recognized(p);  // no keyseal application_id
}

TEST(TokenDbCorrupt, NewerSchemaVersionOrExtraTrigger) {
  TempDir dir;
  auto newer = dir / "newer.db";
  TokenDb::open(newer, OpenMode::create_new)->set_meta("schema_version", view(std::string_view("2")));
  expect_not_recognized(newer);
  auto trig = dir / "trigger.db";
  TokenDb::open(trig, OpenMode::create_new);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(trig.string().c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "CREATE TRIGGER t AFTER INSERT ON objects BEGIN DELETE FROM meta; END", nullptr,
                         nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(raw);
  expect_not_recognized(trig);
}

TEST(TokenDbCorrupt, TruncatedFile) {
  TempDir dir;
  auto p = dir / "t.db";
  {
    auto db = TokenDb::open(p, OpenMode::create_new);
    db->transaction([&] {
      for (int i = 0; i < 2000; ++i) db->insert_object(make_row(i));
    });
  }  // last connection closed: everything is checkpointed into the main file
  auto size = std::filesystem::file_size(p);
  ASSERT_GT(size, 16384u);
  for (auto keep : {size / 2, size_t{4096} + 100, size_t{50}}) {
    auto cut = dir / ("cut-" + std::to_string(keep) + ".db");
    std::filesystem::copy_file(p, cut);
    std::filesystem::resize_file(cut, keep);
    expect_not_recognized(cut);
  }
}

TEST(TokenDbCorrupt, OverwrittenPage) {
  TempDir dir;
  auto p = dir / "t.db";
  {
    auto db = TokenDb::open(p, OpenMode::create_new);
    db->transaction([&] {
      for (int i = 0; i < 2000; ++i) db->insert_object(make_row(i));
    });
  }
  std::fstream f(p, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(4096 * 3);
  std::string junk(4096, '\x5a');
  f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  f.close();
  expect_not_recognized(p);
}

}  // namespace
}  // namespace keyseal::store
