// Secret entry on /dev/tty with echo turned off (termios); echo is restored on return, on error and on
// SIGINT/SIGTERM, so an interrupted prompt never leaves the terminal silent.
#include "platform/terminal.h"

#include "platform/wipe.h"

#include <cerrno>
#include <csignal>
#include <fcntl.h>
#include <stdexcept>
#include <termios.h>
#include <unistd.h>

namespace keyseal::platform {
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
  Tty() { fd_ = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC); }
  ~Tty() {
    if (fd_ >= 0) close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Echo off for its lifetime. TCSANOW rather than TCSAFLUSH: a PIN typed (or piped) ahead of the prompt is
// kept rather than silently discarded.
class NoEcho {
 public:
  explicit NoEcho(int fd) : fd_(fd) {
    if (tcgetattr(fd, &g_saved) != 0) throw std::runtime_error("cannot read the terminal settings");
    struct termios quiet = g_saved;
    quiet.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHOE | ECHOK | ECHONL);
    quiet.c_lflag |= ICANON;
    g_tty_fd = fd;
    old_int_ = signal(SIGINT, restore_and_reraise);
    old_term_ = signal(SIGTERM, restore_and_reraise);
    if (tcsetattr(fd, TCSANOW, &quiet) != 0) {
      restore_handlers();
      throw std::runtime_error("cannot turn off terminal echo");
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

SecretLine read_secret_line(std::string_view prompt, unsigned char* buf, std::size_t cap, std::size_t& len) {
  len = 0;
  Tty tty;
  if (tty.fd() < 0) return SecretLine::no_terminal;
  write_all(tty.fd(), prompt);
  {
    NoEcho quiet(tty.fd());
    for (;;) {
      char c;
      const ssize_t n = read(tty.fd(), &c, 1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0 || c == '\n') break;
      if (c == '\r') continue;
      if (len == cap) {
        secure_wipe(&c, 1);
        secure_wipe(buf, cap);
        len = 0;
        write_all(tty.fd(), "\n");
        return SecretLine::too_long;
      }
      buf[len++] = static_cast<unsigned char>(c);
      secure_wipe(&c, 1);
    }
  }
  write_all(tty.fd(), "\n");
  return SecretLine::ok;
}

}  // namespace keyseal::platform

namespace keyseal::platform {

bool stdin_is_terminal() { return isatty(STDIN_FILENO) != 0; }

}  // namespace keyseal::platform
