// PIN entry on /dev/tty with echo turned off (termios); echo is restored on return, on error and on
// SIGINT/SIGTERM, so an interrupted prompt never leaves the terminal silent.
#include "cli/prompt.h"

#include "cli/errors.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <string>

namespace keyseal::cli {
namespace {

volatile sig_atomic_t g_tty_fd = -1;
struct termios g_saved;

extern "C" void restore_and_reraise(int sig) {
  if (g_tty_fd >= 0) tcsetattr(g_tty_fd, TCSAFLUSH, &g_saved);
  signal(sig, SIG_DFL);
  raise(sig);
}

class Tty {
 public:
  Tty() {
    fd_ = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd_ < 0) throw UsageError("no terminal to ask for the PIN on; give it with --pin / --so-pin");
  }
  ~Tty() { close(fd_); }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Echo off for its lifetime. TCSANOW rather than TCSAFLUSH: a PIN typed (or piped) ahead of the prompt is
// kept rather than silently discarded.
class NoEcho {
 public:
  explicit NoEcho(int fd) : fd_(fd) {
    if (tcgetattr(fd, &g_saved) != 0) throw Failure("cannot read the terminal settings");
    struct termios quiet = g_saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL);
    quiet.c_lflag |= ICANON;
    g_tty_fd = fd;
    old_int_ = signal(SIGINT, restore_and_reraise);
    old_term_ = signal(SIGTERM, restore_and_reraise);
    if (tcsetattr(fd, TCSANOW, &quiet) != 0) {
      restore_handlers();
      throw Failure("cannot turn off terminal echo");
    }
  }
  ~NoEcho() {
    tcsetattr(fd_, TCSANOW, &g_saved);
    restore_handlers();
  }

 private:
  void restore_handlers() {
    signal(SIGINT, old_int_);
    signal(SIGTERM, old_term_);
    g_tty_fd = -1;
  }
  int fd_;
  void (*old_int_)(int) = SIG_DFL;
  void (*old_term_)(int) = SIG_DFL;
};

void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = write(fd, s.data(), s.size());
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

}  // namespace

SecureBytes ask_pin(std::string_view prompt) {
  Tty tty;
  write_all(tty.fd(), prompt);
  SecureBytes pin;
  pin.reserve(256);  // one allocation, so no partial copy of the PIN is left behind by a regrowth
  {
    NoEcho quiet(tty.fd());
    for (;;) {
      char c;
      const ssize_t n = read(tty.fd(), &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || c == '\n') break;
      if (c == '\r') continue;
      if (pin.size() == pin.capacity()) {
        write_all(tty.fd(), "\n");
        throw Failure("PIN is too long");
      }
      pin.push_back(static_cast<uint8_t>(c));
      secure_wipe(&c, 1);
    }
  }
  write_all(tty.fd(), "\n");
  if (pin.empty()) throw Failure("empty PIN");
  return pin;
}

SecureBytes ask_new_pin(std::string_view what) {
  SecureBytes first = ask_pin("New " + std::string(what) + ": ");
  SecureBytes again = ask_pin("Repeat the " + std::string(what) + ": ");
  if (!equal_constant_time(view(first), view(again))) throw Failure("the two " + std::string(what) + "s differ");
  return first;
}

}  // namespace keyseal::cli
