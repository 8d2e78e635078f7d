// Dynamic loading on POSIX: dlopen/dlsym/dlclose/dlerror.
#include "platform/dynlib.h"

#include <dlfcn.h>

namespace keyseal::platform {

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
  handle_ = ::dlopen(utf8_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!handle_) {
    const char* why = ::dlerror();
    error_ = why ? why : "unknown dlopen error";
    return false;
  }
  error_.clear();
  return true;
}

void* SharedLibrary::symbol(const char* name) {
  if (!handle_) return nullptr;
  ::dlerror();
  void* p = ::dlsym(handle_, name);
  if (!p) {
    const char* why = ::dlerror();
    error_ = why ? why : std::string("no symbol ") + name;
  }
  return p;
}

void SharedLibrary::close() noexcept {
  if (handle_) ::dlclose(handle_);
  handle_ = nullptr;
}

}  // namespace keyseal::platform
