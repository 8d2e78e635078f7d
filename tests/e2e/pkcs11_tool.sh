#!/usr/bin/env bash
# End-to-end test of a PKCS#11 module with OpenSC's pkcs11-tool and openssl: token and PIN set-up, RSA and
# EC key generation, signatures checked by openssl, listing, deletion, `pkcs11-tool --test` / `--test-ec`.
# Usage: pkcs11_tool.sh MODULE [KEYSEAL_CLI]
# KNOWN_FAILURES="step ..." names steps the module is known to fail (SoftHSMv2 2.6.1:
# "sign-ecdsa-sha256 sign-ecdsa-sha256-p384 pkcs11-test pkcs11-test-ec").
# Steps that need a mechanism (and key size) the token does not list in --list-mechanisms are skipped and
# counted, so the plan fits a TPM token (KEYSEAL_BACKEND=tpm: see lib.sh) as well as the soft token.
set -euo pipefail

MODULE=${1:?usage: pkcs11_tool.sh MODULE [KEYSEAL_CLI]}
CLI=${2:-}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
[[ -r "$MODULE" ]] || { echo "module not found: $MODULE" >&2; exit 1; }
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool not installed (Debian package opensc)" >&2; exit 1; }
e2e_setup

LABEL="e2e token"
SO_PIN=87654321
PIN=123456
P11=(pkcs11-tool --module "$MODULE")
TOK=(--token-label "$LABEL")
USER=(--login --pin "$PIN")
W=$E2E_TMP
echo "keyseal end-to-end with pkcs11-tool: module $MODULE"

step_init_token() {
  # The first slot whose token is present but not initialised.
  local slot
  slot=$("${P11[@]}" --list-slots | awk '/^Slot [0-9]+ \(0x[0-9a-f]+\)/ { s = $3; gsub(/[():]/, "", s) }
                                         /token state: +uninitialized/ && s != "" { print s; exit }')
  expect "an uninitialised token is listed" test -n "$slot"
  "${P11[@]}" --slot "$slot" --init-token --label "$LABEL" --so-pin "$SO_PIN" | tee "$W/init.out"
  grep -q "Token successfully initialized" "$W/init.out"
  "${P11[@]}" --list-slots | grep -q "token label *: $LABEL"
}

step_init_pin() {
  "${P11[@]}" "${TOK[@]}" --init-pin --login --login-type so --so-pin "$SO_PIN" --pin "$PIN" | tee "$W/pin.out"
  grep -q "User PIN successfully initialized" "$W/pin.out"
  "${P11[@]}" --list-token-slots | grep -q "PIN initialized"
}

keygen() {  # keygen KEY-TYPE ID LABEL
  "${P11[@]}" "${TOK[@]}" "${USER[@]}" --keypairgen --key-type "$1" --id "$2" --label "$3" | tee "$W/gen-$2.out"
  grep -q "Private Key Object" "$W/gen-$2.out"
  grep -q "Public Key Object" "$W/gen-$2.out"
  # The public key is readable without login, as a DER SubjectPublicKeyInfo openssl accepts.
  if ! "${P11[@]}" "${TOK[@]}" --read-object --type pubkey --id "$2" -o "$W/pub-$2.der"; then
    [[ "$1" == EC:secp384r1 ]] || return 1
    echo "pkcs11-tool 0.23 cannot export P-384 public keys ('cannot create EVP_PKEY', also with SoftHSMv2):"
    echo "building the SubjectPublicKeyInfo from CKA_EC_PARAMS and CKA_EC_POINT instead"
    ec_spki_from_attributes "$2" > "$W/pub-$2.der"
  fi
  openssl pkey -pubin -inform DER -in "$W/pub-$2.der" -out "$W/pub-$2.pem"
  openssl pkey -pubin -in "$W/pub-$2.pem" -noout -text | head -n 1
}

der_len() {  # DER length octets (hex) of a length in bytes
  if (( $1 < 128 )); then printf '%02x' "$1"
  elif (( $1 < 256 )); then printf '81%02x' "$1"
  else printf '82%04x' "$1"; fi
}

# SubjectPublicKeyInfo (RFC 5480) of the EC public key with CKA_ID $1, from the attributes pkcs11-tool lists.
ec_spki_from_attributes() {
  local out params point alg bits
  # pkcs11-tool lists every public key here (it ignores --id): take the block whose ID matches.
  out=$("${P11[@]}" "${TOK[@]}" --list-objects --type pubkey |
        awk -v id="$1" '/^[A-Z].*Object/ { p = ""; q = "" } /EC_PARAMS:/ { p = $2 } /EC_POINT:/ { q = $2 }
                        $1 == "ID:" && $2 == id { print p, q; exit }')
  read -r params point <<<"$out"
  [[ -n "$params" && -n "$point" ]] || return 1
  # CKA_EC_POINT is a DER OCTET STRING: drop its tag and length.
  case ${point:2:2} in 81) point=${point:6} ;; 82) point=${point:8} ;; *) point=${point:4} ;; esac
  alg="06072a8648ce3d0201$params"
  alg="30$(der_len $(( ${#alg} / 2 )))$alg"
  bits="00$point"
  bits="03$(der_len $(( ${#bits} / 2 )))$bits"
  local body="$alg$bits"
  printf '30%s%s' "$(der_len $(( ${#body} / 2 )))" "$body" | xxd -r -p
}

printf 'keyseal end-to-end test message\n' > "$W/data"
openssl dgst -sha256 -binary "$W/data" > "$W/data.sha256"
openssl dgst -sha384 -binary "$W/data" > "$W/data.sha384"
# DER DigestInfo for SHA-256 (RFC 8017 section 9.2 note 1) followed by the hash: the input of raw RSA-PKCS.
{ printf '\x30\x31\x30\x0d\x06\x09\x60\x86\x48\x01\x65\x03\x04\x02\x01\x05\x00\x04\x20'; cat "$W/data.sha256"; } \
  > "$W/data.digestinfo"

sign() {  # sign ID MECHANISM INPUT OUTPUT [EXTRA...]
  local id=$1 mech=$2 in=$3 out=$4
  shift 4
  "${P11[@]}" "${TOK[@]}" "${USER[@]}" --sign --id "$id" -m "$mech" -i "$in" -o "$out" "$@"
  test -s "$out"
}

step_sign_rsa_pkcs() {
  sign 01 RSA-PKCS "$W/data.digestinfo" "$W/sig-rsa-pkcs"
  openssl dgst -sha256 -verify "$W/pub-01.pem" -signature "$W/sig-rsa-pkcs" "$W/data"
}

step_sign_sha256_rsa_pkcs() {
  sign 01 SHA256-RSA-PKCS "$W/data" "$W/sig-sha256-rsa-pkcs"
  openssl dgst -sha256 -verify "$W/pub-01.pem" -signature "$W/sig-sha256-rsa-pkcs" "$W/data"
  # A signature of other data must not verify: the check above can fail.
  printf 'other\n' > "$W/other"
  ! openssl dgst -sha256 -verify "$W/pub-01.pem" -signature "$W/sig-sha256-rsa-pkcs" "$W/other"
}

step_sign_rsa_pss() {
  # PSS on a SHA-256 hash, salt length = hash length (what TLS 1.3 needs).
  sign 01 RSA-PKCS-PSS "$W/data.sha256" "$W/sig-pss" --hash-algorithm SHA256 --mgf MGF1-SHA256 --salt-len -1
  openssl pkeyutl -verify -pubin -inkey "$W/pub-01.pem" -in "$W/data.sha256" -sigfile "$W/sig-pss" \
    -pkeyopt digest:sha256 -pkeyopt rsa_padding_mode:pss -pkeyopt rsa_pss_saltlen:32
  sign 01 SHA256-RSA-PKCS-PSS "$W/data" "$W/sig-sha256-pss" --mgf MGF1-SHA256
  openssl dgst -sha256 -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32 -verify "$W/pub-01.pem" \
    -signature "$W/sig-sha256-pss" "$W/data"
}

step_sign_ecdsa() {  # ECDSA on a hash, r||s converted to DER by --signature-format openssl
  local id=$1 hash=$2
  sign "$id" ECDSA "$W/data.$hash" "$W/sig-ecdsa-$id" --signature-format openssl
  openssl dgst "-$hash" -verify "$W/pub-$id.pem" -signature "$W/sig-ecdsa-$id" "$W/data"
}

step_sign_ecdsa_sha256() {
  local id=$1
  sign "$id" ECDSA-SHA256 "$W/data" "$W/sig-ecdsa-sha256-$id" --signature-format openssl
  openssl dgst -sha256 -verify "$W/pub-$id.pem" -signature "$W/sig-ecdsa-sha256-$id" "$W/data"
}

step_list_objects() {
  "${P11[@]}" "${TOK[@]}" "${USER[@]}" --list-objects | tee "$W/objects.out"
  local id
  for id in 01 02 03; do
    expect "private key $id listed" grep -q "ID: *$id" "$W/objects.out"
  done
  expect "3 private keys" test "$(grep -c '^Private Key Object' "$W/objects.out")" -eq 3
  expect "3 public keys" test "$(grep -c '^Public Key Object' "$W/objects.out")" -eq 3
  # Without login only the public objects are visible.
  "${P11[@]}" "${TOK[@]}" --list-objects > "$W/objects-public.out"
  expect "no private key without login" test "$(grep -c '^Private Key Object' "$W/objects-public.out")" -eq 0
  expect "public keys without login" test "$(grep -c '^Public Key Object' "$W/objects-public.out")" -eq 3
}

step_keyseal_list() {
  "$CLI" --module "$MODULE" list --pin "$PIN" | tee "$W/keyseal-list.out"
  grep -q 'pkcs11:token=e2e%20token;object=rsa-2048;id=%01;type=private' "$W/keyseal-list.out"
  grep -q 'pkcs11:token=e2e%20token;object=ec-p256;id=%02;type=public' "$W/keyseal-list.out"
  grep -q 'EC secp384r1' "$W/keyseal-list.out"
  grep -q 'RSA 2048' "$W/keyseal-list.out"
}

step_pkcs11_test() {
  # Signs, verifies and decrypts (RSA-PKCS, OAEP with and without a label) with every key on the token.
  set +e
  "${P11[@]}" "${TOK[@]}" "${USER[@]}" --test > "$W/test.out" 2>&1
  local rc=$?
  set -e
  cat "$W/test.out"
  expect "pkcs11-tool --test exits 0" test "$rc" -eq 0
  expect "pkcs11-tool --test reports 'No errors'" grep -q "No errors" "$W/test.out"
  expect "no error lines" bash -c "! grep -Eq '^error|ERR:|FAILED' '$W/test.out'"
}

step_pkcs11_test_ec() {
  # --test-ec generates its own key pair (from --key-type/--id/--label), changes its CKA_ID, signs and
  # verifies. It needs a read/write session, which pkcs11-tool opens only when --keypairgen is also given.
  set +e
  "${P11[@]}" "${TOK[@]}" "${USER[@]}" --test-ec --keypairgen --key-type EC:prime256v1 --id 0e --label test-ec \
    > "$W/test-ec.out" 2>&1
  local rc=$?
  set -e
  cat "$W/test-ec.out"
  expect "pkcs11-tool --test-ec exits 0" test "$rc" -eq 0
  expect "pkcs11-tool --test-ec reports '==> OK'" grep -q "==> OK" "$W/test-ec.out"
  expect "no error lines" bash -c "! grep -Eiq '^error|failed' '$W/test-ec.out'"
}

step_delete_key() {
  "${P11[@]}" "${TOK[@]}" "${USER[@]}" --delete-object --type privkey --id 03
  "${P11[@]}" "${TOK[@]}" "${USER[@]}" --delete-object --type pubkey --id 03
  "${P11[@]}" "${TOK[@]}" "${USER[@]}" --list-objects > "$W/after-delete.out"
  expect "key 03 gone" bash -c "! grep -q 'ID: *03\$' '$W/after-delete.out'"
  expect "key 01 still there" grep -q "ID: *01" "$W/after-delete.out"
  # Reading the deleted public key must fail.
  ! "${P11[@]}" "${TOK[@]}" --read-object --type pubkey --id 03 -o "$W/gone.der"
}

# The token's mechanisms (pkcs11-tool names) with their key size ranges, read once the token exists.
MECHS="$W/mechanisms.out"
SKIPPED=()

listed() {  # listed NAME[:BITS]...: every mechanism listed (and BITS inside its keySize range)
  local need name bits range
  for need in "$@"; do
    name=${need%%:*}
    bits=""
    [[ "$need" == *:* ]] && bits=${need#*:}
    range=$(awk -v n="$name" '{ sub(/^ +/, "") } $1 == n "," || $0 == n {
              if (match($0, /keySize=\{[0-9]+,[0-9]+\}/)) print substr($0, RSTART + 9, RLENGTH - 10); else print "any"; exit }' \
            "$MECHS")
    [[ -n "$range" ]] || return 1
    if [[ -n "$bits" && "$range" != any ]] && (( bits < ${range%,*} || bits > ${range#*,} )); then return 1; fi
  done
}

# plan_step "NEEDS..." NAME DESCRIPTION FUNCTION [ARGS...]: run_step when the token lists every need, else skip.
plan_step() {
  local needs=$1 name=$2
  # shellcheck disable=SC2086
  if [[ ! -s "$MECHS" ]] || listed $needs; then
    run_step "${@:2}"
  else
    echo "-- $name: $3"
    echo "   SKIPPED: the token does not list all of: $needs"
    SKIPPED+=("$name")
  fi
}

RSA=RSA-PKCS-KEY-PAIR-GEN:2048
P256=ECDSA-KEY-PAIR-GEN:256
P384=ECDSA-KEY-PAIR-GEN:384
run_step init-token "pkcs11-tool --init-token on the empty token" step_init_token
run_step init-pin "pkcs11-tool --init-pin as SO" step_init_pin
"${P11[@]}" "${TOK[@]}" --list-mechanisms > "$MECHS" 2>&1 || true
plan_step "$RSA" keygen-rsa2048 "RSA 2048 key pair, public key exported and parsed by openssl" keygen rsa:2048 01 rsa-2048
plan_step "$P256" keygen-ec-p256 "EC prime256v1 key pair" keygen EC:prime256v1 02 ec-p256
plan_step "$P384" keygen-ec-p384 "EC secp384r1 key pair" keygen EC:secp384r1 03 ec-p384
plan_step "$RSA RSA-PKCS" sign-rsa-pkcs "RSA-PKCS over a DigestInfo, verified by openssl" step_sign_rsa_pkcs
plan_step "$RSA SHA256-RSA-PKCS" sign-sha256-rsa-pkcs "SHA256-RSA-PKCS, verified by openssl" step_sign_sha256_rsa_pkcs
plan_step "$RSA RSA-PKCS-PSS SHA256-RSA-PKCS-PSS" sign-rsa-pss \
  "RSA-PKCS-PSS and SHA256-RSA-PKCS-PSS (salt 32), verified by openssl" step_sign_rsa_pss
plan_step "$P256 ECDSA:256" sign-ecdsa-p256 "ECDSA (P-256) on a SHA-256 hash, verified by openssl" step_sign_ecdsa 02 sha256
plan_step "$P384 ECDSA:384" sign-ecdsa-p384 "ECDSA (P-384) on a SHA-384 hash, verified by openssl" step_sign_ecdsa 03 sha384
plan_step "$P256 ECDSA-SHA256:256" sign-ecdsa-sha256 "ECDSA-SHA256 (P-256), verified by openssl" step_sign_ecdsa_sha256 02
plan_step "$P384 ECDSA-SHA256:384" sign-ecdsa-sha256-p384 "ECDSA-SHA256 (P-384), verified by openssl" \
  step_sign_ecdsa_sha256 03
plan_step "$RSA $P256 $P384" list-objects "pkcs11-tool --list-objects with and without login" step_list_objects
if [[ -n "$CLI" ]]; then
  plan_step "$RSA $P256 $P384" keyseal-list "keyseal list shows the keys with pkcs11: URIs" step_keyseal_list
fi
run_step pkcs11-test "pkcs11-tool --test --login" step_pkcs11_test
plan_step "$P256 ECDSA-SHA1:256" pkcs11-test-ec "pkcs11-tool --test-ec --login" step_pkcs11_test_ec
plan_step "$P384" delete-key "delete the P-384 key pair" step_delete_key
echo "== skipped (not listed by the token): ${#SKIPPED[@]}${SKIPPED[*]:+ (${SKIPPED[*]})}"
e2e_summary
