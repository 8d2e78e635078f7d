// Tests of the store directory helpers (store/token_dir.h): naming, listing, and creating with mode 0700.
#include "store/token_dir.h"
#include "store_test_util.h"

#include <gtest/gtest.h>

#include <fstream>
#include "forked_child.h"

namespace keyseal::store {
namespace {

using testing::rv_of;
using testing::TempDir;

void touch(const std::filesystem::path& p) { std::ofstream(p).put('x'); }

TEST(TokenDir, PathAndListingSortedBySlot) {
  TempDir dir;
  EXPECT_EQ(token_file_path(dir.path(), 7), dir.path() / "token-7.db");
  for (const char* name : {"token-10.db", "token-2.db", "token-0.db", "token-2.db-wal", "token-2.db-shm",
                           "token-07.db", "token-x.db", "token-.db", "token--1.db", "token-3.db.tmp-1-0",
                           "other.db", "token-99999999999999999999999.db"})
    touch(dir / name);
  std::filesystem::create_directory(dir / "token-5.db");  // not a regular file
  auto files = list_token_files(dir.path());
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].slot_id, 0u);
  EXPECT_EQ(files[1].slot_id, 2u);
  EXPECT_EQ(files[2].slot_id, 10u);
  EXPECT_EQ(files[2].path, dir.path() / "token-10.db");
}

TEST(TokenDir, MissingDirectoryIsEmpty) {
  TempDir dir;
  EXPECT_TRUE(list_token_files(dir / "nope").empty());
}

TEST(TokenDir, EnsureCreatesPrivateDirectories) {
  TempDir dir;
  auto deep = dir / "a" / "b" / "keyseal";
  ensure_store_dir(deep);
  ensure_store_dir(deep);  // idempotent
  for (auto p : {dir / "a", dir / "a" / "b", deep}) {
    namespace fs = std::filesystem;
    EXPECT_TRUE(fs::is_directory(p));
    if (keyseal::test::posix_file_modes())  // Windows: the folder's ACL
      EXPECT_EQ(fs::status(p).permissions() & (fs::perms::group_all | fs::perms::others_all), fs::perms::none) << p;
  }
  touch(dir / "file");
  EXPECT_EQ(rv_of([&] { ensure_store_dir(dir / "file"); }), CKR_DEVICE_ERROR);
  EXPECT_EQ(rv_of([&] { ensure_store_dir(dir / "file" / "sub"); }), CKR_DEVICE_ERROR);
}

}  // namespace
}  // namespace keyseal::store
