// Command-line parsing for the `keyseal` tool: commands init, list, status and their options. PIN values
// given as options are copied into SecureBytes and wiped from argv so `ps` does not show them.
#pragma once
#include "common/secure_bytes.h"

#include <keyseal/pkcs11.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace keyseal::cli {

enum class Command { none, init, list, status };

struct Options {
  Command command = Command::none;
  bool help = false;     // --help / -h (for the command, or the tool when no command)
  bool version = false;  // --version / -V
  std::optional<std::string> module;   // --module PATH
  std::optional<std::string> label;    // init --label
  std::optional<std::string> backend;  // init --backend soft|tpm
  std::optional<CK_SLOT_ID> slot;      // init/list --slot ID
  std::optional<SecureBytes> pin;      // init/list --pin
  std::optional<SecureBytes> so_pin;   // init --so-pin
};

// Parses argv[1..]. Accepts "--opt VALUE" and "--opt=VALUE", options before or after the command.
// Throws UsageError for an unknown command or option, a missing value, a repeated option, an option the
// command does not take, a bad slot number, an over-long label (> 32 bytes), an empty PIN or a missing
// --label for init. Wipes the bytes of PIN values in argv.
Options parse_args(std::span<char*> args);

// Help text for the tool (Command::none) or one command.
std::string usage_text(Command c);

std::string_view command_name(Command c);

}  // namespace keyseal::cli
