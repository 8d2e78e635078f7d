// Asking for PINs on the terminal without echo (platform/terminal.h), into SecureBytes.
#pragma once
#include "common/secure_bytes.h"

#include <string_view>

namespace keyseal::cli {

// Prints `prompt` on /dev/tty and reads one line with echo off. Throws UsageError when there is no
// terminal (the caller should pass the PIN as an option) and Failure on an empty PIN.
SecureBytes ask_pin(std::string_view prompt);

// Asks for a new PIN twice; throws Failure when the two entries differ.
SecureBytes ask_new_pin(std::string_view what);

}  // namespace keyseal::cli
