// A forked child process for the tests of fork rules (a child must not use its parent's connections, must
// call C_Initialize again) and of processes killed mid-way. Windows has no fork(): there available() is false
// and the tests skip, saying so.
#pragma once
#include <functional>

namespace keyseal::test {

// Whether files and folders carry POSIX modes and owners (false on Windows, where ACLs decide).
bool posix_file_modes();

class ForkedChild {
 public:
  static bool available();
  // Forks; the child runs fn and exits with its return value (no destructors, no gtest macros in fn). fn may
  // call ready() once to tell the parent it reached the point where it may be killed.
  explicit ForkedChild(const std::function<int(const std::function<void()>& ready)>& fn);
  ~ForkedChild();
  ForkedChild(const ForkedChild&) = delete;
  ForkedChild& operator=(const ForkedChild&) = delete;

  bool started() const { return pid_ > 0; }
  bool wait_ready();  // blocks until the child called ready(); false when it ended first
  bool finished();    // non-blocking: whether the child has ended
  int wait();         // its exit code; -1 when a signal ended it
  bool killed_by_signal() const { return signalled_; }
  void kill();        // SIGKILL, then wait

 private:
  long pid_ = -1;
  int ready_fd_ = -1;
  bool done_ = false, signalled_ = false;
  int code_ = -1;
};

}  // namespace keyseal::test
