// The one guard at the C ABI (PKCS#11 3.0 section 5.1 return values): every C_* function runs its body inside
// guarded(), which holds the module alive, checks it is initialised in this process, turns keyseal::Error into
// its CK_RV, and logs the call when KEYSEAL_LOG=debug. No exception ever crosses the ABI.
#pragma once
#include "common/error.h"
#include "common/log.h"
#include "core/module.h"
#include "platform/shared_mutex.h"

#include <keyseal/pkcs11.h>

#include <new>
#include <shared_mutex>
#include <type_traits>

namespace keyseal::pkcs11 {

platform::SharedMutex& lifecycle();  // shared by calls, exclusive in C_Initialize / C_Finalize
core::Module* current_module();        // nullptr when not initialised (or in a forked child)
core::Module& module();                // throws CKR_CRYPTOKI_NOT_INITIALIZED
CK_RV log_result(const char* fn, CK_RV rv, const char* detail);

template <class F>
CK_RV guarded(const char* fn, F&& body) {
  try {
    std::shared_lock life(lifecycle());
    CK_RV rv = CKR_OK;
    if constexpr (std::is_void_v<decltype(body())>) body();
    else rv = body();
    return log::enabled(log::Level::debug) ? log_result(fn, rv, "") : rv;
  } catch (const Error& e) {
    return log_result(fn, e.rv, e.detail.c_str());
  } catch (const std::bad_alloc&) {
    return log_result(fn, CKR_HOST_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return log_result(fn, CKR_GENERAL_ERROR, e.what());
  } catch (...) {
    return log_result(fn, CKR_GENERAL_ERROR, "unknown exception");
  }
}

// A call on one session: the session is looked up (CKR_SESSION_HANDLE_INVALID) and held locked for the call.
template <class F>
CK_RV with_session(const char* fn, CK_SESSION_HANDLE h, F&& body) {
  return guarded(fn, [&]() -> CK_RV {
    std::shared_ptr<core::Session> s = module().session(h);
    std::lock_guard<std::mutex> g(s->mu);
    if constexpr (std::is_void_v<decltype(body(*s))>) {
      body(*s);
      return CKR_OK;
    } else {
      return body(*s);
    }
  });
}

}  // namespace keyseal::pkcs11
