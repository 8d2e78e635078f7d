#!/usr/bin/env bash
# Key attestation end to end (issue 14): this script plays both the machine (keyseal on a TPM token) and a test
# CA that enrols it, as docs/attestation.md describes, with exactly the commands written there.
#   1. A swtpm manufactured like a real TPM: `swtpm_setup --create-ek-cert --create-platform-cert` with a
#      swtpm-localca of the script's own (its CA in the temp dir; never /var/lib/swtpm-localca or /etc), run on a
#      free loopback port. The localca's root (and its intermediate) are the EK roots.
#   2. A TPM token with an EC P-256 and an RSA 2048 key made on it (pkcs11-tool --keypairgen).
#   3. The CA: `keyseal attest-ak` -> the EK certificate checked with `openssl verify` -> `keyseal make-credential`
#      with a random secret -> `keyseal attest-ak --activate` -> secrets compared -> an AK certificate issued with
#      openssl (EKU 2.23.133.8.3, empty subject, critical SAN directoryName with the TPM manufacturer, model and
#      version copied from the EK certificate, as draft-ietf-acme-device-attest expects) -> `attest-ak --store-cert`.
#   4. `keyseal attest --format tpm` with a fresh nonce -> `keyseal verify-attestation` passes (tpm and json; the
#      statement is also read by an independent decoder, statement.py: fmt, x5c, pubArea, certInfo) ->
#      the CA issues a certificate for the attested public key -> `keyseal import-cert` -> TLS 1.3 handshake with
#      the token key (openssl s_server through pkcs11-provider, s_client trusting the test CA).
#   5. Refusals: a wrong nonce, a credential made for another AK name, a soft-token key, the AK certificate
#      removed (ak_bound_to_ek fails), an imported TPM key (reported as imported).
# Also prints the median time of 5 `keyseal attest` runs on swtpm (informational, never asserted).
# Usage: enrol.sh MODULE KEYSEAL_CLI. Helpers from tests/interop/lib.sh (IX_KEEP=1 keeps the temp dir,
# IX_VERBOSE=1 shows the output of passing steps).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../interop/lib.sh"
ix_require openssl openssl
ix_require pkcs11-tool opensc
ix_require swtpm swtpm
ix_require swtpm_setup swtpm-tools
ix_require swtpm_localca swtpm-tools
ix_require tpm2_nvread tpm2-tools
ix_require tpm2_print tpm2-tools
ix_require jq jq
ix_require python3 python3
python3 -c 'import cryptography' 2>/dev/null || { echo "python3-cryptography not installed" >&2; exit 1; }

# ix_init starts a plain swtpm for a TPM scenario unless KEYSEAL_TCTI names one; ours must be manufactured with
# EK certificates first, so ix_init is told there is one and the script starts its own below. A TCTI from the
# caller's environment is never used: this test needs a TPM whose EK certificates it can trust.
export KEYSEAL_BACKEND=tpm
export KEYSEAL_TCTI=later
ix_init "$@"
unset KEYSEAL_TCTI
[[ -n "$CLI" && -x "$CLI" ]] || { echo "enrol.sh needs the keyseal tool as its second argument" >&2; exit 1; }
PROVIDER=$(find /usr/lib -path '*ossl-modules/pkcs11.so' -print -quit)
[[ -n "$PROVIDER" ]] ||
  { echo "pkcs11-provider not installed (Debian package pkcs11-provider from bookworm-backports)" >&2; exit 1; }
KS=("$CLI" --module "$MODULE")
CA=$W/ca            # the test CA's files (its key, certificates it issued, what the machine sent it)
LOCALCA=$W/localca  # swtpm-localca's state: the "TPM manufacturer" CA
mkdir -p "$CA" "$LOCALCA"

# --- 1. A swtpm with EK certificates -------------------------------------------------------------------------

step_manufacture() {
  cat > "$LOCALCA/swtpm-localca.conf" <<EOF
statedir = $LOCALCA
signingkey = $LOCALCA/signkey.pem
issuercert = $LOCALCA/issuercert.pem
certserial = $LOCALCA/certserial
EOF
  printf -- '--platform-manufacturer keyseal-test\n--platform-version 2.1\n--platform-model swtpm\n' \
    > "$LOCALCA/swtpm-localca.options"
  cat > "$LOCALCA/swtpm_setup.conf" <<EOF
create_certs_tool = $(command -v swtpm_localca)
create_certs_tool_config = $LOCALCA/swtpm-localca.conf
create_certs_tool_options = $LOCALCA/swtpm-localca.options
active_pcr_banks = sha256
EOF
  mkdir -p "$W/swtpm"
  swtpm_setup --tpm2 --tpmstate "$W/swtpm" --create-ek-cert --create-platform-cert \
    --config "$LOCALCA/swtpm_setup.conf" --logfile "$LOCALCA/setup.log" --overwrite ||
    { cat "$LOCALCA/setup.log"; return 1; }
  cat "$LOCALCA/setup.log"
  # swtpm-localca makes a root and an intermediate ("issuer") on first use; the EK certificates hang below them.
  [[ -s "$LOCALCA/swtpm-localca-rootca-cert.pem" && -s "$LOCALCA/issuercert.pem" ]]
  cat "$LOCALCA/swtpm-localca-rootca-cert.pem" "$LOCALCA/issuercert.pem" > "$W/ek-roots.pem"
}

# The EK certificates in the TPM's NV, read with tpm2-tools (not keyseal), chain to the localca: what the CA will
# check below is there to be checked. swtpm 0.7 writes RSA 2048 at 0x01c00002 and ECC P-384 at 0x01c00016.
step_ek_nv() {
  local idx n=0
  for idx in 0x01c00002 0x01c0000a 0x01c00016; do
    tpm2_getcap -T "$KEYSEAL_TCTI" handles-nv-index | grep -qi "${idx#0x0}" || continue
    tpm2_nvread -T "$KEYSEAL_TCTI" -C o "$idx" -o "$W/nv-$idx.der"
    openssl x509 -inform DER -in "$W/nv-$idx.der" -noout -subject -issuer -ext extendedKeyUsage,subjectAltName
    openssl verify -CAfile "$LOCALCA/swtpm-localca-rootca-cert.pem" -untrusted "$LOCALCA/issuercert.pem" \
      <(openssl x509 -inform DER -in "$W/nv-$idx.der")
    n=$((n + 1))
  done
  expect "at least one EK certificate in NV" test "$n" -ge 1
}

# --- the test CA -----------------------------------------------------------------------------------------------

# The TCG names used in the AK certificate's SAN directoryName: openssl's dirName section cannot take a dotted OID
# as a key (it strips everything up to the last dot), so they get names through the config's oid_section.
step_test_ca() {
  cat > "$CA/ca.cnf" <<'EOF'
openssl_conf = openssl_init
[openssl_init]
oid_section = tcg_oids
[tcg_oids]
tcgTpmManufacturer = 2.23.133.2.1
tcgTpmModel = 2.23.133.2.2
tcgTpmVersion = 2.23.133.2.3
[req]
distinguished_name = req_dn
[req_dn]
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[key_ext]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
authorityKeyIdentifier = keyid
EOF
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$CA/ca.key" \
    -subj "/CN=keyseal attestation test CA" -days 2 -config "$CA/ca.cnf" -extensions ca_ext -out "$CA/ca.pem"
  openssl x509 -in "$CA/ca.pem" -noout -subject
}

# --- 2. tokens and keys ------------------------------------------------------------------------------------------

step_soft_token() {  # a soft token with an EC key: attesting it must be refused
  "${KS[@]}" init --label soft --backend soft --so-pin "$IX_SO_PIN" --pin "$IX_PIN"
  "${P11[@]}" --token-label soft "${LOGIN[@]}" --keypairgen --key-type EC:prime256v1 --id 03 --label soft-ec
}

step_import_key() {  # an outside key moved into the TPM: attest must say "imported", verify must not call it generated
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$W/outside.key"
  "${KS[@]}" import --slot "$SLOT" --pin "$IX_PIN" --id 04 --label imported-ec "$W/outside.key"
}

# --- 3. the CA enrols the AK -----------------------------------------------------------------------------------

step_attest_ak() {  # the machine shows its AK, EK and EK certificates; the CA recomputes the AK's name
  "${KS[@]}" attest-ak --out "$CA/ak.json"
  jq . "$CA/ak.json"
  local f
  for f in ak_public ak_name ek_public; do
    expect "attest-ak gives $f" test -n "$(jq -r ".$f // empty" "$CA/ak.json")"
  done
  expect "attest-ak gives the EK certificates" test "$(jq '.ek_certificates | length' "$CA/ak.json")" -ge 1
  expect "ak_name is the name of ak_public" test "$(jq -r .ak_name "$CA/ak.json")" == "$(tpm_name "$(jq -r .ak_public "$CA/ak.json")")"
}

# tpm_name HEX-TPMT_PUBLIC: nameAlg || H_nameAlg(TPMT_PUBLIC) in hex (SHA-256, SHA-384 or SHA-1 name algorithms).
tpm_name() {
  python3 - "$1" <<'PY'
import hashlib, sys
pub = bytes.fromhex(sys.argv[1])
alg = int.from_bytes(pub[2:4], "big")  # TPMT_PUBLIC: type, nameAlg, ...
h = {0x0004: "sha1", 0x000b: "sha256", 0x000c: "sha384", 0x000d: "sha512"}[alg]
print((pub[2:4] + hashlib.new(h, pub).digest()).hex())
PY
}

# tpm_pubkey HEX-TPMT_PUBLIC OUT.pem: the public key as SubjectPublicKeyInfo (tpm2_print parses the TPM structure).
tpm_pubkey() {
  xxd -r -p <<< "$1" > "$2.tpmt"
  tpm2_print -t TPMT_PUBLIC -f pem "$2.tpmt" > "$2"
  openssl pkey -pubin -in "$2" -noout
}

# The CA does not take the machine's word for its EK: it keeps the EK certificate whose key is ek_public and checks
# that it chains to the manufacturer's CA (here swtpm-localca's root and intermediate).
step_ek_cert() {
  tpm_pubkey "$(jq -r .ek_public "$CA/ak.json")" "$CA/ek-public.pem"
  local i n
  n=$(jq '.ek_certificates | length' "$CA/ak.json")
  rm -f "$CA/ekcert.pem"
  for ((i = 0; i < n; i++)); do
    jq -r ".ek_certificates[$i]" "$CA/ak.json" | base64 -d | openssl x509 -inform DER -out "$CA/ek-$i.pem"
    if cmp -s <(openssl x509 -in "$CA/ek-$i.pem" -noout -pubkey) "$CA/ek-public.pem"; then
      cp "$CA/ek-$i.pem" "$CA/ekcert.pem"
    fi
  done
  expect "an EK certificate for ek_public" test -s "$CA/ekcert.pem"
  openssl x509 -in "$CA/ekcert.pem" -noout -subject -issuer -ext extendedKeyUsage,subjectAltName
  # EKU tcg-kp-EKCertificate (2.23.133.8.1) and a critical SAN that openssl understands: no extension needs
  # allowing; -x509_strict keeps the check as strict as openssl gets.
  openssl verify -x509_strict -CAfile "$LOCALCA/swtpm-localca-rootca-cert.pem" -untrusted "$LOCALCA/issuercert.pem" \
    "$CA/ekcert.pem"
  openssl x509 -in "$CA/ekcert.pem" -noout -ext extendedKeyUsage | grep -q '2\.23\.133\.8\.1'
}

# Credential activation: a secret only the TPM holding that EK can recover, and only for an object of the AK's name.
step_credential() {
  openssl rand -hex 32 > "$CA/secret"
  "${KS[@]}" make-credential --ak "$CA/ak.json" --ek-cert "$CA/ekcert.pem" --secret "$(cat "$CA/secret")" \
    --out "$CA/cred.json"
  jq . "$CA/cred.json"
  "${KS[@]}" attest-ak --activate "$CA/cred.json" > "$W/recovered"
  expect "the recovered secret is the CA's" test "$(tr -d ' \n' < "$W/recovered" | tr A-F a-f)" == "$(cat "$CA/secret")"
}

# The same with a credential made for another name (the AK's public area with its last byte changed): the TPM's
# ActivateCredential must refuse it (the credential's integrity HMAC covers the name), and no secret comes out.
step_credential_other_ak() {
  local pub other
  pub=$(jq -r .ak_public "$CA/ak.json")
  other=${pub:0:${#pub}-2}$(printf '%02x' $(( (0x${pub: -2} + 1) % 256 )))
  jq --arg p "$other" --arg n "$(tpm_name "$other")" '.ak_public = $p | .ak_name = $n' "$CA/ak.json" > "$CA/other-ak.json"
  openssl rand -hex 32 > "$CA/other-secret"
  "${KS[@]}" make-credential --ak "$CA/other-ak.json" --ek-cert "$CA/ekcert.pem" \
    --secret "$(cat "$CA/other-secret")" --out "$CA/other-cred.json"
  local rc=0
  "${KS[@]}" attest-ak --activate "$CA/other-cred.json" > "$W/other-recovered" 2> "$W/other-activate.err" || rc=$?
  cat "$W/other-recovered" "$W/other-activate.err"
  expect "activation of another AK's credential fails (exit 1)" test "$rc" -eq 1
  expect "no secret printed" test ! -s "$W/other-recovered"
}

# The AK certificate: empty subject, critical SAN directoryName with the TPM's manufacturer, model and version
# (TCG OIDs 2.23.133.2.1-3) copied from the EK certificate, which the manufacturer signed (the machine's own
# tpm_manufacturer/tpm_model/tpm_firmware are informational); EKU tcg-kp-AIKCertificate (2.23.133.8.3).
step_issue_ak_cert() {
  tpm_pubkey "$(jq -r .ak_public "$CA/ak.json")" "$CA/ak-public.pem"
  python3 - "$CA/ekcert.pem" > "$CA/ak-san.cnf" <<'PY'
import sys
from cryptography import x509
cert = x509.load_pem_x509_certificate(open(sys.argv[1], "rb").read())
san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
names = {"2.23.133.2.1": "tcgTpmManufacturer", "2.23.133.2.2": "tcgTpmModel", "2.23.133.2.3": "tcgTpmVersion"}
found = {}
for dn in san.get_values_for_type(x509.DirectoryName):
    for attr in dn:
        if attr.oid.dotted_string in names:
            found[names[attr.oid.dotted_string]] = attr.value
if len(found) != 3:
    sys.exit("the EK certificate's SAN lacks the TPM manufacturer, model or version: %r" % found)
print("[ak_ext]")
print("basicConstraints = critical,CA:FALSE")
print("keyUsage = critical,digitalSignature")
print("extendedKeyUsage = 2.23.133.8.3")
print("subjectAltName = critical,dirName:ak_san")
print("authorityKeyIdentifier = keyid")
print("[ak_san]")
for k in ("tcgTpmManufacturer", "tcgTpmModel", "tcgTpmVersion"):
    print("%s = %s" % (k, found[k]))
PY
  cat "$CA/ak-san.cnf"
  cat "$CA/ca.cnf" "$CA/ak-san.cnf" > "$CA/ak.cnf"
  OPENSSL_CONF=$CA/ak.cnf openssl x509 -new -subj / -force_pubkey "$CA/ak-public.pem" -CA "$CA/ca.pem" \
    -CAkey "$CA/ca.key" -days 2 -set_serial "0x$(openssl rand -hex 8)" -extfile "$CA/ak.cnf" -extensions ak_ext \
    -out "$CA/ak-cert.pem"
  openssl x509 -in "$CA/ak-cert.pem" -noout -text
  openssl verify -CAfile "$CA/ca.pem" "$CA/ak-cert.pem"
  # the machine keeps its AK certificate; later attestations carry it (x5c)
  "${KS[@]}" attest-ak --store-cert "$CA/ak-cert.pem"
  "${KS[@]}" attest-ak --out "$W/ak-after.json"
  expect "attest-ak now shows the AK certificate" test "$(jq -r '.ak_certificates[0] // empty' "$W/ak-after.json")" \
    == "$(openssl x509 -in "$CA/ak-cert.pem" -outform DER | base64 -w0)"
}

# --store-cert refuses a chain whose first certificate is not the AK's (here the EK certificate, then the CA's own
# certificate first) and a file without a certificate, with a message; the chain kept before is unchanged.
step_ak_cert_refused() {
  local kept rc
  kept=$(jq -r '.ak_certificates[0]' "$W/ak-after.json")
  for f in "$CA/ekcert.pem" "$CA/ca.pem"; do
    rc=0
    "${KS[@]}" attest-ak --store-cert "$f" 2> "$W/store-refused.err" || rc=$?
    cat "$W/store-refused.err"
    expect "--store-cert $(basename "$f") exits 1" test "$rc" -eq 1
    expect "--store-cert $(basename "$f") says why" grep -q "the first certificate is not for this attestation key" \
      "$W/store-refused.err"
  done
  echo "not a certificate" > "$W/garbage.pem"
  rc=0
  "${KS[@]}" attest-ak --store-cert "$W/garbage.pem" 2> "$W/store-refused.err" || rc=$?
  cat "$W/store-refused.err"
  expect "--store-cert of a file without a certificate exits 1" test "$rc" -eq 1
  "${KS[@]}" attest-ak --out "$W/ak-still.json"
  expect "the kept AK certificate is unchanged" test "$(jq -r '.ak_certificates[0]' "$W/ak-still.json")" == "$kept"
  expect "the kept chain is one certificate" test "$(jq '.ak_certificates | length' "$W/ak-still.json")" -eq 1
}

# --- 4. attest, verify, certify, use -------------------------------------------------------------------------

# step_attest ID NAME: a fresh nonce, the tpm statement and the JSON evidence, both verified with the two roots.
step_attest() {
  local id=$1 name=$2 nonce
  nonce=$(openssl rand -hex 32)
  echo "$nonce" > "$CA/$name.nonce"
  "${KS[@]}" attest --slot "$SLOT" --id "$id" --pin "$IX_PIN" --nonce "$nonce" --format tpm --out "$CA/$name.tpm"
  "${KS[@]}" verify-attestation --roots "$CA/ca.pem" --roots "$W/ek-roots.pem" --nonce "$nonce" --format tpm \
    "$CA/$name.tpm" | tee "$W/$name.verify-tpm"
  "${KS[@]}" attest --slot "$SLOT" --id "$id" --pin "$IX_PIN" --nonce "$nonce" --format json --out "$CA/$name.json"
  jq . "$CA/$name.json"
  expect "origin generated" test "$(jq -r .origin "$CA/$name.json")" == generated
  # The statement read by a decoder that is not keyseal's (statement.py): what an ACME server gets.
  "$HERE/statement.py" "$CA/$name.tpm" | tee "$W/$name.statement"
  local st=$W/$name.statement
  expect "fmt tpm, ver 2.0" test "$(jq -r '.fmt + " " + .ver' "$st")" == "tpm 2.0"
  expect "x5c starts with the AK certificate" test "$(jq -r '.x5c[0] // empty' "$st")" \
    == "$(openssl x509 -in "$CA/ak-cert.pem" -outform DER | base64 -w0)"
  expect "pubArea is the key of the JSON evidence" test "$(jq -r .pubArea "$st")" == "$(jq -r .key_public "$CA/$name.json")"
  expect "certInfo is a TPM-generated TPM_ST_ATTEST_CERTIFY" \
    test "$(jq -r '.certInfo.magic + .certInfo.type' "$st")" == ff5443478017
  expect "certInfo.extraData is the nonce" test "$(jq -r .certInfo.extraData "$st")" == "$nonce"
  expect "certInfo names pubArea" test "$(jq -r .certInfo.name "$st")" == "$(tpm_name "$(jq -r .pubArea "$st")")"
  "${KS[@]}" verify-attestation --roots "$CA/ca.pem" --roots "$W/ek-roots.pem" --nonce "$nonce" --format json \
    "$CA/$name.json" | tee "$W/$name.verify"
  # exit 0 means every reported check passed; these must also have been reported
  local c
  for c in ek_certificate_chain ak_bound_to_ek attest_signature nonce attested_name key_fixed_tpm \
           key_sensitive_data_origin creation; do
    expect "verify-attestation (json) reports $c passing" check_passed "$c" "$W/$name.verify"
  done
  for c in ak_bound_to_ek attest_signature nonce attested_name key_sensitive_data_origin; do
    expect "verify-attestation (tpm) reports $c passing" check_passed "$c" "$W/$name.verify-tpm"
  done
}

# verify_fails FILE FORMAT CHECK [ARGS...]: verify-attestation exits 1 and reports CHECK as failed.
verify_fails() {
  local file=$1 format=$2 check=$3 rc=0
  shift 3
  "${KS[@]}" verify-attestation --roots "$CA/ca.pem" --roots "$W/ek-roots.pem" --format "$format" "$@" "$file" \
    > "$W/verify.out" 2>&1 || rc=$?
  cat "$W/verify.out"
  expect "verify-attestation fails (exit 1)" test "$rc" -eq 1
  expect "check $check reported failing" check_failed "$check" "$W/verify.out"
}

# verify-attestation prints one line per check: "ok   NAME: detail" or "FAIL NAME: detail".
check_failed() { grep -qE "^FAIL +$1:" "$2"; }  # check_failed NAME OUTPUT
check_passed() { grep -qE "^ok +$1:" "$2"; }    # check_passed NAME OUTPUT

step_wrong_nonce() {
  verify_fails "$CA/ec.tpm" tpm nonce --nonce "$(openssl rand -hex 32)"
  verify_fails "$CA/ec.json" json nonce --nonce "$(openssl rand -hex 32)"
}

# The evidence without its AK certificate: nothing binds the AK to the EK any more (the verifier has no TPM to run
# a credential activation with), so ak_bound_to_ek fails while the TPM's own signature still checks.
step_no_ak_cert() {
  jq '.ak_certificates = []' "$CA/ec.json" > "$CA/ec-no-akcert.json"
  verify_fails "$CA/ec-no-akcert.json" json ak_bound_to_ek --nonce "$(cat "$CA/ec.nonce")"
  expect "the AK's signature still checks" check_passed attest_signature "$W/verify.out"
}

step_soft_refused() {
  local rc=0
  "${KS[@]}" attest --slot "$SOFT_SLOT" --id 03 --pin "$IX_PIN" --nonce "$(openssl rand -hex 16)" --format json \
    --out "$W/soft.json" > "$W/soft.out" 2>&1 || rc=$?
  cat "$W/soft.out"
  expect "attest of a soft-token key fails (exit 1)" test "$rc" -eq 1
  expect "the message says the key is not in a TPM" grep -qi 'tpm' "$W/soft.out"
  expect "no evidence written" test ! -s "$W/soft.json"
}

step_imported() {
  local nonce rc=0
  nonce=$(openssl rand -hex 32)
  "${KS[@]}" attest --slot "$SLOT" --id 04 --pin "$IX_PIN" --nonce "$nonce" --format json --out "$CA/imported.json" ||
    rc=$?
  expect "attest of an imported TPM key works (it is in the TPM)" test "$rc" -eq 0
  jq . "$CA/imported.json"
  expect "origin imported" test "$(jq -r .origin "$CA/imported.json")" == imported
  verify_fails "$CA/imported.json" json key_sensitive_data_origin --nonce "$nonce"
  # TPM2_Import takes only duplicable objects: the evidence says so, while the TPM still vouches that it holds it
  local c
  for c in key_fixed_tpm key_fixed_parent creation; do
    expect "$c reported failing for an imported key" check_failed "$c" "$W/verify.out"
  done
  for c in ak_bound_to_ek attest_signature nonce attested_name; do
    expect "$c still passes for an imported key" check_passed "$c" "$W/verify.out"
  done
}

# step_key_cert ID NAME: the CA certifies the public key it saw attested (key_public of the evidence; no CSR), which
# is also the key `keyseal export --public` gives; import-cert stores it beside the key.
step_key_cert() {
  local id=$1 name=$2
  tpm_pubkey "$(jq -r .key_public "$CA/$name.json")" "$CA/$name-key.pem"
  "${KS[@]}" export --slot "$SLOT" --id "$id" --public --out "$W/$name-export.pem"
  expect "the attested key is the token key" cmp <(openssl pkey -pubin -in "$W/$name-export.pem") \
    <(openssl pkey -pubin -in "$CA/$name-key.pem")
  OPENSSL_CONF=$CA/ca.cnf openssl x509 -new -subj "/CN=attested $name key" -force_pubkey "$CA/$name-key.pem" \
    -CA "$CA/ca.pem" -CAkey "$CA/ca.key" -days 2 -set_serial "0x$(openssl rand -hex 8)" -extfile "$CA/ca.cnf" \
    -extensions key_ext -out "$CA/$name-cert.pem"
  openssl verify -CAfile "$CA/ca.pem" "$CA/$name-cert.pem"
  "${KS[@]}" import-cert --slot "$SLOT" --id "$id" --pin "$IX_PIN" "$CA/$name-cert.pem"
  "${P11[@]}" "${TOK[@]}" --read-object --type cert --id "$id" -o "$W/$name-stored.der"
  cmp "$W/$name-stored.der" <(openssl x509 -in "$CA/$name-cert.pem" -outform DER)
}

# step_tls ID NAME SIGALGS: s_server with the token key (pkcs11-provider) and the certificate read back from the
# token; s_client trusts only the test CA.
step_tls() {
  local id=$1 name=$2 sigalgs=$3 port
  printf '%s' "$IX_PIN" > "$W/pin"
  cat > "$W/provider.cnf" <<CNF
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
activate = 1
CNF
  openssl x509 -inform DER -in "$W/$name-stored.der" -out "$W/$name-stored.pem"
  port=$(ix_free_port)
  # -naccept 2: ix_wait_port's probe is the first connection
  ix_spawn env OPENSSL_CONF="$W/provider.cnf" openssl s_server -accept "127.0.0.1:$port" -naccept 2 -www -tls1_3 \
    -key "$TOKEN_URI;id=%$id;type=private" -cert "$W/$name-stored.pem"
  ix_wait_port "$port"
  printf 'GET / HTTP/1.0\r\n\r\n' | openssl s_client -connect "127.0.0.1:$port" -brief -tls1_3 -sigalgs "$sigalgs" \
    -CAfile "$CA/ca.pem" -verify_return_error -ign_eof > "$W/s_client.out" 2>&1 || { cat "$W/s_client.out"; return 1; }
  cat "$W/s_client.out"
  grep -q "^Verification: OK" "$W/s_client.out"
  grep -q "^Protocol version: TLSv1\.3" "$W/s_client.out"
  grep -q "^HTTP/1.0 200 ok" "$W/s_client.out"
}

# Five runs of `keyseal attest` (json) on swtpm, wall time each; the median is printed, never asserted.
step_timing() {
  local i s e
  for ((i = 0; i < 5; i++)); do
    s=$(date +%s%N)
    "${KS[@]}" attest --slot "$SLOT" --id 01 --pin "$IX_PIN" --nonce "$(openssl rand -hex 32)" --format json \
      --out "$W/timing.json"
    e=$(date +%s%N)
    echo $(( (e - s) / 1000000 ))
  done | sort -n > "$W/times"
  echo "keyseal attest on swtpm, ms: $(tr '\n' ' ' < "$W/times")"
}

run_step manufacture "swtpm_setup --create-ek-cert --create-platform-cert with a swtpm-localca in the temp dir" \
  step_manufacture
[[ -s "$W/ek-roots.pem" ]] || { echo "== no manufactured swtpm: scenario stopped"; exit 1; }
ix_start_swtpm
run_step ek-nv "the EK certificates in NV (tpm2_nvread) chain to the localca (openssl verify)" step_ek_nv
run_step test-ca "a test CA (EC P-256) made with openssl in the temp dir" step_test_ca
run_step create-token "create the TPM token '$IX_LABEL'" ix_create_token
SLOT=$(ix_slot_id)
run_step keygen-ec "pkcs11-tool --keypairgen EC P-256 on the TPM token (id 01)" ix_keygen EC:prime256v1 01 ec-key
run_step keygen-rsa "pkcs11-tool --keypairgen RSA 2048 on the TPM token (id 02)" ix_keygen rsa:2048 02 rsa-key
run_step soft-token "a soft token 'soft' with an EC key (id 03)" step_soft_token
SOFT_SLOT=$("${P11[@]}" --list-token-slots | awk '/^Slot [0-9]+ \(0x[0-9a-f]+\)/ { s = $3; gsub(/[():]/, "", s) }
  /token label *: soft$/ { print s; exit }' | { read -r s && echo $((s)); } || true)
run_step import-key "keyseal import of an outside EC key into the TPM token (id 04)" step_import_key
run_step attest-ak "keyseal attest-ak: the AK, the EK and its certificates; ak_name recomputed" step_attest_ak
run_step ek-cert "the CA picks the EK certificate of ek_public and checks its chain (openssl verify)" step_ek_cert
run_step credential "make-credential (random secret) -> attest-ak --activate -> same secret" step_credential
run_step credential-other-ak "a credential made for another AK name does not activate" step_credential_other_ak
run_step ak-cert "AK certificate from the test CA (EKU 2.23.133.8.3, empty subject, TPM SAN) -> attest-ak --store-cert" \
  step_issue_ak_cert
run_step ak-cert-refused "attest-ak --store-cert refuses the EK's and the CA's certificate and a non-certificate" \
  step_ak_cert_refused
run_step attest-ec "attest the EC key (tpm and json) with a fresh nonce; verify-attestation passes" step_attest 01 ec
run_step attest-rsa "attest the RSA key (tpm and json) with a fresh nonce; verify-attestation passes" step_attest 02 rsa
run_step wrong-nonce "verify-attestation with another nonce fails (check nonce)" step_wrong_nonce
run_step no-ak-cert "evidence without the AK certificate: ak_bound_to_ek fails" step_no_ak_cert
run_step soft-refused "attest of a soft-token key is refused with a message" step_soft_refused
run_step imported "an imported TPM key is attested as imported; fixedTPM, fixedParent, sensitiveDataOrigin fail" \
  step_imported
run_step cert-ec "the CA certifies the attested EC key; keyseal import-cert stores it" step_key_cert 01 ec
run_step cert-rsa "the CA certifies the attested RSA key; keyseal import-cert stores it" step_key_cert 02 rsa
run_step tls13-ec "TLS 1.3 with the attested EC key (s_server via pkcs11-provider, s_client trusts the test CA)" \
  step_tls 01 ec ecdsa_secp256r1_sha256
run_step tls13-rsa "TLS 1.3 with the attested RSA key" step_tls 02 rsa rsa_pss_rsae_sha256
run_step timing "keyseal attest, 5 runs (median printed, not asserted)" step_timing
if [[ -s "$W/times" ]]; then
  echo "== keyseal attest on swtpm: median $(sed -n 3p "$W/times") ms (runs: $(tr '\n' ' ' < "$W/times"))"
fi
ix_summary
