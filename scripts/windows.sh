#!/usr/bin/env bash
# Windows build and test of keyseal on Debian: mingw-w64 cross compiler, wine, and a static sysroot built
# from Debian's own source packages (the routes in docs of issue 12 / WINDOWS.md).
#
#   scripts/windows.sh              deps + build + test
#   scripts/windows.sh deps         toolchain and wine (apt), deb-src sources, static sysroot, pkcs11-tool.exe
#   scripts/windows.sh sysroot      only the sysroot libraries (OpenSSL, SQLite, Argon2, GoogleTest, pkcs11.h,
#                                   tss2 headers)
#   scripts/windows.sh opensc       only OpenSC's pkcs11-tool.exe (into SYSROOT/bin)
#   scripts/windows.sh prefix       create the wine prefix (crash debugger disabled)
#   scripts/windows.sh crashcheck   prove that a crashing program makes the wine wrapper exit non-zero
#   scripts/windows.sh build        configure and build build-win/ (keyseal.dll, keyseal.exe, tests, conformance)
#   scripts/windows.sh test         ctest under wine, conformance suite, keyseal.exe and pkcs11-tool.exe checks
#   scripts/windows.sh install-howto   copy toolchain + wrapper to KEYSEAL_WIN_ROOT and write its HOWTO
#
# Environment: KEYSEAL_WIN_ROOT (default /opt/keyseal-win; sysroot in ROOT/sysroot, sources in ROOT/src),
# KEYSEAL_WIN_BUILD (default REPO/build-win), WINEPREFIX (default BUILD/wineprefix), JOBS (default nproc),
# KEYSEAL_LINUX_BUILD (default REPO/build: the Linux build whose keyseal makes the swtpm evidence of the test stage
# "keyseal.exe attestation"; scripts/test.sh builds it before it runs this script).
# Every step is idempotent: a dependency is rebuilt only when its Debian source version, the compiler's
# version or this script's recipe for it changed (stamps in SYSROOT/.stamps).
set -Eeuo pipefail
trap 'echo "windows.sh: FAILED (exit $?) at line $LINENO: $BASH_COMMAND" >&2' ERR

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WIN_ROOT=${KEYSEAL_WIN_ROOT:-/opt/keyseal-win}
SYSROOT=$WIN_ROOT/sysroot
SRC=$WIN_ROOT/src
STAMPS=$SYSROOT/.stamps
BUILD=${KEYSEAL_WIN_BUILD:-$REPO/build-win}
LINUX_BUILD=${KEYSEAL_LINUX_BUILD:-$REPO/build}
JOBS=${JOBS:-$(nproc)}
export WINEPREFIX=${WINEPREFIX:-$BUILD/wineprefix}
HOST=x86_64-w64-mingw32
CC_WIN=$HOST-gcc-posix
CXX_WIN=$HOST-g++-posix
TOOLCHAIN=$REPO/cmake/toolchain-mingw64.cmake
WINE_RUN=$REPO/scripts/windows/wine-run.sh
APT_PACKAGES=(g++-mingw-w64-x86-64-posix mingw-w64-tools wine wine64 tcl dpkg-dev autoconf automake libtool
              pkg-config googletest libp11-kit-dev libtss2-dev make cmake perl xz-utils openssl)

say() { printf '\n=== windows.sh: %s\n' "$*" >&2; }
die() { printf '\nwindows.sh: FAILED: %s\n' "$*" >&2; exit 1; }
timed() { # timed LABEL CMD...: run, print the elapsed time
    local label=$1 t0=$SECONDS; shift
    "$@"
    printf '=== windows.sh: %s took %ss\n' "$label" $((SECONDS - t0)) >&2
}

# ---------------------------------------------------------------------------------------------- apt
apt_setup() {
    local missing=() p
    for p in "${APT_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
    done
    # A deb-src twin of the machine's Debian sources, so that `apt-get source` works.
    local srcfile=/etc/apt/sources.list.d/keyseal-deb-src.sources need_update=0
    if ! grep -rqs '^Types:.*deb-src\|^deb-src ' /etc/apt/sources.list /etc/apt/sources.list.d/; then
        local debsrc=/etc/apt/sources.list.d/debian.sources
        [ -f "$debsrc" ] || die "no $debsrc to make a deb-src twin of; add deb-src lines for Debian yourself"
        say "adding $srcfile (deb-src twin of $debsrc)"
        { echo "# keyseal scripts/windows.sh: Debian's source packages, for the Windows sysroot"
          sed -e 's/^Types:.*/Types: deb-src/' "$debsrc"; } > "$srcfile"
        need_update=1
    fi
    if [ ${#missing[@]} -gt 0 ] || [ $need_update = 1 ] || ! apt-get source --print-uris -qq openssl >/dev/null 2>&1; then
        say "apt-get update${missing[*]:+ and install ${missing[*]}}"
        apt-get update -qq
        [ ${#missing[@]} -eq 0 ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
    command -v "$CXX_WIN" >/dev/null || die "$CXX_WIN not found after installing g++-mingw-w64-x86-64-posix"
    command -v wine >/dev/null || die "wine not found"
}

# ----------------------------------------------------------------------------- source packages
# src_info PKG: "VERSION ORIG_TARBALL SHA256" of the source package apt would fetch (from the signed
# Sources index; no download).
src_info() {
    local pkg=$1 uris dsc orig
    uris=$(apt-get source --print-uris -qq "$pkg") || die "apt-get source --print-uris $pkg (deb-src missing?)"
    dsc=$(awk '{print $2}' <<<"$uris" | grep -E "^${pkg}_.*\.dsc$" | head -1)
    [ -n "$dsc" ] || die "no .dsc for $pkg in: $uris"
    orig=$(awk '$2 ~ /\.orig\.tar\.(gz|xz|bz2)$/ {print $2, $4}' <<<"$uris" | head -1)
    [ -n "$orig" ] || die "no upstream tarball for $pkg in: $uris"
    local ver=${dsc#"${pkg}_"}; ver=${ver%.dsc}
    echo "$ver ${orig%% *} ${orig##*SHA256:}"
}

# fetch_orig PKG: download PKG's source package into SRC/dl (only the upstream tarball must arrive:
# Debian's patch files are sometimes missing from the security archive) and print the tarball's path.
fetch_orig() {
    local pkg=$1 ver tarball sha
    read -r ver tarball sha < <(src_info "$pkg")
    mkdir -p "$SRC/dl"
    if [ ! -f "$SRC/dl/$tarball" ] || ! echo "$sha  $SRC/dl/$tarball" | sha256sum -c --status; then
        rm -f "$SRC/dl/$tarball"
        (cd "$SRC/dl" && apt-get source -d -qq "$pkg" >&2) || true
        [ -f "$SRC/dl/$tarball" ] || die "apt-get source $pkg did not download $tarball"
    fi
    echo "$sha  $SRC/dl/$tarball" | sha256sum -c --status || die "$tarball: SHA-256 mismatch"
    echo "$SRC/dl/$tarball"
}

# unpack TARBALL DIR: fresh upstream tree in DIR
unpack() {
    rm -rf "$2"; mkdir -p "$2"
    tar -xf "$1" -C "$2" --strip-components=1
}

toolchain_version() { dpkg-query -W -f='${Version}' g++-mingw-w64-x86-64-posix; }

# stamp_key NAME SRCPKG RECIPE: what a built dependency depends on
stamp_key() {
    local ver
    if [ "$2" = - ]; then ver=-; else ver=$(src_info "$2" | awk '{print $1}'); fi
    echo "$1 src=$2=$ver gcc=$(toolchain_version) recipe=$3"
}
is_current() { [ -f "$STAMPS/$1" ] && [ "$(cat "$STAMPS/$1")" = "$2" ]; }
mark_done() { mkdir -p "$STAMPS"; echo "$2" > "$STAMPS/$1"; }

# ------------------------------------------------------------------------------------- sysroot
dep_openssl() {
    local key; key=$(stamp_key openssl openssl 1)
    if is_current openssl "$key" && [ -f "$SYSROOT/lib/libcrypto.a" ]; then echo "openssl: up to date ($key)"; return; fi
    local tb; tb=$(fetch_orig openssl)
    local b=$SRC/openssl
    unpack "$tb" "$b"
    # Keep the assembler code (perlasm emits GNU as for mingw64; no nasm). OpenSSL 3.0's Configure has no
    # no-apps/no-docs; `make build_libs` builds only the libraries (`make libcrypto.a` alone misses a
    # generated header).
    (cd "$b" && ./Configure mingw64 no-shared no-tests no-engine no-module no-legacy no-dso \
        --cross-compile-prefix=$HOST- --prefix="$SYSROOT" --libdir=lib >"$b.log" 2>&1 &&
        make -j"$JOBS" build_libs >>"$b.log" 2>&1 && make install_dev >>"$b.log" 2>&1) ||
        { tail -30 "$b.log" >&2; die "OpenSSL build (log: $b.log)"; }
    mark_done openssl "$key"
}

dep_sqlite() {
    local key; key=$(stamp_key sqlite sqlite3 1)
    if is_current sqlite "$key" && [ -f "$SYSROOT/lib/libsqlite3.a" ]; then echo "sqlite: up to date ($key)"; return; fi
    local tb; tb=$(fetch_orig sqlite3)
    local b=$SRC/sqlite3
    unpack "$tb" "$b"
    # The source package holds the full tree, not the amalgamation: make sqlite3.c with the host's tclsh,
    # then cross-compile it.
    (mkdir -p "$b/host" && cd "$b/host" && ../configure --disable-tcl >"$b.log" 2>&1 &&
        make -j"$JOBS" sqlite3.c >>"$b.log" 2>&1 &&
        $CC_WIN -O2 -DSQLITE_THREADSAFE=1 -DSQLITE_OMIT_LOAD_EXTENSION -c sqlite3.c -o sqlite3.o >>"$b.log" 2>&1 &&
        rm -f libsqlite3.a && $HOST-ar rcs libsqlite3.a sqlite3.o) ||
        { tail -30 "$b.log" >&2; die "SQLite build (log: $b.log)"; }
    local v; v=$(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"/\1/p' "$b/host/sqlite3.h")
    install -d "$SYSROOT/lib/pkgconfig" "$SYSROOT/include"
    install -m644 "$b/host/libsqlite3.a" "$SYSROOT/lib/"
    install -m644 "$b/host/sqlite3.h" "$b/src/sqlite3ext.h" "$SYSROOT/include/" 2>/dev/null ||
        install -m644 "$b/host/sqlite3.h" "$SYSROOT/include/"
    cat > "$SYSROOT/lib/pkgconfig/sqlite3.pc" <<EOF
prefix=$SYSROOT
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: SQLite
Description: SQL database engine (static, SQLITE_THREADSAFE=1)
Version: $v
Libs: -L\${libdir} -lsqlite3
Cflags: -I\${includedir}
EOF
    mark_done sqlite "$key"
}

dep_argon2() {
    local key; key=$(stamp_key argon2 cryptsetup 1)
    if is_current argon2 "$key" && [ -f "$SYSROOT/lib/libargon2.a" ]; then echo "argon2: up to date ($key)"; return; fi
    local tb; tb=$(fetch_orig cryptsetup)
    local b=$SRC/argon2
    rm -rf "$b"; mkdir -p "$b"
    # The argon2 source package's tarball is not served; cryptsetup carries the Argon2 reference code.
    tar -xf "$tb" -C "$b" --strip-components=4 --wildcards '*/lib/crypto_backend/argon2/*'
    [ -f "$b/argon2.h" ] || die "no lib/crypto_backend/argon2/argon2.h in $tb"
    # Its licence: CC0 1.0 or Apache 2.0 (the reference implementation's dual licence).
    grep -qi 'CC0' "$b/argon2.h" || die "argon2.h: expected the CC0/Apache-2.0 licence header"
    local f objs=()
    (cd "$b" && for f in argon2.c core.c encoding.c thread.c ref.c blake2/blake2b.c; do
        [ -f "$f" ] || die "cryptsetup's argon2 directory lacks $f"
        $CC_WIN -O2 -std=c99 -I. -Iblake2 -c "$f" -o "$(basename "${f%.c}").o" || exit 1
    done && rm -f libargon2.a && $HOST-ar rcs libargon2.a ./*.o) >"$b.log" 2>&1 ||
        { tail -30 "$b.log" >&2; die "Argon2 build (log: $b.log)"; }
    install -d "$SYSROOT/lib/pkgconfig" "$SYSROOT/include"
    install -m644 "$b/libargon2.a" "$SYSROOT/lib/"
    install -m644 "$b/argon2.h" "$SYSROOT/include/"
    local v; v=$(src_info cryptsetup | awk '{print $1}')
    cat > "$SYSROOT/lib/pkgconfig/libargon2.pc" <<EOF
prefix=$SYSROOT
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: libargon2
Description: Argon2 reference implementation (from Debian's cryptsetup $v, lib/crypto_backend/argon2; CC0/Apache-2.0), static
Version: 20190702
Libs: -L\${libdir} -largon2
Cflags: -I\${includedir}
EOF
    mark_done argon2 "$key"
}

dep_googletest() {
    local gver; gver=$(dpkg-query -W -f='${Version}' googletest)
    local key; key="googletest pkg=$gver gcc=$(toolchain_version) recipe=1"
    if is_current googletest "$key" && [ -f "$SYSROOT/lib/libgtest.a" ]; then echo "googletest: up to date ($key)"; return; fi
    local b=$SRC/googletest-build
    rm -rf "$b"
    (cmake -S /usr/src/googletest -B "$b" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DKEYSEAL_WIN_SYSROOT="$SYSROOT" \
        -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX="$SYSROOT" -DBUILD_SHARED_LIBS=OFF >"$b.log" 2>&1 &&
        cmake --build "$b" -j"$JOBS" >>"$b.log" 2>&1 && cmake --install "$b" >>"$b.log" 2>&1) ||
        { tail -30 "$b.log" >&2; die "GoogleTest build (log: $b.log)"; }
    mark_done googletest "$key"
}

dep_pkcs11h() {
    local pver; pver=$(dpkg-query -W -f='${Version}' libp11-kit-dev)
    local key="pkcs11h libp11-kit-dev=$pver recipe=1"
    if is_current pkcs11h "$key" && [ -f "$SYSROOT/include/p11-kit-1/p11-kit/pkcs11.h" ]; then echo "pkcs11.h: up to date ($key)"; return; fi
    install -d "$SYSROOT/include/p11-kit-1/p11-kit" "$SYSROOT/lib/pkgconfig"
    install -m644 /usr/include/p11-kit-1/p11-kit/pkcs11.h "$SYSROOT/include/p11-kit-1/p11-kit/"
    # Header only: keyseal is a module, it links no p11-kit library.
    cat > "$SYSROOT/lib/pkgconfig/p11-kit-1.pc" <<EOF
prefix=$SYSROOT
includedir=\${prefix}/include

Name: p11-kit
Description: p11-kit's pkcs11.h only (from Debian's libp11-kit-dev $pver); no library
Version: ${pver%%-*}
Cflags: -I\${includedir}/p11-kit-1
EOF
    mark_done pkcs11h "$key"
}

# The tss2 headers attest/ needs (TPM 2.0 types, tss2-mu's declarations), from Debian's libtss2-dev, like pkcs11.h
# above. tss2-mu itself is not built: the tpm2-tss source package's upstream tarball is not served (404), so
# attest/mu (keyseal's own code) answers the few tss2-mu calls the verifier makes on Windows.
TSS2_HEADERS=(tss2_common.h tss2_tpm2_types.h tss2_mu.h)
dep_tss2h() {
    local pver; pver=$(dpkg-query -W -f='${Version}' libtss2-dev)
    local key="tss2h libtss2-dev=$pver recipe=1"
    if is_current tss2h "$key" && [ -f "$SYSROOT/include/tss2/tss2_mu.h" ]; then echo "tss2 headers: up to date ($key)"; return; fi
    local h
    for h in "${TSS2_HEADERS[@]}"; do
        [ -f "/usr/include/tss2/$h" ] || die "libtss2-dev $pver has no /usr/include/tss2/$h"
        # Only each other and C's own headers: nothing of the host's /usr/include may come along.
        if grep -E '^\s*#\s*include' "/usr/include/tss2/$h" | grep -Ev '<(stdint|stdlib|stddef)\.h>|"tss2_(common|tpm2_types)\.h"'; then
            die "/usr/include/tss2/$h includes more than C's standard headers and its siblings (see above)"
        fi
    done
    install -d "$SYSROOT/include/tss2" "$SYSROOT/lib/pkgconfig"
    for h in "${TSS2_HEADERS[@]}"; do install -m644 "/usr/include/tss2/$h" "$SYSROOT/include/tss2/"; done
    # Headers only: no library (attest/mu provides the functions keyseal calls).
    cat > "$SYSROOT/lib/pkgconfig/tss2-headers.pc" <<EOF
prefix=$SYSROOT
includedir=\${prefix}/include

Name: tss2-headers
Description: tss2_common.h, tss2_tpm2_types.h and tss2_mu.h only (from Debian's libtss2-dev $pver); no library
Version: ${pver%%-*}
Cflags: -I\${includedir}
EOF
    mark_done tss2h "$key"
}

# A small Windows program that uses the three libraries and the tss2 headers, run under wine: the sysroot works.
sysroot_check() {
    local d=$SRC/check
    mkdir -p "$d"
    cat > "$d/check.c" <<'EOF'
#include <argon2.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>
#include <tss2/tss2_tpm2_types.h>
int main(void) {
    unsigned char md[32], tag[32];
    unsigned int n = 0;
    if (!EVP_Digest("abc", 3, md, &n, EVP_sha256(), NULL) || n != 32) return 10;
    static const unsigned char want[4] = {0xba, 0x78, 0x16, 0xbf}; /* SHA-256("abc") starts so */
    if (memcmp(md, want, 4) != 0) return 11;
    sqlite3 *db;
    if (sqlite3_open(":memory:", &db) != SQLITE_OK || sqlite3_threadsafe() != 1) return 12;
    if (sqlite3_exec(db, "create table t(x); insert into t values(1);", 0, 0, 0) != SQLITE_OK) return 13;
    sqlite3_close(db);
    if (argon2id_hash_raw(2, 1024, 1, "password", 8, "saltsalt", 8, tag, sizeof tag) != ARGON2_OK) return 14;
    TPMT_PUBLIC pub = {0};
    pub.type = TPM2_ALG_ECC;
    if (sizeof pub.unique.rsa.buffer != TPM2_MAX_RSA_KEY_BYTES) return 15;
    printf("sysroot ok: sha256 %02x%02x.. sqlite %s argon2id %02x%02x.. tss2 TPMT_PUBLIC %u bytes\n", md[0], md[1],
           sqlite3_libversion(), tag[0], tag[1], (unsigned)sizeof pub);
    return 0;
}
EOF
    local pc="env PKG_CONFIG_LIBDIR=$SYSROOT/lib/pkgconfig pkg-config --static"
    # shellcheck disable=SC2046
    $CC_WIN -O2 -static "$d/check.c" -o "$d/check.exe" $($pc --cflags --libs libcrypto sqlite3 libargon2 tss2-headers) ||
        die "sysroot check: compiling a program against libcrypto, sqlite3, argon2 and the tss2 headers failed"
    local out
    out=$("$WINE_RUN" "$d/check.exe" | tr -d '\r') || die "sysroot check: check.exe failed under wine (rc=$?)"
    echo "$out"
}

do_sysroot() {
    apt_setup
    mkdir -p "$SYSROOT" "$SRC"
    timed openssl dep_openssl
    timed sqlite dep_sqlite
    timed argon2 dep_argon2
    timed googletest dep_googletest
    timed pkcs11.h dep_pkcs11h
    timed "tss2 headers" dep_tss2h
    timed "sysroot check" sysroot_check
}

# ------------------------------------------------------------------------------ OpenSC's pkcs11-tool.exe
dep_opensc() {
    local key; key=$(stamp_key opensc opensc 1)
    if is_current opensc "$key" && [ -f "$SYSROOT/bin/pkcs11-tool.exe" ]; then echo "opensc: up to date ($key)"; return; fi
    [ -f "$SYSROOT/lib/libcrypto.a" ] || die "pkcs11-tool.exe needs the sysroot's OpenSSL: run '$0 sysroot' first"
    local tb; tb=$(fetch_orig opensc)
    local b=$SRC/opensc
    unpack "$tb" "$b"
    local pc="env PKG_CONFIG_LIBDIR=$SYSROOT/lib/pkgconfig pkg-config"
    # The upstream tarball has no configure script. Only the libraries pkcs11-tool needs are built; the
    # rest of the tree (other tools, the minidriver, tests) is not.
    (cd "$b" && autoreconf -fi >"$b.log" 2>&1 &&
        PKG_CONFIG_LIBDIR="$SYSROOT/lib/pkgconfig" PKG_CONFIG_PATH="" ./configure --host=$HOST \
            CC="$CC_WIN" --disable-shared --enable-static --disable-doc --disable-man --disable-notify \
            --disable-zlib --disable-readline --disable-cmocka --disable-tests --enable-openssl \
            OPENSSL_CFLAGS="$($pc --cflags libcrypto)" OPENSSL_LIBS="$($pc --static --libs libcrypto)" \
            >>"$b.log" 2>&1 &&
        for d in common scconf ui sm pkcs15init libopensc pkcs11; do
            make -C "src/$d" -j"$JOBS" >>"$b.log" 2>&1 || exit 1
        done &&
        # -all-static: libtool hands -static to gcc, so no libwinpthread/libgcc DLL is needed.
        make -C src/tools -j"$JOBS" pkcs11-tool.exe LDFLAGS="-all-static" >>"$b.log" 2>&1) ||
        { tail -40 "$b.log" >&2; die "OpenSC pkcs11-tool.exe build (log: $b.log)"; }
    local exe=$b/src/tools/pkcs11-tool.exe
    [ -f "$b/src/tools/.libs/pkcs11-tool.exe" ] && exe=$b/src/tools/.libs/pkcs11-tool.exe
    local dlls; dlls=$($HOST-objdump -p "$exe" | sed -n 's/^\s*DLL Name: //p' | tr 'A-Z' 'a-z' | sort -u | tr '\n' ' ')
    echo "pkcs11-tool.exe imports: $dlls"
    if grep -Eq 'libwinpthread|libgcc|libstdc|libcrypto|libssl|libopensc' <<<"$dlls"; then
        die "pkcs11-tool.exe is not static: imports $dlls"
    fi
    install -d "$SYSROOT/bin"
    install -m755 "$exe" "$SYSROOT/bin/pkcs11-tool.exe"
    # pkcs11-tool 0.23 has no --help option: it prints its usage and exits 1 or 2.
    local usage; usage=$("$WINE_RUN" "$SYSROOT/bin/pkcs11-tool.exe" --help 2>&1 | tr -d '\r') || true
    grep -q -- '--module <arg>' <<<"$usage" || die "pkcs11-tool.exe --help under wine did not print its usage: $usage"
    mark_done opensc "$key"
}

# --------------------------------------------------------------------------------- wine prefix
# The prefix (crash debugger off) is created by the wrapper; the wineserver is kept alive during the
# tests (-p) with its output detached, so that it neither holds ctest's pipes open nor costs a start per
# program, and is stopped when this script ends.
WINESERVER_STARTED=0
stop_wineserver() {
    if [ $WINESERVER_STARTED = 1 ]; then
        wineserver -k 2>/dev/null || true
        WINESERVER_STARTED=0
    fi
}
start_wineserver() {
    "$WINE_RUN" --init || die "could not create the wine prefix $WINEPREFIX"
    wineserver -p </dev/null >/dev/null 2>&1 || die "wineserver -p failed"
    WINESERVER_STARTED=1
    trap stop_wineserver EXIT
    # Start wine's services now (detached), not inside the first test.
    WINEDEBUG=-all wine wineboot </dev/null >/dev/null 2>&1 || true
}

# A program that dereferences NULL must make the wrapper exit non-zero (wine's own debugger would turn the
# crash into exit 0), and a program returning 3 must give 3.
crashcheck() {
    local d=$SRC/check
    mkdir -p "$d"
    cat > "$d/crash.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    if (argc > 1 && argv[1][0] == 'r') return atoi(argv[1] + 1);
    volatile int *p = NULL;
    printf("about to crash\n");
    fflush(stdout);
    return *p;
}
EOF
    $CC_WIN -O0 -static "$d/crash.c" -o "$d/crash.exe" || die "crashcheck: compile"
    local rc=0
    "$WINE_RUN" "$d/crash.exe" r3 >/dev/null 2>&1 || rc=$?
    [ $rc = 3 ] || die "crashcheck: a program returning 3 gave exit status $rc under wine"
    rc=0
    "$WINE_RUN" "$d/crash.exe" >/dev/null 2>&1 || rc=$?
    [ $rc != 0 ] || die "crashcheck: a NULL dereference exited 0 under wine (AeDebug debugger not disabled in $WINEPREFIX?)"
    echo "crashcheck: exit status 3 passed through; NULL dereference -> exit status $rc"
}

# -------------------------------------------------------------------------------------- build
do_build() {
    [ -f "$SYSROOT/.stamps/openssl" ] || die "no sysroot at $SYSROOT: run '$0 deps' first"
    local t0=$SECONDS
    # PRE_TEST: the unit tests are listed by running them under wine when ctest runs, not during the build.
    cmake -S "$REPO" -B "$BUILD" -DCMAKE_TOOLCHAIN_FILE="$TOOLCHAIN" -DKEYSEAL_WIN_SYSROOT="$SYSROOT" \
        -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEYSEAL_BUILD_BENCH=OFF -DKEYSEAL_BUILD_TESTS=ON \
        -DKEYSEAL_BUILD_CONFORMANCE=ON -DOPENSSL_USE_STATIC_LIBS=ON -DOPENSSL_ROOT_DIR="$SYSROOT" \
        -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST ||
        die "configuring the Windows build in $BUILD failed (see above)"
    echo "=== windows.sh: configure took $((SECONDS - t0))s" >&2
    t0=$SECONDS
    cmake --build "$BUILD" -j"$JOBS" ||
        die "the Windows build failed (compile/link errors above; build dir $BUILD)"
    echo "=== windows.sh: compile took $((SECONDS - t0))s" >&2
    local f
    for f in keyseal.dll keyseal.exe keyseal-conformance.exe; do
        [ -n "$(find_built "$f")" ] || die "the Windows build did not produce $f"
    done
    # The module must depend on system DLLs only and export the PKCS#11 entry points.
    local dll dlls; dll=$(find_built keyseal.dll)
    dlls=$($HOST-objdump -p "$dll" | sed -n 's/^\s*DLL Name: //p' | tr 'A-Z' 'a-z' | sort -u | tr '\n' ' ')
    echo "keyseal.dll imports: $dlls"
    if grep -Eq 'libwinpthread|libgcc|libstdc|libcrypto|libssl|libsqlite|libargon' <<<"$dlls"; then
        die "keyseal.dll is not self-contained: imports $dlls"
    fi
    local table; table=$($HOST-objdump -p "$dll")  # (not piped into grep -q: with pipefail, SIGPIPE would fail it)
    for f in C_GetFunctionList C_GetInterfaceList C_GetInterface; do
        grep -Eq "\] $f\$|\s$f\$" <<<"$table" || die "keyseal.dll does not export $f"
    done
}

# find_built NAME: the path of a built file in BUILD (empty if none)
find_built() { find "$BUILD" -name "$1" -type f -not -path '*/CMakeFiles/*' 2>/dev/null | head -1; }

# ----------------------------------------------------------------------------------------- test
# Shims with the Linux names, so the host-side scripts can drive the Windows programs.
make_shims() {
    local shims=$BUILD/winshims
    mkdir -p "$shims"
    # pkcs11-tool/keyseal print CRLF under wine: strip the CRs, keep the exit status.
    cat > "$shims/winrun" <<EOF
#!/usr/bin/env bash
set -o pipefail
exe=\$1; shift
"$WINE_RUN" "\$exe" "\$@" | tr -d '\r'
EOF
    chmod +x "$shims/winrun"
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$shims/winrun" "$SYSROOT/bin/pkcs11-tool.exe" > "$shims/pkcs11-tool"
    printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$shims/winrun" "$(find_built keyseal.exe)" > "$shims/keyseal"
    # gtest takes a path without a drive letter as relative to the working directory (a report in
    # ./tmp/...): a host path for --gtest_output is given to it on Z:, wine's drive for /.
    cat > "$shims/keyseal-conformance" <<EOF
#!/usr/bin/env bash
args=()
for a in "\$@"; do
  case \$a in --gtest_output=json:/*) a="--gtest_output=json:Z:\${a#--gtest_output=json:}" ;; esac
  args+=("\$a")
done
exec "$shims/winrun" "$(find_built keyseal-conformance.exe)" "\${args[@]}"
EOF
    chmod +x "$shims"/*
    echo "$shims"
}

FAILED_STAGES=()
stage() { # stage NAME CMD...: run a test stage, time it, remember a failure and go on
    local name=$1 t0=$SECONDS rc=0; shift
    say "test: $name"
    "$@" || rc=$?
    if [ $rc = 0 ]; then
        echo "=== windows.sh: test $name PASSED in $((SECONDS - t0))s" >&2
    else
        echo "=== windows.sh: test $name FAILED (exit $rc) in $((SECONDS - t0))s" >&2
        FAILED_STAGES+=("$name")
    fi
}

test_ctest() {
    # Script-driven tests (e2e, interop, conformance, SoftHSM calibration, TPM, bench) run Linux tools on
    # the built files: they are replaced by the wine-driven stages below. Everything else (the gtest unit
    # tests, listed under wine at test time) must pass.
    ctest --test-dir "$BUILD" --output-on-failure -j"$JOBS" --timeout 600 --no-tests=error \
        -LE 'e2e|interop|conformance|calibration|tpm|bench' -E '^(e2e|interop|conformance|bench)\.|softhsm' &&
        return 0
    # Rarely (once in some thousands of starts, seen on 2026-12-06) wine fails to start a test program: the test
    # "fails" in a few milliseconds with no output at all, not even gtest's first line. Only such tests are run
    # once more, and the log says which; a test that printed anything has failed for real and is not retried.
    local tmp=$BUILD/Testing/Temporary name names=()
    [ -s "$tmp/LastTestsFailed.log" ] || return 1
    while IFS=: read -r _ name; do
        if awk -v t="$name" '$2 == "Testing:" && $3 == t {f = 1; next}
                             f && /^Output:/ {o = 1; getline; next}
                             f && o && /^<end of output>/ {exit}
                             f && o {print}' "$tmp/LastTest.log" | grep -q .; then
            return 1
        fi
        names+=("$name")
    done < "$tmp/LastTestsFailed.log"
    echo "=== windows.sh: ${#names[@]} test(s) failed without printing anything (wine did not start the program):" \
        "${names[*]}; running them once more" >&2
    ctest --test-dir "$BUILD" --output-on-failure --timeout 600 --no-tests=error \
        -R "^($(IFS='|'; echo "${names[*]}"))\$"
}

test_conformance() {
    "$REPO/scripts/conformance-keyseal.sh" "$(find_built keyseal.dll)" "$SHIMS/keyseal-conformance"
}

# A soft token's files for one test stage: store, cheap Argon2 parameters.
soft_env() {
    local d=$1
    rm -rf "$d"; mkdir -p "$d/store"
    printf 'argon2_m_cost_kib = 8192\nargon2_t_cost = 1\n' > "$d/keyseal.conf"
    export KEYSEAL_STORE=$d/store KEYSEAL_CONF=$d/keyseal.conf KEYSEAL_BACKEND=soft
}

test_cli() {
    local w=$WORK/cli
    soft_env "$w"
    local K=("$SHIMS/keyseal" --module "$MODULE") slot
    set -x
    "${K[@]}" status
    "${K[@]}" init --label "win cli" --so-pin 87654321 --pin 123456 | tee "$w/init.out"
    slot=$(awk '/^slot:/ {print $2}' "$w/init.out")
    [ -n "$slot" ]
    "${K[@]}" status | tee "$w/status.out"
    grep -q 'win cli' "$w/status.out"
    # import: a PEM EC key and a PKCS#12 RSA key made by the host's openssl
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$w/ec.pem" 2>/dev/null
    "${K[@]}" import --slot "$slot" --pin 123456 --label imported-ec --id 0a "$w/ec.pem"
    "${K[@]}" list --pin 123456 | tee "$w/list.out"
    grep -q 'imported-ec' "$w/list.out"
    # a wrong PIN fails
    ! "${K[@]}" list --pin 999999 >/dev/null 2>&1 || exit 1
    set +x
}

# keyseal.exe's attestation commands on evidence a real TPM made (cross-platform, not only error messages), run by
# tests/attest/windows_fixture.sh while its swtpm is up: the Linux keyseal enrols a swtpm manufactured with EK
# certificates as enrol.sh does (attest-ak, the CA's credential round, an AK certificate) and attests a TPM key with
# a nonce (FIX_* variables: the files; FIX_LINUX_KEYSEAL: the Linux keyseal on that TPM token). keyseal.exe must
#   - verify the JSON evidence and the tpm statement: exit 0, every check ok, the same checks and lines as Linux;
#   - refuse tampered copies (exit 1) and name the failing check, as Linux does;
#   - make a credential (TPM2_MakeCredential in software) that the swtpm's TPM2_ActivateCredential (Linux
#     `keyseal attest-ak --activate`) opens to the same secret; a credential with a flipped byte does not open;
#   - refuse malformed documents naming the missing field;
#   - fail attest-ak (--activate, --store-cert) with a message: wine has no TPM behind the Platform Crypto Provider;
#   - refuse to attest a soft-token key, saying why.
test_cli_attest() {
    local w=$WORK/cli-attest
    soft_env "$w"
    unset KEYSEAL_TCTI
    local K=("$SHIMS/keyseal" --module "$MODULE") L=("$FIX_LINUX_KEYSEAL")
    local R=(--roots "$FIX_CA_ROOT" --roots "$FIX_EK_ROOTS") f in c rc other secret
    set -x
    # the untouched evidence, both formats
    for f in json tpm; do
        in=$FIX_EVIDENCE; [ $f = json ] || in=$FIX_STATEMENT
        "${K[@]}" verify-attestation "${R[@]}" --nonce "$FIX_NONCE" --format $f "$in" > "$w/win-$f.out"
        "${L[@]}" verify-attestation "${R[@]}" --nonce "$FIX_NONCE" --format $f "$in" > "$w/linux-$f.out"
        cat "$w/win-$f.out"
        [ "$(grep -c . "$w/win-$f.out")" -ge 5 ]
        [ "$(grep -cv '^ok   [a-z_]*: ' "$w/win-$f.out")" = 0 ]   # every line a passing check
        [ "$(grep -c . "$w/win-$f.out")" = "$(grep -c . "$w/linux-$f.out")" ]
        diff "$w/linux-$f.out" "$w/win-$f.out"                  # the same checks, passing for the same reasons
    done
    for c in ek_certificate_chain ek_certificate_matches ak_bound_to_ek attest_signature nonce attested_name \
             key_fixed_tpm key_sensitive_data_origin creation; do
        grep -q "^ok   $c: " "$w/win-json.out"
    done
    # tampered: another nonce asked for; certify_signature with its last hex digit changed; key_public likewise,
    # with key_name recomputed (SHA-256 name) so that the document still parses
    other=$(openssl rand -hex 32)
    flip_last() { perl -pe 's/(.)$/sprintf("%x", hex($1) ^ 1)/e'; }
    jq --arg v "$(jq -r .certify_signature "$FIX_EVIDENCE" | flip_last)" '.certify_signature = $v' "$FIX_EVIDENCE" \
        > "$w/bad-sig.json"
    local pub; pub=$(jq -r .key_public "$FIX_EVIDENCE" | flip_last)
    [ "${pub:4:4}" = 000b ]
    jq --arg p "$pub" --arg n "000b$(xxd -r -p <<< "$pub" | openssl dgst -sha256 -binary | xxd -p -c 64)" \
        '.key_public = $p | .key_name = $n' "$FIX_EVIDENCE" > "$w/bad-key.json"
    ! cmp -s "$w/bad-sig.json" "$FIX_EVIDENCE" || exit 1
    ! cmp -s "$w/bad-key.json" "$FIX_EVIDENCE" || exit 1
    for c in "nonce $FIX_EVIDENCE $other" "attest_signature $w/bad-sig.json $FIX_NONCE" \
             "attested_name $w/bad-key.json $FIX_NONCE"; do
        set -- $c
        rc=0
        "${K[@]}" verify-attestation "${R[@]}" --nonce "$3" --format json "$2" > "$w/win-bad.out" || rc=$?
        cat "$w/win-bad.out"
        [ $rc = 1 ]
        grep -q "^FAIL $1: " "$w/win-bad.out"
        rc=0
        "${L[@]}" verify-attestation "${R[@]}" --nonce "$3" --format json "$2" > "$w/linux-bad.out" || rc=$?
        [ $rc = 1 ]
        diff "$w/linux-bad.out" "$w/win-bad.out"
    done
    # make-credential on Windows, ActivateCredential by the swtpm
    secret=$(openssl rand -hex 32)
    "${K[@]}" make-credential --ak "$FIX_AK" --ek-cert "$FIX_EK_CERT" --secret "$secret" --out "$w/cred.json"
    jq -e '(.credential_blob | length > 0) and (.encrypted_secret | length > 0)' "$w/cred.json"
    "${L[@]}" attest-ak --activate "$w/cred.json" > "$w/recovered"
    [ "$(tr -d ' \n' < "$w/recovered" | tr A-F a-f)" = "$secret" ]
    # a byte of the credential's integrity HMAC changed: the TPM refuses it, no secret comes out
    jq --arg b "$(jq -r .credential_blob "$w/cred.json" | perl -pe 's/^(.{20})(.)/$1 . sprintf("%x", hex($2) ^ 1)/e')" \
        '.credential_blob = $b' "$w/cred.json" > "$w/bad-cred.json"
    rc=0
    "${L[@]}" attest-ak --activate "$w/bad-cred.json" > "$w/bad-recovered" || rc=$?
    [ $rc = 1 ]
    [ ! -s "$w/bad-recovered" ]
    # malformed documents: the missing field named
    echo '{}' > "$w/empty.json"
    rc=0
    "${K[@]}" verify-attestation "${R[@]}" --format json "$w/empty.json" 2> "$w/err" || rc=$?
    cat "$w/err"; [ $rc = 1 ]
    grep -q 'attestation evidence: field "version" is missing' "$w/err"
    rc=0
    "${K[@]}" make-credential --ak "$w/empty.json" --secret "$secret" 2> "$w/err" || rc=$?
    cat "$w/err"; [ $rc = 1 ]
    grep -q 'AK document: field "ak_public" is missing' "$w/err"
    # attest-ak, --activate and --store-cert go to the Platform Crypto Provider's AIK (compose/compose_win.cpp):
    # wine has no TPM behind it, and keyseal.exe says so, writing nothing
    for c in "" "--activate $w/cred.json" "--store-cert $FIX_CA_ROOT"; do
        rc=0
        "${K[@]}" attest-ak $c > "$w/ak.out" 2> "$w/err" || rc=$?
        cat "$w/err"; [ $rc = 1 ]
        [ ! -s "$w/ak.out" ]
        grep -q '^keyseal: no TPM' "$w/err"
    done
    [ ! -e "$KEYSEAL_STORE/pcp-ak" ]
    # attest of a soft-token key: refused with the reason (no TPM vouches for a keystore)
    local slot
    slot=$("${K[@]}" init --label "win attest" --so-pin 87654321 --pin 123456 | awk '/^slot:/ {print $2}')
    [ -n "$slot" ]
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$w/ec.pem" 2>/dev/null
    "${K[@]}" import --slot "$slot" --pin 123456 --label soft-ec --id 0b "$w/ec.pem"
    rc=0
    "${K[@]}" attest --slot "$slot" --id 0b --pin 123456 --nonce "$FIX_NONCE" > "$w/attest.out" 2> "$w/err" || rc=$?
    cat "$w/err"; [ $rc = 1 ]
    [ ! -s "$w/attest.out" ]
    grep -q 'is not in a TPM' "$w/err"
    set +x
}

# The attestation stage: the Linux build and swtpm are required (a missing one fails the stage, never skips it).
run_attest_check() {
    local mod=$LINUX_BUILD/src/pkcs11/libkeyseal.so cli=$LINUX_BUILD/src/cli/keyseal
    if [ ! -f "$mod" ] || [ ! -x "$cli" ]; then
        echo "no Linux build in $LINUX_BUILD ($mod and $cli): the attestation stage needs it to make TPM evidence" \
             "(cmake -S $REPO -B $REPO/build -DCMAKE_BUILD_TYPE=RelWithDebInfo && cmake --build $REPO/build," \
             "as scripts/test.sh does before this script; or set KEYSEAL_LINUX_BUILD)" >&2
        return 1
    fi
    command -v swtpm >/dev/null || { echo "swtpm is not installed (Debian package swtpm): scripts/deps.sh test" >&2; return 1; }
    "$REPO/tests/attest/windows_fixture.sh" "$mod" "$cli" env MODULE="$1" SHIMS="$2" WORK="$3" \
        bash -c "set -euo pipefail; $(declare -f soft_env test_cli_attest); test_cli_attest"
}

test_pkcs11_tool() {
    local w=$WORK/p11
    soft_env "$w"
    local P=("$SHIMS/pkcs11-tool" --module "$MODULE") L=(--login --pin 123456) T=(--token-label "win p11")
    set -x
    "${P[@]}" -L | tee "$w/slots.out"
    grep -q 'token state: *uninitialized' "$w/slots.out"
    "${P[@]}" --init-token --slot-index 0 --label "win p11" --so-pin 87654321
    "${P[@]}" "${T[@]}" --init-pin --login --login-type so --so-pin 87654321 --pin 123456
    "${P[@]}" -L > "$w/slots2.out"; grep -q 'token label *: win p11' "$w/slots2.out"
    # EC P-256 and RSA 2048 key pairs
    "${P[@]}" "${T[@]}" "${L[@]}" --keypairgen --key-type EC:prime256v1 --id 01 --label ec256
    "${P[@]}" "${T[@]}" "${L[@]}" --keypairgen --key-type rsa:2048 --id 02 --label rsa2048
    head -c 1000 /dev/urandom > "$w/data"
    "${P[@]}" "${T[@]}" --read-object --type pubkey --id 02 -o "$w/pub-02.der"
    openssl pkey -pubin -inform DER -in "$w/pub-02.der" -out "$w/pub-02.pem"
    # The EC key is rebuilt from its CKA_EC_POINT as -O lists it (the P-256 SubjectPublicKeyInfo prefix and the
    # point): pkcs11-tool.exe's --read-object of an EC public key stops with "cannot create EVP_PKEY" under wine
    # (OpenSC 0.23 linked with the static OpenSSL; Linux pkcs11-tool reads the same key), while the token's
    # CKA_EC_POINT and CKA_EC_PARAMS are right, as -O shows.
    "${P[@]}" "${T[@]}" -O --type pubkey --id 01 > "$w/pub-01.txt"
    local point; point=$(sed -n 's/^ *EC_POINT: *0441\(04[0-9a-f]\{128\}\)$/\1/p' "$w/pub-01.txt")
    [ ${#point} = 130 ] || { echo "no P-256 EC_POINT in pkcs11-tool -O output" >&2; return 1; }
    perl -e 'print pack("H*", $ARGV[0])' "3059301306072a8648ce3d020106082a8648ce3d030107034200$point" > "$w/pub-01.der"
    openssl pkey -pubin -inform DER -in "$w/pub-01.der" -out "$w/pub-01.pem"
    # signatures by pkcs11-tool.exe, verified by the token (--verify) and by Linux openssl
    "${P[@]}" "${T[@]}" "${L[@]}" --sign --id 01 -m ECDSA-SHA256 -i "$w/data" -o "$w/sig-ec" --signature-format openssl
    openssl dgst -sha256 -verify "$w/pub-01.pem" -signature "$w/sig-ec" "$w/data"
    "${P[@]}" "${T[@]}" "${L[@]}" --sign --id 02 -m SHA256-RSA-PKCS -i "$w/data" -o "$w/sig-rsa"
    openssl dgst -sha256 -verify "$w/pub-02.pem" -signature "$w/sig-rsa" "$w/data"
    openssl dgst -sha256 -binary "$w/data" > "$w/data.sha256"
    openssl pkeyutl -verify -pubin -inkey "$w/pub-02.pem" -in "$w/data.sha256" -sigfile "$w/sig-rsa" \
        -pkeyopt digest:sha256
    "${P[@]}" "${T[@]}" "${L[@]}" --verify --id 02 -m SHA256-RSA-PKCS -i "$w/data" --signature-file "$w/sig-rsa"
    "${P[@]}" "${T[@]}" "${L[@]}" --verify --id 01 -m ECDSA-SHA256 -i "$w/data" --signature-file "$w/sig-ec" \
        --signature-format openssl
    # the checks can fail: other data does not verify
    head -c 1000 /dev/urandom > "$w/other"
    ! openssl dgst -sha256 -verify "$w/pub-02.pem" -signature "$w/sig-rsa" "$w/other" || exit 1
    # pkcs11-tool --verify exits 0 on a bad signature too (OpenSC 0.23): its message is the result
    "${P[@]}" "${T[@]}" "${L[@]}" --verify --id 02 -m SHA256-RSA-PKCS -i "$w/other" --signature-file "$w/sig-rsa" \
        > "$w/verify-other.out" 2>&1 || true
    cat "$w/verify-other.out"
    grep -q '^Invalid signature' "$w/verify-other.out"
    # pkcs11-tool's own test run
    "${P[@]}" "${T[@]}" "${L[@]}" --test | tee "$w/test.out"
    grep -q 'No errors' "$w/test.out"
    set +x
}

# run_check FUNCTION MODULE SHIMS WORKDIR: a check in a shell of its own with errexit on (a function
# called in an `||` list would run with errexit off). A check that a command fails is written `! CMD || exit 1`:
# errexit ignores the status of a `!` pipeline, so a bare `! CMD` never fails the check.
run_check() {
    MODULE=$2 SHIMS=$3 WORK=$4 bash -c "set -euo pipefail; $(declare -f soft_env "$1"); $1"
}

# The keyseal.exe and pkcs11-tool.exe checks run against a Linux build as well, to check the checks:
#   scripts/windows.sh selftest-linux path/to/libkeyseal.so path/to/keyseal
selftest_linux() {
    local mod=${1:?module} cli=${2:?keyseal tool} d; d=$(mktemp -d)
    mkdir "$d/shims"
    ln -s "$(readlink -f "$cli")" "$d/shims/keyseal"
    ln -s "$(command -v pkcs11-tool)" "$d/shims/pkcs11-tool"
    stage "keyseal (Linux)" run_check test_cli "$(readlink -f "$mod")" "$d/shims" "$d"
    stage "pkcs11-tool (Linux)" run_check test_pkcs11_tool "$(readlink -f "$mod")" "$d/shims" "$d"
    rm -rf "$d"
    [ ${#FAILED_STAGES[@]} = 0 ] || die "failed: ${FAILED_STAGES[*]}"
}

do_test() {
    [ -n "$(find_built keyseal.dll)" ] || die "no Windows build in $BUILD: run '$0 build' first"
    [ -f "$SYSROOT/bin/pkcs11-tool.exe" ] || die "no pkcs11-tool.exe in $SYSROOT/bin: run '$0 deps' first"
    local t0=$SECONDS
    start_wineserver
    stage crashcheck crashcheck
    SHIMS=$(make_shims)
    stage ctest test_ctest
    stage conformance test_conformance
    local dll; dll=$(find_built keyseal.dll)
    stage keyseal.exe run_check test_cli "$dll" "$SHIMS" "$BUILD/wintest"
    stage "keyseal.exe attestation (swtpm evidence)" run_attest_check "$dll" "$SHIMS" "$BUILD/wintest"
    stage pkcs11-tool.exe run_check test_pkcs11_tool "$dll" "$SHIMS" "$BUILD/wintest"
    stop_wineserver
    echo "=== windows.sh: test took $((SECONDS - t0))s" >&2
    [ ${#FAILED_STAGES[@]} = 0 ] || die "Windows test stages failed: ${FAILED_STAGES[*]}"
    say "all Windows test stages passed"
}

# ------------------------------------------------------------------------------- shared HOWTO
install_howto() {
    install -d "$WIN_ROOT"
    install -m644 "$TOOLCHAIN" "$WIN_ROOT/toolchain-mingw64.cmake"
    install -m755 "$WINE_RUN" "$WIN_ROOT/wine-run.sh"
    cat > "$WIN_ROOT/HOWTO" <<EOF
keyseal Windows build (mingw-w64 + wine) -- written by scripts/windows.sh install-howto
Sysroot: $SYSROOT (static OpenSSL, SQLite, Argon2, GoogleTest, p11-kit's pkcs11.h; pkcs11-tool.exe in bin/
once '$0 opensc' ran). Toolchain file and wine wrapper: $WIN_ROOT/toolchain-mingw64.cmake and
$WIN_ROOT/wine-run.sh (copies of cmake/toolchain-mingw64.cmake and scripts/windows/wine-run.sh).

1. Configure (from your checkout; the toolchain file sets the sysroot, pkg-config, static OpenSSL and
   CMAKE_CROSSCOMPILING_EMULATOR = the wine wrapper itself; the flags below are repeated for clarity):

   PKG_CONFIG_LIBDIR=$SYSROOT/lib/pkgconfig cmake -S . -B build-win \\
     -DCMAKE_TOOLCHAIN_FILE=$WIN_ROOT/toolchain-mingw64.cmake \\
     -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKEYSEAL_BUILD_BENCH=OFF \\
     -DOPENSSL_USE_STATIC_LIBS=ON -DOPENSSL_ROOT_DIR=$SYSROOT \\
     -DCMAKE_GTEST_DISCOVER_TESTS_DISCOVERY_MODE=PRE_TEST

   cmake --build build-win -j2 --target crypto_tests      (only what you need)

   Executables and the DLL are linked -static (no libstdc++/libgcc/winpthread DLLs needed).
   Do not add host include dirs (/usr/include, e.g. through tss2) to a Windows target.

2. Run a test binary under wine. Use a prefix of your own (created on first use, wine's crash debugger
   disabled so a crash exits non-zero; about 15 s the first time):

   export WINEPREFIX=\$PWD/build-win/wineprefix
   $WIN_ROOT/wine-run.sh --init                   # create the prefix if needed
   wineserver -p </dev/null >/dev/null 2>&1      # keep the server alive: 0.05 s instead of 0.7 s per start
   wine wineboot </dev/null >/dev/null 2>&1      # start wine's services now, detached: services started
                                                 # inside a ctest run inherit its pipes and hang ctest
   $WIN_ROOT/wine-run.sh build-win/tests/unit/crypto/crypto_tests.exe --gtest_brief=1
   (cd build-win && ctest -R crypto --output-on-failure)   # ctest uses the same wrapper
   wineserver -k                                  # when done (stops only your prefix's server)

   Unix paths work as arguments under wine (they resolve through drive Z:). Exit status: the program's; a
   crash gives a non-zero status (e.g. 5 for an access violation).

3. pkcs11-tool for Windows: $SYSROOT/bin/pkcs11-tool.exe (static OpenSC), e.g.
   $WIN_ROOT/wine-run.sh $SYSROOT/bin/pkcs11-tool.exe --module build-win/src/pkcs11/keyseal.dll -L
EOF
    echo "wrote $WIN_ROOT/HOWTO"
}

# ---------------------------------------------------------------------------------------- main
main() {
    local cmd=${1:-all}
    case $cmd in
        deps) timed "deps (sysroot)" do_sysroot; timed "deps (opensc)" dep_opensc ;;
        sysroot) do_sysroot ;;
        opensc) apt_setup; timed opensc dep_opensc ;;
        prefix) timed prefix "$WINE_RUN" --init ;;
        crashcheck) crashcheck ;;
        build) timed build do_build ;;
        test) timed test do_test ;;
        install-howto) install_howto ;;
        selftest-linux) shift; selftest_linux "$@" ;;
        all)
            timed "deps (sysroot)" do_sysroot
            timed "deps (opensc)" dep_opensc
            timed build do_build
            timed test do_test ;;
        *) die "unknown command $cmd (see the head of $0)" ;;
    esac
}
main "$@"
