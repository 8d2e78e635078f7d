// Environment on Windows: the process block through the wide API, converted from/to UTF-8. Setting goes
// through _wputenv_s, which updates both the C runtime's copy and the process block.
#include "platform/env.h"

#include "platform/win_utf.h"

#include <windows.h>

#include <cstdlib>
#include <vector>

namespace keyseal::platform {

std::optional<std::string> get_env(const char* name) {
  const std::wstring wname = win::widen(name);
  SetLastError(ERROR_SUCCESS);
  DWORD n = GetEnvironmentVariableW(wname.c_str(), nullptr, 0);
  if (n == 0) {
    if (GetLastError() == ERROR_ENVVAR_NOT_FOUND) return std::nullopt;
    return std::string();
  }
  std::vector<wchar_t> buf(n);
  n = GetEnvironmentVariableW(wname.c_str(), buf.data(), static_cast<DWORD>(buf.size()));
  if (n == 0 && GetLastError() == ERROR_ENVVAR_NOT_FOUND) return std::nullopt;
  return win::narrow(std::wstring_view(buf.data(), n));
}

bool set_env(const char* name, const std::string& value) {
  if (value.empty()) {
    // _wputenv_s with "" removes the variable; Windows cannot hold an empty one in the CRT copy.
    return SetEnvironmentVariableW(win::widen(name).c_str(), L"") != 0;
  }
  return _wputenv_s(win::widen(name).c_str(), win::widen(value).c_str()) == 0;
}

bool unset_env(const char* name) {
  const std::wstring w = win::widen(name);
  _wputenv_s(w.c_str(), L"");
  SetEnvironmentVariableW(w.c_str(), nullptr);
  return true;
}

}  // namespace keyseal::platform
