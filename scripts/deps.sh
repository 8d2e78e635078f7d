#!/usr/bin/env bash
# Installs the Debian 12 packages keyseal needs. Usage: scripts/deps.sh build|test
# "build": what builds the module and runs the demo; "test": also what the tests drive (SoftHSMv2, vectors,
# clang for the fuzzers, and pkcs11-provider from bookworm-backports, whose suite this script adds in an apt
# sources file of its own). Skips apt-get when everything is already there.
set -euo pipefail
build_pkgs=(build-essential cmake pkg-config libssl-dev libsqlite3-dev libargon2-dev libp11-kit-dev
            libgtest-dev libbenchmark-dev opensc openssl sqlite3 libtss2-dev)
test_pkgs=(swtpm swtpm-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools softhsm2 python3-cryptography-vectors clang libclang-rt-14-dev xxd util-linux)
# The attestation tests (tests/attest/enrol.sh and its wine stage): the CA side's tools.
test_pkgs+=(jq tpm2-tools python3-cryptography)
# The interop scenarios (tests/interop/): the consumers themselves.
test_pkgs+=(gnutls-bin libengine-pkcs11-openssl openssh-server openssh-client libnss3-tools p11-kit p11-kit-modules
           default-jdk-headless opensc curl python3 firefox-esr chromium xvfb xauth xdotool)
pkgs=("${build_pkgs[@]}")
[[ "${1:-build}" == test ]] && pkgs+=("${test_pkgs[@]}")
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO=sudo
if ((${#missing[@]})); then
  echo "keyseal: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# pkcs11-provider (OpenSSL 3's PKCS#11 provider, tests/interop/openssl_provider.sh): Debian 12 has it only in
# bookworm-backports (1.0), which needs nothing else from backports. The suite is added in its own sources
# file, and only this package is taken from it (-t), so nothing else on the machine moves to backports.
if [[ "${1:-build}" == test ]] &&
   ! dpkg-query -W -f='${Status}' pkcs11-provider 2>/dev/null | grep -q "install ok installed"; then
  bpo=/etc/apt/sources.list.d/keyseal-backports.sources
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo "keyseal: adding $bpo (bookworm-backports, for pkcs11-provider)"
    printf '%s\n' "# keyseal scripts/deps.sh: bookworm-backports, for pkcs11-provider" "Types: deb" \
      "URIs: http://deb.debian.org/debian" "Suites: bookworm-backports" "Components: main" \
      "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" | $SUDO tee "$bpo" >/dev/null
  fi
  echo "keyseal: installing pkcs11-provider from bookworm-backports"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports \
    pkcs11-provider >/dev/null
fi
