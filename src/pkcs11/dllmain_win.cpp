// keyseal.dll's entry point (Windows only; the Linux module has none). It does two things and nothing else,
// because it runs under the loader lock (no other locks, no loading, no threads):
// - on process attach, OpenSSL's global state is initialised with OPENSSL_INIT_NO_ATEXIT. OpenSSL is linked
//   statically into the DLL; without that flag its first initialisation registers an atexit handler, which
//   the C runtime would call at process exit, after a host's FreeLibrary has unmapped the DLL (a crash at
//   exit). The first initialisation decides this once for the whole DLL, so it is made here, before any
//   C_* function can reach OpenSSL (the module's static initialisers do not call OpenSSL; crypto/libctx.cpp
//   creates its library context on first use).
// - on thread detach, OPENSSL_thread_stop() frees the exiting thread's OpenSSL state: a static OpenSSL has
//   no DllMain of its own to do that.
// Process detach does nothing: at process exit the system reclaims everything, and on FreeLibrary the module
// leaves its OpenSSL state as crypto/libctx.cpp leaves it (never freed, see there).
#include <windows.h>

#include <openssl/crypto.h>

extern "C" BOOL WINAPI DllMain(HINSTANCE, DWORD reason, LPVOID) {
  switch (reason) {
    case DLL_PROCESS_ATTACH:
      return OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, nullptr) == 1 ? TRUE : FALSE;
    case DLL_THREAD_DETACH:
      OPENSSL_thread_stop();
      break;
    default:
      break;
  }
  return TRUE;
}
