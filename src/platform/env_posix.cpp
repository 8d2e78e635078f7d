// Environment on POSIX: getenv/setenv/unsetenv (the bytes are UTF-8 by convention).
#include "platform/env.h"

#include <cstdlib>

namespace keyseal::platform {

std::optional<std::string> get_env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

bool set_env(const char* name, const std::string& value) { return ::setenv(name, value.c_str(), 1) == 0; }

bool unset_env(const char* name) { return ::unsetenv(name) == 0; }

}  // namespace keyseal::platform
