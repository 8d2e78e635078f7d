#!/usr/bin/env bash
# Interop scenario: OpenSC pkcs11-tool lists the token, generates RSA and EC key pairs, signs (checked by
# openssl) and verifies on the token, and passes `pkcs11-tool --test`. Commands as in docs/consumers/.
# Usage: pkcs11_tool.sh MODULE [KEYSEAL_CLI]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
ix_require pkcs11-tool opensc
ix_init "$@"
echo "interop: pkcs11-tool with $MODULE (backend $KEYSEAL_BACKEND)"
printf 'keyseal interop message\n' > "$W/data"

step_list() {
  "${P11[@]}" --show-info | tee "$W/info.out"
  grep -q "Cryptoki version 3\.0" "$W/info.out"
  "${P11[@]}" --list-slots | tee "$W/slots.out"
  grep -q "token label *: $IX_LABEL" "$W/slots.out"
  "${P11[@]}" "${TOK[@]}" --list-mechanisms | tee "$W/mechs.out"
  local m
  for m in RSA-PKCS-KEY-PAIR-GEN ECDSA-SHA256 SHA256-RSA-PKCS-PSS RSA-PKCS-OAEP; do
    expect "mechanism $m listed" grep -q "^ *$m" "$W/mechs.out"
  done
}

step_keygen() {
  ix_keygen rsa:2048 01 rsa-key
  ix_keygen EC:prime256v1 02 ec-key
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --list-objects | tee "$W/objects.out"
  expect "2 private keys" test "$(grep -c '^Private Key Object' "$W/objects.out")" -eq 2
  ix_pubkey 01 "$W/pub-01.pem"
  ix_pubkey 02 "$W/pub-02.pem"
}

step_sign_verify() {
  local id=$1 mech=$2
  shift 2
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --sign --id "$id" -m "$mech" -i "$W/data" -o "$W/sig-$mech" "$@"
  # The token's own verify (pkcs11-tool --verify), then openssl's.
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --verify --id "$id" -m "$mech" -i "$W/data" --signature-file "$W/sig-$mech" \
    "$@" | tee "$W/verify-$mech.out"
  grep -q "Signature is valid" "$W/verify-$mech.out"
  case $mech in
    SHA256-RSA-PKCS) openssl dgst -sha256 -verify "$W/pub-01.pem" -signature "$W/sig-$mech" "$W/data" ;;
    SHA256-RSA-PKCS-PSS) openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 \
                           -verify "$W/pub-01.pem" -signature "$W/sig-$mech" "$W/data" ;;
    ECDSA-SHA256)
      "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --sign --id "$id" -m "$mech" -i "$W/data" -o "$W/sig-ec.der" \
        --signature-format openssl
      openssl dgst -sha256 -verify "$W/pub-02.pem" -signature "$W/sig-ec.der" "$W/data" ;;
  esac
  # A tampered message must not verify: the checks above can fail.
  printf 'tampered\n' > "$W/tampered"
  ! "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --verify --id "$id" -m "$mech" -i "$W/tampered" \
    --signature-file "$W/sig-$mech" "$@" 2>&1 | grep -q "Signature is valid"
}

step_test() {
  set +e
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --test > "$W/test.out" 2>&1
  local rc=$?
  set -e
  cat "$W/test.out"
  expect "pkcs11-tool --test exits 0" test "$rc" -eq 0
  expect "pkcs11-tool --test reports 'No errors'" grep -q "No errors" "$W/test.out"
}

run_step create-token "create the $KEYSEAL_BACKEND token '$IX_LABEL' through the module" ix_create_token
run_step list "pkcs11-tool --show-info, --list-slots, --list-mechanisms" step_list
run_step keygen "pkcs11-tool --keypairgen rsa:2048 and EC:prime256v1" step_keygen
run_step sign-rsa "SHA256-RSA-PKCS sign, --verify and openssl verify" step_sign_verify 01 SHA256-RSA-PKCS
run_step sign-rsa-pss "SHA256-RSA-PKCS-PSS sign, --verify and openssl verify" step_sign_verify 01 \
  SHA256-RSA-PKCS-PSS --mgf MGF1-SHA256 --salt-len -1
run_step sign-ecdsa "ECDSA-SHA256 sign, --verify and openssl verify" step_sign_verify 02 ECDSA-SHA256
run_step test "pkcs11-tool --test --login" step_test
ix_summary
