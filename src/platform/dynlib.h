// Dynamic loading of a shared library by a UTF-8 path (dlopen with RTLD_NOW | RTLD_LOCAL; LoadLibraryW),
// symbol lookup, and the OS's reason when loading fails. Unloaded on destruction.
#pragma once
#include <string>

namespace keyseal::platform {

class SharedLibrary {
 public:
  SharedLibrary() = default;
  ~SharedLibrary() { close(); }
  SharedLibrary(const SharedLibrary&) = delete;
  SharedLibrary& operator=(const SharedLibrary&) = delete;
  SharedLibrary(SharedLibrary&& o) noexcept : handle_(o.handle_), error_(std::move(o.error_)) { o.handle_ = nullptr; }
  SharedLibrary& operator=(SharedLibrary&& o) noexcept;

  // Loads the library (closing one already loaded). false, with error() set, when the OS refuses.
  bool open(const std::string& utf8_path);
  // The address of an exported symbol; nullptr when there is none (error() then says why).
  void* symbol(const char* name);
  void close() noexcept;
  bool is_open() const { return handle_ != nullptr; }
  const std::string& error() const { return error_; }

 private:
  void* handle_ = nullptr;
  std::string error_;
};

}  // namespace keyseal::platform
