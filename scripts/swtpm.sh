#!/bin/sh
# Start or stop a software TPM 2.0 (Debian swtpm) for shell tests of the keyseal TPM token.
#   scripts/swtpm.sh start DIR   -> starts swtpm with state in DIR on a free loopback port pair, writes DIR/pid
#                                   and DIR/tcti, prints the TCTI string (swtpm:host=127.0.0.1,port=N)
#   scripts/swtpm.sh stop DIR    -> stops it (the state in DIR stays; start again to resume the same TPM)
set -eu
cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop DIR" >&2; exit 2; }

port_free() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}

case "$cmd" in
start)
  command -v swtpm >/dev/null 2>&1 || { echo "swtpm is not installed (Debian package swtpm)" >&2; exit 1; }
  mkdir -p "$dir"
  if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then cat "$dir/tcti"; exit 0; fi
  fixed=""
  if [ -f "$dir/port" ]; then fixed=$(cat "$dir/port"); fi  # a restart reuses the same port when it can
  # swtpm listens on the control port before the command port: ready means both answer and the process is
  # still ours. If it exited (another process took a port between the probe and its bind), try a fresh pair.
  for attempt in 1 2 3 4 5; do
    port=$fixed
    if [ -z "$port" ]; then
      for _ in $(seq 1 50); do
        p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
        if [ "$p" -lt 65535 ] && port_free $((p + 1)); then port=$p; break; fi
      done
    fi
    [ -n "$port" ] || { echo "no free port pair" >&2; exit 1; }
    swtpm socket --tpm2 --tpmstate dir="$dir" \
      --server type=tcp,port="$port",bindaddr=127.0.0.1 \
      --ctrl type=tcp,port=$((port + 1)),bindaddr=127.0.0.1 \
      --flags not-need-init,startup-clear --log file="$dir/swtpm.log" >/dev/null 2>&1 &
    echo $! > "$dir/pid"
    echo "$port" > "$dir/port"
    for _ in $(seq 1 100); do
      kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
      if python3 -c "import socket
for p in ($((port + 1)), $port): socket.create_connection(('127.0.0.1', p), 0.2).close()" 2>/dev/null; then
        sleep 0.01
        kill -0 "$(cat "$dir/pid")" 2>/dev/null || break
        echo "swtpm:host=127.0.0.1,port=$port" > "$dir/tcti"
        cat "$dir/tcti"
        exit 0
      fi
      sleep 0.05
    done
    kill -9 "$(cat "$dir/pid")" 2>/dev/null || true
    rm -f "$dir/pid"
    rm -f "$dir/port"
    # A restart prefers its old port (a client that kept the TCTI string finds the TPM again), but another
    # process may hold that port now: then a fresh pair, and callers read the new TCTI from DIR/tcti.
    if [ -n "$fixed" ]; then
      echo "swtpm.sh: port $fixed is taken now (see $dir/swtpm.log); restarting on a fresh port pair" >&2
      fixed=""
    fi
  done
  echo "swtpm did not start; see $dir/swtpm.log" >&2
  exit 1
  ;;
stop)
  [ -f "$dir/pid" ] || exit 0
  pid=$(cat "$dir/pid")
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$dir/pid"
  ;;
*)
  echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
