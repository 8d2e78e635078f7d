#!/usr/bin/env bash
# End-to-end test of a soft token bound to a TPM (issue 5, docs/keystore.md "The hardware binding"): two swtpm
# instances stand for this machine's TPM (A) and another machine's (B). A token made under A opens under A; under B
# the login is refused with CKR_PIN_INCORRECT, exactly like a wrong PIN; with no TPM or A stopped, CKR_DEVICE_ERROR,
# not counted as a PIN failure; the recovery code re-binds the token to B, after which A refuses it. Binding to the TPM
# is asked for (issue 11, item 10: `keyseal init --bind-tpm`, `keyseal bind-tpm`), never a side effect of a login; a
# TPM-bound token without a recovery code is flagged by init, bind-tpm and status.
# Usage: tpm_soft_binding.sh MODULE KEYSEAL_CLI      (needs swtpm, pkcs11-tool, openssl)
set -euo pipefail

MODULE=${1:?usage: tpm_soft_binding.sh MODULE KEYSEAL_CLI}
CLI=${2:?usage: tpm_soft_binding.sh MODULE KEYSEAL_CLI}
HERE=$(cd "$(dirname "$0")" && pwd)
SWTPM_SH=$(cd "$HERE/../.." && pwd)/scripts/swtpm.sh
source "$HERE/lib.sh"
[[ -r "$MODULE" ]] || { echo "module not found: $MODULE" >&2; exit 1; }
[[ -x "$CLI" ]] || { echo "keyseal tool not found: $CLI" >&2; exit 1; }
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool not installed (Debian package opensc)" >&2; exit 1; }
command -v swtpm >/dev/null || { echo "swtpm not installed (Debian package swtpm): this test cannot run" >&2; exit 1; }
# The token kind is chosen by --backend soft below; the TPMs are this script's own two, not lib.sh's one.
unset KEYSEAL_BACKEND KEYSEAL_TCTI
e2e_setup

W=$E2E_TMP
TPM_A=$W/tpm-a
TPM_B=$W/tpm-b
# Both TPMs are stopped on exit (their state dirs go with $E2E_TMP), then lib.sh's cleanup runs.
soft_binding_cleanup() {
  local rc=$?
  "$SWTPM_SH" stop "$TPM_A" || true
  "$SWTPM_SH" stop "$TPM_B" || true
  (exit "$rc")
  e2e_cleanup
}
trap soft_binding_cleanup EXIT

SO_PIN=87654321
PIN=tpm-e2e-pin-1
LABEL=tpm-soft
K=("$CLI" --module "$MODULE")
P=(pkcs11-tool --module "$MODULE" --token-label "$LABEL")
echo "soft token bound to a TPM, end-to-end: $CLI with module $MODULE"
printf 'signed by a soft key bound to a TPM\n' > "$W/data"
printf 'not the signed data\n' > "$W/other-data"

slot() { cat "$W/slot"; }
tcti_a() { cat "$TPM_A/tcti"; }
tcti_b() { cat "$TPM_B/tcti"; }
# on TCTI CMD...: runs CMD with KEYSEAL_TCTI=TCTI; without_tpm CMD...: with no TPM configured.
on() { local t=$1; shift; KEYSEAL_TCTI="$t" "$@"; }
without_tpm() { ( unset KEYSEAL_TCTI; "$@" ); }

# login_fails OUT TCTI|- PIN: a login that must fail; its output goes to OUT ("-" = no TPM configured).
login_fails() {
  local out=$1 tcti=$2 pin=$3 rc=0
  if [[ "$tcti" == - ]]; then
    without_tpm "${P[@]}" --login --pin "$pin" --list-objects > "$out" 2>&1 || rc=$?
  else
    on "$tcti" "${P[@]}" --login --pin "$pin" --list-objects > "$out" 2>&1 || rc=$?
  fi
  sed 's/^/  | /' "$out"
  expect "the login fails (exit $rc)" test "$rc" -ne 0
}

# The C_Login lines of a pkcs11-tool run (the module's own log lines without their process id).
login_lines() { grep 'C_Login' "$1" | sed -E 's/keyseal\[[0-9]+\]/keyseal[pid]/'; }

# user_pin_clean STATUS-FILE: no PIN failure is on record (the module's CKF_USER_PIN_* flags as keyseal prints them).
user_pin_clean() {
  expect "the user PIN state reads ok" grep -Eq '^ +user PIN: ok$' "$1"
  expect "no user PIN failure flag" bash -c "! grep -E '^ +flags:.*user PIN (count low|final try|locked)' '$1'"
}

status_to() { "${K[@]}" status > "$1" 2> "$1.err" || { cat "$1" "$1.err"; return 1; }; cat "$1"; }

# sign_verify TAG: ECDSA-SHA256 with the token's key 01 (under whatever TPM the caller set), verified by openssl
# with the public key read from the token; the same signature over other data must not verify.
sign_verify() {
  "${P[@]}" --login --pin "$PIN" --sign --mechanism ECDSA-SHA256 --id 01 -i "$W/data" -o "$W/sig-$1" \
    --signature-format openssl
  "${P[@]}" --read-object --type pubkey --id 01 -o "$W/pub.der"
  openssl pkey -pubin -inform DER -in "$W/pub.der" -out "$W/pub.pem"
  expect "openssl verifies the signature ($1)" \
    openssl dgst -sha256 -verify "$W/pub.pem" -signature "$W/sig-$1" "$W/data"
  expect "the signature does not verify other data ($1)" \
    bash -c "! openssl dgst -sha256 -verify '$W/pub.pem' -signature '$W/sig-$1' '$W/other-data'"
}

step_swtpms() {
  "$SWTPM_SH" start "$TPM_A"
  "$SWTPM_SH" start "$TPM_B"
  echo "TPM A: $(tcti_a); TPM B: $(tcti_b)"
  expect "two TPMs on two ports" test "$(tcti_a)" != "$(tcti_b)"
}

step_init() {
  on "$(tcti_a)" "${K[@]}" init --label "$LABEL" --so-pin "$SO_PIN" --pin "$PIN" --backend soft --bind-tpm \
    --recovery-code > "$W/init.out" 2> "$W/init.err"
  cat "$W/init.out" "$W/init.err"
  expect "no warning: the TPM-bound token has a recovery code" bash -c "! grep -q warning '$W/init.err'"
  awk '/^slot:/ { print $2 }' "$W/init.out" > "$W/slot"
  awk '/^recovery-code:/ { print $2 }' "$W/init.out" > "$W/code"
  expect "init printed a slot" test -s "$W/slot"
  expect "a recovery code of 8 groups of 4" grep -Eq '^([A-Z2-7]{4}-){7}[A-Z2-7]{4}$' "$W/code"
  # The token file keeps the TPM share.
  if command -v sqlite3 > /dev/null; then
    expect "the token file has meta fp.tpm" \
      test "$(sqlite3 "$KEYSEAL_STORE/token-$(slot).db" "select count(*) from meta where key = 'fp.tpm'")" = 1
  fi
}

step_status() {
  on "$(tcti_a)" status_to "$W/status.out"
  local block
  block=$(awk -v s="  Slot $(slot):" '$0 ~ "^  Slot " { on = (index($0, s) == 1) } on' "$W/status.out")
  printf '%s\n' "$block" > "$W/slot-status.out"
  expect "the binding line names the TPM-sealed secret" grep -Eq \
    '^ +binding: strong, TPM-sealed secret \+ [0-9]+ factors? \(without the TPM: (weak|moderate|strong), [0-9]+ factors?\)$' \
    "$W/slot-status.out"
  expect "the model says soft tpm Nf" grep -Eq 'model soft tpm [0-9]+f ' "$W/slot-status.out"
  expect "no warning: it has a recovery code" bash -c "! grep -q 'warning:' '$W/slot-status.out'"
  local n_model n_binding
  n_model=$(grep -Eo 'model soft tpm [0-9]+f' "$W/slot-status.out" | grep -Eo '[0-9]+')
  n_binding=$(grep -Eo 'TPM-sealed secret \+ [0-9]+' "$W/slot-status.out" | grep -Eo '[0-9]+$')
  expect "model and binding count the same factors ($n_model, $n_binding)" test "$n_model" = "$n_binding"
  user_pin_clean "$W/slot-status.out"
}

step_fingerprint() {
  on "$(tcti_a)" "${K[@]}" fingerprint --slot "$(slot)" --pin "$PIN" > "$W/fp.out"
  cat "$W/fp.out"
  expect "tpm-ek is a factor of this machine" grep -Eq '^  tpm-ek +present' "$W/fp.out"
  expect "the recorded tpm-ek matches" grep -Eq '^    tpm-ek +matches' "$W/fp.out"
  expect "the TPM share is reported as opened" grep -q "^  TPM share: opened by this machine's TPM" "$W/fp.out"
  expect "a new token here is not TPM-bound unless asked" \
    bash -c "! grep -Eq '^  this machine would give: .*TPM-sealed' '$W/fp.out'"
  expect "with --bind-tpm it would be" grep -Eq '^  with --bind-tpm: binding: strong, TPM-sealed secret' "$W/fp.out"
  expect "the recovery code is on record" grep -q 'recovery code: yes' "$W/fp.out"
  # Without a TPM configured, tpm-ek is not among this machine's factors.
  without_tpm "${K[@]}" fingerprint > "$W/fp-none.out"
  expect "no tpm-ek without a TPM" bash -c "! grep -Eq '^  tpm-ek +present' '$W/fp-none.out'"
  without_tpm "${K[@]}" fingerprint --slot "$(slot)" > "$W/fp-none-slot.out"
  expect "without a TPM the token says it cannot open" \
    grep -q '^  TPM share: yes, and no TPM is configured here' "$W/fp-none-slot.out"
}

step_sign_a() {
  export KEYSEAL_TCTI
  KEYSEAL_TCTI=$(tcti_a)
  "${P[@]}" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --id 01 --label tpm-bound-key
  "${P[@]}" --login --pin "$PIN" --list-objects --type privkey | tee "$W/objects-a.out"
  expect "the key is listed" grep -q 'tpm-bound-key' "$W/objects-a.out"
  sign_verify a
}

# Another TPM: refused exactly like a wrong PIN under A; both count as PIN failures, and the right PIN resets them.
step_refused_b() {
  login_fails "$W/login-b.out" "$(tcti_b)" "$PIN"
  expect "refused under B with CKR_PIN_INCORRECT" grep -q 'C_Login failed: rv = CKR_PIN_INCORRECT' "$W/login-b.out"
  login_fails "$W/wrong-pin.out" "$(tcti_a)" 99999999
  expect "a wrong PIN under A gives CKR_PIN_INCORRECT" \
    grep -q 'C_Login failed: rv = CKR_PIN_INCORRECT' "$W/wrong-pin.out"
  expect "the two refusals read the same" diff <(login_lines "$W/login-b.out") <(login_lines "$W/wrong-pin.out")
  # The flags the later steps rely on do show counted failures.
  on "$(tcti_a)" status_to "$W/status-wrong.out"
  expect "counted failures show in keyseal status" \
    grep -Eq '^ +user PIN: (wrong PIN entered since last login|one attempt left)$' "$W/status-wrong.out"
  on "$(tcti_a)" "${P[@]}" --login --pin "$PIN" --list-objects --type privkey | grep -q tpm-bound-key
  on "$(tcti_a)" status_to "$W/status-reset.out"
  user_pin_clean "$W/status-reset.out"
}

step_no_tpm() {
  if [[ -e /dev/tpmrm0 || -e /dev/tpm0 ]]; then
    echo "this machine has a TPM device (/dev/tpmrm0 or /dev/tpm0): 'no TPM' cannot be shown here" >&2
    return 1
  fi
  local i
  for i in 1 2 3; do
    login_fails "$W/no-tpm-$i.out" - "$PIN"
    expect "CKR_DEVICE_ERROR without a TPM" grep -q 'C_Login failed: rv = CKR_DEVICE_ERROR' "$W/no-tpm-$i.out"
  done
  without_tpm status_to "$W/status-no-tpm.out"
  user_pin_clean "$W/status-no-tpm.out"
}

step_a_stopped() {
  "$SWTPM_SH" stop "$TPM_A"
  expect "TPM A is stopped" test ! -f "$TPM_A/pid"
  local i
  for i in 1 2 3; do
    login_fails "$W/a-stopped-$i.out" "$(tcti_a)" "$PIN"
    expect "CKR_DEVICE_ERROR with TPM A stopped" \
      grep -q 'C_Login failed: rv = CKR_DEVICE_ERROR' "$W/a-stopped-$i.out"
  done
  on "$(tcti_a)" status_to "$W/status-a-stopped.out"
  user_pin_clean "$W/status-a-stopped.out"
}

step_a_restarted() {
  local before
  before=$(tcti_a)
  "$SWTPM_SH" start "$TPM_A"
  # Same state; the same port too unless another process took it while A was stopped (scripts/swtpm.sh then
  # moves to a fresh pair; what matters here is the TPM's state, which the binding depends on, not its port).
  [[ "$(tcti_a)" == "$before" ]] || echo "note: TPM A's old port was taken; it is back at $(tcti_a)"
  export KEYSEAL_TCTI
  KEYSEAL_TCTI=$(tcti_a)
  "${P[@]}" --login --pin "$PIN" --list-objects --type privkey | tee "$W/objects-a2.out"
  expect "the key is listed again" grep -q 'tpm-bound-key' "$W/objects-a2.out"
  sign_verify a-restarted
  status_to "$W/status-a-back.out"
  user_pin_clean "$W/status-a-back.out"
}

step_recover_b() {
  on "$(tcti_b)" "${K[@]}" recover --slot "$(slot)" < "$W/code" | tee "$W/recover.out"
  expect "recover says the token is bound again" grep -q 'bound to this machine again' "$W/recover.out"
  on "$(tcti_b)" status_to "$W/status-b.out"
  expect "still a TPM-sealed binding" grep -Eq '^ +binding: strong, TPM-sealed secret \+ [0-9]+ factors?' \
    "$W/status-b.out"
  expect "model soft tpm Nf" grep -Eq 'model soft tpm [0-9]+f ' "$W/status-b.out"
  on "$(tcti_b)" "${K[@]}" fingerprint --slot "$(slot)" --pin "$PIN" > "$W/fp-b.out"
  cat "$W/fp-b.out"
  expect "the recorded tpm-ek matches B" grep -Eq '^    tpm-ek +matches' "$W/fp-b.out"
  export KEYSEAL_TCTI
  KEYSEAL_TCTI=$(tcti_b)
  "${P[@]}" --login --pin "$PIN" --list-objects --type privkey | tee "$W/objects-b.out"
  expect "the key opens under B" grep -q 'tpm-bound-key' "$W/objects-b.out"
  sign_verify b
  unset KEYSEAL_TCTI
  # Now bound to B: A refuses it, as it would a wrong PIN.
  login_fails "$W/login-a-after.out" "$(tcti_a)" "$PIN"
  expect "refused under A with CKR_PIN_INCORRECT" \
    grep -q 'C_Login failed: rv = CKR_PIN_INCORRECT' "$W/login-a-after.out"
  expect "and with the text of a wrong PIN" diff <(login_lines "$W/login-a-after.out") <(login_lines "$W/wrong-pin.out")
}

# slot_block STATUS SLOT: the lines of one slot in `keyseal status` output.
slot_block() { awk -v s="  Slot $2:" '$0 ~ "^  Slot " { on = (index($0, s) == 1) } on' "$1"; }
has_tpm_share() {
  test "$(sqlite3 "$KEYSEAL_STORE/token-$1.db" "select count(*) from meta where key = 'fp.tpm'")" = 1
}
no_tpm_share() { ! has_tpm_share "$1"; }
NOCODE_WARNING="the token is bound to this machine's TPM and has no recovery code"

# Issue 11, item 10: made and used while TPM A answers, a token stays unbound; it survives TPM A being cleared.
step_unbound() {
  command -v sqlite3 > /dev/null || { echo "sqlite3 is needed to read the token file" >&2; return 1; }
  on "$(tcti_a)" "${K[@]}" init --label tpm-later --so-pin "$SO_PIN" --pin "$PIN" --backend soft \
    > "$W/init-later.out" 2> "$W/init-later.err"
  cat "$W/init-later.out" "$W/init-later.err"
  awk '/^slot:/ { print $2 }' "$W/init-later.out" > "$W/slot-later"
  local s
  s=$(cat "$W/slot-later")
  expect "init says the token is not bound to the TPM, and how to bind it" \
    grep -q "^tpm: not bound to this machine's TPM ('keyseal bind-tpm --slot $s' binds it)$" "$W/init-later.out"
  expect "no TPM share in the file" no_tpm_share "$s"
  on "$(tcti_a)" pkcs11-tool --module "$MODULE" --token-label tpm-later --login --pin "$PIN" --list-objects
  expect "logins with TPM A answering did not bind it" no_tpm_share "$s"
  # TPM A cleared (as a BIOS update may do to a firmware TPM): the storage seed changes, the endorsement key (the
  # tpm-ek factor) does not; an unbound token opens as before. (A TPM share would no longer open: see below.)
  command -v tpm2_clear > /dev/null || { echo "tpm2_clear (tpm2-tools) is needed" >&2; return 1; }
  tpm2_clear --tcti "$(tcti_a)" -c p
  on "$(tcti_a)" pkcs11-tool --module "$MODULE" --token-label tpm-later --login --pin "$PIN" --list-objects
  on "$(tcti_a)" status_to "$W/status-later.out"
  slot_block "$W/status-later.out" "$s" > "$W/slot-later-status.out"
  expect "not TPM-sealed" bash -c "! grep -q 'TPM-sealed' '$W/slot-later-status.out'"
  expect "no warning" bash -c "! grep -q 'warning:' '$W/slot-later-status.out'"
}

# The explicit bind: both PINs; without a recovery code, bind-tpm and status warn; --recovery-code adds one.
step_bind_later() {
  local s
  s=$(cat "$W/slot-later")
  on "$(tcti_a)" "${K[@]}" bind-tpm --slot "$s" --so-pin "$SO_PIN" --pin "$PIN" > "$W/bind.out" 2> "$W/bind.err"
  cat "$W/bind.out" "$W/bind.err"
  expect "bind-tpm says so" grep -q "is now bound to this machine's TPM (binding: strong, TPM-sealed secret" \
    "$W/bind.out"
  expect "bind-tpm warns: no recovery code" grep -q "^keyseal: warning: $NOCODE_WARNING" "$W/bind.err"
  expect "the file has the TPM share" has_tpm_share "$s"
  on "$(tcti_a)" status_to "$W/status-bound.out"
  slot_block "$W/status-bound.out" "$s" > "$W/slot-bound-status.out"
  expect "status warns for the token without a code" \
    grep -q "^    warning: $NOCODE_WARNING.*'keyseal bind-tpm --slot $s --recovery-code' makes one" \
    "$W/slot-bound-status.out"
  slot_block "$W/status-bound.out" "$(slot)" > "$W/slot-main-status.out"
  expect "and not for the one with a code" bash -c "! grep -q 'warning:' '$W/slot-main-status.out'"
  local rc=0
  without_tpm pkcs11-tool --module "$MODULE" --token-label tpm-later --login --pin "$PIN" --list-objects \
    > "$W/later-none.out" 2>&1 || rc=$?
  cat "$W/later-none.out"
  expect "now it needs the TPM: CKR_DEVICE_ERROR without one" grep -q 'rv = CKR_DEVICE_ERROR' "$W/later-none.out"
  on "$(tcti_a)" pkcs11-tool --module "$MODULE" --token-label tpm-later --login --pin "$PIN" --list-objects
  on "$(tcti_a)" "${K[@]}" bind-tpm --slot "$s" --so-pin "$SO_PIN" --pin "$PIN" --recovery-code \
    > "$W/bind-code.out" 2> "$W/bind-code.err"
  expect "a recovery code for the bound token" grep -Eq '^recovery-code: ([A-Z2-7]{4}-){7}[A-Z2-7]{4}$' \
    "$W/bind-code.out"
  on "$(tcti_a)" status_to "$W/status-coded.out"
  expect "no warning once it has a code" bash -c "! grep -q 'warning:' '$W/status-coded.out'"
}

# keyseal init --bind-tpm without --recovery-code: bound, and init says what that risks.
step_init_bound_no_code() {
  on "$(tcti_a)" "${K[@]}" init --label tpm-nocode --so-pin "$SO_PIN" --pin "$PIN" --backend soft --bind-tpm \
    > "$W/init-nocode.out" 2> "$W/init-nocode.err"
  cat "$W/init-nocode.out" "$W/init-nocode.err"
  local s
  s=$(awk '/^slot:/ { print $2 }' "$W/init-nocode.out")
  expect "bound" has_tpm_share "$s"
  expect "init warns and suggests --recovery-code" \
    grep -q "^keyseal: warning: no recovery code (--recovery-code): $NOCODE_WARNING" "$W/init-nocode.err"
  on "$(tcti_a)" status_to "$W/status-nocode.out"
  slot_block "$W/status-nocode.out" "$s" > "$W/slot-nocode-status.out"
  expect "status warns too" grep -q "^    warning: $NOCODE_WARNING" "$W/slot-nocode-status.out"
}

run_step swtpms "two software TPMs: A (this machine) and B (another machine)" step_swtpms
run_step init "keyseal init --backend soft --bind-tpm --recovery-code under TPM A" step_init
run_step status "keyseal status: TPM-sealed binding line, model soft tpm Nf" step_status
run_step fingerprint "keyseal fingerprint --slot --pin: tpm-ek present and matching" step_fingerprint
run_step sign-a "EC P-256 keygen, ECDSA-SHA256 sign, openssl verify, under TPM A" step_sign_a
run_step refused-b "under TPM B: CKR_PIN_INCORRECT, the same as a wrong PIN under A" step_refused_b
run_step no-tpm "no TPM configured: CKR_DEVICE_ERROR, not counted as PIN failures" step_no_tpm
run_step a-stopped "TPM A stopped: CKR_DEVICE_ERROR, not counted as PIN failures" step_a_stopped
run_step a-restarted "TPM A restarted from its state: the right PIN works, nothing counted" step_a_restarted
run_step recover-b "the recovery code re-binds the token to TPM B; then A refuses it" step_recover_b
run_step unbound "a token made and used with TPM A answering stays unbound, survives A cleared" step_unbound
run_step bind-later "keyseal bind-tpm binds it; warnings without a recovery code" step_bind_later
run_step init-bound-no-code "keyseal init --bind-tpm without --recovery-code warns" step_init_bound_no_code
e2e_summary
