# CMake toolchain file: keyseal for 64-bit Windows, cross-built on Debian with mingw-w64 (posix threads)
# and run under wine. See scripts/windows.sh, which builds the sysroot this file points at.
#
#   cmake -S . -B build-win -DCMAKE_TOOLCHAIN_FILE=cmake/toolchain-mingw64.cmake ...
#
# The sysroot (static OpenSSL 3, SQLite, Argon2, GoogleTest, p11-kit's pkcs11.h) is taken from the
# cache variable KEYSEAL_WIN_SYSROOT, else the environment variable of that name, else /opt/keyseal-win/sysroot.

set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)

set(_keyseal_host x86_64-w64-mingw32)
set(CMAKE_C_COMPILER ${_keyseal_host}-gcc-posix)
set(CMAKE_CXX_COMPILER ${_keyseal_host}-g++-posix)
set(CMAKE_RC_COMPILER ${_keyseal_host}-windres)
set(CMAKE_AR ${_keyseal_host}-ar CACHE FILEPATH "")
set(CMAKE_RANLIB ${_keyseal_host}-ranlib CACHE FILEPATH "")

if(NOT KEYSEAL_WIN_SYSROOT)
  if(DEFINED ENV{KEYSEAL_WIN_SYSROOT})
    set(KEYSEAL_WIN_SYSROOT "$ENV{KEYSEAL_WIN_SYSROOT}")
  else()
    set(KEYSEAL_WIN_SYSROOT /opt/keyseal-win/sysroot)
  endif()
endif()
set(KEYSEAL_WIN_SYSROOT "${KEYSEAL_WIN_SYSROOT}" CACHE PATH "mingw-w64 sysroot with keyseal's static dependencies")
# try_compile projects re-read this file: hand the sysroot on to them.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES KEYSEAL_WIN_SYSROOT)

# Look for libraries, headers and packages only in the sysroot and mingw-w64's own tree, never in the
# host's /usr/include (glibc headers must not leak into a Windows build); programs come from the host.
set(CMAKE_FIND_ROOT_PATH "${KEYSEAL_WIN_SYSROOT}" /usr/${_keyseal_host})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: the sysroot's .pc files only.
set(ENV{PKG_CONFIG_LIBDIR} "${KEYSEAL_WIN_SYSROOT}/lib/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")

# OpenSSL is in the sysroot as static libraries (FindOpenSSL then adds ws2_32 and crypt32).
if(NOT DEFINED OPENSSL_ROOT_DIR)
  set(OPENSSL_ROOT_DIR "${KEYSEAL_WIN_SYSROOT}")
endif()
if(NOT DEFINED OPENSSL_USE_STATIC_LIBS)
  set(OPENSSL_USE_STATIC_LIBS ON)
endif()

# Everything static: without it a program fails under wine (and on Windows) with c0000135, because
# libstdc++-6.dll, libgcc_s_seh-1.dll and libwinpthread-1.dll are not next to it. The module DLL links
# libgcc, libstdc++ and winpthread statically too, so keyseal.dll depends on system DLLs only.
set(CMAKE_EXE_LINKER_FLAGS_INIT "-static")
set(CMAKE_SHARED_LINKER_FLAGS_INIT "-static")
set(CMAKE_MODULE_LINKER_FLAGS_INIT "-static")

# Tests (add_test, gtest_discover_tests) run the Windows programs through wine. The wrapper uses
# $WINEPREFIX (default /opt/keyseal-win/wineprefix), creates the prefix with wine's crash debugger
# disabled if needed (a crash then exits non-zero), and passes the program's exit status on.
if(NOT KEYSEAL_WINE_WRAPPER)
  if(EXISTS "${CMAKE_CURRENT_LIST_DIR}/wine-run.sh")
    set(KEYSEAL_WINE_WRAPPER "${CMAKE_CURRENT_LIST_DIR}/wine-run.sh")
  else()
    set(KEYSEAL_WINE_WRAPPER "${CMAKE_CURRENT_LIST_DIR}/../scripts/windows/wine-run.sh")
  endif()
endif()
get_filename_component(KEYSEAL_WINE_WRAPPER "${KEYSEAL_WINE_WRAPPER}" ABSOLUTE)
set(CMAKE_CROSSCOMPILING_EMULATOR "${KEYSEAL_WINE_WRAPPER}")
