#!/usr/bin/env bash
# Interop scenario: p11-kit. keyseal's module file (the one the build ships, pointed at the built module) in
# a user module config directory registers keyseal, `p11-kit list-modules` shows it with its token, and
# p11-kit-proxy.so (what NSS, GnuTLS and Fedora-style consumers load) reaches the token: pkcs11-tool lists it
# and signs through the proxy; p11tool without --provider finds it, and gnutls-cli authenticates with it.
# Commands as in docs/consumers/p11-kit.md and gnutls.md.
# p11-kit ignores user configuration in programs running as root, so as root the p11-kit steps run as
# "nobody" (setpriv). Other registered modules are disabled in the user config to keep the test isolated.
# Usage: p11kit.sh MODULE [KEYSEAL_CLI]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
ix_require p11-kit p11-kit
ix_require pkcs11-tool opensc
ix_require p11tool gnutls-bin
ix_init "$@"
PROXY=$(find /usr/lib -name p11-kit-proxy.so -print -quit)
[[ -n "$PROXY" ]] || { echo "p11-kit-proxy.so not found (Debian package p11-kit-modules)" >&2; exit 1; }
echo "interop: p11-kit with $MODULE (backend $KEYSEAL_BACKEND), proxy $PROXY"
export HOME="$W/home"
CONFDIR="$HOME/.config/pkcs11/modules"
AS_USER=()
if [[ $(id -u) -eq 0 ]]; then
  ix_require setpriv util-linux
  AS_USER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
fi
printf 'keyseal interop message\n' > "$W/data"

step_key() {
  ix_keygen rsa:2048 01 p11kit-rsa
  ix_pubkey 01 "$W/rsa.pem"
  ix_cert 01 p11kit-rsa
}

step_module_file() {
  mkdir -p "$CONFDIR"
  local shipped
  shipped="$(dirname "$MODULE")/keyseal.module"
  if [[ -f "$shipped" ]]; then
    # The shipped file names the installed path; point it at the module under test, keep the rest.
    grep -Eq '^module: .*/pkcs11/libkeyseal\.so$' "$shipped"
    sed "s|^module: .*|module: $MODULE|" "$shipped" > "$CONFDIR/keyseal.module"
  else
    printf 'module: %s\ncritical: no\n' "$MODULE" > "$CONFDIR/keyseal.module"   # another module (calibration)
  fi
  cat "$CONFDIR/keyseal.module"
  # Only keyseal: the system's registered modules (the TPM one probes for a TPM) are disabled here.
  local f
  for f in /usr/share/p11-kit/modules/*.module /etc/pkcs11/modules/*.module; do
    [[ -f "$f" && $(basename "$f") != keyseal.module ]] || continue
    printf 'disable-in: p11-kit, p11-kit-proxy, pkcs11-tool, p11tool, certtool, gnutls-cli\n' > "$CONFDIR/$(basename "$f")"
  done
  # The unprivileged user must own the store (SQLite writes its journal next to it) and the config.
  if (( ${#AS_USER[@]} )); then chown -R 65534:65534 "$KEYSEAL_STORE" "$W/softhsm" "$HOME"; fi
}

step_list_modules() {
  "${AS_USER[@]}" p11-kit list-modules | tee "$W/modules.out"
  grep -q "^keyseal: $MODULE" "$W/modules.out"
  awk '/^keyseal:/ { k = 1; next } /^[^ ]/ { k = 0 } k && /token: /' "$W/modules.out" | grep -q "token: $IX_LABEL\$"
}

step_proxy() {
  local p=("${AS_USER[@]}" pkcs11-tool --module "$PROXY")
  "${p[@]}" --list-token-slots | tee "$W/proxy-slots.out"
  grep -q "token label *: $IX_LABEL" "$W/proxy-slots.out"
  "${p[@]}" --token-label "$IX_LABEL" --list-objects | tee "$W/proxy-objects.out"
  grep -q "label: *p11kit-rsa" "$W/proxy-objects.out"
  # A signature through the proxy, checked by openssl.
  "${p[@]}" --token-label "$IX_LABEL" --login --pin "$IX_PIN" --sign --id 01 -m SHA256-RSA-PKCS \
    -i "$W/data" -o "$HOME/proxy.sig"
  openssl dgst -sha256 -verify "$W/rsa.pem" -signature "$HOME/proxy.sig" "$W/data"
}

step_p11tool() {
  # GnuTLS loads p11-kit's registered modules when no --provider is given.
  "${AS_USER[@]}" p11tool --list-tokens | tee "$W/p11tool.out"
  grep -q "Label: $IX_LABEL" "$W/p11tool.out"
  "${AS_USER[@]}" p11tool --list-all "pkcs11:token=$IX_LABEL" | tee "$W/p11tool-all.out"
  grep -q "object=p11kit-rsa;type=public" "$W/p11tool-all.out"
}

step_gnutls_cli() {
  # A GnuTLS TLS 1.3 client with key and certificate named by pkcs11: URIs, found through p11-kit.
  local port
  port=$(ix_free_port)
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost -days 2 \
    -keyout "$W/server.key" -out "$W/server.pem" 2>/dev/null
  chmod 644 "$W/server.pem"
  ix_spawn openssl s_server -accept "127.0.0.1:$port" -naccept 5 -tls1_3 -Verify 1 -verify_return_error \
    -CAfile "$W/cert-01.pem" -cert "$W/server.pem" -key "$W/server.key" -www > "$W/s_server.log" 2>&1
  ix_wait_port "$port"
  printf 'GET / HTTP/1.0\r\n\r\n' | GNUTLS_PIN=$IX_PIN timeout 60 "${AS_USER[@]}" gnutls-cli \
    --x509cafile "$W/server.pem" --x509certfile "$TOKEN_URI;object=p11kit-rsa;type=cert" \
    --x509keyfile "$TOKEN_URI;object=p11kit-rsa;type=private" -p "$port" localhost > "$W/gnutls-cli.out" 2>&1 ||
    { cat "$W/gnutls-cli.out"; cat "$W/s_server.log"; return 1; }
  cat "$W/gnutls-cli.out"
  grep -q "Handshake was completed" "$W/gnutls-cli.out"
  grep -q "Protocol  *: TLSv1.3" "$W/gnutls-cli.out"
  awk '/^Client certificate/ { f = 1 } f && /Subject: CN *= *p11kit-rsa$/ { ok = 1 } END { exit !ok }' "$W/gnutls-cli.out"
}

run_step create-token "create the $KEYSEAL_BACKEND token '$IX_LABEL' through the module" ix_create_token
run_step key "RSA 2048 key pair" step_key
run_step module-file "keyseal.module in the user's p11-kit module config directory" step_module_file
run_step list-modules "p11-kit list-modules shows keyseal and its token" step_list_modules
run_step proxy "pkcs11-tool through p11-kit-proxy.so lists, reads and signs" step_proxy
run_step p11tool "p11tool without --provider finds the token through p11-kit" step_p11tool
run_step gnutls-cli "gnutls-cli TLS 1.3 client authentication with the token key by pkcs11: URI" step_gnutls_cli
ix_summary
