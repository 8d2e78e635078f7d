#!/usr/bin/env bash
# bench/smoke.sh BENCH MODULE softhsm2|keyseal: a short keyseal-bench run on a fresh temporary token (ctest).
# It checks that every measurement ran (signatures verified, GCM round trip, lookups found exactly one
# object) and produced a number; it never judges speed.
set -euo pipefail
BENCH=$1 MODULE=$2 KIND=$3
TMP=$(mktemp -d "${TMPDIR:-/tmp}/keyseal-bench-smoke.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
args=(--module "$MODULE" --pin smoke-user-1234 --seconds 0.2 --objects 30 --lookups 10 --strict
      --json "$TMP/out.json")
case $KIND in
  softhsm2)
    mkdir -p "$TMP/tokens"
    printf 'directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n' "$TMP/tokens" \
      >"$TMP/softhsm2.conf"
    export SOFTHSM2_CONF=$TMP/softhsm2.conf
    softhsm2-util --init-token --free --label smoke --so-pin smoke-so-1234 --pin smoke-user-1234 >/dev/null
    "$BENCH" "${args[@]}" --token-label smoke
    ;;
  keyseal)
    mkdir -p "$TMP/store"
    printf 'store = %s\n' "$TMP/store" >"$TMP/keyseal.conf"
    KEYSEAL_STORE=$TMP/store KEYSEAL_CONF=$TMP/keyseal.conf \
      "$BENCH" "${args[@]}" --init --so-pin smoke-so-1234 --token-label smoke
    ;;
  *) echo "smoke.sh: unknown kind $KIND" >&2; exit 2 ;;
esac
python3 - "$TMP/out.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
need = ["rsa2048_pkcs1_sign", "rsa2048_pss_sign", "ecdsa_p256_sign", "aes256_gcm_4k_encrypt",
        "ecdsa_p256_sign_2t", "rsa2048_pkcs1_sign_2t", "object_create", "find_by_id_median_us",
        "find_by_id_p95_us"]
bad = [k for k in need if k not in r or not isinstance(r[k]["value"], (int, float)) or r[k]["value"] <= 0]
if bad:
    sys.exit("missing or non-positive results: %s" % ", ".join(bad))
print("smoke: all %d required measurements present" % len(need))
PY
