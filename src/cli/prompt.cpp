// PIN entry on the terminal with echo off (platform::read_secret_line: termios on POSIX, the console mode on
// Windows), straight into SecureBytes.
#include "cli/prompt.h"

#include "cli/errors.h"
#include "platform/terminal.h"

#include <stdexcept>
#include <string>

namespace keyseal::cli {

SecureBytes ask_pin(std::string_view prompt) {
  SecureBytes pin(256);  // one allocation, so no partial copy of the PIN is left behind by a regrowth
  size_t len = 0;
  platform::SecretLine r;
  try {
    r = platform::read_secret_line(prompt, pin.data(), pin.size(), len);
  } catch (const std::runtime_error& e) {
    throw Failure(e.what());
  }
  if (r == platform::SecretLine::no_terminal)
    throw UsageError("no terminal to ask for the PIN on; give it with --pin / --so-pin");
  if (r == platform::SecretLine::too_long) throw Failure("PIN is too long");
  pin.resize(len);
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
