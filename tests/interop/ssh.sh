#!/usr/bin/env bash
# Interop scenario: OpenSSH with keys on the token. ssh-keygen -D lists them, a fresh ssh-agent loads them
# with ssh-add -s, and a real login to an sshd of our own on 127.0.0.1 (own host key and config) succeeds with
# the RSA key and with the EC key, through the agent and through -o PKCS11Provider, and through the agent
# again after those other processes used the token.
# Commands as in docs/consumers/ssh.md. Usage: ssh.sh MODULE [KEYSEAL_CLI]
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
ix_require ssh openssh-client
ix_require ssh-agent openssh-client
[[ -x /usr/sbin/sshd ]] || { echo "sshd not installed (Debian package openssh-server)" >&2; exit 1; }
ix_require pkcs11-tool opensc
ix_init "$@"
echo "interop: OpenSSH with $MODULE (backend $KEYSEAL_BACKEND)"
ME=$(id -un)
# ssh and ssh-add ask for the PIN through SSH_ASKPASS when forced to (no terminal in tests).
printf '#!/bin/sh\necho %s\n' "$IX_PIN" > "$W/askpass"
chmod 700 "$W/askpass"
export SSH_ASKPASS="$W/askpass" SSH_ASKPASS_REQUIRE=force DISPLAY=:0
AGENT_SOCK="$W/agent.sock"
# ssh client options shared by every login: no user config, our known_hosts, nothing but what we offer.
SSH=(ssh -F /dev/null -o BatchMode=no -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile="$W/known_hosts"
     -o IdentitiesOnly=yes -o PasswordAuthentication=no -o KbdInteractiveAuthentication=no -o ConnectTimeout=20)

step_keys() {
  ix_keygen rsa:2048 01 ssh-rsa
  ix_keygen EC:prime256v1 02 ssh-ec
}

step_keygen_D() {
  ssh-keygen -D "$MODULE" | tee "$W/token-keys.pub"
  expect "two keys listed" test "$(wc -l < "$W/token-keys.pub")" -eq 2
  grep '^ssh-rsa ' "$W/token-keys.pub" > "$W/rsa.pub"
  grep '^ecdsa-sha2-nistp256 ' "$W/token-keys.pub" > "$W/ec.pub"
  # The listed keys are the token's public keys.
  ix_pubkey 01 "$W/rsa.pem"
  cmp <(ssh-keygen -i -m PKCS8 -f "$W/rsa.pem" | cut -d' ' -f2) <(cut -d' ' -f2 "$W/rsa.pub")
  cat "$W/rsa.pub" "$W/ec.pub" > "$W/authorized_keys"
}

step_sshd() {
  [[ $(id -u) -ne 0 || -d /run/sshd ]] || mkdir -p /run/sshd   # sshd's privilege separation directory
  ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"
  local port
  port=$(ix_free_port)
  cat > "$W/sshd_config" <<EOT
ListenAddress 127.0.0.1
Port $port
HostKey $W/host_key
PidFile $W/sshd.pid
AuthorizedKeysFile $W/authorized_keys
StrictModes no
PermitRootLogin yes
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
LogLevel VERBOSE
EOT
  /usr/sbin/sshd -t -f "$W/sshd_config"
  ix_spawn /usr/sbin/sshd -D -e -f "$W/sshd_config" 2> "$W/sshd.log"
  echo "$port" > "$W/port"
  ix_wait_port "$port"
}

step_agent() {
  # Modules outside /usr/lib*/ and /usr/local/lib*/ must be allowed with -P (an installed keyseal needs no -P).
  ix_spawn ssh-agent -D -a "$AGENT_SOCK" -P "$MODULE" > "$W/agent.out"
  local i
  for ((i = 0; i < 100; i++)); do [[ -S "$AGENT_SOCK" ]] && break; sleep 0.1; done
  export SSH_AUTH_SOCK=$AGENT_SOCK
  ssh-add -s "$MODULE" < /dev/null
  ssh-add -L | tee "$W/agent-keys.pub"
  expect "the agent holds the RSA key" grep -qF "$(cut -d' ' -f2 "$W/rsa.pub")" "$W/agent-keys.pub"
  expect "the agent holds the EC key" grep -qF "$(cut -d' ' -f2 "$W/ec.pub")" "$W/agent-keys.pub"
}

login() {  # login PUBKEY-FILE OPTIONS...: `echo ok` on our sshd with the key whose public half is PUBKEY-FILE
  local pub=$1 out
  shift
  out=$("${SSH[@]}" -v -p "$(cat "$W/port")" -i "$pub" "$@" "$ME@127.0.0.1" echo ok 2> "$W/ssh-client.log" < /dev/null) ||
    { tail -n 20 "$W/ssh-client.log"; tail -n 10 "$W/sshd.log"; return 1; }
  expect "remote command printed ok" test "$out" = ok
  # The server accepted exactly this key.
  local type
  type=$(cut -d' ' -f1 "$pub")
  grep -E "Server accepts key: .*(${type#ssh-}|ECDSA|RSA)" "$W/ssh-client.log"
  grep -q "Authenticated to 127.0.0.1" "$W/ssh-client.log"
}

step_login_agent() {
  login "$1" -o IdentityAgent="$AGENT_SOCK" -o PKCS11Provider=none
}

step_login_provider() {
  login "$1" -o IdentityAgent=none -o PKCS11Provider="$MODULE"
}

step_wrong_key() {
  # A key that is not on the token and not authorised must not log in: the logins above can fail.
  ssh-keygen -q -t ed25519 -N '' -f "$W/other_key"
  ! "${SSH[@]}" -p "$(cat "$W/port")" -i "$W/other_key" -o IdentityAgent=none "$ME@127.0.0.1" echo ok < /dev/null
}

run_step create-token "create the $KEYSEAL_BACKEND token '$IX_LABEL' through the module" ix_create_token
run_step keys "RSA 2048 and EC P-256 key pairs" step_keys
run_step keygen-D "ssh-keygen -D lists both keys" step_keygen_D
run_step sshd "sshd on 127.0.0.1, own host key and config" step_sshd
run_step agent "fresh ssh-agent, ssh-add -s loads the token keys" step_agent
run_step login-agent-rsa "ssh login through the agent with the RSA key" step_login_agent "$W/rsa.pub"
run_step login-agent-ec "ssh login through the agent with the EC key" step_login_agent "$W/ec.pub"
run_step login-pkcs11-rsa "ssh -o PKCS11Provider login with the RSA key" step_login_provider "$W/rsa.pub"
run_step login-pkcs11-ec "ssh -o PKCS11Provider login with the EC key" step_login_provider "$W/ec.pub"
# The agent's module instance has stayed loaded while the ssh processes above loaded the module themselves (as
# ssh-agent and Firefox share one token): the agent must still sign afterwards.
run_step login-agent-after "ssh login through the agent again, after other processes used the token" \
  step_login_agent "$W/rsa.pub"
run_step wrong-key "an unauthorised key is refused" step_wrong_key
ix_summary
