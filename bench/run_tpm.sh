#!/usr/bin/env bash
# bench/run_tpm.sh [BUILD_DIR]: the TPM run. Starts one swtpm (fresh state directory, free loopback ports) and,
# one after the other on it (swtpm serves one client at a time): the floor of one raw TPM2_Sign through ESAPI
# (keyseal-tpm-floor), keyseal's TPM token and tpm2-pkcs11 (both through keyseal-bench), then prints one
# markdown table with ratios (BUILD_DIR/bench-results/tpm-table.md, made by bench/tpm_table.py).
# A second, short run per module and key type goes through tpm2-tss's pcap TCTI to count the TPM commands
# each signature costs (bench/tpm_commands.py). Timing is reported, never judged. Knobs: BENCH_SECONDS (2),
# BENCH_THREADS (2), BENCH_KEYGEN_COUNT (3), BENCH_LOGIN_COUNT (5), BENCH_COUNT_SECONDS (0.5), BENCH_RESULTS
# (BUILD_DIR/bench-results), TPM2_PKCS11_MODULE, BENCH_STRICT (1: exit 1 unless the floor and keyseal gave every
# number with no failed signature; tpm2-pkcs11 is only recorded), BENCH_REQUIRE_KEYSEAL (with BENCH_STRICT:
# 1 = keyseal's numbers are required; default: when its module exists).
set -euo pipefail

# Everything runs inside main(), which bash parses whole before running.
main() {

BUILD_DIR=${1:-./build}
SECS=${BENCH_SECONDS:-2}
THREADS=${BENCH_THREADS:-2}
KEYGEN=${BENCH_KEYGEN_COUNT:-3}
LOGINS=${BENCH_LOGIN_COUNT:-5}
CSECS=${BENCH_COUNT_SECONDS:-0.5}
STRICT=${BENCH_STRICT:-0}
RESULTS=${BENCH_RESULTS:-$BUILD_DIR/bench-results}
BENCH=$BUILD_DIR/bench/keyseal-bench
FLOOR=$BUILD_DIR/bench/keyseal-tpm-floor
KEYSEAL_MODULE=$BUILD_DIR/src/pkcs11/libkeyseal.so
TPM2_PKCS11_MODULE=${TPM2_PKCS11_MODULE:-/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SO_PIN=bench-so-pin-1234
USER_PIN=bench-user-pin-1234

say() { printf '== %s\n' "$*" >&2; }

# A missing swtpm is a failure, not a skip (issue 4: CI installs it).
for tool in swtpm python3; do
  command -v "$tool" >/dev/null || { echo "run_tpm.sh: $tool not found (Debian package $tool)" >&2; exit 1; }
done
for bin in "$BENCH" "$FLOOR"; do
  if [ ! -x "$bin" ]; then
    echo "run_tpm.sh: $bin not built (cmake --build $BUILD_DIR --target $(basename "$bin"))" >&2
    exit 1
  fi
done

mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
rm -f "$RESULTS"/tpm-*.json "$RESULTS"/tpm-*.log "$RESULTS"/tpm-*.left "$RESULTS"/tpm-table.md
TMP=$(mktemp -d "${TMPDIR:-/tmp}/keyseal-tpm-bench.XXXXXX")
SWTPM_PID=
stop_swtpm() {
  if [ -n "$SWTPM_PID" ]; then
    kill "$SWTPM_PID" 2>/dev/null || true
    wait "$SWTPM_PID" 2>/dev/null || true
    SWTPM_PID=
  fi
}
trap 'stop_swtpm; rm -rf "$TMP"' EXIT

# --- one swtpm on a free loopback port pair (N for commands, N+1 for control); retried if the port was taken
# between choosing it and swtpm binding it.
free_port_pair() {
  python3 - <<'PY'
import socket
for _ in range(100):
    a = socket.socket(); a.bind(("127.0.0.1", 0)); p = a.getsockname()[1]
    b = socket.socket()
    try:
        b.bind(("127.0.0.1", p + 1))
    except OSError:
        continue
    finally:
        a.close(); b.close()
    print(p); break
PY
}
wait_port() {  # until something listens on 127.0.0.1:$1 (5 s at most)
  python3 - "$1" <<'PY'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close(); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
PY
}
for attempt in 1 2 3 4 5; do
  PORT=$(free_port_pair)
  mkdir -p "$TMP/tpmstate"
  rm -rf "${TMP:?}/tpmstate"/*
  swtpm socket --tpm2 --tpmstate dir="$TMP/tpmstate" \
    --server type=tcp,port="$PORT",bindaddr=127.0.0.1 --ctrl type=tcp,port=$((PORT + 1)),bindaddr=127.0.0.1 \
    --flags not-need-init,startup-clear >"$TMP/swtpm.log" 2>&1 &
  SWTPM_PID=$!
  # swtpm listens on the control port before the command port, so both must answer; a probe that closes at
  # once is harmless (swtpm reads end-of-file and accepts the next client). Still alive means the ports are ours.
  if wait_port $((PORT + 1)) && wait_port "$PORT" && sleep 0.01 && kill -0 "$SWTPM_PID" 2>/dev/null; then break; fi
  stop_swtpm
  [ "$attempt" -lt 5 ] || { echo "run_tpm.sh: swtpm did not start:" >&2; cat "$TMP/swtpm.log" >&2; exit 1; }
done
TCTI="swtpm:host=127.0.0.1,port=$PORT"
say "swtpm pid $SWTPM_PID, TCTI $TCTI ($(swtpm --version 2>&1 | head -1))"

# Transient objects a previous client left loaded (no resource manager cleans up after a process on a raw
# TPM). Counted after each module and flushed, so every module starts from an empty TPM.
transients() {
  if command -v tpm2_getcap >/dev/null; then
    TPM2TOOLS_TCTI=$TCTI tpm2_getcap handles-transient 2>/dev/null | grep -c '^- ' || true
  else
    echo "?"
  fi
}
flush_transients() {
  command -v tpm2_flushcontext >/dev/null || return 0
  local what
  for what in -t -l -s; do  # transient objects, loaded sessions, saved sessions
    TPM2TOOLS_TCTI=$TCTI tpm2_flushcontext "$what" >/dev/null 2>&1 || true
  done
}
after() {  # after NAME: record what NAME left loaded, then clean the TPM for the next one
  printf '%s\n' "$(transients)" >"$RESULTS/tpm-$1.left"
  flush_transients
}
# count_cmds NAME ALG COMMAND...: runs COMMAND (whose TCTI is "pcap:$TCTI") with a capture file, then counts
# the TPM commands per signature into tpm-NAME-commands-ALG.json.
count_cmds() {
  local name=$1 alg=$2
  shift 2
  local pcap=$TMP/$name-$alg.pcap
  rm -f "$pcap"
  if TCTI_PCAP_FILE=$pcap "$@" >>"$RESULTS/tpm-$name-commands.log" 2>&1 && [ -f "$pcap" ]; then
    python3 "$HERE/tpm_commands.py" "$pcap" "$RESULTS/tpm-$name-commands-$alg.json" \
      2>>"$RESULTS/tpm-$name-commands.log" || say "$name: counting TPM commands ($alg) failed"
  else
    say "$name: the command-count run ($alg) failed (see tpm-$name-commands.log)"
  fi
  flush_transients
}
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

# --- 1. the floor: raw TPM2_Sign through ESAPI; run again at the end (floor-end), as the machine's load drifts.
floor() {  # floor NAME
  say "floor: keyseal-tpm-floor ($1)"
  if ! "$FLOOR" --tcti "$TCTI" --seconds "$SECS" --keygen-count "$KEYGEN" --peer-pid "$SWTPM_PID" \
       --json "$RESULTS/tpm-$1.json" >"$RESULTS/tpm-$1.log" 2>&1; then
    say "floor run failed (see $RESULTS/tpm-$1.log)"; cat "$RESULTS/tpm-$1.log" >&2
    rm -f "$RESULTS/tpm-$1.json"
  fi
  after "$1"
}
floor floor
for alg in rsa ec; do
  count_cmds floor "$alg" "$FLOOR" --tcti "pcap:$TCTI" --seconds "$CSECS" --keygen-count 1 --keys "$alg"
done

common=(--pin "$USER_PIN" --seconds "$SECS" --threads "$THREADS" --peer-pid "$SWTPM_PID" --token-keys
        --login-count "$LOGINS")

# --- 2. keyseal's TPM token, created through C_InitToken on its empty TPM slot.
if [ -f "$KEYSEAL_MODULE" ]; then
  mkdir -p "$TMP/keyseal/store"
  printf '# keyseal TPM benchmark\nstore = %s\n' "$TMP/keyseal/store" >"$TMP/keyseal/keyseal.conf"
  say "keyseal: $KEYSEAL_MODULE (KEYSEAL_BACKEND=tpm)"
  ks_env=(KEYSEAL_STORE="$TMP/keyseal/store" KEYSEAL_CONF="$TMP/keyseal/keyseal.conf" KEYSEAL_BACKEND=tpm)
  if env "${ks_env[@]}" KEYSEAL_TCTI="$TCTI" "$BENCH" --module "$KEYSEAL_MODULE" --init --so-pin "$SO_PIN" \
       --token-label keyseal-tpm --only sign,threads,keygen,login --keygen-count "$KEYGEN" "${common[@]}" \
       --json "$RESULTS/tpm-keyseal.json" >"$RESULTS/tpm-keyseal.log" 2>&1; then
    after keyseal
    for alg in rsa ec; do
      count_cmds keyseal "$alg" env "${ks_env[@]}" KEYSEAL_TCTI="pcap:$TCTI" "$BENCH" --module "$KEYSEAL_MODULE" \
        --token-label keyseal-tpm --only sign --algs "$alg" "${common[@]}" --seconds "$CSECS"
    done
  else
    say "keyseal run failed (see $RESULTS/tpm-keyseal.log)"; tail -5 "$RESULTS/tpm-keyseal.log" >&2
    rm -f "$RESULTS/tpm-keyseal.json"
    after keyseal
  fi
else
  say "keyseal module $KEYSEAL_MODULE not found (not built yet?): skipping keyseal"
fi

# --- 3. tpm2-pkcs11: a store and token made with tpm2_ptool, then the same keyseal-bench run.
if [ -f "$TPM2_PKCS11_MODULE" ] && command -v tpm2_ptool >/dev/null; then
  say "tpm2-pkcs11: $TPM2_PKCS11_MODULE"
  export TPM2_PKCS11_STORE=$TMP/tpm2-pkcs11 TPM2_PKCS11_TCTI=$TCTI TPM2TOOLS_TCTI=$TCTI
  mkdir -p "$TPM2_PKCS11_STORE" "$TMP/shim"
  # tpm2_ptool runs tpm2-tools commands, which leave their objects loaded: on a raw TPM the third one fails with
  # 0x902 (out of object memory). Shims of the same name flush transient objects after each command; they
  # are used to create the token only, never while the module is measured.
  for t in createprimary evictcontrol readpublic load loadexternal unseal encryptdecrypt create getcap import \
           changeauth sign; do
    real=$(command -v "tpm2_$t" || true)
    [ -n "$real" ] || continue
    printf '#!/bin/sh\n"%s" "$@"; rc=$?\nfor f in -t -l -s; do tpm2_flushcontext $f >/dev/null 2>&1; done\nexit $rc\n' \
      "$real" >"$TMP/shim/tpm2_$t"
    chmod +x "$TMP/shim/tpm2_$t"
  done
  P11_OK=1
  {
    PATH=$TMP/shim:$PATH tpm2_ptool init --path="$TPM2_PKCS11_STORE" &&
    PATH=$TMP/shim:$PATH tpm2_ptool addtoken --pid=1 --label=tpm2-pkcs11 --sopin="$SO_PIN" --userpin="$USER_PIN" \
      --path="$TPM2_PKCS11_STORE"
  } >"$RESULTS/tpm-tpm2-pkcs11-setup.log" 2>&1 || P11_OK=0
  flush_transients
  if [ "$P11_OK" = 1 ]; then
    p11() {  # p11 NAME ARGS...: one keyseal-bench process on the tpm2-pkcs11 token
      local name=$1; shift
      "$BENCH" --module "$TPM2_PKCS11_MODULE" --token-label tpm2-pkcs11 "${common[@]}" "$@" \
        --json "$RESULTS/tpm-$name.json" >"$RESULTS/tpm-$name.log" 2>&1 || rm -f "$RESULTS/tpm-$name.json"
      after "$name"
    }
    # First exactly as keyseal ran. On a raw TPM it keeps every key it made loaded and fails (0x902) at the
    # next object: the failures stay in tpm-tpm2-pkcs11.json and the table's notes.
    p11 tpm2-pkcs11 --only sign,threads,keygen,login --keygen-count "$KEYGEN"
    # Then what it can do on a raw TPM: one key per process (one key generation), C_Login cycles alone.
    if python3 - "$RESULTS/tpm-tpm2-pkcs11.json" <<'PY'
import json, sys
try:
    r = json.load(open(sys.argv[1]))["results"]
except (OSError, ValueError):
    sys.exit(0)  # no results at all: retry split
sys.exit(0 if any(v["value"] is None for v in r.values()) else 1)
PY
    then
      say "tpm2-pkcs11: some measurements failed in one process; retrying one key per process"
      p11 tpm2-pkcs11-rsa --only sign,threads,keygen --algs rsa --keygen-count 1
      p11 tpm2-pkcs11-ec --only sign,threads,keygen --algs ec --keygen-count 1
      p11 tpm2-pkcs11-login --only login
    fi
    for alg in rsa ec; do
      count_cmds tpm2-pkcs11 "$alg" env TPM2_PKCS11_TCTI="pcap:$TCTI" "$BENCH" --module "$TPM2_PKCS11_MODULE" \
        --token-label tpm2-pkcs11 --only sign --algs "$alg" "${common[@]}" --seconds "$CSECS"
    done
  else
    say "tpm2-pkcs11 token creation failed (see $RESULTS/tpm-tpm2-pkcs11-setup.log)"
  fi
else
  say "tpm2-pkcs11 ($TPM2_PKCS11_MODULE) or tpm2_ptool missing (Debian libtpm2-pkcs11-1, libtpm2-pkcs11-tools)"
fi
floor floor-end
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

python3 "$HERE/tpm_table.py" "$RESULTS" "$THREADS" "$SECS" "$LOAD_START" "$LOAD_END" | tee "$RESULTS/tpm-table.md"
say "results in $RESULTS"
if [ "$STRICT" = 1 ]; then
  require=${BENCH_REQUIRE_KEYSEAL:-}
  if [ -z "$require" ]; then require=0; [ -f "$KEYSEAL_MODULE" ] && require=1; fi
  python3 "$HERE/tpm_table.py" --check "$RESULTS" "$THREADS" "$require"
fi
}

main "$@"; exit $?  # one line: bash has read all of it before main runs
