// Secret entry on the Windows console: CONIN$ with ENABLE_ECHO_INPUT cleared (SetConsoleMode), read as UTF-16
// with ReadConsoleW and stored as UTF-8; the mode is restored on return, on error and on Ctrl+C/Ctrl+Break.
#include "platform/terminal.h"

#include "platform/wipe.h"

#include <windows.h>

#include <stdexcept>

namespace keyseal::platform {
namespace {

HANDLE g_in = INVALID_HANDLE_VALUE;
DWORD g_saved_mode = 0;

BOOL WINAPI restore_on_ctrl(DWORD) {
  if (g_in != INVALID_HANDLE_VALUE) SetConsoleMode(g_in, g_saved_mode);
  return FALSE;  // the default handler ends the process
}

class Console {
 public:
  Console() {
    in_ = CreateFileW(L"CONIN$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                      OPEN_EXISTING, 0, nullptr);
    out_ = CreateFileW(L"CONOUT$", GENERIC_READ | GENERIC_WRITE, FILE_SHARE_READ | FILE_SHARE_WRITE, nullptr,
                       OPEN_EXISTING, 0, nullptr);
  }
  ~Console() {
    if (in_ != INVALID_HANDLE_VALUE) CloseHandle(in_);
    if (out_ != INVALID_HANDLE_VALUE) CloseHandle(out_);
  }
  bool usable() const {
    DWORD mode;
    return in_ != INVALID_HANDLE_VALUE && out_ != INVALID_HANDLE_VALUE && GetConsoleMode(in_, &mode);
  }
  HANDLE in() const { return in_; }
  void write(std::string_view s) const {
    DWORD n;
    const int wn = MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), nullptr, 0);
    std::wstring w(static_cast<size_t>(wn), L'\0');
    MultiByteToWideChar(CP_UTF8, 0, s.data(), static_cast<int>(s.size()), w.data(), wn);
    WriteConsoleW(out_, w.data(), static_cast<DWORD>(w.size()), &n, nullptr);
  }

 private:
  HANDLE in_, out_;
};

class NoEcho {
 public:
  explicit NoEcho(HANDLE in) : in_(in) {
    if (!GetConsoleMode(in, &g_saved_mode)) throw std::runtime_error("cannot read the console mode");
    g_in = in;
    SetConsoleCtrlHandler(restore_on_ctrl, TRUE);
    const DWORD quiet = (g_saved_mode & ~static_cast<DWORD>(ENABLE_ECHO_INPUT)) | ENABLE_LINE_INPUT |
                        ENABLE_PROCESSED_INPUT;
    if (!SetConsoleMode(in, quiet)) {
      SetConsoleCtrlHandler(restore_on_ctrl, FALSE);
      g_in = INVALID_HANDLE_VALUE;
      throw std::runtime_error("cannot turn off console echo");
    }
  }
  ~NoEcho() {
    SetConsoleMode(in_, g_saved_mode);
    SetConsoleCtrlHandler(restore_on_ctrl, FALSE);
    g_in = INVALID_HANDLE_VALUE;
  }

 private:
  HANDLE in_;
};

}  // namespace

SecretLine read_secret_line(std::string_view prompt, unsigned char* buf, std::size_t cap, std::size_t& len) {
  len = 0;
  Console con;
  if (!con.usable()) return SecretLine::no_terminal;
  con.write(prompt);
  SecretLine result = SecretLine::ok;
  {
    NoEcho quiet(con.in());
    wchar_t pending_high = 0;
    for (;;) {
      wchar_t w = 0;
      DWORD n = 0;
      if (!ReadConsoleW(con.in(), &w, 1, &n, nullptr) || n == 0 || w == L'\n') break;
      if (w == L'\r' || result != SecretLine::ok) continue;  // drain the rest of a too-long line
      unsigned long cp = w;
      if (w >= 0xD800 && w < 0xDC00) {
        pending_high = w;
        continue;
      }
      if (w >= 0xDC00 && w < 0xE000 && pending_high) cp = 0x10000 + ((pending_high - 0xD800) << 10) + (w - 0xDC00);
      pending_high = 0;
      unsigned char u[4];
      size_t k = 0;
      if (cp < 0x80) u[k++] = static_cast<unsigned char>(cp);
      else if (cp < 0x800) u[k++] = static_cast<unsigned char>(0xC0 | (cp >> 6)), u[k++] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
      else if (cp < 0x10000)
        u[k++] = static_cast<unsigned char>(0xE0 | (cp >> 12)), u[k++] = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F)),
        u[k++] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
      else
        u[k++] = static_cast<unsigned char>(0xF0 | (cp >> 18)), u[k++] = static_cast<unsigned char>(0x80 | ((cp >> 12) & 0x3F)),
        u[k++] = static_cast<unsigned char>(0x80 | ((cp >> 6) & 0x3F)), u[k++] = static_cast<unsigned char>(0x80 | (cp & 0x3F));
      if (len + k > cap) {
        secure_wipe(buf, cap);
        len = 0;
        result = SecretLine::too_long;
      } else {
        for (size_t i = 0; i < k; ++i) buf[len++] = u[i];
      }
      secure_wipe(u, sizeof u);
      secure_wipe(&w, sizeof w);
      cp = 0;
    }
    secure_wipe(&pending_high, sizeof pending_high);
  }
  con.write("\n");
  return result;
}

}  // namespace keyseal::platform

namespace keyseal::platform {

bool stdin_is_terminal() {
  DWORD mode;
  return GetConsoleMode(GetStdHandle(STD_INPUT_HANDLE), &mode) != 0;
}

}  // namespace keyseal::platform
