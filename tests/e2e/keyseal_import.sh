#!/usr/bin/env bash
# End-to-end test of `keyseal import`, `export` and `import-cert`: a PKCS#12 from `openssl pkcs12 -export`
# (RSA, EC) and PEM (Ed25519) are imported, the keys sign through pkcs11-tool and through the printed pkcs11:
# URIs (libp11 engine, p11tool), openssl verifies with the exported public keys; import-cert refuses a
# certificate of another key; private keys cannot be exported.
# Usage: keyseal_import.sh MODULE KEYSEAL_CLI   (KNOWN_FAILURES="step ..." as in pkcs11_tool.sh; with
# KEYSEAL_BACKEND=tpm the token is a TPM token on a fresh swtpm, see lib.sh: the TPM imports the RSA and EC keys)
set -euo pipefail

MODULE=${1:?usage: keyseal_import.sh MODULE KEYSEAL_CLI}
CLI=${2:?usage: keyseal_import.sh MODULE KEYSEAL_CLI}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
[[ -r "$MODULE" ]] || { echo "module not found: $MODULE" >&2; exit 1; }
[[ -x "$CLI" ]] || { echo "keyseal tool not found: $CLI" >&2; exit 1; }
command -v pkcs11-tool >/dev/null || { echo "pkcs11-tool not installed (Debian package opensc)" >&2; exit 1; }
e2e_setup

LABEL="import token"
SO_PIN=87654321
PIN=123456
W=$E2E_TMP
K=("$CLI" --module "$MODULE")
P11=(pkcs11-tool --module "$MODULE" --token-label "$LABEL")
echo "keyseal import/export end-to-end: $CLI with module $MODULE"
printf 'signed by a key imported into keyseal\n' > "$W/data"
openssl dgst -sha256 -binary "$W/data" > "$W/data.sha256"

# run_cli EXPECTED-EXIT NAME ARGS...: runs the tool, keeps stdout/stderr in $W/NAME.{out,err}, checks the exit.
run_cli() {
  local want=$1 name=$2 rc=0
  shift 2
  "$@" > "$W/$name.out" 2> "$W/$name.err" || rc=$?
  local cmd="$*"
  echo "\$ ${cmd//"$CLI"/keyseal} -> exit $rc"
  sed 's/^/  out| /' "$W/$name.out"
  sed 's/^/  err| /' "$W/$name.err"
  expect "exit status $want (got $rc)" test "$rc" -eq "$want"
}

slot() { cat "$W/slot"; }

# The subjectKeyIdentifier of a certificate, as lower-case hex without colons.
ski_of() { openssl x509 -in "$1" -noout -ext subjectKeyIdentifier | tail -n 1 | tr -d ' :' | tr 'A-F' 'a-f'; }

step_init() {
  run_cli 0 init "${K[@]}" init --label "$LABEL" --so-pin "$SO_PIN" --pin "$PIN"
  awk '/^slot:/ { print $2 }' "$W/init.out" > "$W/slot"
  expect "init printed a slot" test -s "$W/slot"
}

step_import_p12_rsa() {
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$W/rsa.key" -out "$W/rsa.crt" -subj "/CN=rsa user" -days 2
  printf 'p12 secret\n' > "$W/p12pass"
  openssl pkcs12 -export -inkey "$W/rsa.key" -in "$W/rsa.crt" -name "rsa key" -passout "file:$W/p12pass" \
    -out "$W/rsa.p12"
  run_cli 1 import-wrong-pass "${K[@]}" import --slot "$(slot)" --pin "$PIN" --p12-pass-file "$W/rsa.crt" "$W/rsa.p12"
  grep -q "wrong PKCS#12 password" "$W/import-wrong-pass.err"
  run_cli 0 import-rsa "${K[@]}" import --slot "$(slot)" --pin "$PIN" --p12-pass-file "$W/p12pass" "$W/rsa.p12"
  # One CKA_ID for the three objects: the certificate's subjectKeyIdentifier (SHA-1 of the public key).
  local id
  id=$(ski_of "$W/rsa.crt")
  grep -q "with id $id:" "$W/import-rsa.out"
  local enc
  enc=$(printf '%s' "$id" | sed 's/../%&/g' | tr 'a-f' 'A-F')
  grep -Fq "private key: pkcs11:token=import%20token;object=rsa%20key;id=$enc;type=private" "$W/import-rsa.out"
  grep -Fq "public key: pkcs11:token=import%20token;object=rsa%20key;id=$enc;type=public" "$W/import-rsa.out"
  grep -Fq "certificate: pkcs11:token=import%20token;object=rsa%20key;id=$enc;type=cert" "$W/import-rsa.out"
  echo "$id" > "$W/rsa.id"
  # The same key again: refused, nothing changes.
  run_cli 1 import-again "${K[@]}" import --slot "$(slot)" --pin "$PIN" --p12-pass-file "$W/p12pass" "$W/rsa.p12"
  grep -q "already has a private object with id $id" "$W/import-again.err"
}

step_sign_rsa() {
  local id
  id=$(cat "$W/rsa.id")
  "${P11[@]}" --login --pin "$PIN" --sign --mechanism SHA256-RSA-PKCS --id "$id" -i "$W/data" -o "$W/rsa.sig"
  run_cli 0 export-rsa "${K[@]}" export --slot "$(slot)" --id "$id" --public --out "$W/rsa.pub.pem"
  openssl dgst -sha256 -verify "$W/rsa.pub.pem" -signature "$W/rsa.sig" "$W/data"
  # The exported key is the one in the PKCS#12 file.
  openssl pkey -in "$W/rsa.key" -pubout > "$W/rsa.pub.want"
  expect "exported public key equals the file's" cmp "$W/rsa.pub.want" "$W/rsa.pub.pem"
  # And the certificate comes back unchanged.
  run_cli 0 export-rsa-cert "${K[@]}" export --slot "$(slot)" --label "rsa key" --cert
  openssl x509 -in "$W/rsa.crt" > "$W/rsa.crt.want"
  expect "exported certificate equals the file's" cmp "$W/rsa.crt.want" "$W/export-rsa-cert.out"
}

step_import_p12_ec() {
  # An EC P-384 key with an empty PKCS#12 password: nothing is asked.
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout "$W/ec.key" -out "$W/ec.crt" \
    -subj "/CN=ec user" -days 2
  openssl pkcs12 -export -inkey "$W/ec.key" -in "$W/ec.crt" -passout pass: -out "$W/ec.p12"
  run_cli 0 import-ec setsid -w "${K[@]}" import --slot "$(slot)" --pin "$PIN" --id 0e01 "$W/ec.p12" < /dev/null
  grep -Fq "private key: pkcs11:token=import%20token;object=ec%20user;id=%0E%01;type=private" "$W/import-ec.out"
  "${P11[@]}" --login --pin "$PIN" --sign --mechanism ECDSA --id 0e01 --signature-format openssl \
    -i "$W/data.sha256" -o "$W/ec.sig"
  run_cli 0 export-ec "${K[@]}" export --slot "$(slot)" --id 0e01 --public --out "$W/ec.pub.pem"
  openssl pkeyutl -verify -pubin -inkey "$W/ec.pub.pem" -in "$W/data.sha256" -sigfile "$W/ec.sig"
}

step_import_pem_ed25519() {
  openssl genpkey -algorithm ed25519 -out "$W/ed.key"
  openssl req -x509 -new -key "$W/ed.key" -out "$W/ed.crt" -subj "/CN=ed user" -days 2
  cat "$W/ed.crt" "$W/ed.key" > "$W/ed.pem"   # certificate first: the order does not matter
  run_cli 0 import-ed "${K[@]}" import --slot "$(slot)" --pin "$PIN" --label "ed key" "$W/ed.pem"
  local id
  id=$(ski_of "$W/ed.crt")
  "${P11[@]}" --login --pin "$PIN" --sign --mechanism EDDSA --id "$id" -i "$W/data" -o "$W/ed.sig"
  run_cli 0 export-ed "${K[@]}" export --slot "$(slot)" --label "ed key" --public --out "$W/ed.pub.pem"
  openssl pkeyutl -verify -pubin -inkey "$W/ed.pub.pem" -rawin -in "$W/data" -sigfile "$W/ed.sig"
}

step_uris() {
  # The URIs `keyseal list` prints work as they are in GnuTLS p11tool; ssh-keygen -D finds the imported key.
  run_cli 0 list "${K[@]}" list --slot "$(slot)" --pin "$PIN"
  grep -Fq "pkcs11:token=import%20token;object=rsa%20key;id=$(sed 's/../%&/g' "$W/rsa.id" | tr 'a-f' 'A-F');type=cert" \
    "$W/list.out"
  if command -v p11tool >/dev/null; then
    local cert_uri
    cert_uri=$(grep -A1 'certificate  X.509  label "rsa key"' "$W/list.out" | tail -n 1 | tr -d ' ')
    p11tool --provider "$MODULE" --export "$cert_uri" | openssl x509 > "$W/p11tool.crt"
    expect "p11tool finds the certificate by its URI" cmp "$W/rsa.crt.want" "$W/p11tool.crt"
  fi
  # ssh-keygen -D lists the imported RSA key as the public key in the certificate.
  ssh-keygen -D "$MODULE" > "$W/ssh.keys"
  ssh-keygen -i -m PKCS8 -f "$W/rsa.pub.pem" > "$W/rsa.ssh"
  grep -Fq "$(cut -d' ' -f2 "$W/rsa.ssh")" "$W/ssh.keys"
}

step_uri_openssl_engine() {
  # The private key's URI from `keyseal list`, pasted into openssl with the libp11 engine. This runs before
  # the Ed25519 import: libp11 0.4.12 fails to enumerate a token's private keys when one is Ed25519.
  run_cli 0 list-engine "${K[@]}" list --slot "$(slot)" --pin "$PIN"
  local priv_uri
  priv_uri=$(grep -A1 'private key  RSA 2048' "$W/list-engine.out" | tail -n 1 | tr -d ' ')
  expect "list shows the RSA private key's URI" test -n "$priv_uri"
  local engine
  engine=$(find /usr/lib -path '*engines-3/pkcs11.so' -print -quit 2>/dev/null || true)
  if [[ -n "$engine" ]]; then
    cat > "$W/openssl.cnf" <<EOF
openssl_conf = conf
[conf]
engines = engines
[engines]
pkcs11 = pkcs11
[pkcs11]
dynamic_path = $engine
MODULE_PATH = $MODULE
EOF
    OPENSSL_CONF="$W/openssl.cnf" openssl pkeyutl -engine pkcs11 -keyform engine -sign \
      -inkey "$priv_uri?pin-value=$PIN" -in "$W/data.sha256" -pkeyopt digest:sha256 -out "$W/engine.sig"
    openssl pkeyutl -verify -pubin -inkey "$W/rsa.pub.pem" -in "$W/data.sha256" -pkeyopt digest:sha256 \
      -sigfile "$W/engine.sig"
  else
    echo "libengine-pkcs11-openssl not installed: engine check not run" >&2
    return 1
  fi
}

step_import_cert() {
  # A key pair generated on the token, then its certificate made outside with the exported public key.
  "${P11[@]}" --login --pin "$PIN" --keypairgen --key-type EC:prime256v1 --id 4242 --label "gen key"
  run_cli 0 export-gen "${K[@]}" export --slot "$(slot)" --id 4242 --public --out "$W/gen.pub.pem"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/ca.key" -out "$W/ca.crt" \
    -subj "/CN=test CA" -days 2
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/throwaway.key" \
    -out "$W/gen.csr" -subj "/CN=gen user"
  openssl x509 -req -in "$W/gen.csr" -CA "$W/ca.crt" -CAkey "$W/ca.key" -force_pubkey "$W/gen.pub.pem" \
    -set_serial 5 -days 2 -out "$W/gen.crt"
  # A certificate of another key is refused, and so is an id without a key.
  run_cli 1 cert-mismatch "${K[@]}" import-cert --slot "$(slot)" --pin "$PIN" --id 4242 "$W/ca.crt"
  grep -q "public key is not the key with id 4242" "$W/cert-mismatch.err"
  run_cli 1 cert-no-key "${K[@]}" import-cert --slot "$(slot)" --pin "$PIN" --id 4243 "$W/gen.crt"
  grep -q "no key with id 4243" "$W/cert-no-key.err"
  run_cli 1 cert-missing-check "${K[@]}" export --slot "$(slot)" --id 4242 --cert
  # The right one is stored with the key's CKA_ID and label; DER input works too.
  openssl x509 -in "$W/gen.crt" -outform DER -out "$W/gen.der"
  run_cli 0 cert-ok "${K[@]}" import-cert --slot "$(slot)" --pin "$PIN" --id 4242 "$W/gen.der"
  grep -Fq "certificate: pkcs11:token=import%20token;object=gen%20key;id=%42%42;type=cert" "$W/cert-ok.out"
  run_cli 1 cert-twice "${K[@]}" import-cert --slot "$(slot)" --pin "$PIN" --id 4242 "$W/gen.crt"
  run_cli 0 cert-export "${K[@]}" export --slot "$(slot)" --id 4242 --cert --out "$W/gen.back.pem"
  openssl x509 -in "$W/gen.crt" > "$W/gen.crt.want"
  expect "the stored certificate comes back" cmp "$W/gen.crt.want" "$W/gen.back.pem"
}

step_no_private_export() {
  local id
  id=$(cat "$W/rsa.id")
  run_cli 2 export-private "${K[@]}" export --slot "$(slot)" --id "$id" --private
  # Through PKCS#11 directly: the imported private key is sensitive and not extractable.
  # (pkcs11-tool 0.23 says "reading private keys not (yet) supported" and exits 0: check that nothing came out.)
  "${P11[@]}" --login --pin "$PIN" --read-object --type privkey --id "$id" -o "$W/priv.der" || true
  expect "no private key material read" test ! -s "$W/priv.der"
  "${P11[@]}" --login --pin "$PIN" --list-objects --type privkey --id "$id" > "$W/priv.list"
  cat "$W/priv.list"
  grep -Eq 'Access: +sensitive' "$W/priv.list"
  expect "not extractable" bash -c "! grep -Eq 'Access:.*[^r] extractable' '$W/priv.list'"
  # The public parts are readable without a PIN.
  run_cli 0 export-nopin "${K[@]}" export --slot "$(slot)" --id "$id" --public
  expect "public key without PIN" cmp "$W/rsa.pub.want" "$W/export-nopin.out"
}

run_step init "keyseal init" step_init
run_step import-p12-rsa "import an RSA PKCS#12 made by openssl pkcs12 -export" step_import_p12_rsa
run_step sign-rsa "sign through pkcs11-tool, verify with the exported public key" step_sign_rsa
run_step import-p12-ec "import an EC P-384 PKCS#12 without password, ECDSA sign and verify" step_import_p12_ec
run_step uri-openssl-engine "the private key's URI in openssl pkeyutl -engine pkcs11" step_uri_openssl_engine
run_step import-pem-ed25519 "import an Ed25519 PEM key and certificate, EdDSA sign and verify" step_import_pem_ed25519
run_step uris "pkcs11: URIs from keyseal list in p11tool; ssh-keygen -D lists the imported key" step_uris
run_step import-cert "import-cert: mismatch refused, the key's certificate stored" step_import_cert
run_step no-private-export "private keys cannot be exported" step_no_private_export
e2e_summary
