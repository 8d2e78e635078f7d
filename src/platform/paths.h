// Where things live and how a path becomes a string: the default token store directory, and path <-> UTF-8
// (std::filesystem::path is UTF-16 on Windows, while SQLite, config files and messages want UTF-8).
#pragma once
#include <filesystem>
#include <string>
#include <string_view>

namespace keyseal::platform {

// The per-user default store: $XDG_DATA_HOME/keyseal, else ~/.local/share/keyseal (POSIX);
// %LOCALAPPDATA%\keyseal (Windows). Empty, with `why` naming what to set, when none can be found.
std::filesystem::path default_store_dir(std::string& why);

std::string path_to_utf8(const std::filesystem::path& p);
std::filesystem::path path_from_utf8(std::string_view utf8);

// A new directory only this user can enter, in the system's temporary directory, named prefix + random
// characters. Throws std::system_error.
std::filesystem::path make_temp_dir(std::string_view prefix);

}  // namespace keyseal::platform
