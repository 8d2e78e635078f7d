#!/usr/bin/env bash
# Runs keyseal-conformance against a keyseal module (default: build/src/pkcs11/libkeyseal.so) on a fresh
# temporary store and token. Soft token: no deviations file, exit 0 only when every test that ran passed.
# KEYSEAL_BACKEND=tpm: a TPM token on a fresh swtpm of this run's own (scripts/swtpm.sh; KEYSEAL_TCTI, when set,
# names another TPM instead; no swtpm installed = failure), and exit 0 only when the failures are exactly the
# TPM limitations in conformance/deviations/keyseal-tpm.txt.
# Usage: scripts/conformance-keyseal.sh [path/to/libkeyseal.so] [path/to/keyseal-conformance] [gtest flags...]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
module=${1:-$here/build/src/pkcs11/libkeyseal.so}
[ $# -gt 0 ] && shift
bin=${1:-$here/build-conf/conformance/keyseal-conformance}
[ $# -gt 0 ] && shift
[ -r "$module" ] || { echo "no keyseal module at $module" >&2; exit 2; }
[ -x "$bin" ] || { echo "no conformance binary at $bin" >&2; exit 2; }
backend=${KEYSEAL_BACKEND:-soft}
deviations=""
[ "$backend" = tpm ] && deviations=$here/conformance/deviations/keyseal-tpm.txt

tmp=$(mktemp -d)
swtpm_dir=""
cleanup() {
  local rc=$?
  if [ -n "$swtpm_dir" ]; then "$here/scripts/swtpm.sh" stop "$swtpm_dir" || true; fi
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
mkdir "$tmp/store"
cat > "$tmp/keyseal.conf" <<CONF
# Cheap Argon2id parameters for tests only: logins stay fast.
argon2_m_cost_kib = 1024
argon2_t_cost = 1
CONF
export KEYSEAL_STORE=$tmp/store KEYSEAL_CONF=$tmp/keyseal.conf KEYSEAL_BACKEND=$backend
if [ "$backend" = tpm ] && [ -z "${KEYSEAL_TCTI:-}" ]; then
  command -v swtpm > /dev/null || { echo "swtpm not installed (Debian package swtpm): cannot test a TPM token" >&2; exit 1; }
  swtpm_dir=$tmp/swtpm
  KEYSEAL_TCTI=$("$here/scripts/swtpm.sh" start "$swtpm_dir") || { echo "swtpm did not start" >&2; exit 1; }
  export KEYSEAL_TCTI
  echo "TPM token on swtpm: $KEYSEAL_TCTI"
  # A fresh swtpm locks out after 3 authorization failures and keyseal never spends the TPM's last one, so
  # the suite's wrong-PIN tests would lock the token for every later test. Set the dictionary-attack
  # parameters (TPM2_DictionaryAttackParameters; empty lockout auth on a fresh TPM): TPM_DA_MAX_TRIES
  # (default 32; empty keeps swtpm's 3) failures, 600 s recovery.
  if [ -n "${TPM_DA_MAX_TRIES-32}" ]; then
    command -v tpm2_dictionarylockout > /dev/null ||
      { echo "tpm2_dictionarylockout not installed (Debian package tpm2-tools)" >&2; exit 1; }
    tpm2_dictionarylockout -T "$KEYSEAL_TCTI" --setup-parameters --max-tries="${TPM_DA_MAX_TRIES-32}" \
      --recovery-time=600 --lockout-recovery-time=600
  fi
fi

set +e
"$bin" --module "$module" --token-label conformance --pin 1234-user --so-pin 5678-so --init \
  --gtest_output="json:$tmp/report.json" "$@"
rc=$?
set -e
[ -s "$tmp/report.json" ] || { echo "conformance run produced no report (exit $rc)" >&2; exit 1; }
[ -n "${CONFORMANCE_REPORT:-}" ] && cp "$tmp/report.json" "$CONFORMANCE_REPORT"

python3 - "$tmp/report.json" "$backend" "$deviations" <<'PY'
import json, sys
report, backend, devfile = sys.argv[1], sys.argv[2], sys.argv[3]
data = json.load(open(report))
failed, ran, run, skipped = [], set(), 0, 0
for suite in data.get("testsuites", []):
    for t in suite.get("testsuite", []):
        name = f'{t.get("classname", suite["name"])}.{t["name"]}'
        ran.add(name)
        if t.get("result") == "SKIPPED" or t.get("status") == "NOTRUN":
            skipped += 1
            continue
        run += 1
        if t.get("failures"):
            failed.append(name)
expected = set()
if devfile:
    for line in open(devfile):
        line = line.split("#", 1)[0].strip()
        if line:
            expected.add(line)
expected &= ran  # a --gtest_filter run only judges the deviations it ran
unexpected = [n for n in failed if n not in expected]
fixed = sorted(expected - set(failed))
tag = "keyseal" if backend == "soft" else f"keyseal {backend}"
allowed = f"known deviations {len(set(failed) & expected)}" if devfile else "no deviations allowed"
print(f"[ {tag} ] run {run}, passed {run - len(failed)}, failed {len(failed)} ({allowed}), skipped {skipped}")
for n in unexpected:
    print(f"[ FAILURE  ] {n}")
for n in fixed:
    print(f"[ DEVIATION NOW PASSES ] {n} (remove it from {devfile})")
sys.exit(1 if unexpected or fixed else 0)
PY
