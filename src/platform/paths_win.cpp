// Paths on Windows: %LOCALAPPDATA%\keyseal, UTF-16 <-> UTF-8, a private temporary directory.
#include "platform/paths.h"

#include "platform/env.h"
#include "platform/win_utf.h"

#include <windows.h>

#include <atomic>
#include <random>
#include <system_error>

namespace keyseal::platform {

namespace win {

std::wstring widen(std::string_view utf8) {
  if (utf8.empty()) return {};
  const int n = MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), nullptr, 0);
  std::wstring out(static_cast<size_t>(n), L'\0');
  MultiByteToWideChar(CP_UTF8, 0, utf8.data(), static_cast<int>(utf8.size()), out.data(), n);
  return out;
}

std::string narrow(std::wstring_view utf16) {
  if (utf16.empty()) return {};
  const int n =
      WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()), nullptr, 0, nullptr, nullptr);
  std::string out(static_cast<size_t>(n), '\0');
  WideCharToMultiByte(CP_UTF8, 0, utf16.data(), static_cast<int>(utf16.size()), out.data(), n, nullptr, nullptr);
  return out;
}

}  // namespace win

std::filesystem::path default_store_dir(std::string& why) {
  if (auto a = get_env("LOCALAPPDATA"); a && !a->empty()) return path_from_utf8(*a) / L"keyseal";
  why = "no store directory: set KEYSEAL_STORE or LOCALAPPDATA";
  return {};
}

std::string path_to_utf8(const std::filesystem::path& p) { return win::narrow(p.native()); }

std::filesystem::path path_from_utf8(std::string_view utf8) { return std::filesystem::path(win::widen(utf8)); }

std::filesystem::path make_temp_dir(std::string_view prefix) {
  static std::atomic<unsigned> counter{0};
  std::random_device rd;
  const std::filesystem::path base = std::filesystem::temp_directory_path();
  for (int attempt = 0; attempt < 100; ++attempt) {
    const std::wstring name = win::widen(prefix) + std::to_wstring(GetCurrentProcessId()) + L"-" +
                              std::to_wstring(counter++) + L"-" + std::to_wstring(rd() & 0xFFFFFF);
    const std::filesystem::path dir = base / name;
    // The user's temporary directory is the user's own (its ACL); the new folder inherits it.
    if (CreateDirectoryW(dir.c_str(), nullptr)) return dir;
    if (GetLastError() != ERROR_ALREADY_EXISTS)
      throw std::system_error(static_cast<int>(GetLastError()), std::system_category(),
                              "CreateDirectory " + path_to_utf8(dir));
  }
  throw std::system_error(ERROR_ALREADY_EXISTS, std::system_category(), "no free temporary directory name");
}

}  // namespace keyseal::platform
