// keyseal-bench's command-line parsing (see kUsage). A bad command line exits with status 2 and the usage.
#include "options.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace keyseal::bench {

namespace {

constexpr const char* kUsage =
    "usage: keyseal-bench --module PATH [--slot ID | --token-label L] --pin P [--so-pin S --init]\n"
    "                     [--seconds N] [--objects N] [--lookups N] [--threads N] [--max-fill-seconds N]\n"
    "                     [--only LIST] [--algs rsa,ec] [--keygen-count N] [--login-count N]\n"
    "                     [--peer-pid PID] [--token-keys]\n"
    "                     [--cleanup] [--strict] [--json FILE]\n"
    "  --init              C_InitToken on the first uninitialized slot (or --slot) with label --token-label\n"
    "                      (default keyseal-bench) and SO PIN --so-pin, then C_InitPIN with --pin\n"
    "  --seconds N         window per measurement (default 2)\n"
    "  --objects N         fill the token to N token objects (default 10000)\n"
    "  --lookups N         random C_FindObjects lookups by CKA_ID (default 200)\n"
    "  --threads N         threads for the parallel signing rows (default 2)\n"
    "  --max-fill-seconds  stop filling after this long (default 900)\n"
    "  --only LIST         comma-separated measurement groups: sign (RSA PKCS#1 and ECDSA, 1 thread), pss,\n"
    "                      ed25519, gcm, threads, objects (fill + lookups), keygen, login\n"
    "                      (default: sign,pss,ed25519,gcm,threads,objects)\n"
    "  --algs LIST         key pair types for the RSA and EC rows: rsa, ec (default rsa,ec; a module that\n"
    "                      can hold only one key at a time is measured one type per process)\n"
    "  --keygen-count N    key pairs generated and timed per type in the keygen group (default 3)\n"
    "  --login-count N     C_Logout + timed C_Login cycles in the login group (default 5)\n"
    "  --peer-pid PID      also report that process's CPU time per signature (e.g. the swtpm's)\n"
    "  --token-keys        generate the key pairs as token objects (CKA_TOKEN true; some modules, e.g.\n"
    "                      tpm2-pkcs11, have no session keys) and destroy them at the end\n"
    "  --cleanup           destroy the objects this run created\n"
    "  --strict            exit 3 when a measurement failed or a signature failed (a missing mechanism is\n"
    "                      not a failure)\n";

const std::set<std::string> kGroups = {"sign", "pss", "ed25519", "gcm", "threads", "objects", "keygen", "login"};

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "keyseal-bench: %s\n%s", why.c_str(), kUsage);
  std::exit(2);
}

double parse_number(const char* s, const char* opt) {
  char* end = nullptr;
  const double v = std::strtod(s, &end);
  if (!end || *end || !(v > 0)) usage_error(std::string(opt) + " needs a positive number, got '" + s + "'");
  return v;
}

std::set<std::string> parse_list(const std::string& list, const std::set<std::string>& allowed, const char* opt) {
  std::set<std::string> out;
  std::istringstream in(list);
  std::string g;
  while (std::getline(in, g, ',')) {
    if (g.empty()) continue;
    if (!allowed.count(g)) usage_error(std::string(opt) + ": unknown name '" + g + "'");
    out.insert(g);
  }
  if (out.empty()) usage_error(std::string(opt) + " needs at least one name");
  return out;
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  o.only = {"sign", "pss", "ed25519", "gcm", "threads", "objects"};
  bool have_pin = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* {
      if (i + 1 >= argc) usage_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--help" || a == "-h") {
      std::printf("%s", kUsage);
      std::exit(0);
    } else if (a == "--module")
      o.module = next();
    else if (a == "--slot") {
      o.token.has_slot = true;
      o.token.slot = std::strtoul(next(), nullptr, 0);
    } else if (a == "--token-label")
      o.token.label = next();
    else if (a == "--pin") {
      o.token.user_pin = next();
      have_pin = true;
    } else if (a == "--so-pin")
      o.token.so_pin = next();
    else if (a == "--init")
      o.token.init = true;
    else if (a == "--seconds")
      o.seconds = parse_number(next(), "--seconds");
    else if (a == "--objects")
      o.objects = static_cast<uint64_t>(parse_number(next(), "--objects"));
    else if (a == "--lookups")
      o.lookups = static_cast<size_t>(parse_number(next(), "--lookups"));
    else if (a == "--threads")
      o.threads = static_cast<int>(parse_number(next(), "--threads"));
    else if (a == "--max-fill-seconds")
      o.max_fill_seconds = parse_number(next(), "--max-fill-seconds");
    else if (a == "--only")
      o.only = parse_list(next(), kGroups, "--only");
    else if (a == "--algs")
      o.algs = parse_list(next(), {"rsa", "ec"}, "--algs");
    else if (a == "--keygen-count")
      o.keygen_count = static_cast<int>(parse_number(next(), "--keygen-count"));
    else if (a == "--login-count")
      o.login_count = static_cast<int>(parse_number(next(), "--login-count"));
    else if (a == "--peer-pid")
      o.peer = static_cast<pid_t>(parse_number(next(), "--peer-pid"));
    else if (a == "--token-keys")
      o.token_keys = true;
    else if (a == "--cleanup")
      o.cleanup = true;
    else if (a == "--strict")
      o.strict = true;
    else if (a == "--json")
      o.json = next();
    else
      usage_error("unknown option " + a);
  }
  if (o.module.empty()) usage_error("--module is required");
  if (!have_pin) usage_error("--pin is required");
  if (o.token.init && o.token.label.empty()) o.token.label = "keyseal-bench";
  return o;
}

}  // namespace keyseal::bench
