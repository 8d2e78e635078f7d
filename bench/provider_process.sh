#!/usr/bin/env bash
# bench/provider_process.sh [BUILD_DIR]: what one fresh `openssl pkeyutl -sign` process costs when its key is on
# a PKCS#11 token through pkcs11-provider (each process loads the module, logs in once, signs once), beside
# the same command with the key in a PEM file. Tokens: keyseal soft (default Argon2id: 64 MiB, 3 passes),
# keyseal TPM (swtpm), SoftHSMv2, tpm2-pkcs11 (swtpm). ECDSA P-256 over a SHA-256 hash; RUNS (10) processes
# each; the median wall time and its ratio to the PEM file. Reports, never judges. Needs pkcs11-provider
# (scripts/deps.sh test).
set -euo pipefail
main() {
BUILD_DIR=$(cd "${1:-./build}" && pwd)
REPO=$(cd "$(dirname "$0")/.." && pwd)
RUNS=${RUNS:-10}
MODULE=$BUILD_DIR/src/pkcs11/libkeyseal.so
CLI=$BUILD_DIR/src/cli/keyseal
SOFTHSM=${SOFTHSM_MODULE:-/usr/lib/softhsm/libsofthsm2.so}
TPM2_PKCS11=${TPM2_PKCS11_MODULE:-/usr/lib/x86_64-linux-gnu/pkcs11/libtpm2_pkcs11.so}
PROVIDER=$(find /usr/lib -path '*ossl-modules/pkcs11.so' -print -quit)
[ -n "$PROVIDER" ] || { echo "pkcs11-provider not installed (scripts/deps.sh test)" >&2; exit 1; }
SO_PIN=bench-so-pin-1234 PIN=bench-user-pin-1234
T=$(mktemp -d "${TMPDIR:-/tmp}/keyseal-provider-bench.XXXXXX")
SWTPMS=()
cleanup() { local d; for d in "${SWTPMS[@]}"; do "$REPO/scripts/swtpm.sh" stop "$d" >/dev/null 2>&1 || true; done; rm -rf "$T"; }
trap cleanup EXIT
printf '%s' "$PIN" > "$T/pin"
printf 'keyseal bench\n' | openssl dgst -sha256 -binary > "$T/hash"

conf() {  # conf NAME MODULE [QUIRKS]: an openssl.cnf with pkcs11-provider for MODULE
  { printf 'openssl_conf = openssl_init\n[openssl_init]\nproviders = provider_sect\n'
    printf '[provider_sect]\ndefault = default_sect\npkcs11 = pkcs11_sect\n[default_sect]\nactivate = 1\n'
    printf '[pkcs11_sect]\nmodule = %s\npkcs11-module-path = %s\n' "$PROVIDER" "$2"
    printf 'pkcs11-module-token-pin = file:%s\npkcs11-module-encode-provider-uri-to-pem = true\n' "$T/pin"
    [ -z "${3:-}" ] || printf 'pkcs11-module-quirks = %s\n' "$3"
    printf 'activate = 1\n'; } > "$T/$1.cnf"
}
genkey() {  # genkey NAME TOKEN-LABEL: an EC P-256 key pair on the token
  OPENSSL_CONF=$T/$1.cnf openssl genpkey -propquery provider=pkcs11 -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -pkeyopt "pkcs11_uri:pkcs11:token=$2;object=bench-ec;id=%42" -out "$T/$1.uri.pem" > "$T/$1.gen.log" 2>&1
}
ROWS=()
measure() {  # measure NAME DESCRIPTION KEY [ENV...]: RUNS fresh processes, median wall ms
  local name=$1 desc=$2 key=$3 i t0 t1 ms=(); shift 3
  for ((i = 0; i < RUNS; i++)); do
    t0=$(date +%s%N)
    env "$@" openssl pkeyutl -sign -inkey "$key" -in "$T/hash" -out "$T/sig" 2>"$T/$name.err" ||
      { echo "$name: pkeyutl failed: $(tail -2 "$T/$name.err")" >&2; ROWS+=("$desc|failed|"); return 0; }
    t1=$(date +%s%N)
    ms+=($(( (t1 - t0) / 1000 )))
  done
  local med; med=$(printf '%s\n' "${ms[@]}" | sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  ROWS+=("$desc|$med")
  echo "$name: median $(awk -v u="$med" 'BEGIN { printf "%.1f", u / 1000 }') ms per process" >&2
}

# the floor: the key in a PEM file
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/file.key" 2>/dev/null
measure file "PEM file (no token)" "$T/file.key"

# keyseal soft token, default KDF parameters
mkdir -p "$T/ks-soft/store"; printf 'store = %s\n' "$T/ks-soft/store" > "$T/ks-soft/keyseal.conf"
KS_SOFT=(KEYSEAL_STORE="$T/ks-soft/store" KEYSEAL_CONF="$T/ks-soft/keyseal.conf")
env "${KS_SOFT[@]}" "$CLI" --module "$MODULE" init --label ks-soft --backend soft --so-pin "$SO_PIN" --pin "$PIN" >/dev/null 2>&1
conf ks-soft "$MODULE"
env "${KS_SOFT[@]}" OPENSSL_CONF="$T/ks-soft.cnf" bash -c "$(declare -f genkey); T=$T genkey ks-soft ks-soft"
measure ks-soft "keyseal soft token (Argon2id 64 MiB, t=3)" "pkcs11:token=ks-soft;object=bench-ec;type=private" \
  "${KS_SOFT[@]}" OPENSSL_CONF="$T/ks-soft.cnf"

# keyseal TPM token on swtpm
SWTPMS+=("$T/swtpm-ks"); TCTI=$("$REPO/scripts/swtpm.sh" start "$T/swtpm-ks")
mkdir -p "$T/ks-tpm/store"; printf 'store = %s\ntcti = %s\n' "$T/ks-tpm/store" "$TCTI" > "$T/ks-tpm/keyseal.conf"
KS_TPM=(KEYSEAL_STORE="$T/ks-tpm/store" KEYSEAL_CONF="$T/ks-tpm/keyseal.conf")
env "${KS_TPM[@]}" "$CLI" --module "$MODULE" init --label ks-tpm --backend tpm --so-pin "$SO_PIN" --pin "$PIN" >/dev/null 2>&1
conf ks-tpm "$MODULE"
env "${KS_TPM[@]}" bash -c "$(declare -f genkey); T=$T genkey ks-tpm ks-tpm"
measure ks-tpm "keyseal TPM token (swtpm)" "pkcs11:token=ks-tpm;object=bench-ec;type=private" \
  "${KS_TPM[@]}" OPENSSL_CONF="$T/ks-tpm.cnf"

# SoftHSMv2
if [ -f "$SOFTHSM" ]; then
  mkdir -p "$T/softhsm"; printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$T/softhsm" > "$T/softhsm2.conf"
  SOFTHSM2_CONF=$T/softhsm2.conf softhsm2-util --init-token --free --label softhsm --so-pin "$SO_PIN" --pin "$PIN" >/dev/null
  conf softhsm "$SOFTHSM" "no-deinit no-operation-state"
  SOFTHSM2_CONF=$T/softhsm2.conf bash -c "$(declare -f genkey); T=$T genkey softhsm softhsm"
  measure softhsm "SoftHSMv2" "pkcs11:token=softhsm;object=bench-ec;type=private" \
    SOFTHSM2_CONF="$T/softhsm2.conf" OPENSSL_CONF="$T/softhsm.cnf"
fi

# tpm2-pkcs11 on its own swtpm (its store made with tpm2_ptool; shims flush what tpm2-tools leave loaded)
if [ -f "$TPM2_PKCS11" ] && command -v tpm2_ptool >/dev/null; then
  SWTPMS+=("$T/swtpm-p11"); TCTI2=$("$REPO/scripts/swtpm.sh" start "$T/swtpm-p11")
  export TPM2_PKCS11_STORE=$T/tpm2-pkcs11 TPM2_PKCS11_TCTI=$TCTI2 TPM2TOOLS_TCTI=$TCTI2
  mkdir -p "$TPM2_PKCS11_STORE" "$T/shim"
  for t in createprimary evictcontrol readpublic load loadexternal unseal encryptdecrypt create getcap import \
           changeauth sign; do
    real=$(command -v "tpm2_$t" || true); [ -n "$real" ] || continue
    printf '#!/bin/sh\n"%s" "$@"; rc=$?\nfor f in -t -l -s; do tpm2_flushcontext $f >/dev/null 2>&1; done\nexit $rc\n' \
      "$real" > "$T/shim/tpm2_$t"; chmod +x "$T/shim/tpm2_$t"
  done
  if { PATH=$T/shim:$PATH tpm2_ptool init --path="$TPM2_PKCS11_STORE" &&
       PATH=$T/shim:$PATH tpm2_ptool addtoken --pid=1 --label=tpm2-pkcs11 --sopin="$SO_PIN" --userpin="$PIN" \
         --path="$TPM2_PKCS11_STORE"; } > "$T/tpm2-pkcs11-setup.log" 2>&1; then
    for f in -t -l -s; do tpm2_flushcontext $f >/dev/null 2>&1 || true; done
    conf tpm2-pkcs11 "$TPM2_PKCS11"
    if genkey tpm2-pkcs11 tpm2-pkcs11; then
      measure tpm2-pkcs11 "tpm2-pkcs11 (swtpm)" "pkcs11:token=tpm2-pkcs11;object=bench-ec;type=private" \
        OPENSSL_CONF="$T/tpm2-pkcs11.cnf"
    else
      echo "tpm2-pkcs11: key generation through the provider failed: $(tail -3 "$T/tpm2-pkcs11.gen.log")" >&2
      ROWS+=("tpm2-pkcs11 (swtpm)|failed|")
    fi
  else
    echo "tpm2-pkcs11: token setup failed (see $T/tpm2-pkcs11-setup.log)" >&2
  fi
fi

floor=${ROWS[0]#*|}
echo
echo "| one \`openssl pkeyutl -sign\` process, ECDSA P-256 ($RUNS runs) | median ms | / PEM file |"
echo "|---|---:|---:|"
for r in "${ROWS[@]}"; do
  desc=${r%%|*}; us=${r#*|}; us=${us%%|*}
  if [ "$us" = failed ]; then echo "| $desc | failed | |"; continue; fi
  awk -v d="$desc" -v u="$us" -v f="$floor" 'BEGIN { printf "| %s | %.1f | %.1f |\n", d, u / 1000, u / f }'
done
}
main "$@"
