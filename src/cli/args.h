// Command-line parsing for the `keyseal` tool: commands init, list, status and their options. PIN values
// given as options are copied into SecureBytes and wiped from argv so `ps` does not show them.
#pragma once
#include "common/secure_bytes.h"

#include <keyseal/pkcs11.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace keyseal::cli {

enum class Command { none, init, list, status,
  import_key, export_key, import_cert,  // import, export, import-cert (cmd_import.cpp, cmd_export.cpp)
  fingerprint, recover,                 // fingerprint, recover (cmd_fingerprint.cpp, cmd_recover.cpp)
  bind_tpm,                             // bind-tpm (cmd_bind_tpm.cpp)
  attest, attest_ak,                    // attest, attest-ak (cmd_attest.cpp)
};

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
  std::optional<std::vector<uint8_t>> id;  // import/export/import-cert --id HEX (CKA_ID)
  std::optional<std::string> p12_pass_file;  // import --p12-pass-file FILE (first line is the password)
  std::optional<std::string> out;            // export --out FILE (default: standard output)
  std::optional<std::string> file;           // import/import-cert FILE (the one positional argument)
  bool export_public = false;                // export --public
  bool export_cert = false;                  // export --cert
  std::optional<std::string> pcrs;           // init --pcrs LIST (new TPM tokens, e.g. sha256:0,7)
  bool recovery_code = false;                // init/bind-tpm --recovery-code (soft tokens)
  bool bind_tpm = false;                     // init --bind-tpm (soft tokens)
  std::optional<std::vector<uint8_t>> nonce;  // attest --nonce HEX (qualifying data, at most 64 bytes)
  std::optional<std::string> format;          // attest --format json|tpm|pem
  std::optional<std::string> activate;        // attest-ak --activate CREDENTIAL.json
  std::optional<std::string> store_cert;      // attest-ak --store-cert CHAIN.pem
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
