#!/usr/bin/env bash
# Interop scenario: a real browser does TLS client authentication with a key on the token. Firefox ESR
# (headless, a fresh profile with the module added by modutil) opens https://localhost on a server on
# 127.0.0.1 that asks for a certificate from a test CA; the token's PIN prompt is answered (by a privileged
# observer, registered through Marionette before the navigation), Firefox picks the token's certificate by
# itself (security.default_personal_cert), and the server must see that certificate. Then a wrong PIN: the
# prompt is answered wrongly and then cancelled, and the server must see no certificate. The pages are saved as
# PNG screenshots in $IX_ARTIFACTS (default: the working directory). Commands as in
# docs/consumers/nss-firefox.md.
# Usage: firefox.sh MODULE [KEYSEAL_CLI]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
source "$HERE/tls_browser.sh"
ix_require pkcs11-tool opensc
ix_require certutil libnss3-tools
ix_require modutil libnss3-tools
ix_require certtool gnutls-bin
ix_require firefox-esr firefox-esr
ix_require python3 python3
ix_init "$@"
ARTIFACTS=${IX_ARTIFACTS:-$PWD}
mkdir -p "$ARTIFACTS"
TAG=$(basename "$MODULE" .so)-$KEYSEAL_BACKEND
echo "interop: Firefox $(firefox-esr --version 2>/dev/null | awk '{print $3}') with $MODULE (backend $KEYSEAL_BACKEND)"
CN="keyseal-firefox-client"

# make_profile DIR MARIONETTE-PORT: a fresh Firefox profile: NSS database with the module and the test CA,
# the client certificate chosen without asking, Marionette on its own port, no first-run noise.
make_profile() {
  local p=$1
  mkdir -p "$p"
  certutil -N -d "sql:$p" --empty-password
  certutil -A -d "sql:$p" -n "keyseal test CA" -t "CT,," -i "$W/ca.pem"
  modutil -dbdir "sql:$p" -add keyseal -libfile "$MODULE" -force
  modutil -dbdir "sql:$p" -list | tee "$W/modutil.out"
  grep -q "$(basename "$MODULE")" "$W/modutil.out"
  cat > "$p/user.js" <<PREFS
user_pref("marionette.port", $2);
user_pref("security.default_personal_cert", "Select Automatically");
user_pref("browser.shell.checkDefaultBrowser", false);
user_pref("browser.startup.homepage_override.mstone", "ignore");
user_pref("browser.aboutwelcome.enabled", false);
user_pref("datareporting.policy.dataSubmissionEnabled", false);
user_pref("toolkit.telemetry.reportingpolicy.firstRun", false);
user_pref("app.update.disabledForTesting", true);
user_pref("network.proxy.type", 0);
user_pref("security.enterprise_roots.enabled", false);
PREFS
}

# browse NAME ANSWERS: Firefox on a fresh profile opens the server's page, answering PIN prompts with ANSWERS.
browse() {
  local name=$1 answers=$2 port profile
  port=$(ix_free_port)
  profile=$W/profile-$name
  make_profile "$profile" "$port"
  tb_start_server
  MOZ_HEADLESS=1 ix_spawn firefox-esr --headless --marionette -remote-allow-system-access --no-remote \
    --profile "$profile" about:blank > "$W/firefox-$name.log" 2>&1
  local shot="$ARTIFACTS/firefox-$TAG-$name.png"
  timeout 180 python3 "$HERE/marionette_tls.py" "$port" "$answers" "https://localhost:$SERVER_PORT/" "$shot" \
    "$W/report-$name.json"
  echo "screenshot: $shot"
  echo "server log:"; cat "$W/server.log"
  # a PNG, and the prompt that was answered asked for this token's password
  [[ $(head -c 8 "$shot" | xxd -p) == 89504e470d0a1a0a ]]
  python3 - "$W/report-$name.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["prompts"] >= 1, "no PIN prompt was shown"
assert r["texts"][0]["password_field"], "the first prompt had no password field"
assert "interop" in r["texts"][0]["text"], "the prompt did not name the token: %r" % r["texts"][0]["text"]
PY
}

step_right_pin() {
  browse right-pin "$IX_PIN"
  tb_server_saw_client_cert
  python3 - "$W/report-right-pin.json" "$CN" <<'PY'
import json, sys
report, cn = json.load(open(sys.argv[1])), sys.argv[2]
assert report["prompts"] == 1, "one PIN prompt expected, got %d" % report["prompts"]
assert ("client certificate: " + cn) in report["text"], report["text"]
PY
}

step_wrong_pin() {
  browse wrong-pin "wrong-pin-0000,cancel"
  tb_server_saw_no_client_cert
  python3 - "$W/report-wrong-pin.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
assert report["prompts"] >= 2, "a wrong PIN must be asked again (got %d prompts)" % report["prompts"]
print("page: %r" % report["text"][:200])
PY
  # The token still opens with the right PIN (one wrong attempt is below the limit).
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --list-objects --type cert | grep -q "$CN"
}

run_step create-token "create the $KEYSEAL_BACKEND token '$IX_LABEL' through the module" ix_create_token
run_step keys-and-certs "test CA, server certificate, client key on the token and its certificate" tb_keys_and_certs
run_step right-pin "Firefox: PIN answered, TLS client authentication with the token's key" step_right_pin
run_step wrong-pin "Firefox: a wrong PIN, then cancelled: no certificate reaches the server" step_wrong_pin
ix_summary
