#!/usr/bin/env bash
# `cmake --install BUILD_DIR --prefix DIR` by an unprivileged user into a temporary DIR: every installed file
# lies under DIR (none in p11-kit's system module directory), and DIR's p11-kit module file names the module
# installed under DIR. Run as root (CI), the install runs as `nobody` (setpriv), for whom any write outside DIR
# fails as it would for a user; then cmake's own install_manifest.txt in BUILD_DIR is made writable for that
# run only and put back afterwards. Exit 77 (ctest: skipped) when the build has no module yet.
# Usage: prefix_install.sh BUILD_DIR
set -euo pipefail

BUILD=$(cd "${1:?usage: prefix_install.sh BUILD_DIR}" && pwd)
fail() { echo "FAIL: $*" >&2; exit 1; }
[[ -f "$BUILD/cmake_install.cmake" ]] || fail "$BUILD is not a configured build tree"
[[ -f "$BUILD/src/pkcs11/libkeyseal.so" ]] || { echo "SKIP: build the module first"; exit 77; }

TMP=$(mktemp -d)
DIR="$TMP/prefix with space"
MANIFEST="$BUILD/install_manifest.txt"
SAVED=""
cleanup() {
  local rc=$?
  if [[ -n "$SAVED" ]]; then
    if [[ "$SAVED" == none ]]; then rm -f "$MANIFEST"; else mv -f "$SAVED" "$MANIFEST"; fi
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT

SYSTEM_FILE=$(pkg-config --variable=p11_module_configs p11-kit-1 2>/dev/null || true)/keyseal.module
[[ -e "$SYSTEM_FILE" ]] && SYSTEM_BEFORE=$(stat -c '%Y %s' "$SYSTEM_FILE") || SYSTEM_BEFORE=absent

RUN=()
if [[ $(id -u) -eq 0 ]]; then
  command -v setpriv >/dev/null || fail "setpriv is needed to install as an unprivileged user"
  chown nobody:nogroup "$TMP"
  if [[ -e "$MANIFEST" ]]; then SAVED="$TMP.manifest"; cp -p "$MANIFEST" "$SAVED"; else SAVED=none; fi
  : > "$MANIFEST"
  chown nobody:nogroup "$MANIFEST"
  RUN=(setpriv --reuid=nobody --regid=nogroup --clear-groups --)
fi
touch "$TMP/.stamp"

echo "== ${RUN[*]} cmake --install $BUILD --prefix $DIR"
"${RUN[@]}" cmake --install "$BUILD" --prefix "$DIR" > "$TMP/install.log" 2>&1 ||
  { cat "$TMP/install.log"; fail "cmake --install --prefix failed (a write outside the prefix?)"; }
cat "$TMP/install.log"

# What cmake says it installed, and what is there.
[[ -s "$MANIFEST" ]] || fail "no install manifest"
while read -r f; do
  [[ "$f" == "$DIR"/* ]] || fail "installed outside the prefix: $f"
done < "$MANIFEST"
grep -F -- "-- Installing: " "$TMP/install.log" | grep -vF -- "-- Installing: $DIR/" &&
  fail "cmake --install reports files outside the prefix"
if [[ $(id -u) -eq 0 ]]; then
  # Nothing the unprivileged install could write anywhere else: no file of nobody's newer than the stamp.
  outside=$(find / -xdev \( -path /proc -o -path "$TMP" \) -prune -o -user nobody -newer "$TMP/.stamp" -print \
              2>/dev/null | grep -vF "$MANIFEST" || true)
  [[ -z "$outside" ]] || fail "files written outside the prefix: $outside"
fi
[[ -e "$SYSTEM_FILE" ]] && SYSTEM_AFTER=$(stat -c '%Y %s' "$SYSTEM_FILE") || SYSTEM_AFTER=absent
[[ "$SYSTEM_AFTER" == "$SYSTEM_BEFORE" ]] || fail "$SYSTEM_FILE was changed"

# The module file, in DIR's p11-kit module directory, names the module as installed under DIR.
MODULE_FILE=$(find "$DIR" -name keyseal.module -path '*/p11-kit/modules/*')
[[ $(wc -l <<< "$MODULE_FILE") -eq 1 && -f "$MODULE_FILE" ]] || fail "no (single) keyseal.module under $DIR"
MODULE=$(sed -n 's/^module: //p' "$MODULE_FILE")
echo "$MODULE_FILE names $MODULE"
[[ "$MODULE" == "$DIR"/*/pkcs11/libkeyseal.so ]] || fail "the module file names $MODULE, not a module under $DIR"
[[ -f "$MODULE" ]] || fail "the module file names $MODULE, which was not installed"
grep -qx "$MODULE" "$MANIFEST" || fail "$MODULE is not in the install manifest"
echo "OK"
