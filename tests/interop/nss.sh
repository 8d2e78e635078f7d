#!/usr/bin/env bash
# Interop scenario: NSS, the browsers' path. modutil -add registers the module in a fresh NSS database,
# certutil -L and -K list the token's certificates and keys, and NSS tstclnt completes TLS 1.3 handshakes
# with a client certificate from the token (RSA-PSS and ECDSA CertificateVerify) against
# `openssl s_server -Verify 1 -tls1_3` on 127.0.0.1. Commands as in docs/consumers/nss-firefox.md.
# Usage: nss.sh MODULE [KEYSEAL_CLI]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
for t in modutil certutil tstclnt; do ix_require "$t" libnss3-tools; done
ix_require certtool gnutls-bin
ix_require pkcs11-tool opensc
ix_init "$@"
echo "interop: NSS with $MODULE (backend $KEYSEAL_BACKEND)"
DB="sql:$W/nssdb"
printf '%s\n' "$IX_PIN" > "$W/pinfile"
export NSS_DEFAULT_DB_TYPE=sql

step_keys() {
  ix_keygen rsa:2048 01 nss-rsa
  ix_keygen EC:prime256v1 02 nss-ec
  # NSS treats a certificate as a user certificate only if a private key has the same CKA_ID.
  ix_cert 01 nss-rsa
  ix_cert 02 nss-ec
}

step_modutil() {
  mkdir -p "$W/nssdb"
  certutil -N -d "$DB" --empty-password
  modutil -dbdir "$DB" -add keyseal -libfile "$MODULE" -force
  modutil -dbdir "$DB" -list | tee "$W/modules.out"
  grep -q "keyseal" "$W/modules.out"
  grep -q "token: $IX_LABEL" "$W/modules.out"
  modutil -dbdir "$DB" -list keyseal | tee "$W/module.out"
  grep -q "Token Name: $IX_LABEL" "$W/module.out"
}

step_certutil() {
  certutil -L -d "$DB" -h "$IX_LABEL" -f "$W/pinfile" | tee "$W/certs.out"
  expect "RSA user certificate (u,u,u)" grep -Eq "^$IX_LABEL:nss-rsa +u,u,u" "$W/certs.out"
  expect "EC user certificate (u,u,u)" grep -Eq "^$IX_LABEL:nss-ec +u,u,u" "$W/certs.out"
  certutil -K -d "$DB" -h "$IX_LABEL" -f "$W/pinfile" | tee "$W/keys.out"
  expect "RSA private key (CKA_ID 01)" grep -Eq "> rsa +01 +nss-rsa" "$W/keys.out"
  expect "EC private key (CKA_ID 02)" grep -Eq "> ec +02 +nss-ec" "$W/keys.out"
  # The certificate NSS reads is the one on the token.
  certutil -L -d "$DB" -h "$IX_LABEL" -n "$IX_LABEL:nss-rsa" -a -f "$W/pinfile" > "$W/nss-rsa.pem"
  cmp <(openssl x509 -in "$W/nss-rsa.pem" -outform DER) "$W/cert-01.der"
}

step_server() {
  local port
  port=$(ix_free_port)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 2 \
    -keyout "$W/server.key" -out "$W/server.pem" 2>/dev/null
  # Trusts exactly the token's client certificates; a handshake without one fails (-verify_return_error).
  cat "$W/cert-01.pem" "$W/cert-02.pem" > "$W/client-cas.pem"
  ix_spawn openssl s_server -accept "127.0.0.1:$port" -naccept 10 -tls1_3 -Verify 1 -verify_return_error \
    -CAfile "$W/client-cas.pem" -cert "$W/server.pem" -key "$W/server.key" -www > "$W/s_server.log" 2>&1
  echo "$port" > "$W/port"
  ix_wait_port "$port"
}

handshake() {  # handshake NICKNAME|'' OUT: an HTTP GET over TLS 1.3 from tstclnt ('': no NSS db, no token)
  local nick=(-D)
  [[ -n "$1" ]] && nick=(-d "$DB" -W "$W/pinfile" -n "$IX_LABEL:$1")
  printf 'GET / HTTP/1.0\r\n\r\n' > "$W/request"
  # -A: the request from a file (tstclnt spins on a closed stdin); -o: accept the test server's certificate.
  timeout 120 tstclnt -h 127.0.0.1 -p "$(cat "$W/port")" -V tls1.3:tls1.3 -o \
    -A "$W/request" "${nick[@]}" > "$2" 2>&1
}

step_tls() {  # step_tls NICKNAME PEER-SIGNATURE-TYPE
  handshake "$1" "$W/tls-$1.out" || { cat "$W/tls-$1.out"; tail -n 20 "$W/s_server.log"; return 1; }
  cat "$W/tls-$1.out"
  # s_server -www answers with its view of the session: TLS 1.3, the client's signature and certificate.
  expect "TLS 1.3" grep -q "Protocol  *: TLSv1.3" "$W/tls-$1.out"
  expect "client signature $2" grep -q "Peer signature type: $2" "$W/tls-$1.out"
  expect "client certificate from the token" awk -v cn="$1" '/^Client certificate/ { f = 1 }
    f && $0 ~ "Subject: CN *= *" cn "$" { found = 1 } END { exit !found }' "$W/tls-$1.out"
}

step_tls_no_cert() {
  # Without a client certificate the server refuses: the handshakes above can fail.
  ! handshake "" "$W/tls-none.out" || ! grep -q "Protocol  *: TLSv1.3" "$W/tls-none.out"
}

run_step create-token "create the $KEYSEAL_BACKEND token '$IX_LABEL' through the module" ix_create_token
run_step keys "RSA and EC key pairs with certificates of the same CKA_ID" step_keys
run_step modutil "certutil -N, modutil -add keyseal, modutil -list" step_modutil
run_step certutil "certutil -L and -K list the token's certificates and keys" step_certutil
run_step server "openssl s_server -tls1_3 -Verify 1 on 127.0.0.1" step_server
run_step tls13-rsa "tstclnt TLS 1.3 with the RSA client certificate from the token" step_tls nss-rsa RSA-PSS
run_step tls13-ec "tstclnt TLS 1.3 with the EC client certificate from the token" step_tls nss-ec ECDSA
run_step tls13-no-cert "tstclnt without a client certificate is refused" step_tls_no_cert
ix_summary
