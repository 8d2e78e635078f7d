// Tests of the platform layer on the OS it was built for (Linux natively, Windows under wine): UTF-8
// environment and paths, private exclusive files, no-replace publication, directories, file locks, child
// processes, dynamic loading and wiping.
#include "platform/dynlib.h"
#include "platform/env.h"
#include "platform/files.h"
#include "platform/paths.h"
#include "platform/process.h"
#include "platform/wipe.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace keyseal::platform {
namespace {

namespace fs = std::filesystem;

const std::string kUtf8Name = "keyseal-\xc3\xa9t\xc3\xa9-\xe2\x82\xac";  // "keyseal-été-€"

class TempDir {
 public:
  TempDir() : path_(make_temp_dir("keyseal-platform-")) {}
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

std::string read_all(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(PlatformEnv, SetGetUnsetInUtf8) {
  ASSERT_TRUE(set_env("KEYSEAL_PLATFORM_TEST", kUtf8Name));
  auto v = get_env("KEYSEAL_PLATFORM_TEST");
  ASSERT_TRUE(v);
  EXPECT_EQ(*v, kUtf8Name);
  // The C runtime sees the same value (what a library reading getenv gets).
  const char* c = std::getenv("KEYSEAL_PLATFORM_TEST");
  EXPECT_NE(c, nullptr);
  ASSERT_TRUE(unset_env("KEYSEAL_PLATFORM_TEST"));
  EXPECT_FALSE(get_env("KEYSEAL_PLATFORM_TEST"));
}

TEST(PlatformPaths, Utf8RoundTripNamesTheSameFile) {
  TempDir dir;
  const fs::path p = dir.path() / path_from_utf8(kUtf8Name);
  std::ofstream(p) << "x";
  EXPECT_TRUE(fs::exists(path_from_utf8(path_to_utf8(p))));
  EXPECT_EQ(path_to_utf8(p.filename()), kUtf8Name);
}

TEST(PlatformPaths, DefaultStoreDirIsPerUserAndEndsInKeyseal) {
  std::string why;
  const fs::path d = default_store_dir(why);
  if (d.empty()) {
    EXPECT_FALSE(why.empty());
    return;
  }
  EXPECT_EQ(path_to_utf8(d.filename()), "keyseal");
  EXPECT_TRUE(d.is_absolute()) << path_to_utf8(d);
}

TEST(PlatformFiles, CreateNewIsExclusive) {
  TempDir dir;
  const fs::path f = dir.path() / "a";
  EXPECT_TRUE(create_new_private_file(f));
  EXPECT_FALSE(create_new_private_file(f));
  EXPECT_THROW(create_new_private_file(dir.path() / "missing" / "b"), std::system_error);
}

TEST(PlatformFiles, PublishNeverReplaces) {
  TempDir dir;
  const fs::path tmp = dir.path() / "tmp", target = dir.path() / "target";
  std::ofstream(tmp, std::ios::binary) << "new";
  EXPECT_TRUE(publish_no_replace(tmp, target));
  EXPECT_EQ(read_all(target), "new");
  remove_quietly(tmp);
  EXPECT_FALSE(fs::exists(tmp));
  std::ofstream(tmp, std::ios::binary) << "second";
  EXPECT_FALSE(publish_no_replace(tmp, target));
  EXPECT_EQ(read_all(target), "new");  // the existing file is untouched
  remove_quietly(tmp);
}

TEST(PlatformFiles, MakePrivateDirSaysWhatHappened) {
  TempDir dir;
  EXPECT_EQ(make_private_dir(dir.path() / "d"), MakeDir::made);
  EXPECT_EQ(make_private_dir(dir.path() / "d"), MakeDir::existed);
  std::ofstream(dir.path() / "f") << "x";
  EXPECT_EQ(make_private_dir(dir.path() / "f"), MakeDir::not_a_directory);
  EXPECT_TRUE(storage_writable(dir.path() / "f"));
  EXPECT_FALSE(storage_writable(dir.path() / "nothing-here"));
}

TEST(PlatformFiles, LockExcludesAnotherHolder) {
  TempDir dir;
  const fs::path f = dir.path() / "lock";
  FileLock a(f), b(f);
  a.lock();
  EXPECT_TRUE(a.held());
  EXPECT_FALSE(b.try_lock());  // another open of the file: as another process would be
  a.unlock();
  EXPECT_TRUE(b.try_lock());
  EXPECT_FALSE(a.try_lock());
  b.unlock();
}

TEST(PlatformProcess, ChildRunsAndReportsItsExitCode) {
  const std::string self = self_executable();
  ASSERT_FALSE(self.empty());
  EXPECT_TRUE(fs::exists(path_from_utf8(self)));
  ASSERT_TRUE(set_env("KEYSEAL_PLATFORM_CHILD", "7"));
  const auto child = spawn_process({self, "--gtest_filter=PlatformChild.ExitWithCode", "an argument with spaces"});
  unset_env("KEYSEAL_PLATFORM_CHILD");
  ASSERT_GT(child, 0);
  EXPECT_EQ(wait_process(child, 60), 7);
  EXPECT_EQ(spawn_process({(fs::path(self).parent_path() / "no-such-program").string()}), -1);
}

// The child side of the test above; skipped when run as a test.
TEST(PlatformChild, ExitWithCode) {
  const auto code = get_env("KEYSEAL_PLATFORM_CHILD");
  if (!code) GTEST_SKIP() << "runs only as the child of PlatformProcess.ChildRunsAndReportsItsExitCode";
  std::_Exit(std::atoi(code->c_str()));
}

TEST(PlatformProcess, IdIsStable) { EXPECT_EQ(process_id(), process_id()); }

TEST(PlatformDynlib, LoadsFindsAndReportsErrors) {
  SharedLibrary lib;
  EXPECT_FALSE(lib.open("keyseal-no-such-library-xyz"));
  EXPECT_FALSE(lib.error().empty());
  ASSERT_TRUE(lib.open(KEYSEAL_TEST_SYSTEM_LIB)) << lib.error();
  EXPECT_NE(lib.symbol(KEYSEAL_TEST_SYSTEM_SYMBOL), nullptr);
  EXPECT_EQ(lib.symbol("keyseal_no_such_symbol"), nullptr);
  EXPECT_FALSE(lib.error().empty());
}

TEST(PlatformWipe, ClearsMemory) {
  unsigned char buf[32];
  for (auto& b : buf) b = 0xA5;
  secure_wipe(buf, sizeof buf);
  for (auto b : buf) EXPECT_EQ(b, 0);
}

}  // namespace
}  // namespace keyseal::platform
