#!/usr/bin/env bash
# Interop scenario: Java SunPKCS11 (OpenJDK 17) with a config file naming the module and slot. keytool -list
# shows a key entry per key (each key has a certificate with its CKA_ID), a small Java program (compiled now)
# signs with SHA256withRSA, RSASSA-PSS and SHA256withECDSA and verifies, and jarsigner signs and verifies a jar.
# Commands as in docs/consumers/java.md. Usage: java.sh MODULE [KEYSEAL_CLI]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
for t in java javac keytool jarsigner jar; do ix_require "$t" default-jdk-headless; done
ix_require certtool gnutls-bin
ix_require pkcs11-tool opensc
ix_init "$@"
echo "interop: Java SunPKCS11 with $MODULE (backend $KEYSEAL_BACKEND)"
CFG="$W/pkcs11.cfg"
# keytool/jarsigner options that open the token as a PKCS11 keystore.
KS=(-keystore NONE -storetype PKCS11 -addprovider SunPKCS11 -providerArg "$CFG" -storepass "$IX_PIN")

step_keys() {
  ix_keygen rsa:2048 01 java-rsa
  ix_keygen EC:prime256v1 02 java-ec
  # Java lists a key entry only when a certificate with the key's CKA_ID exists.
  ix_cert 01 java-rsa
  ix_cert 02 java-ec
}

step_config() {
  local slot
  slot=$(ix_slot_id)
  expect "slot id of the token" test -n "$slot"
  printf 'name = keyseal\nlibrary = %s\nslot = %s\n' "$MODULE" "$slot" > "$CFG"
  cat "$CFG"
}

step_keytool() {
  keytool -list "${KS[@]}" | tee "$W/keytool.out"
  expect "two entries" grep -q "contains 2 entries" "$W/keytool.out"
  expect "RSA key entry" grep -Eq "^java-rsa, PrivateKeyEntry" "$W/keytool.out"
  expect "EC key entry" grep -Eq "^java-ec, PrivateKeyEntry" "$W/keytool.out"
  keytool -list -v -alias java-ec "${KS[@]}" | tee "$W/keytool-ec.out"
  grep -q "CN=java-ec" "$W/keytool-ec.out"
}

step_sign() {
  mkdir -p "$W/classes"
  javac -d "$W/classes" "$HERE/java/TokenSign.java"
  java -cp "$W/classes" TokenSign "$CFG" "$IX_PIN" java-rsa java-ec | tee "$W/sign.out"
  grep -q "all signatures verified" "$W/sign.out"
}

step_jarsigner() {
  mkdir -p "$W/jar"
  printf 'keyseal interop\n' > "$W/jar/hello.txt"
  jar cf "$W/app.jar" -C "$W/jar" hello.txt
  jarsigner "${KS[@]}" -sigalg SHA256withRSA "$W/app.jar" java-rsa | tee "$W/jarsigner.out"
  jarsigner -verify -verbose -certs "$W/app.jar" | tee "$W/verify.out"
  grep -q "^jar verified" "$W/verify.out"
  grep -q "CN=java-rsa" "$W/verify.out"
  # A jar changed after signing must not verify: the check above can fail.
  cp "$W/app.jar" "$W/tampered.jar"
  printf 'changed\n' > "$W/jar/hello.txt"
  jar uf "$W/tampered.jar" -C "$W/jar" hello.txt
  ! jarsigner -verify "$W/tampered.jar" | grep -q "^jar verified"
  # An EC signature too.
  jarsigner "${KS[@]}" -sigalg SHA256withECDSA -signedjar "$W/app-ec.jar" "$W/app.jar" java-ec
  jarsigner -verify "$W/app-ec.jar" | grep -q "^jar verified"
}

run_step create-token "create the $KEYSEAL_BACKEND token '$IX_LABEL' through the module" ix_create_token
run_step keys "RSA and EC key pairs with certificates of the same CKA_ID" step_keys
run_step config "SunPKCS11 config file (name, library, slot)" step_config
run_step keytool "keytool -list shows the key entries" step_keytool
run_step sign "Java program: SHA256withRSA, RSASSA-PSS, SHA256withECDSA sign + verify" step_sign
run_step jarsigner "jarsigner signs (RSA, EC) and verifies a jar" step_jarsigner
ix_summary
