// Process rules on POSIX: getpid, pthread_atfork.
#include "platform/process.h"

#include <climits>
#include <csignal>
#include <chrono>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace keyseal::platform {

std::uint64_t process_id() { return static_cast<std::uint64_t>(::getpid()); }

void on_fork_in_child(void (*fn)()) { pthread_atfork(nullptr, nullptr, fn); }

std::string self_executable() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return {};
  return std::string(buf, static_cast<size_t>(n));
}

std::int64_t spawn_process(const std::vector<std::string>& args) {
  if (args.empty()) return -1;
  std::vector<std::string> copy = args;
  std::vector<char*> argv;
  for (auto& s : copy) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return -1;
  return pid;
}

int wait_process(std::int64_t child, int timeout_seconds) {
  if (child <= 0) return -2;
  const pid_t pid = static_cast<pid_t>(child);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) != pid) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -3;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace keyseal::platform
