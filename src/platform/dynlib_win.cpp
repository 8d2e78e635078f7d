// Dynamic loading on Windows: LoadLibraryExW (the library's own folder searched for its dependencies),
// GetProcAddress, FreeLibrary, FormatMessageW for the reason.
#include "platform/dynlib.h"

#include "platform/paths.h"
#include "platform/win_utf.h"

#include <windows.h>

namespace keyseal::platform {
namespace {

std::string last_error_text() {
  const DWORD code = GetLastError();
  wchar_t* buf = nullptr;
  const DWORD n = FormatMessageW(FORMAT_MESSAGE_ALLOCATE_BUFFER | FORMAT_MESSAGE_FROM_SYSTEM |
                                     FORMAT_MESSAGE_IGNORE_INSERTS,
                                 nullptr, code, 0, reinterpret_cast<wchar_t*>(&buf), 0, nullptr);
  std::string text = n && buf ? win::narrow(std::wstring_view(buf, n)) : std::string();
  if (buf) LocalFree(buf);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  return text + (text.empty() ? "" : " ") + "(error " + std::to_string(code) + ")";
}

}  // namespace

SharedLibrary& SharedLibrary::operator=(SharedLibrary&& o) noexcept {
  if (this != &o) {
    close();
    handle_ = o.handle_;
    error_ = std::move(o.error_);
    o.handle_ = nullptr;
  }
  return *this;
}

bool SharedLibrary::open(const std::string& utf8_path) {
  close();
  std::filesystem::path p = path_from_utf8(utf8_path);
  // LOAD_WITH_ALTERED_SEARCH_PATH needs an absolute path; a bare name is searched the usual way.
  DWORD flags = 0;
  if (p.has_parent_path()) {
    p = std::filesystem::absolute(p);
    flags = LOAD_WITH_ALTERED_SEARCH_PATH;
  }
  HMODULE h = LoadLibraryExW(p.c_str(), nullptr, flags);
  if (!h) {
    error_ = last_error_text();
    return false;
  }
  handle_ = reinterpret_cast<void*>(h);
  error_.clear();
  return true;
}

void* SharedLibrary::symbol(const char* name) {
  if (!handle_) return nullptr;
  FARPROC f = GetProcAddress(reinterpret_cast<HMODULE>(handle_), name);
  if (!f) error_ = std::string("no symbol ") + name + ": " + last_error_text();
  return reinterpret_cast<void*>(f);
}

void SharedLibrary::close() noexcept {
  if (handle_) FreeLibrary(reinterpret_cast<HMODULE>(handle_));
  handle_ = nullptr;
}

}  // namespace keyseal::platform
