#!/usr/bin/env bash
# The main job on a fresh Debian 12: install what is needed, build keyseal, create a soft token, generate a
# key pair in it, then sign and verify through the module with pkcs11-tool (and check the signature with
# openssl too). The demo token lives in build/demo-store so your own tokens are never touched.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh build
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target keyseal_module keyseal_cli

MODULE=$PWD/build/src/pkcs11/libkeyseal.so
export KEYSEAL_STORE=$PWD/build/demo-store
rm -rf "$KEYSEAL_STORE"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== create a soft token (keyseal init)"
build/src/cli/keyseal --module "$MODULE" init --backend soft --label demo --so-pin 87654321 --pin 123456
echo "== generate an EC P-256 key pair in it"
pkcs11-tool --module "$MODULE" --login --pin 123456 --keypairgen --key-type EC:prime256v1 --id 01 --label demo-key
echo "== sign with the private key, inside the module"
echo "keyseal demo message" > "$work/msg"
pkcs11-tool --module "$MODULE" --login --pin 123456 --sign --mechanism ECDSA-SHA256 --id 01 \
  --input-file "$work/msg" --output-file "$work/sig"
echo "== verify through the module"
pkcs11-tool --module "$MODULE" --verify --mechanism ECDSA-SHA256 --id 01 --input-file "$work/msg" \
  --signature-file "$work/sig"
echo "== verify with openssl, from the exported public key"
pkcs11-tool --module "$MODULE" --read-object --type pubkey --id 01 --output-file "$work/pub.der"
pkcs11-tool --module "$MODULE" --login --pin 123456 --sign --mechanism ECDSA-SHA256 --id 01 \
  --signature-format openssl --input-file "$work/msg" --output-file "$work/sig.der"
openssl dgst -sha256 -verify "$work/pub.der" -keyform DER -signature "$work/sig.der" "$work/msg"
echo "== the token and its objects"
build/src/cli/keyseal --module "$MODULE" list --pin 123456
echo "keyseal demo: OK (module: $MODULE, store: $KEYSEAL_STORE)"
