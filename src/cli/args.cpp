// Command-line parsing for the `keyseal` tool (see args.h); no PKCS#11 calls here, so it is unit-tested.
#include "cli/args.h"

#include "cli/errors.h"

#include <cstring>
#include <string>
#include <vector>

namespace keyseal::cli {
namespace {

enum class Opt { module, label, backend, slot, pin, so_pin };

struct OptSpec {
  std::string_view name;
  Opt opt;
};

constexpr OptSpec kValueOptions[] = {
    {"--module", Opt::module}, {"--label", Opt::label}, {"--backend", Opt::backend},
    {"--slot", Opt::slot},     {"--pin", Opt::pin},     {"--so-pin", Opt::so_pin},
};

bool command_takes(Command c, Opt o) {
  if (o == Opt::module) return true;
  switch (c) {
    case Command::init: return true;
    case Command::list: return o == Opt::pin || o == Opt::slot;
    default: return false;
  }
}

Command parse_command(std::string_view word) {
  if (word == "init") return Command::init;
  if (word == "list") return Command::list;
  if (word == "status") return Command::status;
  throw UsageError("unknown command '" + std::string(word) + "'");
}

CK_SLOT_ID parse_slot(const std::string& v) {
  // Decimal, or hexadecimal with 0x; no sign, no trailing characters.
  if (v.empty() || v[0] == '-' || v[0] == '+' || v[0] == ' ')
    throw UsageError("--slot expects a slot number, got '" + v + "'");
  try {
    size_t used = 0;
    const unsigned long long n = std::stoull(v, &used, 0);
    if (used == v.size() && n <= static_cast<unsigned long long>(static_cast<CK_SLOT_ID>(-1)))
      return static_cast<CK_SLOT_ID>(n);
  } catch (const std::exception&) {
  }
  throw UsageError("--slot expects a slot number, got '" + v + "'");
}

// Copies a PIN out of argv and wipes it there.
SecureBytes take_pin(char* value, std::string_view name) {
  const size_t n = std::strlen(value);
  SecureBytes pin(value, value + n);
  secure_wipe(value, n);
  if (pin.empty()) throw UsageError(std::string(name) + " must not be empty");
  return pin;
}

template <class T>
void set_once(std::optional<T>& slot, T value, std::string_view name) {
  if (slot) throw UsageError(std::string(name) + " given twice");
  slot = std::move(value);
}

}  // namespace

std::string_view command_name(Command c) {
  switch (c) {
    case Command::init: return "init";
    case Command::list: return "list";
    case Command::status: return "status";
    default: return "";
  }
}

Options parse_args(std::span<char*> args) {
  Options o;
  struct Pending {
    Opt opt;
    std::string_view name;
    char* value;
  };
  std::vector<Pending> given;
  for (size_t i = 0; i < args.size(); ++i) {
    char* arg = args[i];
    const std::string_view a(arg);
    if (a == "--help" || a == "-h") {
      o.help = true;
      continue;
    }
    if (a == "--version" || a == "-V") {
      o.version = true;
      continue;
    }
    if (a.starts_with("-")) {
      const auto eq = a.find('=');
      const std::string_view name = a.substr(0, eq);
      const OptSpec* spec = nullptr;
      for (const auto& s : kValueOptions)
        if (s.name == name) spec = &s;
      if (!spec) throw UsageError("unknown option '" + std::string(name) + "'");
      char* value = nullptr;
      if (eq != std::string_view::npos) {
        value = arg + eq + 1;
      } else {
        if (i + 1 >= args.size()) throw UsageError("option " + std::string(name) + " needs a value");
        value = args[++i];
      }
      given.push_back({spec->opt, spec->name, value});
      continue;
    }
    if (o.command != Command::none) throw UsageError("unexpected argument '" + std::string(a) + "'");
    o.command = parse_command(a);
  }

  for (auto& g : given) {
    if (!command_takes(o.command, g.opt)) {
      // Wipe a PIN even when rejecting it.
      if (g.opt == Opt::pin || g.opt == Opt::so_pin) secure_wipe(g.value, std::strlen(g.value));
      const std::string where =
          o.command == Command::none ? "without a command" : "with '" + std::string(command_name(o.command)) + "'";
      throw UsageError("option " + std::string(g.name) + " cannot be used " + where);
    }
    switch (g.opt) {
      case Opt::module: set_once(o.module, std::string(g.value), g.name); break;
      case Opt::label: set_once(o.label, std::string(g.value), g.name); break;
      case Opt::backend: set_once(o.backend, std::string(g.value), g.name); break;
      case Opt::slot: set_once(o.slot, parse_slot(g.value), g.name); break;
      case Opt::pin: set_once(o.pin, take_pin(g.value, g.name), g.name); break;
      case Opt::so_pin: set_once(o.so_pin, take_pin(g.value, g.name), g.name); break;
    }
  }

  if (o.help || o.version) return o;
  if (o.command == Command::none) throw UsageError("no command given");
  if (o.module && o.module->empty()) throw UsageError("--module needs a path");
  if (o.command == Command::init) {
    if (!o.label) throw UsageError("init needs --label");
    if (o.label->empty()) throw UsageError("--label must not be empty");
    if (o.label->size() > 32) throw UsageError("--label is longer than 32 bytes (PKCS#11 token label limit)");
    if (o.backend && *o.backend != "soft" && *o.backend != "tpm")
      throw UsageError("--backend must be 'soft' or 'tpm', got '" + *o.backend + "'");
  }
  return o;
}

std::string usage_text(Command c) {
  const std::string common =
      "  --module PATH   PKCS#11 module to load (default: $KEYSEAL_MODULE, then the installed\n"
      "                  libkeyseal.so, then the one in the build tree)\n"
      "  -h, --help      show this help\n";
  switch (c) {
    case Command::init:
      return "Usage: keyseal init --label LABEL [--so-pin PIN] [--pin PIN] [--backend soft|tpm] [--slot ID]\n"
             "Initialise an empty token: set its label and SO PIN, then the user PIN.\n"
             "PINs not given as options are asked on the terminal (twice, without echo).\n"
             "  --label LABEL   token label, at most 32 bytes\n"
             "  --so-pin PIN    security officer PIN\n"
             "  --pin PIN       user PIN\n"
             "  --backend KIND  take an empty token of this kind (soft or tpm)\n"
             "  --slot ID       take the empty token in this slot\n" +
             common;
    case Command::list:
      return "Usage: keyseal list [--pin PIN] [--slot ID]\n"
             "List tokens and their objects with pkcs11: URIs (RFC 7512).\n"
             "Without --pin only public objects are listed.\n"
             "  --pin PIN       user PIN, to list private objects too\n"
             "  --slot ID       only this slot\n" +
             common;
    case Command::status:
      return "Usage: keyseal status\n"
             "Show the module, its configuration and the state of each slot and token.\n" +
             common;
    default:
      return "Usage: keyseal [--module PATH] COMMAND [OPTIONS]\n"
             "Manage keyseal PKCS#11 tokens.\n"
             "Commands:\n"
             "  init     initialise an empty token (label, SO PIN, user PIN)\n"
             "  list     list tokens and objects with their pkcs11: URIs\n"
             "  status   show module, configuration and token state\n"
             "Options:\n" +
             common +
             "  -V, --version   show the version\n"
             "Run 'keyseal COMMAND --help' for a command's options.\n"
             "Exit status: 0 success, 1 operation failed, 2 usage error.\n";
  }
}

}  // namespace keyseal::cli
