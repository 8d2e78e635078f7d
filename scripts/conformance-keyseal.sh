#!/usr/bin/env bash
# Runs keyseal-conformance against a keyseal module (default: build/src/pkcs11/libkeyseal.so) on a fresh
# temporary store and token. keyseal has no deviations file: exit 0 only when every test that ran passed.
# Usage: scripts/conformance-keyseal.sh [path/to/libkeyseal.so] [path/to/keyseal-conformance] [gtest flags...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
module=${1:-$here/build/src/pkcs11/libkeyseal.so}
[ $# -gt 0 ] && shift
bin=${1:-$here/build-conf/conformance/keyseal-conformance}
[ $# -gt 0 ] && shift
[ -r "$module" ] || { echo "no keyseal module at $module" >&2; exit 2; }
[ -x "$bin" ] || { echo "no conformance binary at $bin" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/store"
cat > "$tmp/keyseal.conf" <<CONF
# Cheap Argon2id parameters for tests only: logins stay fast.
argon2_m_cost_kib = 1024
argon2_t_cost = 1
CONF
export KEYSEAL_STORE=$tmp/store KEYSEAL_CONF=$tmp/keyseal.conf

set +e
"$bin" --module "$module" --token-label conformance --pin 1234-user --so-pin 5678-so --init \
  --gtest_output="json:$tmp/report.json" "$@"
rc=$?
set -e
[ -s "$tmp/report.json" ] || { echo "conformance run produced no report (exit $rc)" >&2; exit 1; }
[ -n "${CONFORMANCE_REPORT:-}" ] && cp "$tmp/report.json" "$CONFORMANCE_REPORT"

python3 - "$tmp/report.json" <<'PY'
import json, sys
data = json.load(open(sys.argv[1]))
failed, run, skipped = [], 0, 0
for suite in data.get("testsuites", []):
    for t in suite.get("testsuite", []):
        if t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN":
            skipped += 1
            continue
        run += 1
        if t.get("failures"):
            failed.append(f'{t.get("classname", suite["name"])}.{t["name"]}')
print(f"[ keyseal  ] run {run}, passed {run - len(failed)}, failed {len(failed)} (no deviations allowed), "
      f"skipped {skipped}")
for n in failed:
    print(f"[ FAILURE  ] {n}")
sys.exit(1 if failed else 0)
PY
