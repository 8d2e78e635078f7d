#!/usr/bin/env bash
# Installs the Debian 12 packages keyseal needs. Usage: scripts/deps.sh build|test
# "build": what builds the module and runs the demo; "test": also what the tests drive (SoftHSMv2, vectors,
# clang for the fuzzers). Skips apt-get when everything is already there.
set -euo pipefail
build_pkgs=(build-essential cmake pkg-config libssl-dev libsqlite3-dev libargon2-dev libp11-kit-dev
            libgtest-dev libbenchmark-dev opensc openssl sqlite3 libtss2-dev)
test_pkgs=(swtpm swtpm-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools softhsm2 python3-cryptography-vectors clang libclang-rt-14-dev xxd util-linux)
# The interop scenarios (tests/interop/): the consumers themselves.
test_pkgs+=(gnutls-bin libengine-pkcs11-openssl openssh-server openssh-client libnss3-tools p11-kit p11-kit-modules
           default-jdk-headless opensc curl python3)
pkgs=("${build_pkgs[@]}")
[[ "${1:-build}" == test ]] && pkgs+=("${test_pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "keyseal: installing ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
