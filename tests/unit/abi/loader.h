// The platform's module loader, as a host uses it: dlopen/dlsym/dlclose (loader_posix.cpp) or
// LoadLibrary/GetProcAddress/FreeLibrary (loader_win.cpp). Plus the two other things the tests need from the
// platform: setting an environment variable the module reads, and a fresh temporary directory.
#pragma once
#include <string>

namespace keyseal::test::abi {

void* load_module(const std::string& path);  // nullptr on failure (last_loader_error() says why)
void* module_symbol(void* module, const char* name);
bool unload_module(void* module);
bool module_mapped(const std::string& path);  // whether the loader still has the module in the process
std::string last_loader_error();

void set_environment(const char* name, const std::string& value);

}  // namespace keyseal::test::abi
