#!/usr/bin/env bash
# Interop scenario: Chromium does TLS client authentication with a key on the token (issue 13), as firefox.sh
# does with Firefox. Chromium (Debian 12's package, not headless: its token password dialog exists only with a
# display) runs under Xvfb with a temporary HOME whose NSS database ($HOME/.pki/nssdb, made with certutil and
# modutil) has the module and the test CA; it opens https://localhost on a server on 127.0.0.1 that asks for a
# certificate from that CA. The managed policy AutoSelectCertificateForUrls (a file of this run's own in
# /etc/chromium/policies/managed, removed on exit) makes Chromium pick the token's certificate without its
# chooser; devtools_tls.py drives the page over the DevTools protocol and answers Chromium's "Unlock Security
# Device" dialog with xdotool. The server must see the token's certificate. Then a wrong PIN: typed, then the
# dialog asked again is cancelled, and the server must see no certificate. The page and each PIN dialog are
# saved as PNG screenshots in $IX_ARTIFACTS (default: the working directory). Commands as in
# docs/consumers/chromium.md.
# Usage: chromium.sh MODULE [KEYSEAL_CLI]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/tls_browser.sh"
ix_require pkcs11-tool opensc
ix_require certutil libnss3-tools
ix_require modutil libnss3-tools
ix_require certtool gnutls-bin
ix_require chromium chromium
ix_require Xvfb xvfb
ix_require xdotool xdotool
ix_require python3 python3
ix_init "$@"
ARTIFACTS=${IX_ARTIFACTS:-$PWD}
mkdir -p "$ARTIFACTS"
TAG=$(basename "$MODULE" .so)-$KEYSEAL_BACKEND
echo "interop: Chromium $(chromium --version 2>/dev/null | awk '{print $2}') with $MODULE (backend $KEYSEAL_BACKEND)"
CN="keyseal-chromium-client"

# Chromium on Linux reads policies only from /etc/chromium/policies (no command-line or per-profile route in a
# release build). This run's file is its own and goes on exit; its content is the same in every run (any port
# of localhost, a certificate issued by "keyseal test CA"), so runs in parallel do not disturb each other:
# Chromium merges the files, and each browser's NSS database holds only its own run's token.
POLICY_DIR=/etc/chromium/policies/managed
POLICY=$POLICY_DIR/keyseal-interop-$(basename "$W").json
# (errexit is off in the trap so that the subshell only hands the exit status on to ix_cleanup.)
trap 'rc=$?; set +e; rm -f "$POLICY"; (exit $rc); ix_cleanup' EXIT

step_policy() {
  mkdir -p "$POLICY_DIR" && [[ -w "$POLICY_DIR" ]] ||
    { echo "cannot write $POLICY_DIR, where Chromium reads managed policies (run the test as root)" >&2; return 1; }
  cat > "$POLICY" <<'JSON'
{ "AutoSelectCertificateForUrls":
    ["{\"pattern\": \"https://localhost:*\", \"filter\": {\"ISSUER\": {\"CN\": \"keyseal test CA\"}}}"] }
JSON
  python3 -m json.tool "$POLICY"
}

# make_home DIR: a HOME for Chromium whose NSS database has the module and trusts the test CA for servers.
make_home() {
  local db=sql:$1/.pki/nssdb
  mkdir -p "$1/.pki/nssdb"
  certutil -N -d "$db" --empty-password
  certutil -A -d "$db" -n "keyseal test CA" -t "CT,," -i "$W/ca.pem"
  modutil -dbdir "$db" -add keyseal -libfile "$MODULE" -force
  modutil -dbdir "$db" -list | tee "$W/modutil.out"
  grep -q "$(basename "$MODULE")" "$W/modutil.out"
}

# start_xvfb: an X server of this run's own (the first free display number; its screen kept as an XWD file in
# $W/fb, which devtools_tls.py cuts the dialogs out of); exports DISPLAY.
start_xvfb() {
  mkdir -p "$W/fb"
  rm -f "$W/display"
  ix_spawn Xvfb -displayfd 3 -screen 0 1280x900x24 -nolisten tcp -fbdir "$W/fb" 3> "$W/display"
  local i
  for ((i = 0; i < 100; i++)); do [[ -s "$W/display" ]] && break; sleep 0.1; done
  [[ -s "$W/display" ]] || { echo "Xvfb did not start" >&2; return 1; }
  export DISPLAY=:$(head -n1 "$W/display")
}

# browse NAME ANSWERS: Chromium with a fresh HOME and profile opens the server's page; PIN dialogs get ANSWERS.
browse() {
  local name=$1 answers=$2 port home
  port=$(ix_free_port)
  home=$W/home-$name
  make_home "$home"
  tb_start_server
  start_xvfb
  local sandbox=()
  (( $(id -u) == 0 )) && sandbox=(--no-sandbox)   # Chromium refuses to run as root with its sandbox
  HOME=$home ix_spawn chromium "${sandbox[@]}" --user-data-dir="$W/chrome-$name" --no-first-run --lang=en-US \
    --password-store=basic --disable-gpu --ozone-platform=x11 --window-size=1200,800 \
    --remote-debugging-address=127.0.0.1 --remote-debugging-port="$port" about:blank > "$W/chromium-$name.log" 2>&1
  local shot="$ARTIFACTS/chromium-$TAG-$name.png"
  timeout 180 python3 "$HERE/devtools_tls.py" "$port" "$answers" "https://localhost:$SERVER_PORT/" "$shot" \
    "$W/report-$name.json" "$W/fb/Xvfb_screen0" ||
    { echo "Chromium's log:"; grep -v 'dbus' "$W/chromium-$name.log" | tail -n 30; return 1; }
  echo "screenshot: $shot"
  echo "server log:"; cat "$W/server.log"
  [[ $(head -c 8 "$shot" | xxd -p) == 89504e470d0a1a0a ]]
  python3 - "$W/report-$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["prompts"] >= 1, "no PIN dialog was shown (windows seen: %r)" % r["windows_seen"]
for d in r["dialogs"]:
    assert open(d["dump"], "rb").read(8) == b"\x89PNG\r\n\x1a\n", d
    print("PIN dialog:", d["dump"])
PY
}

step_right_pin() {
  browse right-pin "$IX_PIN"
  tb_server_saw_client_cert
  python3 - "$W/report-right-pin.json" "$CN" <<'PY'
import json, sys
report, cn = json.load(open(sys.argv[1])), sys.argv[2]
assert report["prompts"] == 1, "one PIN dialog expected, got %d" % report["prompts"]
assert report["title"] == "client certificate: " + cn, report
PY
}

step_wrong_pin() {
  browse wrong-pin "wrong-pin-0000,cancel"
  tb_server_saw_no_client_cert
  python3 - "$W/report-wrong-pin.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
assert report["prompts"] >= 2, "a wrong PIN must be asked again (got %d dialogs)" % report["prompts"]
assert report["title"] == "no client certificate", report
print("page: %r" % report["text"][:200])
PY
  # The token still opens with the right PIN (one wrong attempt is below the limit).
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --list-objects --type cert | grep -q "$CN"
}

run_step create-token "create the $KEYSEAL_BACKEND token '$IX_LABEL' through the module" ix_create_token
run_step keys-and-certs "test CA, server certificate, client key on the token and its certificate" tb_keys_and_certs
run_step policy "managed policy: Chromium picks the test CA's client certificate for localhost" step_policy
run_step right-pin "Chromium: PIN typed into its dialog, TLS client authentication with the token's key" step_right_pin
run_step wrong-pin "Chromium: a wrong PIN, then cancelled: no certificate reaches the server" step_wrong_pin
ix_summary
