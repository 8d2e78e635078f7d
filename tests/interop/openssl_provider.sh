#!/usr/bin/env bash
# Interop scenario: OpenSSL 3 through pkcs11-provider (Debian's 1.0 from bookworm-backports, which replaces the
# deprecated libp11 engine), loaded by an openssl.cnf, keys named by pkcs11: URIs. Key generation on the token
# (`genpkey -propquery provider=pkcs11`), pkeyutl signatures (RSA PKCS#1, PSS, ECDSA) verified in software,
# `req -x509` with token keys, s_server with a token key and s_client on 127.0.0.1 (TLS 1.3 and 1.2; RSA-PSS
# and ECDSA), `cms -sign`, `cms -decrypt` for an RSA and an EC recipient, RSA-OAEP (SHA-256) decryption, ECDH
# compared with a software derivation, and a forked child signing with the parent's key. No
# pkcs11-module-quirks. Commands as in docs/consumers/openssl-provider.md.
# Usage: openssl_provider.sh MODULE [KEYSEAL_CLI]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
ix_require openssl openssl
ix_require pkcs11-tool opensc
ix_require cc gcc
ix_init "$@"
PROVIDER=$(find /usr/lib -path '*ossl-modules/pkcs11.so' -print -quit)
[[ -n "$PROVIDER" ]] ||
  { echo "pkcs11-provider not installed (Debian package pkcs11-provider from bookworm-backports)" >&2; exit 1; }
echo "interop: OpenSSL pkcs11-provider ($PROVIDER) with $MODULE (backend $KEYSEAL_BACKEND)"

# The configuration: the default provider for everything in software, pkcs11-provider for the token's keys.
# The PIN comes from a file (no prompt in s_server); keys the token made are written as URI PEM files.
printf '%s' "$IX_PIN" > "$W/pin"
PCONF=$W/openssl-provider.cnf
cat > "$PCONF" <<CNF
openssl_conf = openssl_init

[openssl_init]
providers = provider_sect

[provider_sect]
default = default_sect
pkcs11 = pkcs11_sect

[default_sect]
activate = 1

[pkcs11_sect]
module = $PROVIDER
pkcs11-module-path = $MODULE
pkcs11-module-token-pin = file:$W/pin
pkcs11-module-encode-provider-uri-to-pem = true
activate = 1
CNF
# SoftHSMv2 (the calibration) runs OpenSSL inside the module too and crashes the process at its C_Finalize
# unless pkcs11-provider skips it: the quirks pkcs11-provider's own test setup gives SoftHSMv2. keyseal needs
# none.
if [[ $(basename "$MODULE") == libsofthsm2.so ]]; then
  sed -i '/^pkcs11-module-path/a pkcs11-module-quirks = no-deinit no-operation-state' "$PCONF"
fi
P=(env OPENSSL_CONF="$PCONF" openssl)
RSA_URI="$TOKEN_URI;object=rsa-key;type=private"
EC_URI="$TOKEN_URI;object=ec-key;type=private"
printf 'keyseal interop message\n' > "$W/data"
openssl dgst -sha256 -binary "$W/data" > "$W/data.sha256"

step_genpkey() {  # step_genpkey ALG ID LABEL PKEYOPT: a key pair made on the token; its public key exported
  "${P[@]}" genpkey -propquery provider=pkcs11 -algorithm "$1" -pkeyopt "$4" \
    -pkeyopt "pkcs11_uri:$TOKEN_URI;object=$3;id=%$2" -out "$W/$3.uri.pem"
  grep -q "BEGIN PKCS#11 PROVIDER URI" "$W/$3.uri.pem"   # a reference, never the key itself
  "${P[@]}" pkey -pubin -in "$TOKEN_URI;object=$3;type=public" -pubout -out "$W/$3.pub.pem"
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --list-objects --type privkey | tee "$W/$3.list"
  grep -q "label: *$3" "$W/$3.list"
  # made on the token, sensitive, never extractable
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --list-objects --type privkey --label "$3" | grep -q "Access:.*sensitive"
}

step_pkeyutl_sign() {  # step_pkeyutl_sign URI PUB [PKEYOPT...]: the hash signed on the token, verified in software
  local uri=$1 pub=$2 opts=() o
  shift 2
  for o in "$@"; do opts+=(-pkeyopt "$o"); done
  "${P[@]}" pkeyutl -sign -inkey "$uri" "${opts[@]}" -in "$W/data.sha256" -out "$W/sig"
  openssl pkeyutl -verify -pubin -inkey "$pub" "${opts[@]}" -in "$W/data.sha256" -sigfile "$W/sig"
  printf 'tampered' | openssl dgst -sha256 -binary > "$W/other.sha256"
  ! openssl pkeyutl -verify -pubin -inkey "$pub" "${opts[@]}" -in "$W/other.sha256" -sigfile "$W/sig"
}

step_req_x509() {  # both keys: self-signed certificates by `openssl req -x509`, verified against themselves
  "${P[@]}" req -x509 -new -key "$RSA_URI" -subj "/CN=rsa-key" -days 30 -sha256 -out "$W/rsa.crt"
  "${P[@]}" req -x509 -new -key "$EC_URI" -subj "/CN=ec-key" -days 30 -sha256 -out "$W/ec.crt"
  openssl verify -CAfile "$W/rsa.crt" "$W/rsa.crt"
  openssl verify -CAfile "$W/ec.crt" "$W/ec.crt"
  # the certificate holds the token's public key
  cmp <(openssl x509 -in "$W/rsa.crt" -noout -pubkey) "$W/rsa-key.pub.pem"
}

step_tls() {  # step_tls VERSION KEY-URI CERT SIGALGS EXPECTED-SIGNATURE-TYPE: s_server with the token key
  local version=$1 uri=$2 cert=$3 sigalgs=$4 expect=$5 port
  port=$(ix_free_port)
  # -naccept 2: ix_wait_port's probe is the first connection
  ix_spawn "${P[@]}" s_server -accept "127.0.0.1:$port" -naccept 2 -www "-$version" -key "$uri" -cert "$cert"
  ix_wait_port "$port"
  printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$port" -brief "-$version" \
    -sigalgs "$sigalgs" -CAfile "$cert" -verify_return_error -ign_eof > "$W/s_client.out" 2>&1 ||
    { cat "$W/s_client.out"; return 1; }
  cat "$W/s_client.out"
  grep -q "^Verification: OK" "$W/s_client.out"
  grep -q "^Protocol version: TLSv1\.${version#tls1_}" "$W/s_client.out"
  grep -q "^Signature type: $expect" "$W/s_client.out"
  grep -q "^HTTP/1.0 200 ok" "$W/s_client.out"
}

step_cms_sign() {  # step_cms_sign URI CERT: S/MIME signing on the token, verified in software
  "${P[@]}" cms -sign -nodetach -binary -inkey "$1" -signer "$2" -in "$W/data" -outform DER -out "$W/data.p7s"
  openssl cms -verify -binary -inform DER -in "$W/data.p7s" -CAfile "$2" -out "$W/data.out"
  cmp "$W/data" "$W/data.out"
}

step_cms_decrypt() {  # step_cms_decrypt URI CERT: enveloped in software to CERT, opened with the token key
  openssl cms -encrypt -binary -aes-256-cbc -in "$W/data" -outform DER -out "$W/data.p7m" "$2"
  "${P[@]}" cms -decrypt -binary -inform DER -in "$W/data.p7m" -inkey "$1" -recip "$2" -out "$W/data.dec"
  cmp "$W/data" "$W/data.dec"
}

step_oaep() {  # RSA-OAEP with SHA-256 (and MGF1-SHA-256): encrypted in software, decrypted on the token
  local opts=(-pkeyopt rsa_padding_mode:oaep -pkeyopt rsa_oaep_md:sha256 -pkeyopt rsa_mgf1_md:sha256)
  head -c 32 /dev/urandom > "$W/secret"
  openssl pkeyutl -encrypt -pubin -inkey "$W/rsa-key.pub.pem" "${opts[@]}" -in "$W/secret" -out "$W/secret.enc"
  "${P[@]}" pkeyutl -decrypt -inkey "$RSA_URI" "${opts[@]}" -in "$W/secret.enc" -out "$W/secret.dec"
  cmp "$W/secret" "$W/secret.dec"
}

step_ecdh() {  # the token's ECDH with a software peer equals the peer's derivation with the token's public key
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/peer.key"
  openssl pkey -in "$W/peer.key" -pubout -out "$W/peer.pub"
  "${P[@]}" pkeyutl -derive -inkey "$EC_URI" -peerkey "$W/peer.pub" -out "$W/z-token"
  openssl pkeyutl -derive -inkey "$W/peer.key" -peerkey "$W/ec-key.pub.pem" -out "$W/z-soft"
  [[ $(stat -c %s "$W/z-token") == 32 ]]
  cmp "$W/z-token" "$W/z-soft"
}

step_fork() {  # a forked child signs with the key its parent loaded (tests/interop/provider_fork_sign.c)
  cc -O1 -o "$W/provider_fork_sign" "$HERE/provider_fork_sign.c" -lcrypto
  OPENSSL_CONF=$PCONF "$W/provider_fork_sign" "$EC_URI" "$W/ec-key.pub.pem"
  OPENSSL_CONF=$PCONF "$W/provider_fork_sign" "$RSA_URI" "$W/rsa-key.pub.pem"
}

run_step create-token "create the $KEYSEAL_BACKEND token '$IX_LABEL' through the module" ix_create_token
run_step genpkey-rsa "openssl genpkey -propquery provider=pkcs11: RSA 2048 made on the token" \
  step_genpkey RSA 01 rsa-key rsa_keygen_bits:2048
run_step genpkey-ec "openssl genpkey -propquery provider=pkcs11: EC P-256 made on the token" \
  step_genpkey EC 02 ec-key ec_paramgen_curve:P-256
run_step sign-rsa-pkcs1 "pkeyutl -sign, RSA PKCS#1 v1.5 SHA-256" step_pkeyutl_sign "$RSA_URI" "$W/rsa-key.pub.pem" \
  rsa_padding_mode:pkcs1 digest:sha256
run_step sign-rsa-pss "pkeyutl -sign, RSA-PSS SHA-256, salt = hash length" step_pkeyutl_sign "$RSA_URI" \
  "$W/rsa-key.pub.pem" rsa_padding_mode:pss digest:sha256 rsa_pss_saltlen:digest
run_step sign-ecdsa "pkeyutl -sign, ECDSA P-256" step_pkeyutl_sign "$EC_URI" "$W/ec-key.pub.pem" digest:sha256
run_step req-x509 "openssl req -x509 with the token's RSA and EC keys" step_req_x509
run_step tls13-rsa-pss "s_server (token RSA key) / s_client, TLS 1.3, RSA-PSS" \
  step_tls tls1_3 "$RSA_URI" "$W/rsa.crt" rsa_pss_rsae_sha256 RSA-PSS
run_step tls13-ecdsa "s_server (token EC key) / s_client, TLS 1.3, ECDSA" \
  step_tls tls1_3 "$EC_URI" "$W/ec.crt" ecdsa_secp256r1_sha256 ECDSA
run_step tls12-rsa-pss "s_server (token RSA key) / s_client, TLS 1.2, RSA-PSS" \
  step_tls tls1_2 "$RSA_URI" "$W/rsa.crt" rsa_pss_rsae_sha256 RSA-PSS
run_step tls12-ecdsa "s_server (token EC key) / s_client, TLS 1.2, ECDSA" \
  step_tls tls1_2 "$EC_URI" "$W/ec.crt" ecdsa_secp256r1_sha256 ECDSA
run_step cms-sign-rsa "openssl cms -sign with the token's RSA key" step_cms_sign "$RSA_URI" "$W/rsa.crt"
run_step cms-sign-ec "openssl cms -sign with the token's EC key" step_cms_sign "$EC_URI" "$W/ec.crt"
run_step cms-decrypt-rsa "openssl cms -decrypt, RSA recipient on the token" step_cms_decrypt "$RSA_URI" "$W/rsa.crt"
run_step cms-decrypt-ec "openssl cms -decrypt, EC recipient on the token (ECDH with an X9.63 KDF)" \
  step_cms_decrypt "$EC_URI" "$W/ec.crt"
run_step decrypt-oaep-sha256 "pkeyutl -decrypt, RSA-OAEP SHA-256 on the token" step_oaep
run_step ecdh "pkeyutl -derive on the token equals the software derivation" step_ecdh
run_step fork "a forked child signs with the key its parent loaded through the provider" step_fork
ix_summary
