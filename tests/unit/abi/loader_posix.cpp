// The module loader on Linux: dlopen as p11-kit, Firefox's NSS and OpenSC load PKCS#11 modules.
#include "loader.h"

#include <dlfcn.h>

#include <cstdlib>

namespace keyseal::test::abi {

void* load_module(const std::string& path) { return dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL); }

void* module_symbol(void* module, const char* name) { return dlsym(module, name); }

bool unload_module(void* module) { return dlclose(module) == 0; }

bool module_mapped(const std::string& path) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (!h) return false;
  dlclose(h);
  return true;
}

std::string last_loader_error() {
  const char* e = dlerror();
  return e ? e : "";
}

void set_environment(const char* name, const std::string& value) { setenv(name, value.c_str(), 1); }

}  // namespace keyseal::test::abi
