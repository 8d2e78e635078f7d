// General-purpose functions (PKCS#11 3.0 section 5.4): C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList,
// C_GetInterfaceList, C_GetInterface; the module's lifetime, and the fork rule (a child must call
// C_Initialize again and gets a fresh module; the parent's state is left untouched, not torn down).
#include "pkcs11/entry.h"
#include "pkcs11/guard.h"
#include "compose/compose.h"
#include "platform/process.h"

#include "core/padded.h"

#include <cstring>
#include <filesystem>
#include <mutex>
#include <new>

namespace keyseal::pkcs11 {
namespace {

// Storage for the lifecycle lock, re-made in a forked child (another thread may have held it at fork time).
alignas(platform::SharedMutex) unsigned char g_life_storage[sizeof(platform::SharedMutex)];
platform::SharedMutex* g_life = nullptr;
core::Module* g_module = nullptr;
std::once_flag g_once;

void after_fork_in_child() {
  g_life = new (g_life_storage) platform::SharedMutex();  // the parent's lock state does not apply here
  g_module = nullptr;  // deliberately leaked: its store connections belong to the parent
}

void setup_once() {
  std::call_once(g_once, [] {
    g_life = new (g_life_storage) platform::SharedMutex();
    platform::on_fork_in_child(after_fork_in_child);
  });
}

}  // namespace

platform::SharedMutex& lifecycle() {
  setup_once();
  return *g_life;
}

core::Module* current_module() { return g_module; }

core::Module& module() {
  require(g_module != nullptr, CKR_CRYPTOKI_NOT_INITIALIZED, "C_Initialize has not been called");
  return *g_module;
}

CK_RV log_result(const char* fn, CK_RV rv, const char* detail) {
  if (rv == CKR_OK) log::debug(fn);
  else if (log::enabled(log::Level::debug) || rv == CKR_GENERAL_ERROR || rv == CKR_DEVICE_ERROR)
    log::write(rv == CKR_GENERAL_ERROR ? log::Level::error
               : rv == CKR_DEVICE_ERROR ? log::Level::warn
                                        : log::Level::debug,
               std::string(fn) + " -> " + rv_name(rv) + (*detail ? ": " : "") + detail);
  return rv;
}

CK_RV initialize(CK_VOID_PTR init_args) {
  try {
    if (init_args) {
      const auto* a = static_cast<const CK_C_INITIALIZE_ARGS*>(init_args);
      if (a->pReserved) return log_result("C_Initialize", CKR_ARGUMENTS_BAD, "pReserved must be NULL");
      const int given = !!a->CreateMutex + !!a->DestroyMutex + !!a->LockMutex + !!a->UnlockMutex;
      if (given != 0 && given != 4)
        return log_result("C_Initialize", CKR_ARGUMENTS_BAD, "mutex functions must be all given or none");
      // keyseal locks with the OS's primitives; it cannot use an application's mutex functions, so when it is
      // asked to (functions given, CKF_OS_LOCKING_OK clear) it says so (section 5.4, C_Initialize).
      if (given == 4 && !(a->flags & CKF_OS_LOCKING_OK))
        return log_result("C_Initialize", CKR_CANT_LOCK, "only OS locking is supported");
    }
    std::unique_lock g(lifecycle());
    if (g_module) return log_result("C_Initialize", CKR_CRYPTOKI_ALREADY_INITIALIZED, "");
    core::Config config = core::load_config();
    auto [backends, unavailable] = compose::make_backends(config);
    g_module = new core::Module(std::move(config), std::move(backends), std::move(unavailable));
    return log_result("C_Initialize", CKR_OK, "");
  } catch (const Error& e) {
    return log_result("C_Initialize", e.rv == CKR_ARGUMENTS_BAD ? CKR_FUNCTION_FAILED : e.rv, e.detail.c_str());
  } catch (const std::bad_alloc&) {
    return log_result("C_Initialize", CKR_HOST_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return log_result("C_Initialize", CKR_GENERAL_ERROR, e.what());
  } catch (...) {
    return log_result("C_Initialize", CKR_GENERAL_ERROR, "unknown exception");
  }
}

CK_RV finalize(CK_VOID_PTR reserved) {
  if (reserved) return CKR_ARGUMENTS_BAD;
  try {
    std::unique_lock g(lifecycle());
    if (!g_module) return log_result("C_Finalize", CKR_CRYPTOKI_NOT_INITIALIZED, "");
    delete g_module;
    g_module = nullptr;
    return log_result("C_Finalize", CKR_OK, "");
  } catch (const std::exception& e) {
    return log_result("C_Finalize", CKR_GENERAL_ERROR, e.what());
  } catch (...) {
    return log_result("C_Finalize", CKR_GENERAL_ERROR, "unknown exception");
  }
}

CK_RV get_info(CK_INFO_PTR info) {
  return guarded("C_GetInfo", [&] {
    module();
    require(info != nullptr, CKR_ARGUMENTS_BAD, "NULL info");
    std::memset(info, 0, sizeof *info);
    info->cryptokiVersion = {3, 0};
    core::put_padded(info->manufacturerID, "keyseal");
    core::put_padded(info->libraryDescription, "keyseal PKCS#11 module");
    info->libraryVersion = {0, 1};
    info->flags = 0;
  });
}

}  // namespace keyseal::pkcs11

using namespace keyseal::pkcs11;

extern "C" {

KS_EXPORT CK_RV C_Initialize(CK_VOID_PTR pInitArgs) { return initialize(pInitArgs); }
KS_EXPORT CK_RV C_Finalize(CK_VOID_PTR pReserved) { return finalize(pReserved); }
KS_EXPORT CK_RV C_GetInfo(CK_INFO_PTR pInfo) { return get_info(pInfo); }

KS_EXPORT CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList) {
  if (!ppFunctionList) return CKR_ARGUMENTS_BAD;
  *ppFunctionList = function_list_240();
  return CKR_OK;
}

KS_EXPORT CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount) {
  if (!pulCount) return CKR_ARGUMENTS_BAD;
  const CK_ULONG n = interface_count();
  if (!pInterfacesList) {
    *pulCount = n;
    return CKR_OK;
  }
  if (*pulCount < n) {
    *pulCount = n;
    return CKR_BUFFER_TOO_SMALL;
  }
  for (CK_ULONG i = 0; i < n; ++i) pInterfacesList[i] = *interface_at(i);
  *pulCount = n;
  return CKR_OK;
}

KS_EXPORT CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
                               CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags) {
  if (!ppInterface) return CKR_ARGUMENTS_BAD;
  for (CK_ULONG i = 0; i < interface_count(); ++i) {
    CK_INTERFACE* itf = interface_at(i);
    if (pInterfaceName && std::strcmp(reinterpret_cast<const char*>(pInterfaceName),
                                      reinterpret_cast<const char*>(itf->pInterfaceName)) != 0)
      continue;
    const CK_VERSION v = *static_cast<CK_VERSION*>(itf->pFunctionList);
    if (pVersion && (pVersion->major != v.major || pVersion->minor != v.minor)) continue;
    if ((itf->flags & flags) != flags) continue;
    *ppInterface = itf;
    return CKR_OK;
  }
  return CKR_ARGUMENTS_BAD;
}

}  // extern "C"
