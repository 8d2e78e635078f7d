#!/bin/sh
# Run a Windows program under wine and hand its exit status back (CMAKE_CROSSCOMPILING_EMULATOR of
# cmake/toolchain-mingw64.cmake; usable by hand: wine-run.sh prog.exe args...).
#
# WINEPREFIX: the prefix to use (default /opt/keyseal-win/wineprefix). A prefix is created on first use
# with wine's crash debugger (AeDebug) disabled: with the debugger on, wine catches a crash and the
# program "exits" 0; with it off, an unhandled exception ends the process with its exception code
# (0xC0000005 & 0xff = 5, ...), so a crash fails the test.
#   wine-run.sh --init   only create/repair the prefix
set -eu
: "${WINEPREFIX:=/opt/keyseal-win/wineprefix}"
export WINEPREFIX
export WINEDEBUG="${WINEDEBUG:--all}"
# No Mono/Gecko installer dialogs.
export WINEDLLOVERRIDES="${WINEDLLOVERRIDES:-mscoree=;mshtml=}"
marker="$WINEPREFIX/.keyseal-aedebug-off"

init_prefix() {
    mkdir -p "$WINEPREFIX"
    # One initialiser at a time (ctest -j runs several wrappers at once).
    exec 9>"$WINEPREFIX.lock"
    flock 9
    if [ ! -f "$marker" ]; then
        wine wineboot --init >/dev/null 2>&1 </dev/null
        wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' \
            /v Debugger /t REG_SZ /d '' /f >/dev/null 2>&1 </dev/null
        wine reg add 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' \
            /v Auto /t REG_SZ /d 0 /f >/dev/null 2>&1 </dev/null
        if ! wine reg query 'HKLM\Software\Microsoft\Windows NT\CurrentVersion\AeDebug' /v Debugger \
                2>/dev/null </dev/null | tr -d '\r' | grep -Eq 'Debugger[[:space:]]+REG_SZ[[:space:]]*$'; then
            echo "wine-run.sh: could not disable the AeDebug debugger in $WINEPREFIX" >&2
            exit 1
        fi
        # The wineserver writes the registry to disk when it exits; wait for that (bounded: a server
        # kept alive with -p by someone else saves it periodically).
        timeout 30 wineserver -w 2>/dev/null || true
        touch "$marker"
    fi
    flock -u 9
    exec 9>&-
}

[ -f "$marker" ] || init_prefix
if [ "${1:-}" = "--init" ]; then
    exit 0
fi
if [ $# -eq 0 ]; then
    echo "usage: wine-run.sh PROGRAM.exe [ARGS...] | --init" >&2
    exit 2
fi
exec wine "$@"
