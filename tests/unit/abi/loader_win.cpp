// The module loader on Windows: LoadLibrary as Firefox, Java's SunPKCS11 and OpenSC's tools load keyseal.dll.
#include "loader.h"

#include <windows.h>

#include <cstdlib>
#include <filesystem>

namespace keyseal::test::abi {

void* load_module(const std::string& path) {
  // LOAD_WITH_ALTERED_SEARCH_PATH: the DLL's own folder first for anything it would load (it should load
  // nothing but system DLLs).
  return reinterpret_cast<void*>(
      LoadLibraryExW(std::filesystem::path(path).c_str(), nullptr, LOAD_WITH_ALTERED_SEARCH_PATH));
}

void* module_symbol(void* module, const char* name) {
  return reinterpret_cast<void*>(GetProcAddress(static_cast<HMODULE>(module), name));
}

bool unload_module(void* module) { return FreeLibrary(static_cast<HMODULE>(module)) != 0; }

bool module_mapped(const std::string& path) {
  HMODULE h = nullptr;
  return GetModuleHandleExW(GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, std::filesystem::path(path).c_str(),
                            &h) != 0;
}

std::string last_loader_error() { return "Windows error " + std::to_string(GetLastError()); }

void set_environment(const char* name, const std::string& value) {
  // The module reads its settings with getenv, i.e. from the C runtime's copy of the environment; the process
  // environment is set too for anything that asks Windows.
  _putenv_s(name, value.c_str());
  SetEnvironmentVariableA(name, value.c_str());
}

}  // namespace keyseal::test::abi
