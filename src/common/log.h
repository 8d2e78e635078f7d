// Logging to stderr, off by default; KEYSEAL_LOG=error|warn|info|debug sets the level. The one exception: a
// PKCS#11 call that returns CKR_GENERAL_ERROR or CKR_DEVICE_ERROR is always written (pkcs11/general.cpp
// log_result), since its return value alone cannot say what went wrong. Never log secrets.
#pragma once
#include <string_view>

namespace keyseal::log {

enum class Level { off = 0, error = 1, warn = 2, info = 3, debug = 4 };

Level level();
void write(Level l, std::string_view msg);
inline bool enabled(Level l) { return static_cast<int>(l) <= static_cast<int>(level()); }
inline void error(std::string_view m) { if (enabled(Level::error)) write(Level::error, m); }
inline void warn(std::string_view m) { if (enabled(Level::warn)) write(Level::warn, m); }
inline void info(std::string_view m) { if (enabled(Level::info)) write(Level::info, m); }
inline void debug(std::string_view m) { if (enabled(Level::debug)) write(Level::debug, m); }

}  // namespace keyseal::log
