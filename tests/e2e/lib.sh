# Shared helpers of the end-to-end scripts: a temporary store and config, step bookkeeping, and
# KNOWN_FAILURES (space-separated step names a module is known to fail; reported, not fatal).
# E2E_VERBOSE=1 shows the output of passing steps too. KEYSEAL_BACKEND=tpm with no KEYSEAL_TCTI: e2e_setup
# starts a fresh swtpm of the script's own (scripts/swtpm.sh; state in the temp dir, stopped on exit); a
# missing swtpm fails the script.
# Sourced by pkcs11_tool.sh and keyseal_cli.sh; expects `set -euo pipefail` in the caller.

E2E_FAILED=()
E2E_XFAIL=()
E2E_PASSED=0

e2e_setup() {
  E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/keyseal-e2e.XXXXXX")
  E2E_SWTPM_DIR=""
  trap e2e_cleanup EXIT
  export KEYSEAL_STORE="$E2E_TMP/store"
  export KEYSEAL_CONF="$E2E_TMP/keyseal.conf"
  mkdir -p "$KEYSEAL_STORE" "$E2E_TMP/softhsm"
  # Small Argon2 memory so the tests run fast; production tokens use the default.
  printf 'argon2_m_cost_kib = 8192\n' > "$KEYSEAL_CONF"
  # Lets the same script run against SoftHSMv2 to check the script itself.
  export SOFTHSM2_CONF="$E2E_TMP/softhsm2.conf"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$E2E_TMP/softhsm" > "$SOFTHSM2_CONF"
  if [[ "${KEYSEAL_BACKEND:-}" == tpm && -z "${KEYSEAL_TCTI:-}" ]]; then e2e_start_swtpm; fi
}

e2e_start_swtpm() {
  command -v swtpm > /dev/null || { echo "swtpm not installed (Debian package swtpm): a TPM test cannot run" >&2; exit 1; }
  local sh
  sh=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/swtpm.sh
  E2E_SWTPM_DIR="$E2E_TMP/swtpm"
  KEYSEAL_TCTI=$("$sh" start "$E2E_SWTPM_DIR") || { echo "swtpm did not start" >&2; exit 1; }
  export KEYSEAL_TCTI
  echo "swtpm for this test: $KEYSEAL_TCTI"
  # Dictionary-attack parameters: TPM_DA_MAX_TRIES (default 32; empty keeps swtpm's 3) failures before lockout,
  # as tests/interop/lib.sh explains (two wrong PINs would otherwise lock every TPM token of the run).
  if [[ -n "${TPM_DA_MAX_TRIES-32}" ]]; then
    command -v tpm2_dictionarylockout > /dev/null || { echo "tpm2_dictionarylockout not installed (Debian package tpm2-tools)" >&2; exit 1; }
    tpm2_dictionarylockout -T "$KEYSEAL_TCTI" --setup-parameters --max-tries="${TPM_DA_MAX_TRIES-32}" \
      --recovery-time=600 --lockout-recovery-time=600 || { echo "could not set the TPM's DA parameters" >&2; exit 1; }
  fi
}

e2e_cleanup() {
  local rc=$?
  if [[ -n "${E2E_SWTPM_DIR:-}" ]]; then
    "$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/swtpm.sh" stop "$E2E_SWTPM_DIR" || true
  fi
  rm -rf "$E2E_TMP"
  exit "$rc"
}

e2e_known_failure() {
  local step
  for step in ${KNOWN_FAILURES:-}; do [[ "$step" == "$1" ]] && return 0; done
  return 1
}

# run_step NAME DESCRIPTION FUNCTION [ARGS...]: runs FUNCTION in a subshell with errexit on; its output
# goes to $E2E_TMP/NAME.log and is shown when it fails.
run_step() {
  local name=$1 desc=$2 rc=0
  shift 2
  echo "-- $name: $desc"
  set +e
  ( set -euo pipefail; "$@" ) > "$E2E_TMP/$name.log" 2>&1
  rc=$?
  set -e
  if (( rc == 0 )); then
    E2E_PASSED=$((E2E_PASSED + 1))
    if e2e_known_failure "$name"; then echo "   PASS (listed in KNOWN_FAILURES but passed)"; else echo "   PASS"; fi
    if [[ -n "${E2E_VERBOSE:-}" ]]; then sed 's/^/     | /' "$E2E_TMP/$name.log"; fi
  elif e2e_known_failure "$name"; then
    E2E_XFAIL+=("$name")
    echo "   KNOWN FAILURE (exit $rc); last lines:"
    tail -n 4 "$E2E_TMP/$name.log" | sed 's/^/     | /'
  else
    E2E_FAILED+=("$name")
    echo "   FAIL (exit $rc); output:"
    tail -n 40 "$E2E_TMP/$name.log" | sed 's/^/     | /'
  fi
}

# expect CONDITION-DESCRIPTION COMMAND...: fails the step with a message when COMMAND fails.
expect() {
  local what=$1
  shift
  if ! "$@"; then
    echo "expectation failed: $what" >&2
    return 1
  fi
}

e2e_summary() {
  echo "== $E2E_PASSED passed, ${#E2E_FAILED[@]} failed${E2E_FAILED[*]:+ (${E2E_FAILED[*]})}," \
       "${#E2E_XFAIL[@]} known failures${E2E_XFAIL[*]:+ (${E2E_XFAIL[*]})}"
  (( ${#E2E_FAILED[@]} == 0 ))
}
