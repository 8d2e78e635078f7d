// Command-line parsing for the `keyseal` tool (see args.h); no PKCS#11 calls here, so it is unit-tested.
#include "cli/args.h"

#include "cli/errors.h"
#include "cli/pem_p12.h"

#include <cstring>
#include <string>
#include <vector>

namespace keyseal::cli {
namespace {

enum class Opt { module, label, backend, slot, pin, so_pin,
  id, p12_pass_file, out,  // import, export, import-cert
  pcrs,                    // init (TPM)
  nonce, format, activate, store_cert,  // attest, attest-ak
};

struct OptSpec {
  std::string_view name;
  Opt opt;
};

constexpr OptSpec kValueOptions[] = {
    {"--module", Opt::module}, {"--label", Opt::label}, {"--backend", Opt::backend},
    {"--slot", Opt::slot},     {"--pin", Opt::pin},     {"--so-pin", Opt::so_pin},
    {"--id", Opt::id},         {"--p12-pass-file", Opt::p12_pass_file}, {"--out", Opt::out},
    {"--pcrs", Opt::pcrs},
    {"--nonce", Opt::nonce},   {"--format", Opt::format}, {"--activate", Opt::activate},
    {"--store-cert", Opt::store_cert},
};

// The options of import, export and import-cert, and which of them take --id, --p12-pass-file, --out.
bool key_command_takes(Command c, Opt o) {
  switch (c) {
    case Command::import_key: return o != Opt::backend && o != Opt::so_pin && o != Opt::out;
    case Command::export_key: return o == Opt::slot || o == Opt::pin || o == Opt::id || o == Opt::label || o == Opt::out;
    case Command::import_cert: return o == Opt::slot || o == Opt::pin || o == Opt::id || o == Opt::label;
    default: return false;
  }
}

bool takes_file(Command c) { return c == Command::import_key || c == Command::import_cert; }

bool command_takes(Command c, Opt o) {
  if (o == Opt::module) return true;
  if (c == Command::attest)
    return o == Opt::slot || o == Opt::pin || o == Opt::id || o == Opt::label || o == Opt::nonce ||
           o == Opt::format || o == Opt::out;
  if (c == Command::attest_ak) return o == Opt::out || o == Opt::activate || o == Opt::store_cert;
  if (o == Opt::nonce || o == Opt::format || o == Opt::activate || o == Opt::store_cert) return false;
  if (o == Opt::pcrs) return c == Command::init;
  if (c == Command::import_key || c == Command::export_key || c == Command::import_cert) return key_command_takes(c, o);
  if (o == Opt::id || o == Opt::p12_pass_file || o == Opt::out) return false;
  if (c == Command::fingerprint) return o == Opt::slot || o == Opt::pin;
  if (c == Command::recover) return o == Opt::slot;
  if (c == Command::bind_tpm) return o == Opt::slot || o == Opt::pin || o == Opt::so_pin;
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
  if (word == "import") return Command::import_key;
  if (word == "export") return Command::export_key;
  if (word == "import-cert") return Command::import_cert;
  if (word == "fingerprint") return Command::fingerprint;
  if (word == "recover") return Command::recover;
  if (word == "bind-tpm") return Command::bind_tpm;
  if (word == "attest") return Command::attest;
  if (word == "attest-ak") return Command::attest_ak;
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

std::vector<uint8_t> parse_id(const char* value) {
  auto id = parse_hex(value);
  if (!id) throw UsageError("--id expects hex bytes (e.g. 01a2 or 01:a2), got '" + std::string(value) + "'");
  return std::move(*id);
}

// What import, export and import-cert need beyond their options being allowed.
void check_key_command(const Options& o) {
  const Command c = o.command;
  if (c != Command::import_key && c != Command::export_key && c != Command::import_cert) return;
  const std::string name(command_name(c));
  if (!o.slot) throw UsageError(name + " needs --slot");
  if (o.label && (o.label->empty() || o.label->size() > 255)) throw UsageError("--label must have 1 to 255 bytes");
  if (takes_file(c) && !o.file) throw UsageError(name + " needs a FILE");
  if (c == Command::import_cert && !o.id) throw UsageError("import-cert needs --id (the key's CKA_ID)");
  if (c == Command::export_key) {
    if (!o.id && !o.label) throw UsageError("export needs --id or --label");
    if (o.export_public == o.export_cert) throw UsageError("export needs exactly one of --public and --cert");
  }
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
    case Command::import_key: return "import";
    case Command::export_key: return "export";
    case Command::import_cert: return "import-cert";
    case Command::fingerprint: return "fingerprint";
    case Command::recover: return "recover";
    case Command::bind_tpm: return "bind-tpm";
    case Command::attest: return "attest";
    case Command::attest_ak: return "attest-ak";
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
  std::vector<std::string_view> flags;  // --public, --cert (export)
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
    if (a == "--recovery-code") {  // init, bind-tpm (soft tokens)
      o.recovery_code = true;
      continue;
    }
    if (a == "--bind-tpm") {  // init (soft tokens)
      o.bind_tpm = true;
      continue;
    }
    if (a == "--public" || a == "--cert") {
      flags.push_back(a);
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
    if (o.command != Command::none && takes_file(o.command) && !o.file) {
      o.file = std::string(a);
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
      case Opt::id: set_once(o.id, parse_id(g.value), g.name); break;
      case Opt::p12_pass_file: set_once(o.p12_pass_file, std::string(g.value), g.name); break;
      case Opt::out: set_once(o.out, std::string(g.value), g.name); break;
      case Opt::pcrs: set_once(o.pcrs, std::string(g.value), g.name); break;
      case Opt::nonce: {
        auto n = parse_hex(g.value);
        if (!n) throw UsageError("--nonce expects hex bytes, got '" + std::string(g.value) + "'");
        if (n->size() > 64) throw UsageError("--nonce is longer than 64 bytes");
        set_once(o.nonce, std::move(*n), g.name);
        break;
      }
      case Opt::format: set_once(o.format, std::string(g.value), g.name); break;
      case Opt::activate: set_once(o.activate, std::string(g.value), g.name); break;
      case Opt::store_cert: set_once(o.store_cert, std::string(g.value), g.name); break;
    }
  }

  for (const std::string_view f : flags) {
    if (o.command != Command::export_key) throw UsageError("option " + std::string(f) + " is only for 'export'");
    bool& flag = f == "--public" ? o.export_public : o.export_cert;
    if (flag) throw UsageError(std::string(f) + " given twice");
    flag = true;
  }
  if (o.help || o.version) return o;
  check_key_command(o);
  if (o.command == Command::none) throw UsageError("no command given");
  if (o.module && o.module->empty()) throw UsageError("--module needs a path");
  if (o.recovery_code && o.command != Command::init && o.command != Command::bind_tpm)
    throw UsageError("option --recovery-code is only for 'init' and 'bind-tpm'");
  if (o.bind_tpm && o.command != Command::init) throw UsageError("option --bind-tpm is only for 'init'");
  if (o.command == Command::recover && !o.slot) throw UsageError("recover needs --slot");
  if (o.command == Command::bind_tpm && !o.slot) throw UsageError("bind-tpm needs --slot");
  if (o.command == Command::attest) {
    if (!o.slot) throw UsageError("attest needs --slot");
    if (!o.id && !o.label) throw UsageError("attest needs --id or --label (the private key)");
    if (!o.nonce) throw UsageError("attest needs --nonce HEX (the verifier's challenge; without one the evidence "
                                   "could be replayed)");
    if (o.format && *o.format != "json" && *o.format != "tpm" && *o.format != "pem")
      throw UsageError("--format must be 'json', 'tpm' or 'pem', got '" + *o.format + "'");
  }
  if (o.command == Command::attest_ak && o.activate && o.store_cert)
    throw UsageError("attest-ak takes one of --activate and --store-cert");
  if (o.command == Command::fingerprint && o.pin && !o.slot) throw UsageError("fingerprint --pin needs --slot");
  if (o.command == Command::init) {
    if (o.pcrs && (o.pcrs->empty() || o.pcrs->find(':') == std::string::npos))
      throw UsageError("--pcrs expects BANK:LIST, e.g. sha256:0,7, got '" + *o.pcrs + "'");
    if (o.pcrs && o.backend && *o.backend == "soft") throw UsageError("--pcrs is for TPM tokens, not --backend soft");
    if (o.recovery_code && o.backend && *o.backend == "tpm")
      throw UsageError("--recovery-code is for soft tokens; a TPM token cannot move to new hardware");
    if (o.bind_tpm && o.backend && *o.backend == "tpm")
      throw UsageError("--bind-tpm is for soft tokens; a TPM token's keys are the TPM's already");
    if (!o.label) throw UsageError("init needs --label");
    if (o.label->empty()) throw UsageError("--label must not be empty");
    if (o.label->size() > 32) throw UsageError("--label is longer than 32 bytes (PKCS#11 token label limit)");
    if (o.backend && *o.backend != "soft" && *o.backend != "tpm" && *o.backend != "auto")
      throw UsageError("--backend must be 'soft', 'tpm' or 'auto', got '" + *o.backend + "'");
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
             "         [--backend auto] [--pcrs LIST] [--recovery-code] [--bind-tpm]\n"
             "Initialise an empty token: set its label and SO PIN, then the user PIN.\n"
             "PINs not given as options are asked on the terminal (twice, without echo).\n"
             "  --label LABEL   token label, at most 32 bytes\n"
             "  --so-pin PIN    security officer PIN\n"
             "  --pin PIN       user PIN\n"
             "  --backend KIND  take an empty token of this kind (soft or tpm)\n"
             "                  (or auto: the module's choice, the TPM when one answers)\n"
             "  --pcrs LIST     bind a new TPM token to these PCRs, e.g. sha256:0,7\n"
             "  --recovery-code print a recovery code once (soft tokens); 'keyseal recover' re-binds the\n"
             "                  token to new hardware with it. Without one, new hardware means the keys\n"
             "                  are gone.\n"
             "  --bind-tpm      also bind a soft token to this machine's TPM: a copy of its file then\n"
             "                  opens only with this TPM, and a cleared TPM (e.g. by a firmware update)\n"
             "                  loses the keys unless a recovery code was made (use --recovery-code)\n"
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
    case Command::import_key:
      return "Usage: keyseal import --slot ID [--label LABEL] [--id HEX] [--pin PIN] [--p12-pass-file FILE] FILE\n"
             "Import a private key, its public key and its certificate from PKCS#12 (.p12/.pfx) or PEM.\n"
             "The private key is stored sensitive and not extractable. Prints each new object's pkcs11: URI.\n"
             "  --slot ID       the token's slot\n"
             "  --label LABEL   CKA_LABEL of the objects (default: the PKCS#12 friendly name or the\n"
             "                  certificate's common name)\n"
             "  --id HEX        CKA_ID shared by the objects (default: SHA-1 of the public key, RFC 5280\n"
             "                  4.2.1.2 method 1, which OpenSSL also puts in certificates' key identifier)\n"
             "  --pin PIN       user PIN (asked on the terminal when not given)\n"
             "  --p12-pass-file FILE  read the PKCS#12 or PEM password from the first line of FILE\n"
             "                  (asked on the terminal when needed and not given)\n" +
             common;
    case Command::export_key:
      return "Usage: keyseal export --slot ID (--id HEX | --label LABEL) (--public | --cert) [--out FILE]\n"
             "Write a public key (SubjectPublicKeyInfo) or certificate as PEM. Private keys cannot be exported.\n"
             "  --slot ID       the token's slot\n"
             "  --id HEX        the object's CKA_ID\n"
             "  --label LABEL   the object's CKA_LABEL\n"
             "  --public        the public key\n"
             "  --cert          the certificate\n"
             "  --out FILE      write to FILE instead of standard output\n"
             "  --pin PIN       user PIN, needed only when the public key is on a private key alone\n" +
             common;
    case Command::fingerprint:
      return "Usage: keyseal fingerprint [--slot ID [--pin PIN]]\n"
             "List this machine's hardware factors (name, present or not, estimated strength; never a\n"
             "value) and the binding of each soft token. With --slot: that token's recorded factors;\n"
             "with --pin too, which of them still match (a wrong PIN counts as a failed login).\n"
             "  --slot ID       a soft token's slot\n"
             "  --pin PIN       its user PIN\n" +
             common;
    case Command::recover:
      return "Usage: keyseal recover --slot ID\n"
             "Re-bind a soft token to this machine's hardware with the recovery code shown by\n"
             "'keyseal init --recovery-code'. The code is asked on the terminal (or read from the first\n"
             "line of standard input). The PINs are unchanged and still guard the keys.\n"
             "  --slot ID       the token's slot\n" +
             common;
    case Command::bind_tpm:
      return "Usage: keyseal bind-tpm --slot ID [--so-pin PIN] [--pin PIN] [--recovery-code]\n"
             "Bind a soft token to this machine's TPM as well as to its hardware factors: a secret sealed\n"
             "by the TPM joins the token's binding, so a copy of its file does not open without this TPM.\n"
             "A cleared TPM (e.g. by a firmware update) or a moved disk then loses the keys unless the\n"
             "token has a recovery code. Needs both PINs (each PIN record is re-sealed); asked on the\n"
             "terminal when not given.\n"
             "  --slot ID       the soft token's slot\n"
             "  --so-pin PIN    security officer PIN\n"
             "  --pin PIN       user PIN\n"
             "  --recovery-code print a recovery code once, if the token has none yet ('keyseal\n"
             "                  recover' re-binds the token to new hardware or a new TPM with it)\n" +
             common;
    case Command::import_cert:
      return "Usage: keyseal import-cert --slot ID --id HEX [--label LABEL] [--pin PIN] FILE\n"
             "Store an X.509 certificate (PEM or DER) with the key that has this CKA_ID. Refused when no\n"
             "key has the id or the certificate's public key is not that key's.\n"
             "  --slot ID       the token's slot\n"
             "  --id HEX        CKA_ID of the key the certificate belongs to\n"
             "  --label LABEL   CKA_LABEL of the certificate (default: the key's label)\n"
             "  --pin PIN       user PIN (asked on the terminal when not given)\n" +
             common;
    case Command::attest:
      return "Usage: keyseal attest --slot ID (--id HEX | --label LABEL) --nonce HEX [--pin PIN]\n"
             "         [--format json|tpm|pem] [--out FILE]\n"
             "Prove that a private key lives in this machine's TPM: TPM2_Certify of the key by the TPM's\n"
             "attestation key (made on first use under the endorsement key) over the verifier's nonce, and\n"
             "TPM2_CertifyCreation when keyseal made the key (an imported key is reported as imported).\n"
             "Check the result with 'keyseal verify-attestation' (docs/attestation.md).\n"
             "  --slot ID       the TPM token's slot\n"
             "  --id HEX        CKA_ID of the private key\n"
             "  --label LABEL   CKA_LABEL of the private key\n"
             "  --nonce HEX     the verifier's challenge, 0 to 64 bytes (TPMS_ATTEST extraData)\n"
             "  --pin PIN       user PIN (asked on the terminal when not given)\n"
             "  --format F      json (default): every part, with the EK and AK certificates;\n"
             "                  tpm: the WebAuthn/ACME \"tpm\" attestation object (CBOR; base64 on a terminal);\n"
             "                  pem: the TPM structures and certificates as PEM blocks\n"
             "  --out FILE      write there instead of standard output\n" +
             common;
    case Command::attest_ak:
      return "Usage: keyseal attest-ak [--out FILE]\n"
             "       keyseal attest-ak --activate CREDENTIAL.json\n"
             "       keyseal attest-ak --store-cert CHAIN.pem\n"
             "This user's TPM attestation key (AK), made on first use under the endorsement key (EK).\n"
             "Without options: the AK's and EK's public areas, the EK certificates from the TPM and a stored\n"
             "AK certificate, as JSON for a CA. --activate: TPM2_ActivateCredential of the CA's challenge\n"
             "('keyseal make-credential'); prints the secret, which only this TPM can recover. --store-cert:\n"
             "keep the AK certificate the CA issued (first in the file, then its issuers), so attestations\n"
             "carry it.\n"
             "  --out FILE      write the JSON there instead of standard output\n" +
             common;
    default:
      return "Usage: keyseal [--module PATH] COMMAND [OPTIONS]\n"
             "Manage keyseal PKCS#11 tokens.\n"
             "Commands:\n"
             "  init     initialise an empty token (label, SO PIN, user PIN)\n"
             "  list     list tokens and objects with their pkcs11: URIs\n"
             "  status   show module, configuration and token state\n"
             "  import   import a key and certificate from PKCS#12 or PEM\n"
             "  export   write a public key or certificate as PEM\n"
             "  import-cert  store a certificate with the key of the same CKA_ID\n"
             "  fingerprint  show this machine's hardware factors and soft tokens' bindings\n"
             "  recover  re-bind a soft token to new hardware with its recovery code\n"
             "  bind-tpm bind a soft token to this machine's TPM too\n"
             "  attest   prove that a key lives in this machine's TPM (TPM2_Certify)\n"
             "  attest-ak  the TPM attestation key: show it, answer a CA's challenge, store its certificate\n"
             "Options:\n" +
             common +
             "  -V, --version   show the version\n"
             "Run 'keyseal COMMAND --help' for a command's options.\n"
             "Exit status: 0 success, 1 operation failed, 2 usage error.\n";
  }
}

}  // namespace keyseal::cli
