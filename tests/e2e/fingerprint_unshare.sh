#!/usr/bin/env bash
# End-to-end test of the soft token's hardware binding (issue 5) on this real machine: a token created here
# opens here; the same token files opened in a namespace that looks like another machine (a different
# /etc/machine-id bind-mounted, a fresh network namespace) are refused with CKR_PIN_INCORRECT, exactly like a
# wrong PIN; the recovery code re-binds the token there, and again here. Also `keyseal fingerprint`.
# Usage: fingerprint_unshare.sh MODULE KEYSEAL_CLI      (needs root, or unprivileged user namespaces)
set -euo pipefail

MODULE=${1:?usage: fingerprint_unshare.sh MODULE KEYSEAL_CLI}
CLI=${2:?usage: fingerprint_unshare.sh MODULE KEYSEAL_CLI}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
[[ -r "$MODULE" ]] || { echo "module not found: $MODULE" >&2; exit 1; }
[[ -x "$CLI" ]] || { echo "keyseal tool not found: $CLI" >&2; exit 1; }
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool (opensc) is needed" >&2; exit 1; }
command -v unshare >/dev/null || { echo "unshare (util-linux) is needed" >&2; exit 1; }
e2e_setup

SO_PIN=87654321
PIN=123456
W=$E2E_TMP
K=("$CLI" --module "$MODULE")
P=(pkcs11-tool --module "$MODULE" --token-label fp-e2e)
echo "fingerprint end-to-end: $CLI with module $MODULE"

# Another machine's identity: a fresh random machine-id.
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > "$W/other-machine-id"
echo >> "$W/other-machine-id"

# How to enter a namespace with our own mount table: as root directly, else through a user namespace.
if [[ $(id -u) -eq 0 ]]; then UNSHARE=(unshare --mount --net); else UNSHARE=(unshare -r --mount --net); fi

# elsewhere CMD...: runs CMD with /etc/machine-id replaced and no network interfaces but lo.
elsewhere() {
  "${UNSHARE[@]}" -- bash -c 'mount --bind "$1" /etc/machine-id && shift && exec "$@"' elsewhere \
    "$W/other-machine-id" "$@"
}

step_namespace_works() {
  # The test is only meaningful if the namespace really shows another machine-id.
  elsewhere cat /etc/machine-id > "$W/ns-id"
  expect "the namespace sees the other machine-id" cmp -s "$W/ns-id" "$W/other-machine-id"
  expect "this machine's id is unchanged outside" bash -c "! cmp -s /etc/machine-id '$W/other-machine-id'"
}

step_init() {
  "${K[@]}" init --label fp-e2e --so-pin "$SO_PIN" --pin "$PIN" --backend soft --recovery-code > "$W/init.out"
  cat "$W/init.out"
  awk '/^slot:/ { print $2 }' "$W/init.out" > "$W/slot"
  awk '/^recovery-code:/ { print $2 }' "$W/init.out" > "$W/code"
  expect "a recovery code of 8 groups of 4" grep -Eq '^([A-Z2-7]{4}-){7}[A-Z2-7]{4}$' "$W/code"
  # The binding's strength, said plainly: in `keyseal status` and, short, in the token's model field.
  "${K[@]}" status > "$W/status.out"
  grep -Eq '^ +binding: (weak|moderate|strong), [0-9]+ factors?' "$W/status.out"
  grep -Eq 'model soft (weak|moderate|strong) [0-9]+f' "$W/status.out"
}

step_login_here() {
  "${P[@]}" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --id f1 --label bound-key
  "${P[@]}" --login --pin "$PIN" --list-objects --type privkey | tee "$W/here.out"
  grep -q 'bound-key' "$W/here.out"
}

step_fingerprint_here() {
  "${K[@]}" fingerprint --slot "$(cat "$W/slot")" --pin "$PIN" | tee "$W/fp.out"
  grep -Eq '^  machine-id +present' "$W/fp.out"
  grep -Eq '^    machine-id +matches' "$W/fp.out"
  grep -q 'recovery code: yes' "$W/fp.out"
  # Never a factor value: neither the raw machine-id nor its keyseal-specific derivation's input.
  expect "no machine-id value in the output" bash -c "! grep -qi '$(tr -d '\n' < /etc/machine-id)' '$W/fp.out'"
  local serial
  for serial in /sys/block/*/serial; do
    [[ -s "$serial" ]] || continue
    expect "no disk serial in the output" bash -c "! grep -qF -- '$(tr -d '\n' < "$serial")' '$W/fp.out'"
  done
}

# The login on the "other machine" fails exactly as a wrong PIN does here.
step_refused_elsewhere() {
  set +e
  elsewhere "${P[@]}" --login --pin "$PIN" --list-objects > "$W/elsewhere.out" 2>&1
  local rc=$?
  "${P[@]}" --login --pin 999999 --list-objects > "$W/wrong-pin.out" 2>&1
  local rc_wrong=$?
  set -e
  cat "$W/elsewhere.out"
  expect "login elsewhere fails" test "$rc" -ne 0
  expect "with CKR_PIN_INCORRECT" grep -q 'CKR_PIN_INCORRECT' "$W/elsewhere.out"
  expect "a wrong PIN here fails too" test "$rc_wrong" -ne 0
  expect "the two refusals read the same" diff <(grep C_Login "$W/elsewhere.out") <(grep C_Login "$W/wrong-pin.out")
  # The right PIN still opens here (the failures above are counted, not locking).
  "${P[@]}" --login --pin "$PIN" --list-objects --type privkey | grep -q bound-key
}

step_recover_elsewhere() {
  elsewhere "${K[@]}" recover --slot "$(cat "$W/slot")" < "$W/code" | tee "$W/recover.out"
  grep -q 'bound to this machine again' "$W/recover.out"
  elsewhere "${P[@]}" --login --pin "$PIN" --list-objects --type privkey | tee "$W/elsewhere-ok.out"
  grep -q 'bound-key' "$W/elsewhere-ok.out"
  # Now bound there, so refused here: the PIN alone never opens it.
  if "${P[@]}" --login --pin "$PIN" --list-objects > "$W/here-after.out" 2>&1; then
    echo "the token still opened here after re-binding elsewhere" >&2
    return 1
  fi
  grep -q 'CKR_PIN_INCORRECT' "$W/here-after.out"
}

step_recover_here() {
  printf 'WRONG-CODE\n' | "${K[@]}" recover --slot "$(cat "$W/slot")" > "$W/bad-code.out" 2>&1 && return 1
  cat "$W/bad-code.out"
  "${K[@]}" recover --slot "$(cat "$W/slot")" < "$W/code"
  "${P[@]}" --login --pin "$PIN" --list-objects --type privkey | grep -q bound-key
}

run_step namespace "a namespace with another machine-id and no network" step_namespace_works
run_step init "keyseal init --recovery-code makes a bound soft token" step_init
run_step login-here "the token opens on the machine that made it" step_login_here
run_step fingerprint-here "keyseal fingerprint: factors present, recorded factors match, no values" \
  step_fingerprint_here
run_step refused-elsewhere "another machine-id: CKR_PIN_INCORRECT, as a wrong PIN" step_refused_elsewhere
run_step recover-elsewhere "the recovery code re-binds the token on the other machine" step_recover_elsewhere
run_step recover-here "and back here; a wrong code is refused" step_recover_here
e2e_summary
