// ForkedChild on POSIX: fork, a pipe for the ready signal, waitpid.
#include "forked_child.h"

#include <csignal>
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>

namespace keyseal::test {

bool posix_file_modes() { return true; }

bool ForkedChild::available() { return true; }

ForkedChild::ForkedChild(const std::function<int(const std::function<void()>&)>& fn) {
  int fds[2];
  if (pipe(fds) != 0) return;
  std::fflush(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return;
  }
  if (pid == 0) {
    close(fds[0]);
    const int w = fds[1];
    _exit(fn([w] {
      if (write(w, "r", 1) != 1) _exit(2);
    }));
  }
  close(fds[1]);
  ready_fd_ = fds[0];
  pid_ = pid;
}

ForkedChild::~ForkedChild() {
  if (started() && !done_) kill();
  if (ready_fd_ >= 0) close(ready_fd_);
}

bool ForkedChild::wait_ready() {
  char c = 0;
  return ready_fd_ >= 0 && read(ready_fd_, &c, 1) == 1;
}

bool ForkedChild::finished() {
  if (done_ || !started()) return true;
  int status = 0;
  if (waitpid(static_cast<pid_t>(pid_), &status, WNOHANG) != pid_) return false;
  done_ = true;
  signalled_ = WIFSIGNALED(status);
  code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return true;
}

int ForkedChild::wait() {
  if (!started()) return -1;
  if (!done_) {
    int status = 0;
    waitpid(static_cast<pid_t>(pid_), &status, 0);
    done_ = true;
    signalled_ = WIFSIGNALED(status);
    code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  return code_;
}

void ForkedChild::kill() {
  if (!started() || done_) return;
  ::kill(static_cast<pid_t>(pid_), SIGKILL);
  wait();
}

}  // namespace keyseal::test
