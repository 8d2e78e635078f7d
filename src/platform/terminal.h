// Asking for a secret on the terminal without echo: /dev/tty with termios (POSIX), the console through
// CONIN$/CONOUT$ with SetConsoleMode (Windows). Echo is restored on return, on error and on interruption.
#pragma once
#include <cstddef>
#include <string_view>

namespace keyseal::platform {

enum class SecretLine { ok, no_terminal, too_long };

// Writes `prompt` on the terminal, reads one line with echo off into buf[0..cap) (UTF-8, without the line
// end; len set to its length), then writes a newline. no_terminal when there is no terminal to ask on;
// too_long when the line does not fit (what was read is wiped). Throws std::runtime_error when the
// terminal's echo cannot be turned off. No copy of the secret is left in the platform layer.
SecretLine read_secret_line(std::string_view prompt, unsigned char* buf, std::size_t cap, std::size_t& len);

}  // namespace keyseal::platform

namespace keyseal::platform {

// Whether standard input is a terminal (a console on Windows) rather than a pipe or a file.
bool stdin_is_terminal();

}  // namespace keyseal::platform
