// `keyseal recover --slot N` (issue 5, item 4): re-binds a soft token to this machine's hardware with the
// recovery code shown at `keyseal init --recovery-code`. The code is asked on the terminal (or read from the
// first line of standard input when that is not a terminal). The PINs still guard the keys.

#include <iostream>
#include <ostream>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/prompt.h"
#include "cli/soft_token_file.h"
#include "core/config.h"
#include "softtoken/recovery.h"
#include "compose/compose.h"
#include "platform/terminal.h"

namespace keyseal::cli {
namespace {

SecureBytes read_code() {
  if (platform::stdin_is_terminal()) return ask_pin("Recovery code: ");
  SecureBytes code;
  for (int c = std::cin.get(); c != EOF && c != '\n'; c = std::cin.get()) code.push_back(static_cast<uint8_t>(c));
  if (code.empty()) throw Failure("no recovery code on standard input");
  return code;
}

}  // namespace

int run_recover(const Options& o, std::ostream& out) {
  auto db = open_soft_token(*o.slot);
  if (!softtoken::has_recovery(*db))
    throw Failure("the token in slot " + std::to_string(*o.slot) +
                  " has no recovery code (it was initialised without --recovery-code)");
  const SecureBytes code = read_code();
  const std::string summary = softtoken::recover_binding(*db, view(code), compose::this_machine(core::load_config()));
  out << "Token in slot " << *o.slot << " is bound to this machine again (" << summary << ").\n"
      << "Its PINs are unchanged; the recovery code stays valid.\n";
  return kExitOk;
}

}  // namespace keyseal::cli
