#!/usr/bin/env bash
# End-to-end test of the `keyseal` command-line tool against a PKCS#11 module: init, list (with RFC 7512
# URIs), status, usage errors (exit 2), failures (exit 1), the wrong-PIN message, and an init that fails after
# C_InitToken leaving no half-initialised token behind.
# Usage: keyseal_cli.sh MODULE KEYSEAL_CLI      (KNOWN_FAILURES="step ..." as in pkcs11_tool.sh;
# SoftHSMv2 2.6.1: "pin-lock", it never locks the user PIN)
set -euo pipefail

MODULE=${1:?usage: keyseal_cli.sh MODULE KEYSEAL_CLI}
CLI=${2:?usage: keyseal_cli.sh MODULE KEYSEAL_CLI}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
[[ -r "$MODULE" ]] || { echo "module not found: $MODULE" >&2; exit 1; }
[[ -x "$CLI" ]] || { echo "keyseal tool not found: $CLI" >&2; exit 1; }
e2e_setup
printf 'max_pin_attempts = 3\n' >> "$KEYSEAL_CONF"   # for the pin-lock step

LABEL="cli token/1"         # '/' and ' ' must be percent-encoded in URIs
LABEL_ENC="cli%20token%2F1"
SO_PIN=87654321
PIN=123456
W=$E2E_TMP
K=("$CLI" --module "$MODULE")
echo "keyseal CLI end-to-end: $CLI with module $MODULE"

# run_cli EXPECTED-EXIT NAME ARGS...: runs the tool, keeps stdout/stderr in $W/NAME.{out,err}, checks the exit.
run_cli() {
  local want=$1 name=$2 rc=0
  shift 2
  "$@" > "$W/$name.out" 2> "$W/$name.err" || rc=$?
  local cmd="$*"
  echo "\$ ${cmd//"$CLI"/keyseal} -> exit $rc"
  sed 's/^/  out| /' "$W/$name.out"
  sed 's/^/  err| /' "$W/$name.err"
  expect "exit status $want (got $rc)" test "$rc" -eq "$want"
}

step_usage() {
  run_cli 0 help "$CLI" --help
  grep -q '^Usage: keyseal' "$W/help.out"
  run_cli 0 version "$CLI" --version
  grep -Eq '^keyseal [0-9]+\.[0-9]+' "$W/version.out"
  run_cli 0 init-help "$CLI" init --help
  grep -q -- '--so-pin' "$W/init-help.out"
  run_cli 2 no-command "$CLI"
  run_cli 2 bad-command "$CLI" frobnicate
  grep -q "^keyseal: unknown command 'frobnicate'" "$W/bad-command.err"
  run_cli 2 bad-option "${K[@]}" list --frobnicate
  grep -q "^keyseal: unknown option '--frobnicate'" "$W/bad-option.err"
  run_cli 2 missing-value "${K[@]}" list --pin
  run_cli 2 bad-slot "${K[@]}" list --slot twelve
  run_cli 2 init-no-label "${K[@]}" init --pin "$PIN" --so-pin "$SO_PIN"
  run_cli 2 long-label "${K[@]}" init --label 123456789012345678901234567890123 --pin "$PIN" --so-pin "$SO_PIN"
  run_cli 2 status-pin "${K[@]}" status --pin "$PIN"
  run_cli 2 bad-backend "${K[@]}" init --label x --backend hsm
}

step_bad_module() {
  run_cli 1 bad-module "$CLI" --module "$W/no-such-module.so" status
  grep -q "^keyseal: cannot load module $W/no-such-module.so" "$W/bad-module.err"
}

step_init_without_terminal() {
  # No PIN options and no controlling terminal: the tool must not hang or guess; it is a usage error.
  run_cli 2 init-no-tty setsid -w "${K[@]}" init --label "$LABEL" < /dev/null
  grep -q "no terminal" "$W/init-no-tty.err"
}

step_init() {
  run_cli 0 init "${K[@]}" init --label "$LABEL" --so-pin "$SO_PIN" --pin "$PIN"
  grep -Eq '^slot: [0-9]+$' "$W/init.out"
  grep -Eq "^uri: pkcs11:.*token=$LABEL_ENC(;|\$)" "$W/init.out"
  grep -Eq '^uri: pkcs11:manufacturer=[^;]*;serial=[^;]*;token=' "$W/init.out"
  awk '/^slot:/ { print $2 }' "$W/init.out" > "$W/slot"
}

step_init_prompt() {
  # PINs asked on a terminal (a pty from script(1)), each twice. The pty echoes the typed-ahead input
  # itself, so this checks the prompts and the result, not the echo.
  command -v script >/dev/null || { echo "script(1) (util-linux) is needed" >&2; return 1; }
  printf '%s\n%s\n%s\n%s\n' "$SO_PIN" "$SO_PIN" "$PIN" "$PIN" |
    run_cli 0 init-prompt script -qec "$CLI --module '$MODULE' init --label 'tty token'" /dev/null
  grep -q 'New SO PIN: ' "$W/init-prompt.out"
  grep -q 'Repeat the user PIN: ' "$W/init-prompt.out"
  local slot
  slot=$(awk '/^slot:/ { print $2 }' "$W/init-prompt.out" | tr -d '\r')
  expect "init printed a slot" test -n "$slot"
  echo "$slot" > "$W/tty-slot"
  run_cli 0 prompt-list "${K[@]}" list --pin "$PIN" --slot "$slot"
  grep -q 'token "tty token"' "$W/prompt-list.out"
  # Two different entries: nothing is initialised, exit 1.
  printf '%s\n%s\n' "$SO_PIN" "${SO_PIN}0" |
    run_cli 1 init-mismatch script -qec "$CLI --module '$MODULE' init --label mismatch; exit \$?" /dev/null
  grep -q 'keyseal: the two SO PINs differ' "$W/init-mismatch.out"
}

step_keys() {
  # Objects to list: a key pair made by pkcs11-tool, with a label that needs percent-encoding.
  pkcs11-tool --module "$MODULE" --token-label "$LABEL" --login --pin "$PIN" --keypairgen \
    --key-type EC:prime256v1 --id a1b2 --label "key;one"
}

step_list_public() {
  run_cli 0 list-public "${K[@]}" list
  grep -q "token \"$LABEL\"" "$W/list-public.out"
  grep -q 'public only' "$W/list-public.out"
  grep -q "pkcs11:token=$LABEL_ENC;object=key%3Bone;id=%A1%B2;type=public" "$W/list-public.out"
  expect "no private objects without --pin" bash -c "! grep -q 'type=private' '$W/list-public.out'"
  grep -q 'user PIN set' "$W/list-public.out"
}

step_list_private() {
  run_cli 0 list-private "${K[@]}" list --pin "$PIN" --slot "$(cat "$W/slot")"
  grep -q "pkcs11:token=$LABEL_ENC;object=key%3Bone;id=%A1%B2;type=private" "$W/list-private.out"
  grep -q "pkcs11:token=$LABEL_ENC;object=key%3Bone;id=%A1%B2;type=public" "$W/list-private.out"
  grep -q 'EC prime256v1 (256)' "$W/list-private.out"
  grep -q 'id a1b2' "$W/list-private.out"
}

step_wrong_pin() {
  run_cli 1 wrong-pin "${K[@]}" list --pin 999999 --slot "$(cat "$W/slot")"
  grep -Eq '^keyseal: C_Login as user on slot [0-9]+: CKR_PIN_INCORRECT \(the PIN is incorrect\)$' \
    "$W/wrong-pin.err"
  # The correct PIN still works afterwards (one wrong try does not lock).
  run_cli 0 right-pin "${K[@]}" list --pin "$PIN" --slot "$(cat "$W/slot")"
}

step_bad_slot() {
  run_cli 1 absent-slot "${K[@]}" list --slot 4000000000
  grep -Eq '^keyseal: C_GetTokenInfo for slot 4000000000: CKR_(SLOT_ID_INVALID|TOKEN_NOT_PRESENT) \(' \
    "$W/absent-slot.err"
}

step_status() {
  run_cli 0 status env KEYSEAL_MODULE="$MODULE" "$CLI" status
  grep -q "^Module: $MODULE\$" "$W/status.out"
  grep -Eq '^  cryptoki version: [0-9]+\.[0-9]+$' "$W/status.out"
  grep -q "^  store directory: $KEYSEAL_STORE\$" "$W/status.out"
  grep -q "^  config file: $KEYSEAL_CONF\$" "$W/status.out"
  grep -q "m_cost 8192 KiB" "$W/status.out"
  grep -q "token: \"$LABEL\"" "$W/status.out"
  grep -q '^    initialised: yes$' "$W/status.out"
  grep -Eq '^    user PIN: ' "$W/status.out"
}

step_status_bad_config() {
  printf 'argon2_m_cost_kib = lots\n' > "$W/bad.conf"
  run_cli 1 status-bad-conf env KEYSEAL_CONF="$W/bad.conf" "${K[@]}" status
  grep -q "^keyseal: reading the configuration: $W/bad.conf:1: .*CKR_ARGUMENTS_BAD" "$W/status-bad-conf.err"
}

step_init_twice() {
  # Asking for the already-initialised slot must fail, not re-initialise (and wipe) the token.
  run_cli 1 init-again "${K[@]}" init --label other --so-pin "$SO_PIN" --pin "$PIN" --slot "$(cat "$W/slot")"
  grep -q 'already initialised' "$W/init-again.err"
  run_cli 0 still-there "${K[@]}" list --pin "$PIN" --slot "$(cat "$W/slot")"
  grep -q 'type=private' "$W/still-there.out"
}

step_init_fails_half_way() {
  # A step after C_InitToken fails: here --bind-tpm with a TPM configured that does not answer (the CLI only
  # checks that one is configured before it starts). The token just made must go, with a message.
  if [[ "$(basename "$MODULE")" != libkeyseal* ]]; then
    echo "not keyseal: --bind-tpm is keyseal's (skipped)"
    return 0
  fi
  local files_before
  files_before=$(ls "$KEYSEAL_STORE" 2>/dev/null | grep -c '^token-[0-9]*\.db$' || true)
  run_cli 1 init-half env KEYSEAL_TCTI=swtpm:host=127.0.0.1,port=9 "${K[@]}" init --label half-way \
    --so-pin "$SO_PIN" --pin "$PIN" --backend soft --bind-tpm
  grep -Eq '^keyseal: init failed after C_InitToken; the half-initialised token in slot [0-9]+ \(.*\) was removed$' \
    "$W/init-half.err"
  grep -q 'CKR_DEVICE_ERROR' "$W/init-half.err"
  local files_after
  files_after=$(ls "$KEYSEAL_STORE" 2>/dev/null | grep -c '^token-[0-9]*\.db$' || true)
  expect "no token file left behind ($files_before before, $files_after after)" test "$files_before" = "$files_after"
  run_cli 0 half-status "${K[@]}" status
  expect "no token labelled half-way" bash -c "! grep -q 'token: \"half-way\"' '$W/half-status.out'"
  # The slot is empty again: a plain init takes it.
  run_cli 0 init-after-half "${K[@]}" init --label after-half --so-pin "$SO_PIN" --pin "$PIN" --backend soft
  grep -q '^binding: ' "$W/init-after-half.out"
}

step_pin_lock() {
  # keyseal keeps a per-token retry counter (max_pin_attempts = 3 here) and reports it in the token flags.
  local slot i
  slot=$(cat "$W/tty-slot")
  for i in 1 2 3; do run_cli 1 "lock-$i" "${K[@]}" list --pin 000000 --slot "$slot"; done
  run_cli 1 locked "${K[@]}" list --pin "$PIN" --slot "$slot"
  grep -Eq '^keyseal: C_Login as user on slot [0-9]+: CKR_PIN_LOCKED \(' "$W/locked.err"
  run_cli 0 locked-list "${K[@]}" list --slot "$slot"
  grep -q 'user PIN locked' "$W/locked-list.out"
  run_cli 0 locked-status "${K[@]}" status
  grep -q '^    user PIN: locked' "$W/locked-status.out"
  # The other token is not affected.
  run_cli 0 other-token "${K[@]}" list --pin "$PIN" --slot "$(cat "$W/slot")"
}

run_step usage "--help, --version and usage errors (exit 2)" step_usage
run_step bad-module "a module that cannot be loaded (exit 1)" step_bad_module
run_step init-no-tty "init without PIN options and without a terminal" step_init_without_terminal
run_step init "keyseal init --label --so-pin --pin" step_init
run_step init-prompt "keyseal init asking the PINs on a terminal" step_init_prompt
run_step keys "a key pair generated with pkcs11-tool" step_keys
run_step list-public "keyseal list without PIN: public objects and URIs" step_list_public
run_step list-private "keyseal list --pin: private objects too" step_list_private
run_step wrong-pin "keyseal list with a wrong PIN" step_wrong_pin
run_step absent-slot "keyseal list --slot of a slot that does not exist" step_bad_slot
run_step status "keyseal status (module from KEYSEAL_MODULE)" step_status
run_step status-bad-config "keyseal status with a broken config file" step_status_bad_config
run_step init-twice "keyseal init on an initialised slot" step_init_twice
run_step init-half-way "an init failing after C_InitToken removes the token it made" step_init_fails_half_way
run_step pin-lock "wrong PINs lock the user PIN; flags say so" step_pin_lock
e2e_summary
