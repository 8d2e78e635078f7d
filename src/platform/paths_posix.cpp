// Paths on POSIX: the XDG data directory, native (UTF-8) path strings, mkdtemp.
#include "platform/paths.h"

#include <cerrno>
#include <cstdlib>
#include <system_error>

namespace keyseal::platform {

std::filesystem::path default_store_dir(std::string& why) {
  if (const char* x = std::getenv("XDG_DATA_HOME"); x && *x) return std::filesystem::path(x) / "keyseal";
  if (const char* h = std::getenv("HOME"); h && *h) return std::filesystem::path(h) / ".local" / "share" / "keyseal";
  why = "no store directory: set KEYSEAL_STORE, XDG_DATA_HOME or HOME";
  return {};
}

std::string path_to_utf8(const std::filesystem::path& p) { return p.native(); }

std::filesystem::path path_from_utf8(std::string_view utf8) { return std::filesystem::path(std::string(utf8)); }

std::filesystem::path make_temp_dir(std::string_view prefix) {
  std::string tmpl = (std::filesystem::temp_directory_path() / (std::string(prefix) + "XXXXXX")).native();
  if (!::mkdtemp(tmpl.data())) throw std::system_error(errno, std::generic_category(), "mkdtemp " + tmpl);
  return tmpl;
}

}  // namespace keyseal::platform
