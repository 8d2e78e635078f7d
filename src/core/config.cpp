// Reads keyseal's configuration from the environment and an optional `key = value` file (see config.h).
#include "core/config.h"

#include "common/error.h"
#include "platform/env.h"
#include "platform/paths.h"

#include <fstream>
#include <string>

namespace keyseal::core {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

uint32_t parse_u32(const std::string& v, const std::string& where) {
  try {
    size_t used = 0;
    const unsigned long n = std::stoul(v, &used);
    if (used == v.size() && n > 0 && n <= 0xFFFFFFFFul) return static_cast<uint32_t>(n);
  } catch (const std::exception&) {
  }
  fail(CKR_ARGUMENTS_BAD, where + ": expected a positive number, got '" + v + "'");
}

std::string parse_backend(const std::string& v, const std::string& where) {
  if (v == "auto" || v == "soft" || v == "tpm") return v;
  fail(CKR_ARGUMENTS_BAD, where + ": backend must be auto, soft or tpm, got '" + v + "'");
}

void read_file(Config& c, const std::string& file) {
  std::ifstream in(platform::path_from_utf8(file));
  if (!in) fail(CKR_ARGUMENTS_BAD, "cannot read config file " + file);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    const std::string where = file + ":" + std::to_string(n);
    line = trim(line.substr(0, line.find('#')));
    if (line.empty()) continue;
    const auto eq = line.find('=');
    if (eq == std::string::npos) fail(CKR_ARGUMENTS_BAD, where + ": expected 'key = value'");
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "store") c.store_dir = platform::path_from_utf8(value);
    else if (key == "argon2_t_cost") c.argon2_t_cost = parse_u32(value, where);
    else if (key == "argon2_m_cost_kib") c.argon2_m_cost_kib = parse_u32(value, where);
    else if (key == "argon2_lanes") c.argon2_lanes = parse_u32(value, where);
    else if (key == "max_pin_attempts") c.max_pin_attempts = parse_u32(value, where);
    else if (key == "backend") c.backend = parse_backend(value, where);
    else if (key == "tcti") c.tcti = value;
    else if (key == "tpm_pcrs") c.tpm_pcrs = value;
    else fail(CKR_ARGUMENTS_BAD, where + ": unknown key '" + key + "'");
  }
}

}  // namespace

Config load_config() {
  Config c;
  auto env = [](const char* name) {  // unset and empty are the same here
    auto v = platform::get_env(name);
    return v && !v->empty() ? v : std::nullopt;
  };
  if (auto f = env("KEYSEAL_CONF")) {
    c.config_file = *f;
    read_file(c, *f);
  }
  if (auto s = env("KEYSEAL_STORE")) c.store_dir = platform::path_from_utf8(*s);
  if (auto b = env("KEYSEAL_BACKEND")) c.backend = parse_backend(*b, "KEYSEAL_BACKEND");
  if (auto t = env("KEYSEAL_TCTI")) c.tcti = *t;
  if (auto p = env("KEYSEAL_TPM_PCRS")) c.tpm_pcrs = *p;
  if (c.store_dir.empty()) {
    std::string why;
    c.store_dir = platform::default_store_dir(why);
    if (c.store_dir.empty()) fail(CKR_ARGUMENTS_BAD, why);
  }
  return c;
}

}  // namespace keyseal::core
