#!/usr/bin/env bash
# bench/run.sh [BUILD_DIR]: runs raw OpenSSL (`openssl speed`), keyseal and SoftHSMv2 (both through
# keyseal-bench, each on a fresh temporary token) in one run and prints one markdown table with ratios.
# Timing is reported, never judged. Environment knobs: BENCH_SECONDS (2), BENCH_OBJECTS (10000),
# BENCH_LOOKUPS (200), BENCH_THREADS (2), BENCH_MAX_FILL_SECONDS (1800), BENCH_RESULTS
# (BUILD_DIR/bench-results), SOFTHSM_MODULE.
set -euo pipefail

# Everything runs inside main(), which bash parses whole before running: editing this file during a run
# cannot change the running script.
main() {

BUILD_DIR=${1:-./build}
SECS=${BENCH_SECONDS:-2}
OBJECTS=${BENCH_OBJECTS:-10000}
LOOKUPS=${BENCH_LOOKUPS:-200}
THREADS=${BENCH_THREADS:-2}
MAX_FILL=${BENCH_MAX_FILL_SECONDS:-1800}
RESULTS=${BENCH_RESULTS:-$BUILD_DIR/bench-results}
BENCH=$BUILD_DIR/bench/keyseal-bench
KEYSEAL_MODULE=$BUILD_DIR/src/pkcs11/libkeyseal.so
SOFTHSM_MODULE=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
SO_PIN=bench-so-pin-1234
USER_PIN=bench-user-pin-1234
LABEL=keyseal-bench

say() { printf '== %s\n' "$*" >&2; }

# Debian packages this script needs, installed only when missing.
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v python3 >/dev/null || need+=(python3)
{ command -v softhsm2-util >/dev/null && [ -f "$SOFTHSM_MODULE" ]; } || need+=(softhsm2)
if [ ${#need[@]} -gt 0 ]; then
  say "installing missing packages: ${need[*]}"
  SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get install -y "${need[@]}" >&2
fi

if [ ! -x "$BENCH" ]; then
  if [ -f "$BUILD_DIR/CMakeCache.txt" ]; then
    say "building keyseal-bench in $BUILD_DIR"
    cmake --build "$BUILD_DIR" --target keyseal-bench -j2 >&2
  else
    echo "run.sh: $BENCH not found and $BUILD_DIR is not a CMake build directory" >&2
    exit 1
  fi
fi

mkdir -p "$RESULTS"
RESULTS=$(cd "$RESULTS" && pwd)
TMP=$(mktemp -d "${TMPDIR:-/tmp}/keyseal-bench.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
rm -f "$RESULTS"/openssl-*.txt "$RESULTS"/keyseal.json "$RESULTS"/softhsm2.json "$RESULTS"/table.md

# --- raw OpenSSL. -mr gives parseable lines. Each test runs twice: with -elapsed (per wall-clock second, like
# keyseal-bench's "wall" value) and without (per user-CPU second, like its "cpu_value"; on a shared, loaded
# machine only this one is comparable between runs). -aead times one init + AAD + update + final per message,
# as C_EncryptInit + C_Encrypt does; plain -evp streams updates through one context (reported in a note).
for mode in wall cpu; do
  timing=(); [ "$mode" = wall ] && timing=(-elapsed)
  say "openssl speed ($mode)"
  openssl speed -mr "${timing[@]}" -seconds "$SECS" rsa2048 ecdsap256 ed25519 >"$RESULTS/openssl-pk-$mode.txt" 2>&1
  openssl speed -mr "${timing[@]}" -seconds "$SECS" -aead -evp aes-256-gcm -bytes 4096 \
    >"$RESULTS/openssl-gcm-aead-$mode.txt" 2>&1
done
openssl speed -mr -elapsed -seconds "$SECS" -multi "$THREADS" rsa2048 ecdsap256 \
  >"$RESULTS/openssl-multi-wall.txt" 2>&1
openssl speed -mr -elapsed -seconds "$SECS" -evp aes-256-gcm -bytes 4096 >"$RESULTS/openssl-gcm-wall.txt" 2>&1

common=(--pin "$USER_PIN" --seconds "$SECS" --objects "$OBJECTS" --lookups "$LOOKUPS" --threads "$THREADS"
        --max-fill-seconds "$MAX_FILL")

# --- SoftHSMv2 on a temporary token directory.
mkdir -p "$TMP/softhsm/tokens"
printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n' \
  "$TMP/softhsm/tokens" >"$TMP/softhsm/softhsm2.conf"
say "SoftHSMv2: $SOFTHSM_MODULE"
if SOFTHSM2_CONF=$TMP/softhsm/softhsm2.conf softhsm2-util --init-token --free --label "$LABEL" \
     --so-pin "$SO_PIN" --pin "$USER_PIN" >&2 &&
   SOFTHSM2_CONF=$TMP/softhsm/softhsm2.conf "$BENCH" --module "$SOFTHSM_MODULE" --token-label "$LABEL" \
     "${common[@]}" --json "$RESULTS/softhsm2.json"; then
  :
else
  say "SoftHSMv2 run failed; its column stays empty"
  rm -f "$RESULTS/softhsm2.json"
fi

# --- keyseal on a temporary store; the token is created through C_InitToken on the empty slot.
if [ -f "$KEYSEAL_MODULE" ]; then
  mkdir -p "$TMP/keyseal/store"
  printf '# keyseal-bench temporary configuration\nstore = %s\n' "$TMP/keyseal/store" >"$TMP/keyseal/keyseal.conf"
  say "keyseal: $KEYSEAL_MODULE"
  if ! KEYSEAL_STORE=$TMP/keyseal/store KEYSEAL_CONF=$TMP/keyseal/keyseal.conf "$BENCH" --module "$KEYSEAL_MODULE" \
       --init --so-pin "$SO_PIN" --token-label "$LABEL" "${common[@]}" --json "$RESULTS/keyseal.json"; then
    say "keyseal run failed; its column stays empty"
    rm -f "$RESULTS/keyseal.json"
  fi
else
  say "keyseal module $KEYSEAL_MODULE not found (not built yet?): skipping keyseal"
fi

python3 - "$RESULTS" "$THREADS" <<'PY' | tee "$RESULTS/table.md"
import json, os, sys

results, t = sys.argv[1], sys.argv[2]

def load(name, field):
    p = os.path.join(results, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return {k: v.get(field) for k, v in json.load(f)["results"].items()}

def field(name, tag, index):
    # '+F2:<i>:<bits>:<sign/s>:<verify/s>' etc.; under -multi the last such line is the sum of the children.
    p = os.path.join(results, name)
    rows = [l.split(":") for l in open(p).read().splitlines() if l.startswith(tag + ":")] if os.path.exists(p) else []
    return float(rows[-1][index]) if rows else None

def openssl(mode):
    o = {
        "rsa2048_pkcs1_sign": field("openssl-pk-%s.txt" % mode, "+F2", 3),
        "rsa2048_pss_sign": field("openssl-pk-%s.txt" % mode, "+F2", 3),
        "ecdsa_p256_sign": field("openssl-pk-%s.txt" % mode, "+F4", 3),
        "ed25519_sign": field("openssl-pk-%s.txt" % mode, "+F6", 4),
        "ecdsa_p256_sign_%st" % t: field("openssl-multi-%s.txt" % mode, "+F4", 3),
        "rsa2048_pkcs1_sign_%st" % t: field("openssl-multi-%s.txt" % mode, "+F2", 3),
    }
    gcm = field("openssl-gcm-aead-%s.txt" % mode, "+F", 3)
    o["aes256_gcm_4k_encrypt"] = gcm / 1e6 if gcm else None
    for alg in ("ecdsa_p256_sign", "rsa2048_pkcs1_sign"):
        multi, one = o.get("%s_%st" % (alg, t)), o.get(alg)
        o["%s_%st_ratio" % (alg, t)] = multi / one if multi and one else None
    return o

rows = [
    ("rsa2048_pkcs1_sign", "RSA-2048 PKCS#1 v1.5 sign (ops/s)"),
    ("rsa2048_pss_sign", "RSA-2048 PSS sign, salt 32 (ops/s) [1]"),
    ("ecdsa_p256_sign", "ECDSA P-256 sign (ops/s)"),
    ("ed25519_sign", "Ed25519 sign (ops/s)"),
    ("aes256_gcm_4k_encrypt", "AES-256-GCM encrypt, 4 KiB (MB/s) [2]"),
    ("ecdsa_p256_sign_%st" % t, "ECDSA P-256 sign, %s threads (ops/s) [3]" % t),
    ("ecdsa_p256_sign_%st_ratio" % t, "ECDSA P-256 %s-thread speed-up (x)" % t),
    ("rsa2048_pkcs1_sign_%st" % t, "RSA-2048 sign, %s threads (ops/s) [3]" % t),
    ("rsa2048_pkcs1_sign_%st_ratio" % t, "RSA-2048 %s-thread speed-up (x)" % t),
    ("object_create", "token object creation (objects/s)"),
    ("find_by_id_median_us", "find by CKA_ID, median (us, lower is better)"),
    ("find_by_id_p95_us", "find by CKA_ID, p95 (us, lower is better)"),
]

def fmt(v):
    if v is None:
        return "-"
    return "%.0f" % v if v >= 100 else "%.1f" % v if v >= 10 else "%.2f" % v

def ratio(a, b):
    if a is None or not b:
        return "-"
    r = a / b
    return "%.2f" % r if r >= 0.1 else "%.2g" % r

def table(title, value_field, mode):
    ossl, ks, sh = openssl(mode), load("keyseal.json", value_field), load("softhsm2.json", value_field)
    print("### " + title)
    print()
    print("| metric | raw OpenSSL | keyseal | SoftHSMv2 | keyseal/OpenSSL | keyseal/SoftHSMv2 |")
    print("|---|---:|---:|---:|---:|---:|")
    for key, label in rows:
        if mode == "cpu" and "_%st" % t in key:
            continue  # parallel rows are a wall-clock notion (keyseal-bench's own table has their CPU rate)
        if mode == "cpu" and key.startswith("find_"):
            label = label.replace("(us,", "(CPU us,")
        o, k, s = ossl.get(key), ks.get(key) if ks else None, sh.get(key) if sh else None
        print("| %s | %s | %s | %s | %s | %s |" % (label, fmt(o), fmt(k), fmt(s), ratio(k, o), ratio(k, s)))
    print()
    return ks, sh

ks, sh = table("Per second of wall-clock time", "value", "wall")
table("Per second of CPU time (user+system of the benchmark process; openssl: user time)", "cpu_value", "cpu")
stream = field("openssl-gcm-wall.txt", "+F", 3)
print("[1] raw OpenSSL column: `openssl speed rsa2048` signs with PKCS#1 v1.5; PSS costs about the same.")
print("[2] raw OpenSSL column: `openssl speed -aead -evp aes-256-gcm -bytes 4096` (init+final per message);"
      " streaming `-evp` without -aead gives %s MB/s (wall)." % fmt(stream / 1e6 if stream else None))
print("[3] raw OpenSSL column: `openssl speed -multi %s` (processes, not threads). The machine's 2 cores are"
      " shared: wall-clock speed-ups depend on the other load." % t)
print("Wall-clock columns were measured one after another while other work shared the 2 CPU cores; compare"
      " modules with the CPU-time table, which the other load barely affects.")
if ks is None:
    print("keyseal: no result (module missing or its run failed; see the log above).")
if sh is None:
    print("SoftHSMv2: no result (see the log above).")
PY
say "results in $RESULTS"
}

main "$@"; exit $?  # one line: bash has read all of it before main runs
