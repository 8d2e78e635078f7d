// Reads keyseal's configuration from the environment and an optional `key = value` file (see config.h).
#include "core/config.h"

#include "common/error.h"

#include <cstdlib>
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
  std::ifstream in(file);
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
    if (key == "store") c.store_dir = value;
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
  if (const char* f = std::getenv("KEYSEAL_CONF"); f && *f) {
    c.config_file = f;
    read_file(c, f);
  }
  if (const char* s = std::getenv("KEYSEAL_STORE"); s && *s) c.store_dir = s;
  if (const char* b = std::getenv("KEYSEAL_BACKEND"); b && *b) c.backend = parse_backend(b, "KEYSEAL_BACKEND");
  if (const char* t = std::getenv("KEYSEAL_TCTI"); t && *t) c.tcti = t;
  if (const char* p = std::getenv("KEYSEAL_TPM_PCRS"); p && *p) c.tpm_pcrs = p;
  if (c.store_dir.empty()) {
    if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) c.store_dir = std::filesystem::path(x) / "keyseal";
    else if (const char* h = std::getenv("HOME"); h && *h)
      c.store_dir = std::filesystem::path(h) / ".local" / "share" / "keyseal";
    else
      fail(CKR_ARGUMENTS_BAD, "no store directory: set KEYSEAL_STORE, XDG_DATA_HOME or HOME");
  }
  return c;
}

}  // namespace keyseal::core
