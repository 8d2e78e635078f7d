#!/usr/bin/env bash
# Interop scenario: GnuTLS p11tool with the module given by --provider lists the token and its objects by
# pkcs11: URI (RFC 7512), generates RSA and EC keys, stores a certificate and signs with --test-sign
# (PKCS#1 v1.5, RSA-PSS, ECDSA). Commands as in docs/consumers/gnutls.md.
# Usage: p11tool.sh MODULE [KEYSEAL_CLI]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
ix_require p11tool gnutls-bin
ix_require pkcs11-tool opensc
ix_init "$@"
echo "interop: p11tool with $MODULE (backend $KEYSEAL_BACKEND)"
# --provider loads only our module (not p11-kit's registered ones); GNUTLS_PIN answers the PIN prompt.
PT=(p11tool --provider "$MODULE" --batch)
export GNUTLS_PIN=$IX_PIN

step_list_tokens() {
  "${PT[@]}" --list-tokens | tee "$W/tokens.out"
  grep -q "Label: $IX_LABEL" "$W/tokens.out"
  "${PT[@]}" --list-token-urls | tee "$W/urls.out"
  grep -q "^pkcs11:.*token=$IX_LABEL" "$W/urls.out"
  "${PT[@]}" --list-mechanisms "$TOKEN_URI" | tee "$W/mechs.out"
  grep -q "CKM_RSA_PKCS_PSS" "$W/mechs.out"
  grep -q "CKM_ECDSA" "$W/mechs.out"
}

step_generate() {
  "${PT[@]}" --login --generate-privkey=RSA --bits=2048 --label=p11-rsa --id=01 "$TOKEN_URI"
  "${PT[@]}" --login --generate-privkey=ECDSA --curve=secp256r1 --label=p11-ec --id=02 "$TOKEN_URI"
}

step_cert() {
  # certtool through the module; stored with the key's CKA_ID by pkcs11-tool (RSA) and by p11tool --write (EC).
  ix_cert 01 p11-rsa
  ix_cert_pem 02 p11-ec
  "${PT[@]}" --login --write --load-certificate "$W/cert-02.pem" --label p11-ec --id 02 "$TOKEN_URI"
}

step_list_objects() {
  # Without login: public keys and certificates only.
  "${PT[@]}" --list-all "$TOKEN_URI" | tee "$W/all.out"
  expect "two public keys" test "$(grep -c 'Type: Public key' "$W/all.out")" -eq 2
  expect "no private key without login" test "$(grep -c 'Type: Private key' "$W/all.out")" -eq 0
  expect "the certificate" grep -q "Type: X.509 Certificate" "$W/all.out"
  "${PT[@]}" --login --list-privkeys "$TOKEN_URI" | tee "$W/priv.out"
  expect "two private keys" test "$(grep -c 'Type: Private key' "$W/priv.out")" -eq 2
  grep -q "URL: pkcs11:.*token=$IX_LABEL;.*object=p11-rsa;type=private" "$W/priv.out"
  # --list-certs lists certificates that have a private key with the same CKA_ID.
  "${PT[@]}" --login --list-certs "$TOKEN_URI" | tee "$W/certs.out"
  grep -q "object=p11-rsa;type=cert" "$W/certs.out"
  grep -q "id=%02;object=p11-ec;type=cert" "$W/certs.out"
  # A narrower URI selects one object.
  "${PT[@]}" --list-all "$TOKEN_URI;object=p11-ec;type=public" | tee "$W/one.out"
  expect "one object for the narrow URI" test "$(grep -c '^Object ' "$W/one.out")" -eq 1
}

step_export_pubkey() {
  "${PT[@]}" --login --export-pubkey "$TOKEN_URI;object=p11-rsa;type=private" > "$W/p11tool-pub.pem"
  ix_pubkey 01 "$W/pkcs11tool-pub.pem"
  cmp <(openssl pkey -pubin -in "$W/p11tool-pub.pem" -outform DER) \
      <(openssl pkey -pubin -in "$W/pkcs11tool-pub.pem" -outform DER)
  # The certificate's key is the token's key.
  cmp <(openssl x509 -in "$W/cert-01.pem" -pubkey -noout | openssl pkey -pubin -outform DER) \
      <(openssl pkey -pubin -in "$W/pkcs11tool-pub.pem" -outform DER)
}

step_test_sign() {  # step_test_sign OBJECT [EXTRA...]
  local obj=$1
  shift
  "${PT[@]}" --login --test-sign "$@" "$TOKEN_URI;object=$obj;type=private" 2>&1 | tee "$W/ts-$obj.out"
  grep -q "Verifying against public key in the token... ok" "$W/ts-$obj.out"
  ! grep -qi "fail" "$W/ts-$obj.out"
}

run_step create-token "create the $KEYSEAL_BACKEND token '$IX_LABEL' through the module" ix_create_token
run_step list-tokens "p11tool --list-tokens, --list-token-urls, --list-mechanisms" step_list_tokens
run_step generate "p11tool --generate-privkey RSA 2048 and ECDSA P-256" step_generate
run_step cert "certtool self-signed certificates, stored with the keys' CKA_ID (p11tool --write)" step_cert
run_step list-objects "p11tool --list-all / --list-privkeys / --list-certs by pkcs11: URI" step_list_objects
run_step export-pubkey "p11tool --export-pubkey matches pkcs11-tool and the certificate" step_export_pubkey
run_step test-sign-rsa "p11tool --test-sign with the RSA key (PKCS#1 v1.5)" step_test_sign p11-rsa
run_step test-sign-rsa-pss "p11tool --test-sign --sign-params RSA-PSS" step_test_sign p11-rsa --sign-params=RSA-PSS
run_step test-sign-ec "p11tool --test-sign with the EC key" step_test_sign p11-ec
ix_summary
