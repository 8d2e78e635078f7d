// keyseal-bench's command line: which module and token, how long to measure, and which measurements to run
// (--only). Timing is reported, never judged.
#pragma once

#include <set>
#include <string>

#include <sys/types.h>

#include "p11.h"

namespace keyseal::bench {

struct Options {
  std::string module;
  TokenChoice token;
  double seconds = 2;
  uint64_t objects = 10000;
  size_t lookups = 200;
  int threads = 2;
  double max_fill_seconds = 900;
  int keygen_count = 3;
  int login_count = 5;
  pid_t peer = 0;  // --peer-pid: a process whose CPU time per signature is reported (the swtpm)
  bool token_keys = false;  // --token-keys: key pairs as token objects (destroyed at the end)
  bool cleanup = false;
  bool strict = false;
  std::string json;
  // Measurement groups: sign, pss, ed25519, gcm, threads, objects (the default set), keygen, login.
  std::set<std::string> only;
  std::set<std::string> algs = {"rsa", "ec"};  // --algs: the key pairs made for the RSA/EC rows
  bool wants(const std::string& group) const { return only.count(group) != 0; }
};

// Parses argv; prints the usage and exits (status 2) on a bad command line, status 0 for --help.
Options parse_options(int argc, char** argv);

}  // namespace keyseal::bench
