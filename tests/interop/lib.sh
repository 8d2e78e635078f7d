# Shared helpers of the interop scenarios (issue 6): a temporary store, one function that creates the token
# (ix_create_token: the only place that knows the backend), key/certificate helpers, free ports, processes
# killed on exit, and step bookkeeping. Sourced by every tests/interop/*.sh; expects `set -euo pipefail`.
# Environment: KEYSEAL_BACKEND (soft by default; "tpm" goes to `keyseal init --backend` and, unless
# KEYSEAL_TCTI names a TPM, starts a fresh swtpm of the scenario's own: scripts/swtpm.sh, state in $W/swtpm, a
# free loopback port; no swtpm installed = the scenario fails), KNOWN_FAILURES="step ..." (reported, not fatal),
# IX_STEP_TIMEOUT (seconds a step may take, default 240: a hung step is reported with the blocked processes'
# stacks and killed), IX_VERBOSE=1 (show the output of passing steps too), IX_KEEP=1 (keep the temp dir),
# KEYSEAL_LOG=debug (module logs).

IX_FAILED=()
IX_XFAIL=()
IX_PASSED=0
IX_LABEL="interop"
IX_SO_PIN=87654321
IX_PIN=123456
export KEYSEAL_BACKEND=${KEYSEAL_BACKEND:-soft}
IX_SWTPM_SH=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/scripts/swtpm.sh
IX_SWTPM_DIR=""

# ix_init MODULE [KEYSEAL_CLI]: checks the arguments, makes $W (the scenario's temp dir) and the store.
ix_init() {
  MODULE=${1:?module path missing}
  CLI=${2:-}
  [[ -r "$MODULE" ]] || { echo "module not found: $MODULE" >&2; exit 1; }
  MODULE=$(readlink -f "$MODULE")
  W=$(mktemp -d "${TMPDIR:-/tmp}/keyseal-interop.XXXXXX")
  chmod 755 "$W"   # sshd (StrictModes no) and Java read from it
  trap ix_cleanup EXIT
  trap 'exit 130' INT TERM
  export KEYSEAL_STORE="$W/store"
  export KEYSEAL_CONF="$W/keyseal.conf"
  mkdir -p "$KEYSEAL_STORE" "$W/softhsm"
  # Small Argon2 memory so the tests run fast; production tokens use the default.
  printf 'argon2_m_cost_kib = 8192\n' > "$KEYSEAL_CONF"
  # Lets the same scenario run against SoftHSMv2 to check the script itself (calibration).
  export SOFTHSM2_CONF="$W/softhsm2.conf"
  printf 'directories.tokendir = %s\nobjectstore.backend = file\n' "$W/softhsm" > "$SOFTHSM2_CONF"
  if [[ "$KEYSEAL_BACKEND" == tpm && -z "${KEYSEAL_TCTI:-}" ]]; then ix_start_swtpm; fi
  P11=(pkcs11-tool --module "$MODULE")
  TOK=(--token-label "$IX_LABEL")
  LOGIN=(--login --pin "$IX_PIN")
  TOKEN_URI="pkcs11:token=$IX_LABEL"
}

# ix_start_swtpm: a fresh software TPM for this scenario alone (its own state directory and port, so scenarios
# run in parallel), stopped by ix_cleanup; exports KEYSEAL_TCTI for the module. No swtpm = exit 1 (a failure).
ix_start_swtpm() {
  command -v swtpm > /dev/null || { echo "swtpm not installed (Debian package swtpm): a TPM scenario cannot run" >&2; exit 1; }
  IX_SWTPM_DIR="$W/swtpm"
  KEYSEAL_TCTI=$("$IX_SWTPM_SH" start "$IX_SWTPM_DIR") || { echo "swtpm did not start" >&2; exit 1; }
  export KEYSEAL_TCTI
  echo "swtpm for this scenario: $KEYSEAL_TCTI (state $IX_SWTPM_DIR)"
  ix_tpm_da_parameters
}

# A fresh swtpm locks out after 3 authorization failures (1000 s each to recover), and keyseal refuses a PIN
# attempt that could be the TPM's last: two wrong PINs would lock every TPM token for the rest of the run. The
# fixture sets the dictionary-attack parameters instead (TPM2_DictionaryAttackParameters, empty lockout auth
# on a fresh TPM): TPM_DA_MAX_TRIES (default 32) failures, 600 s recovery. TPM_DA_MAX_TRIES= keeps swtpm's own.
ix_tpm_da_parameters() {
  [[ -n "${TPM_DA_MAX_TRIES-32}" ]] || return 0
  ix_require tpm2_dictionarylockout tpm2-tools
  tpm2_dictionarylockout -T "$KEYSEAL_TCTI" --setup-parameters --max-tries="${TPM_DA_MAX_TRIES-32}" \
    --recovery-time=600 --lockout-recovery-time=600 || { echo "could not set the TPM's DA parameters" >&2; exit 1; }
}

# ix_spawn CMD...: starts CMD in the background and remembers it, so ix_cleanup kills it even on failure.
# Works inside run_step's subshell too: the ids go to a file. Prints nothing; the id is in $IX_LAST_PID.
ix_spawn() {
  "$@" &
  IX_LAST_PID=$!
  echo "$IX_LAST_PID" >> "$W/pids"
}

ix_cleanup() {
  local rc=$? pid i
  if [[ -f "$W/pids" ]]; then
    while read -r pid; do kill "$pid" 2>/dev/null || true; done < "$W/pids"
    for ((i = 0; i < 50; i++)); do
      local alive=0
      while read -r pid; do kill -0 "$pid" 2>/dev/null && alive=1; done < "$W/pids"
      (( alive )) || break
      sleep 0.1
    done
    while read -r pid; do kill -9 "$pid" 2>/dev/null || true; done < "$W/pids"
  fi
  if [[ -n "$IX_SWTPM_DIR" ]]; then
    if [[ -n "${IX_KEEP:-}" && -f "$IX_SWTPM_DIR/swtpm.log" ]]; then echo "swtpm log: $IX_SWTPM_DIR/swtpm.log"; fi
    "$IX_SWTPM_SH" stop "$IX_SWTPM_DIR" || true
  fi
  [[ -n "${IX_KEEP:-}" ]] && echo "kept $W" || rm -rf "$W"
  exit "$rc"
}

ix_require() {  # ix_require COMMAND PACKAGE
  command -v "$1" >/dev/null || { echo "$1 not installed (Debian package $2)" >&2; exit 1; }
}

# A TCP port on 127.0.0.1 that nothing listens on now (the kernel picks it).
ix_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ix_wait_port PORT [SECONDS]: waits until something accepts connections on 127.0.0.1:PORT.
ix_wait_port() {
  local i
  for ((i = 0; i < ${2:-20} * 10; i++)); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "nothing listens on 127.0.0.1:$1" >&2
  return 1
}

# ix_create_token: initialises an empty token of $KEYSEAL_BACKEND labelled $IX_LABEL with the SO and user
# PINs, through the module (keyseal init when the tool is given, else pkcs11-tool: any module).
ix_create_token() {
  if [[ -n "$CLI" ]]; then
    "$CLI" --module "$MODULE" init --label "$IX_LABEL" --backend "$KEYSEAL_BACKEND" \
      --so-pin "$IX_SO_PIN" --pin "$IX_PIN"
  else
    [[ "$KEYSEAL_BACKEND" == soft ]] ||
      { echo "KEYSEAL_BACKEND=$KEYSEAL_BACKEND needs the keyseal tool (keyseal init --backend)" >&2; return 1; }
    local slot
    slot=$("${P11[@]}" --list-slots | awk '/^Slot [0-9]+ \(0x[0-9a-f]+\)/ { s = $3; gsub(/[():]/, "", s) }
                                           /token state: +uninitialized/ && s != "" { print s; exit }')
    [[ -n "$slot" ]] || { echo "no uninitialised token" >&2; return 1; }
    "${P11[@]}" --slot "$slot" --init-token --label "$IX_LABEL" --so-pin "$IX_SO_PIN"
    "${P11[@]}" "${TOK[@]}" --init-pin --login --login-type so --so-pin "$IX_SO_PIN" --pin "$IX_PIN"
  fi
  "${P11[@]}" --list-token-slots | grep -q "token label *: $IX_LABEL"
}

# The slot id (decimal) of our token, as Java and p11tool name it.
ix_slot_id() {
  "${P11[@]}" --list-token-slots | awk -v l="$IX_LABEL" '
    /^Slot [0-9]+ \(0x[0-9a-f]+\)/ { s = $3; gsub(/[():]/, "", s) }
    $0 ~ "token label *: " l "$" { print s; exit }' | { read -r s && echo $((s)); }
}

# ix_keygen KEY-TYPE ID LABEL: a key pair on the token (pkcs11-tool key types: rsa:2048, EC:prime256v1).
ix_keygen() {
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --keypairgen --key-type "$1" --id "$2" --label "$3"
}

# ix_pubkey ID OUT.pem: the public key with CKA_ID ID as PEM.
ix_pubkey() {
  "${P11[@]}" "${TOK[@]}" --read-object --type pubkey --id "$1" -o "$2.der"
  openssl pkey -pubin -inform DER -in "$2.der" -out "$2"
}

# ix_openssl_conf: writes (once) an OpenSSL config loading the libp11 engine for our module, PIN included, and
# prints its path. Callers set OPENSSL_CONF per command: it changes how every openssl command starts.
ix_openssl_conf() {
  local conf="$W/openssl-pkcs11.cnf"
  [[ -f "$conf" ]] || cat > "$conf" <<EOF
openssl_conf = openssl_init

[openssl_init]
engines = engine_section

[engine_section]
pkcs11 = pkcs11_section

[pkcs11_section]
engine_id = pkcs11
MODULE_PATH = $MODULE
PIN = $IX_PIN
init = 0

[req]
distinguished_name = req_dn
[req_dn]
EOF
  echo "$conf"
}

# ix_cert ID CN: a self-signed certificate for the token key CKA_ID=ID (ix_cert_pem), stored on the token
# with the same CKA_ID and label CN. (openssl_engine.sh makes its own with `openssl req -x509`.)
ix_cert() {
  ix_cert_pem "$1" "$2"
  ix_store_cert "$1" "$2"
}

# ix_cert_pem ID CN: $W/cert-ID.pem and .der, self-signed by the token key CKA_ID=ID with GnuTLS certtool
# through the module; usable for TLS client and server authentication and code signing.
ix_cert_pem() {
  local id=$1 cn=$2
  cat > "$W/cert-$id.tmpl" <<EOT
cn = "$cn"
serial = $(( 0x$id + 1000 ))
expiration_days = 30
signing_key
encryption_key
tls_www_client
tls_www_server
code_signing_key
dns_name = "localhost"
EOT
  GNUTLS_PIN=$IX_PIN certtool --provider "$MODULE" --generate-self-signed --template "$W/cert-$id.tmpl" \
    --load-privkey "$TOKEN_URI;id=%$id;type=private" --load-pubkey "$TOKEN_URI;id=%$id;type=public" \
    --outfile "$W/cert-$id.pem"
  openssl x509 -in "$W/cert-$id.pem" -outform DER -out "$W/cert-$id.der"
}

ix_store_cert() {  # ix_store_cert ID LABEL: $W/cert-ID.der onto the token with CKA_ID=ID
  "${P11[@]}" "${TOK[@]}" "${LOGIN[@]}" --write-object "$W/cert-$1.der" --type cert --id "$1" --label "$2"
}

ix_known_failure() {
  local step
  for step in ${KNOWN_FAILURES:-}; do [[ "$step" == "$1" ]] && return 0; done
  return 1
}

# run_step NAME DESCRIPTION FUNCTION [ARGS...]: runs FUNCTION in a subshell with errexit on; its output goes to
# $W/NAME.log and is shown when it fails.
run_step() {
  local name=$1 desc=$2 rc=0
  shift 2
  echo "-- $name: $desc"
  set +e
  ( set -euo pipefail; "$@" ) > "$W/$name.log" 2>&1 &
  local spid=$! waited=0 limit=$(( ${IX_STEP_TIMEOUT:-240} * 5 ))
  while kill -0 "$spid" 2>/dev/null && (( waited < limit )); do sleep 0.2; waited=$((waited + 1)); done
  if kill -0 "$spid" 2>/dev/null; then
    { echo "== step '$name' still running after ${IX_STEP_TIMEOUT:-240} s: hung"; ix_hang_report "$spid"; } >> "$W/$name.log" 2>&1
    ix_kill_tree "$spid"
  fi
  wait "$spid"
  rc=$?
  set -e
  if (( rc == 0 )); then
    IX_PASSED=$((IX_PASSED + 1))
    if ix_known_failure "$name"; then echo "   PASS (listed in KNOWN_FAILURES but passed)"; else echo "   PASS"; fi
    if [[ -n "${IX_VERBOSE:-}" ]]; then sed 's/^/     | /' "$W/$name.log"; fi
  elif ix_known_failure "$name"; then
    IX_XFAIL+=("$name")
    echo "   KNOWN FAILURE (exit $rc); last lines:"
    tail -n 4 "$W/$name.log" | sed 's/^/     | /'
  else
    IX_FAILED+=("$name")
    echo "   FAIL (exit $rc); output:"
    tail -n 40 "$W/$name.log" | sed 's/^/     | /'
    if [[ "$name" == create-token ]]; then   # every later step needs the token
      echo "== no token: scenario stopped"
      exit 1
    fi
  fi
}

# ix_descendants PID: PID's child processes, grandchildren and so on.
ix_descendants() {
  local c
  for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do echo "$c"; ix_descendants "$c"; done
}

ix_kill_tree() {  # ix_kill_tree PID: TERM, then KILL, to PID and everything below it
  local pids
  pids="$1 $(ix_descendants "$1" | tr '\n' ' ')"
  kill $pids 2>/dev/null || true
  sleep 1
  kill -9 $pids 2>/dev/null || true
}

# ix_hang_report PID: what a hung step is waiting for. Every process of the step and every process that has the
# module loaded (e.g. an ssh-agent's helper started by an earlier step): command line, kernel wait channel,
# TCP connections, and (with gdb) each thread's stack; then who is connected to the scenario's swtpm.
ix_hang_report() {
  local p pids
  pids=$( { ix_descendants "$1"; grep -l -F "$MODULE" /proc/[0-9]*/maps 2>/dev/null | cut -d/ -f3; } | sort -un)
  for p in $pids; do
    [[ -r /proc/$p/cmdline ]] || continue
    echo "-- process $p (parent $(ps -o ppid= -p "$p" | tr -d ' ')): $(tr '\0' ' ' < "/proc/$p/cmdline")"
    echo "   wait channel: $(cat "/proc/$p/wchan" 2>/dev/null)$(grep -q -F "$MODULE" "/proc/$p/maps" 2>/dev/null && echo ', module loaded')"
    ss -tnpH 2>/dev/null | grep "pid=$p," | sed 's/^/   tcp: /'
    if command -v gdb > /dev/null && grep -q -F "$MODULE" "/proc/$p/maps" 2>/dev/null; then
      timeout 60 gdb -p "$p" -batch -nx -ex 'thread apply all bt 25' 2>/dev/null | grep -E '^(Thread|#)' | sed 's/^/   /'
    fi
  done
  if [[ -n "$IX_SWTPM_DIR" && -f "$IX_SWTPM_DIR/port" ]]; then
    echo "-- connections to swtpm (port $(cat "$IX_SWTPM_DIR/port")):"
    ss -tanp 2>/dev/null | grep -E "127\.0\.0\.1:$(cat "$IX_SWTPM_DIR/port")( |$)" | grep -v TIME-WAIT || echo "   none open"
  fi
}

# expect DESCRIPTION COMMAND...: fails the step with a message when COMMAND fails.
expect() {
  local what=$1
  shift
  if ! "$@"; then
    echo "expectation failed: $what" >&2
    return 1
  fi
}

ix_summary() {
  echo "== $IX_PASSED passed, ${#IX_FAILED[@]} failed${IX_FAILED[*]:+ (${IX_FAILED[*]})}," \
       "${#IX_XFAIL[@]} known failures${IX_XFAIL[*]:+ (${IX_XFAIL[*]})}"
  (( ${#IX_FAILED[@]} == 0 ))
}
