#!/usr/bin/env bash
# End-to-end: what someone who can set the caller's environment or write (or freeze) the token's files can
# do, with pkcs11-tool as the consumer (issue 11):
# - a configuration with a huge max_pin_attempts does not lift a locked PIN (the limit is the token's own);
# - a record edited in the file (a sensitive AES key made extractable and its value replaced by a known one)
#   is refused: the key cannot be read nor used, and the rest of the token works;
# - a store on a read-only mount (bind mount in a private mount namespace) still works for signing, and
#   reports the token write-protected.
# Usage: store_attacks.sh MODULE        (the read-only step needs root or unprivileged user namespaces)
set -euo pipefail

MODULE=${1:?usage: store_attacks.sh MODULE}
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/lib.sh"
[[ -r "$MODULE" ]] || { echo "module not found: $MODULE" >&2; exit 1; }
for tool in pkcs11-tool python3 openssl unshare; do
  command -v $tool >/dev/null || { echo "$tool is needed" >&2; exit 1; }
done
e2e_setup
printf 'max_pin_attempts = 3\n' >> "$KEYSEAL_CONF"

SO_PIN=87654321
PIN=123456
W=$E2E_TMP
P=(pkcs11-tool --module "$MODULE" --token-label attack-e2e)
echo "store attacks end-to-end: $MODULE (backend ${KEYSEAL_BACKEND:-auto})"

pkcs11-tool --module "$MODULE" --init-token --slot 0 --label attack-e2e --so-pin $SO_PIN >/dev/null
"${P[@]}" --init-pin --login --so-pin $SO_PIN --pin $PIN >/dev/null

# Edits the stored attributes of the object labelled $1 with the Python expression $2 over `attrs`, a dict
# type -> [sealed, value] (keyseal's attribute record format: docs/keystore.md).
edit_record() {
  python3 - "$KEYSEAL_STORE/token-0.db" "$1" "$2" <<'PY'
import sqlite3, struct, sys
db, label, expr = sys.argv[1:4]
con = sqlite3.connect(db)
rowid, blob = con.execute("SELECT id, attrs FROM objects WHERE label = ?", (label,)).fetchone()
ver, n = blob[0], struct.unpack_from("<I", blob, 1)[0]
pos, attrs = 5, {}
for _ in range(n):
    t, flags, ln = struct.unpack_from("<QBI", blob, pos); pos += 13
    attrs[t] = [flags & 1, blob[pos:pos + ln]]; pos += ln
CKA_VALUE, CKA_SENSITIVE, CKA_EXTRACTABLE = 0x11, 0x103, 0x162
exec(expr)
out = bytes([ver]) + struct.pack("<I", len(attrs))
for t in sorted(attrs):
    out += struct.pack("<QBI", t, attrs[t][0], len(attrs[t][1])) + attrs[t][1]
con.execute("UPDATE objects SET attrs = ? WHERE id = ?", (out, rowid)); con.commit()
PY
}

step_config_cannot_lift_limit() {
  for _ in 1 2 3; do "${P[@]}" --login --pin 999999 --list-objects > "$W/wrong.log" 2>&1 || true; done
  expect "third wrong PIN locks" grep -q CKR_PIN_INCORRECT "$W/wrong.log"
  printf 'max_pin_attempts = 1000000\n' >> "$KEYSEAL_CONF"
  if "${P[@]}" --login --pin $PIN --list-objects > "$W/right.log" 2>&1; then
    echo "a raised max_pin_attempts unlocked the token"; return 1
  fi
  expect "still CKR_PIN_LOCKED" grep -q CKR_PIN_LOCKED "$W/right.log"
  # The SO unlocks it as usual.
  "${P[@]}" --init-pin --login --so-pin $SO_PIN --pin $PIN
  "${P[@]}" --login --pin $PIN --list-objects
}

step_edited_record_refused() {
  "${P[@]}" --login --pin $PIN --keygen --key-type AES:32 --id 0a --label victim-aes --sensitive
  "${P[@]}" --login --pin $PIN --keypairgen --key-type EC:prime256v1 --id 0b --label bystander
  edit_record victim-aes 'attrs[CKA_VALUE] = [0, b"A" * 32]; attrs[CKA_SENSITIVE][1] = b"\0"; attrs[CKA_EXTRACTABLE][1] = b"\1"'
  if "${P[@]}" --login --pin $PIN --read-object --type secrkey --id 0a -o "$W/stolen" 2>/dev/null; then
    echo "the key's value was read after the edit"; return 1
  fi
  head -c 16 /dev/zero > "$W/block"
  if "${P[@]}" --login --pin $PIN --encrypt -m AES-ECB --id 0a -i "$W/block" -o "$W/ct" 2>/dev/null; then
    openssl enc -aes-256-ecb -nopad -K "$(printf 'A%.0s' {1..32} | xxd -p -c 64)" -in "$W/block" -out "$W/evil-ct"
    if cmp -s "$W/ct" "$W/evil-ct"; then echo "encrypted under the attacker's key"; return 1; fi
  fi
  "${P[@]}" --login --pin $PIN --list-objects --type secrkey > "$W/objs.log"
  expect "edited key not listed" bash -c "! grep -q victim-aes '$W/objs.log'"
  echo hello > "$W/msg"
  "${P[@]}" --login --pin $PIN --sign -m ECDSA-SHA256 --id 0b -i "$W/msg" -o "$W/sig"
  "${P[@]}" --verify -m ECDSA-SHA256 --id 0b -i "$W/msg" --signature-file "$W/sig"
}

if [[ $(id -u) -eq 0 ]]; then UNSHARE=(unshare --mount); else UNSHARE=(unshare -r --mount); fi

step_read_only_store() {
  echo hello > "$W/msg"
  "${UNSHARE[@]}" -- bash -c 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"' ro \
    "$KEYSEAL_STORE" bash -c '
      set -euo pipefail
      P=(pkcs11-tool --module "$1" --token-label attack-e2e)
      if touch "$KEYSEAL_STORE/probe" 2>/dev/null; then echo "store still writable"; exit 1; fi
      "${P[@]}" -T | tee "$2/ro-info.log"
      grep -q readonly "$2/ro-info.log"
      "${P[@]}" --login --pin "$3" --sign -m ECDSA-SHA256 --id 0b -i "$2/msg" -o "$2/ro-sig"
      "${P[@]}" --verify -m ECDSA-SHA256 --id 0b -i "$2/msg" --signature-file "$2/ro-sig"
      if "${P[@]}" --login --pin "$3" --keypairgen --key-type EC:prime256v1 --id 0c 2>"$2/ro-write.log"; then
        echo "wrote to a read-only store"; exit 1
      fi
      cat "$2/ro-write.log"' ro-check "$MODULE" "$W" "$PIN"
}

run_step config-limit "a configuration cannot lift a locked PIN" step_config_cannot_lift_limit
run_step edited-record "a record edited in the file is refused, the rest works" step_edited_record_refused
run_step read-only-store "a store on a read-only mount signs and says write-protected" step_read_only_store
e2e_summary
