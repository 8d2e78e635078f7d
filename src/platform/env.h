// The process environment, in UTF-8 on every platform (Windows keeps it in UTF-16).
#pragma once
#include <optional>
#include <string>

namespace keyseal::platform {

// The variable's value; nullopt when it is not set. An empty value is returned as "" (callers that treat
// empty as unset check for it).
std::optional<std::string> get_env(const char* name);
// Sets (replacing) or removes a variable of this process; false when the OS refuses.
bool set_env(const char* name, const std::string& value);
bool unset_env(const char* name);

}  // namespace keyseal::platform
