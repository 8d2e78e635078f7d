// Tests of concurrent use of one token file: two connections, several threads, and a forked child process
// writing while the parent reads (the Firefox + ssh-agent case).
#include "store/token_db.h"
#include "store_test_util.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include "forked_child.h"

namespace keyseal::store {
namespace {

using testing::bytes;
using testing::make_row;
using testing::rv_of;
using testing::TempDir;

TEST(TokenDbConcurrency, SecondConnectionSeesCommitAndDataVersionChanges) {
  TempDir dir;
  auto a = TokenDb::open(dir / "t.db", OpenMode::create_new);
  auto b = TokenDb::open(dir / "t.db", OpenMode::existing);
  uint64_t vb = b->data_version();
  uint64_t va = a->data_version();
  EXPECT_EQ(b->data_version(), vb);  // nothing committed yet

  int64_t id = a->insert_object(make_row(1));
  EXPECT_EQ(a->data_version(), va);  // own commits do not count
  EXPECT_NE(b->data_version(), vb);
  auto row = b->load_object(id);
  ASSERT_TRUE(row);
  EXPECT_EQ(row->uid, "uid-1");

  vb = b->data_version();
  b->set_meta("pin", view(bytes("wrapped")));
  EXPECT_NE(a->data_version(), va);
  EXPECT_EQ(b->data_version(), vb);
  EXPECT_TRUE(a->get_meta("pin"));
}

TEST(TokenDbConcurrency, UncommittedWorkIsInvisibleToOtherConnection) {
  TempDir dir;
  auto a = TokenDb::open(dir / "t.db", OpenMode::create_new);
  auto b = TokenDb::open(dir / "t.db", OpenMode::existing);
  a->transaction([&] {
    a->insert_object(make_row(1));
    EXPECT_EQ(b->count_objects(), 0u);  // WAL: readers are not blocked and see the last commit
  });
  EXPECT_EQ(b->count_objects(), 1u);
}

TEST(TokenDbConcurrency, ThreadsShareOneConnectionAndUseTwo) {
  TempDir dir;
  auto shared = TokenDb::open(dir / "t.db", OpenMode::create_new);
  auto other = TokenDb::open(dir / "t.db", OpenMode::existing);
  constexpr int kThreads = 4, kPerThread = 100;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      TokenDb& db = (t % 2) ? *shared : *other;
      for (int i = 0; i < kPerThread; ++i) {
        try {
          int n = t * kPerThread + i;
          if (i % 2) {
            db.insert_object(make_row(n));
          } else {
            db.transaction([&] {
              int64_t id = db.insert_object(make_row(n));
              ObjectRow r = *db.load_object(id);
              r.label = "updated";
              db.update_object(r);
            });
          }
          ObjectQuery q;
          q.uid = "uid-" + std::to_string(n);
          if (db.find_objects(q).size() != 1) ++failures;
        } catch (const Error&) {
          ++failures;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(shared->count_objects(), static_cast<size_t>(kThreads * kPerThread));
  ObjectQuery q;
  q.label = "updated";
  EXPECT_EQ(other->find_objects(q).size(), static_cast<size_t>(kThreads * kPerThread / 2));
}

TEST(TokenDbConcurrency, ForkedChildWritesWhileParentReads) {
  TempDir dir;
  auto file = dir / "t.db";
  auto parent = TokenDb::open(file, OpenMode::create_new);
  parent->insert_object(make_row(0));
  constexpr int kChildRows = 300;

  if (!keyseal::test::ForkedChild::available())
    GTEST_SKIP() << "Windows has no fork(): no connection is ever inherited by a child process";
  keyseal::test::ForkedChild child([&](const std::function<void()>&) {
    // Child: its own connection; the inherited one must refuse to be used. No gtest macros here.
    int code = 0;
    if (rv_of([&] { parent->count_objects(); }) != CKR_GENERAL_ERROR) code = 2;
    try {
      auto db = TokenDb::open(file, OpenMode::existing);
      for (int i = 1; i <= kChildRows; ++i) {
        if (i % 3) {
          db->insert_object(make_row(i));
        } else {
          db->transaction([&] { db->insert_object(make_row(i)); });
        }
      }
    } catch (...) {
      code = 1;
    }
    parent.reset();  // leaks the inherited connection rather than closing the parent's
    return code;
  });
  ASSERT_TRUE(child.started());

  // Parent: keep reading while the child writes; counts never go down and every read succeeds.
  size_t last = 1, reads = 0;
  bool done = false;
  while (!done) {
    done = child.finished();
    size_t n = parent->count_objects();
    EXPECT_GE(n, last);
    last = n;
    ObjectQuery q;
    q.uid = "uid-0";
    EXPECT_EQ(parent->find_objects(q).size(), 1u);
    ++reads;
  }
  ASSERT_FALSE(child.killed_by_signal());
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(parent->count_objects(), static_cast<size_t>(kChildRows + 1));
  EXPECT_GT(reads, 0u);
  // The parent's connection still writes after the child is gone.
  parent->insert_object(make_row(kChildRows + 1));
  EXPECT_EQ(TokenDb::open(file, OpenMode::existing)->count_objects(), static_cast<size_t>(kChildRows + 2));
}

}  // namespace
}  // namespace keyseal::store
