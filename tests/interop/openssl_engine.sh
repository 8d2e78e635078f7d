#!/usr/bin/env bash
# Interop scenario: OpenSSL 3 through the libp11 engine (Debian libengine-pkcs11-openssl) signs with RSA
# (PKCS#1 v1.5 and PSS) and ECDSA keys on the token, decrypts RSA (PKCS#1 v1.5 and OAEP), makes a
# self-signed certificate with `openssl req -x509` that is stored on the token with the key's CKA_ID,
# and curl authenticates with the token key in TLS 1.3. Commands as in docs/consumers/openssl.md and curl.md.
# Usage: openssl_engine.sh MODULE [KEYSEAL_CLI]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
ix_require openssl openssl
ix_require pkcs11-tool opensc
ix_init "$@"
[[ -n "$(find /usr/lib -path '*engines-3/pkcs11.so' -print -quit)" ]] ||
  { echo "libp11 engine not installed (Debian package libengine-pkcs11-openssl)" >&2; exit 1; }
echo "interop: OpenSSL libp11 engine with $MODULE (backend $KEYSEAL_BACKEND)"
# The config names the module and the PIN (see ix_openssl_conf); every openssl command below uses it.
OSSL_CONF=$(ix_openssl_conf)
ENG=(-engine pkcs11 -keyform engine)
RSA_URI="$TOKEN_URI;object=rsa-key;type=private"
EC_URI="$TOKEN_URI;id=%02;type=private"
printf 'keyseal interop message\n' > "$W/data"

step_keys() {
  ix_keygen rsa:2048 01 rsa-key
  ix_keygen EC:prime256v1 02 ec-key
  ix_pubkey 01 "$W/rsa.pem"
  ix_pubkey 02 "$W/ec.pem"
}

step_engine() {
  OPENSSL_CONF=$OSSL_CONF openssl engine -t -c pkcs11 | tee "$W/engine.out"
  grep -q "\[ available \]" "$W/engine.out"
}

step_sign() {  # step_sign URI PUBKEY [SIGOPT...]
  local uri=$1 pub=$2
  shift 2
  OPENSSL_CONF=$OSSL_CONF openssl dgst -sha256 "${ENG[@]}" -sign "$uri" "$@" -out "$W/sig" "$W/data"
  openssl dgst -sha256 -verify "$pub" "$@" -signature "$W/sig" "$W/data"
  printf 'tampered\n' > "$W/tampered"
  ! openssl dgst -sha256 -verify "$pub" "$@" -signature "$W/sig" "$W/tampered"
}

step_pkeyutl_sign() {
  # pkeyutl on a hash, verified on the token side by pkeyutl -verify with the engine key too.
  openssl dgst -sha256 -binary "$W/data" > "$W/data.sha256"
  OPENSSL_CONF=$OSSL_CONF openssl pkeyutl -sign "${ENG[@]}" -inkey "$EC_URI" -in "$W/data.sha256" -out "$W/sig-ec"
  openssl pkeyutl -verify -pubin -inkey "$W/ec.pem" -in "$W/data.sha256" -sigfile "$W/sig-ec"
}

step_decrypt() {  # step_decrypt [PKEYOPT...]: encrypt with openssl and the public key, decrypt on the token
  local opts=() o
  for o in "$@"; do opts+=(-pkeyopt "$o"); done
  head -c 32 /dev/urandom > "$W/secret"
  openssl pkeyutl -encrypt -pubin -inkey "$W/rsa.pem" "${opts[@]}" -in "$W/secret" -out "$W/secret.enc"
  OPENSSL_CONF=$OSSL_CONF openssl pkeyutl -decrypt "${ENG[@]}" -inkey "$RSA_URI" "${opts[@]}" \
    -in "$W/secret.enc" -out "$W/secret.dec"
  cmp "$W/secret" "$W/secret.dec"
}

req_x509() {  # req_x509 ID CN: `openssl req -x509` with the token key, stored on the token with its CKA_ID
  OPENSSL_CONF=$OSSL_CONF openssl req -x509 -new "${ENG[@]}" -key "$TOKEN_URI;id=%$1;type=private" \
    -subj "/CN=$2" -days 30 -sha256 -out "$W/cert-$1.pem"
  openssl x509 -in "$W/cert-$1.pem" -outform DER -out "$W/cert-$1.der"
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --write-object "$W/cert-$1.der" --type cert --id "$1" --label "$2"
}

step_req_x509() {
  req_x509 01 "rsa-key"
  openssl x509 -in "$W/cert-01.pem" -noout -subject | grep -q "CN *= *rsa-key"
  # Self-signed by the token key: the certificate verifies against itself.
  openssl verify -CAfile "$W/cert-01.pem" "$W/cert-01.pem"
  # Stored on the token with the key's CKA_ID; read back unchanged.
  "${P11[@]}" "${TOK[@]}" --read-object --type cert --id 01 -o "$W/cert-back.der"
  cmp "$W/cert-01.der" "$W/cert-back.der"
  "${P11[@]}" "${TOK[@]}" --list-objects --type cert | tee "$W/certs.out"
  grep -q "ID: *01" "$W/certs.out"
  # An EC certificate too, by `openssl req -x509` with the EC key.
  req_x509 02 "ec-key"
  openssl verify -CAfile "$W/cert-02.pem" "$W/cert-02.pem"
}

step_cms_sign() {
  # S/MIME signing with key and certificate from the token (the certificate from the token by URI).
  OPENSSL_CONF=$OSSL_CONF openssl cms -sign -nodetach -binary "${ENG[@]}" -inkey "$RSA_URI" -signer "$W/cert-01.pem" \
    -in "$W/data" -outform DER -out "$W/data.p7s"
  openssl cms -verify -binary -inform DER -in "$W/data.p7s" -CAfile "$W/cert-01.pem" -out "$W/data.out"
  cmp "$W/data" "$W/data.out"
}

step_curl() {
  # curl (OpenSSL build) with the client key from the token through the engine, against s_server -Verify 1.
  local port
  port=$(ix_free_port)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 2 \
    -keyout "$W/server.key" -out "$W/server.pem" 2>/dev/null
  ix_spawn openssl s_server -accept "127.0.0.1:$port" -naccept 5 -tls1_3 -Verify 1 -verify_return_error \
    -CAfile "$W/cert-01.pem" -cert "$W/server.pem" -key "$W/server.key" -www > "$W/s_server.log" 2>&1
  ix_wait_port "$port"
  OPENSSL_CONF=$OSSL_CONF curl -sS --max-time 60 --cacert "$W/server.pem" --engine pkcs11 --key-type ENG \
    --key "$RSA_URI" --cert "$W/cert-01.pem" "https://localhost:$port/" -o "$W/curl.out" \
    --resolve "localhost:$port:127.0.0.1"
  grep -q "Protocol  *: TLSv1.3" "$W/curl.out"
  awk '/^Client certificate/ { f = 1 } f && /Subject: CN *= *rsa-key$/ { ok = 1 } END { exit !ok }' "$W/curl.out"
}

run_step create-token "create the $KEYSEAL_BACKEND token '$IX_LABEL' through the module" ix_create_token
run_step keys "RSA 2048 and EC P-256 key pairs (pkcs11-tool)" step_keys
run_step engine "openssl engine -t pkcs11 with the module" step_engine
run_step sign-rsa "openssl dgst -sign with the RSA key by URI (PKCS#1 v1.5)" step_sign "$RSA_URI" "$W/rsa.pem"
run_step sign-rsa-pss "openssl dgst -sign, RSA-PSS salt 32" step_sign "$RSA_URI" "$W/rsa.pem" \
  -sigopt rsa_padding_mode:pss -sigopt rsa_pss_saltlen:32
run_step sign-ecdsa "openssl dgst -sign with the EC key by id" step_sign "$EC_URI" "$W/ec.pem"
run_step pkeyutl-ecdsa "openssl pkeyutl -sign with the EC key" step_pkeyutl_sign
run_step decrypt-rsa-pkcs "openssl pkeyutl -decrypt, PKCS#1 v1.5" step_decrypt
run_step decrypt-rsa-oaep "openssl pkeyutl -decrypt, OAEP SHA-256" step_decrypt rsa_padding_mode:oaep \
  rsa_oaep_md:sha256 rsa_mgf1_md:sha256
run_step req-x509 "openssl req -x509 with token keys, certificates stored with the keys' CKA_ID" step_req_x509
run_step cms-sign "openssl cms -sign with the token key" step_cms_sign
run_step curl "curl --engine pkcs11 TLS 1.3 client authentication with the token key" step_curl
ix_summary
