#!/usr/bin/env bash
# Interop scenario: two kinds of processes on one token at once (as Firefox and ssh-agent do): several signer
# processes (pkcs11-tool, RSA and EC, each signature checked by openssl) while one process creates and deletes
# objects (data objects and key pairs). Every operation of every process must succeed, and the token must
# hold exactly the expected objects afterwards. Usage: concurrency.sh MODULE [KEYSEAL_CLI]
# SIGNERS (default 4) and ROUNDS (default 20) size the run.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
ix_require pkcs11-tool opensc
ix_init "$@"
SIGNERS=${SIGNERS:-4}
ROUNDS=${ROUNDS:-20}
echo "interop: concurrent processes with $MODULE (backend $KEYSEAL_BACKEND): $SIGNERS signers, $ROUNDS rounds"

step_keys() {
  ix_keygen rsa:2048 01 conc-rsa
  ix_keygen EC:prime256v1 02 conc-ec
  ix_pubkey 01 "$W/pub-01.pem"
  ix_pubkey 02 "$W/pub-02.pem"
}

signer() {  # signer N: ROUNDS signatures alternating RSA and EC keys, each verified; exit 1 on the first failure
  local n=$1 i id mech fmt
  for ((i = 0; i < ROUNDS; i++)); do
    printf 'signer %s round %s\n' "$n" "$i" > "$W/s$n.data"
    if (( (i + n) % 2 )); then id=01; mech=SHA256-RSA-PKCS; fmt=(); else id=02; mech=ECDSA-SHA256; fmt=(--signature-format openssl); fi
    "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --sign --id "$id" -m "$mech" "${fmt[@]}" -i "$W/s$n.data" -o "$W/s$n.sig" \
      > "$W/s$n.out" 2>&1 || { echo "signer $n round $i: pkcs11-tool --sign failed:"; cat "$W/s$n.out"; return 1; }
    openssl dgst -sha256 -verify "$W/pub-$id.pem" -signature "$W/s$n.sig" "$W/s$n.data" > /dev/null ||
      { echo "signer $n round $i: bad $mech signature"; return 1; }
  done
  echo "signer $n: $ROUNDS signatures verified"
}

writer() {  # ROUNDS times: create a data object and an EC key pair, then delete both
  local i id
  for ((i = 0; i < ROUNDS; i++)); do
    id=$(printf '7%03x' "$i")
    printf 'data %s\n' "$i" > "$W/w.data"
    "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --write-object "$W/w.data" --type data --label "tmp-data-$i" \
      > "$W/w.out" 2>&1 || { echo "writer round $i: write data object failed:"; cat "$W/w.out"; return 1; }
    "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --keypairgen --key-type EC:prime256v1 --id "$id" --label "tmp-key-$i" \
      > "$W/w.out" 2>&1 || { echo "writer round $i: keypairgen failed:"; cat "$W/w.out"; return 1; }
    "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --delete-object --type data --label "tmp-data-$i" > "$W/w.out" 2>&1 ||
      { echo "writer round $i: delete data object failed:"; cat "$W/w.out"; return 1; }
    "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --delete-object --type privkey --id "$id" > "$W/w.out" 2>&1 ||
      { echo "writer round $i: delete private key failed:"; cat "$W/w.out"; return 1; }
    "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --delete-object --type pubkey --id "$id" > "$W/w.out" 2>&1 ||
      { echo "writer round $i: delete public key failed:"; cat "$W/w.out"; return 1; }
  done
  echo "writer: $ROUNDS rounds of create + delete"
}

step_concurrent() {
  local pids=() n rc=0 pid
  for ((n = 0; n < SIGNERS; n++)); do
    signer "$n" > "$W/signer-$n.log" 2>&1 &
    pids+=($!)
  done
  writer > "$W/writer.log" 2>&1 &
  pids+=($!)
  for pid in "${pids[@]}"; do wait "$pid" || rc=1; done
  cat "$W"/signer-*.log "$W/writer.log"
  return $rc
}

step_after_keys() {  # the two key pairs of step keys survived, whatever the writer did
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --list-objects > "$W/objects.out"
  expect "conc-rsa private key left" grep -q 'label: *conc-rsa$' "$W/objects.out"
  expect "conc-ec private key left" grep -q 'label: *conc-ec$' "$W/objects.out"
  ix_pubkey 01 "$W/pub-01-after.pem"
  ix_pubkey 02 "$W/pub-02-after.pem"
  expect "RSA public key unchanged" cmp -s "$W/pub-01.pem" "$W/pub-01-after.pem"
  expect "EC public key unchanged" cmp -s "$W/pub-02.pem" "$W/pub-02-after.pem"
}

step_after_clean() {  # nothing else: every temporary object of the writer was deleted
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --list-objects > "$W/objects.out"
  expect "2 private keys left" test "$(grep -c '^Private Key Object' "$W/objects.out")" -eq 2
  expect "2 public keys left" test "$(grep -c '^Public Key Object' "$W/objects.out")" -eq 2
  expect "no data object left" bash -c "! grep -q '^Data object' '$W/objects.out'"
  expect "no temporary object left" bash -c "! grep -q 'tmp-' '$W/objects.out'"
}

run_step create-token "create the $KEYSEAL_BACKEND token '$IX_LABEL' through the module" ix_create_token
run_step keys "RSA and EC key pairs" step_keys
run_step concurrent "$SIGNERS signer processes and one creating/deleting objects at once" step_concurrent
run_step after-keys "the two key pairs survived unchanged" step_after_keys
run_step after-clean "the token holds exactly the two key pairs" step_after_clean
ix_summary
