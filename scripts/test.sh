#!/usr/bin/env bash
# Runs every test of keyseal on a fresh Debian 12: unit tests, end-to-end tests with pkcs11-tool and the CLI,
# the conformance suite against keyseal and SoftHSMv2, then the same unit and conformance tests under
# AddressSanitizer+UndefinedBehaviorSanitizer, the concurrency tests under ThreadSanitizer, each fuzzer for
# a bounded time, and the Windows build (keyseal.dll cross-built with mingw-w64) with its tests under wine
# (scripts/windows.sh). Exits non-zero on the first failing stage.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh test
JOBS=${JOBS:-2}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}

stage() { echo; echo "==== $*"; }

stage "sanitizer build (ASan + UBSan): unit and conformance tests"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DKEYSEAL_SANITIZE=ON -DKEYSEAL_BUILD_BENCH=OFF >/dev/null
cmake --build build-asan -j"$JOBS"
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j"$JOBS" -LE "e2e|tsan-only|package")

stage "thread sanitizer build: concurrency tests"
cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=Debug -DKEYSEAL_TSAN=ON -DKEYSEAL_BUILD_BENCH=OFF \
  -DKEYSEAL_BUILD_CONFORMANCE=OFF >/dev/null
cmake --build build-tsan -j"$JOBS" --target module_tests
(cd build-tsan && TSAN_OPTIONS=halt_on_error=1 ctest --output-on-failure -L concurrency)

if command -v clang++ >/dev/null; then
  stage "fuzzers, ${FUZZ_SECONDS}s each"
  CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug -DKEYSEAL_BUILD_TESTS=OFF \
    -DKEYSEAL_BUILD_BENCH=OFF -DKEYSEAL_BUILD_CONFORMANCE=OFF >/dev/null
  cmake --build build-fuzz -j"$JOBS" --target store_decode_fuzz template_fuzz
  for f in build-fuzz/fuzz/*_fuzz; do
    name=$(basename "$f")
    corpus=fuzz/corpus/${name%_fuzz}
    mkdir -p "$corpus"
    tmp=$(mktemp -d)
    "$f" -max_total_time="$FUZZ_SECONDS" -print_final_stats=0 "$tmp" "$corpus" 2>&1 | tail -2
    rm -rf "$tmp"
  done
fi

stage "release build: unit, end-to-end and conformance tests"
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$JOBS"
(cd build && ctest --output-on-failure -j"$JOBS")

stage "Windows: keyseal.dll, keyseal.exe and the tests cross-built with mingw-w64, run under wine"
JOBS=$JOBS scripts/windows.sh
