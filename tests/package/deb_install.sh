#!/usr/bin/env bash
# Install test of the Debian package: builds keyseal_<version>_amd64.deb with CPack from a tree configured for
# /usr, checks `cmake --install`'s layout and the .deb's contents and Depends, installs it with apt-get, uses
# the installed module with pkcs11-tool, p11-kit and `keyseal list`, removes it with apt-get and checks that
# nothing is left. It changes the real system, so it runs only as root, refuses to touch an existing keyseal
# installation, holds a lock against concurrent runs, and on every exit removes the package and any package
# apt-get pulled in for it. Exit 77 (ctest: skipped) when not root.
# Usage: deb_install.sh SOURCE_DIR WORK_DIR    (JOBS=N for the build, default 2)
set -euo pipefail

SRC=$(cd "${1:?usage: deb_install.sh SOURCE_DIR WORK_DIR}" && pwd)
WORK=${2:?usage: deb_install.sh SOURCE_DIR WORK_DIR}
JOBS=${JOBS:-2}
MULTIARCH=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
MODULE=/usr/lib/$MULTIARCH/pkcs11/libkeyseal.so
P11KIT_FILE=/usr/share/p11-kit/modules/keyseal.module
OWNED=("$MODULE" /usr/bin/keyseal "$P11KIT_FILE" /usr/share/doc/keyseal)

if [[ $(id -u) -ne 0 ]]; then
  echo "SKIP: the package test installs into the system and must run as root (CI does)"
  exit 77
fi
for tool in cmake cpack dpkg-deb dpkg-shlibdeps apt-get pkcs11-tool flock; do
  command -v "$tool" >/dev/null || { echo "FAIL: $tool is needed" >&2; exit 1; }
done

# One run at a time on this machine (other build trees may start the same test).
exec 9> /run/lock/keyseal-package-test.lock
flock 9

if dpkg-query -W -f='${Status}' keyseal 2>/dev/null | grep -q installed; then
  echo "FAIL: a keyseal package is already installed; this test will not replace it" >&2
  exit 1
fi
for f in "${OWNED[@]}"; do
  if [[ -e "$f" ]]; then
    echo "FAIL: $f exists (a 'make install'?); this test will not overwrite or delete it" >&2
    exit 1
  fi
done

rm -rf "$WORK"
mkdir -p "$WORK"
TMP=$(mktemp -d)
dpkg-query -W -f='${Package}:${Architecture}\n' | sort > "$WORK/packages.before"
INSTALLED=0

restore() {
  local rc=$?
  set +e
  if (( INSTALLED )); then
    echo "== restoring the system"
    DEBIAN_FRONTEND=noninteractive apt-get remove -y -q keyseal > "$WORK/restore.log" 2>&1
    dpkg --purge keyseal >> "$WORK/restore.log" 2>&1
    # Packages apt-get installed for keyseal's Depends (none on a machine that built it).
    dpkg-query -W -f='${Package}:${Architecture}\n' | sort > "$WORK/packages.after"
    local extra
    extra=$(comm -13 "$WORK/packages.before" "$WORK/packages.after")
    if [[ -n "$extra" ]]; then
      echo "removing packages pulled in for the test: $extra"
      # shellcheck disable=SC2086
      DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $extra >> "$WORK/restore.log" 2>&1
    fi
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap restore EXIT

step() { echo; echo "== $*"; }
fail() { echo "FAIL: $*" >&2; exit 1; }

step "configure and build for /usr (tests, benchmark and conformance suite off)"
cmake -S "$SRC" -B "$WORK/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_INSTALL_PREFIX=/usr \
  -DKEYSEAL_BUILD_TESTS=OFF -DKEYSEAL_BUILD_BENCH=OFF -DKEYSEAL_BUILD_CONFORMANCE=OFF > "$WORK/configure.log"
cmake --build "$WORK/build" -j"$JOBS" > "$WORK/build.log" 2>&1 || { tail -n 40 "$WORK/build.log"; fail "build"; }

step "cmake --install layout (into a staging directory)"
DESTDIR="$WORK/stage" cmake --install "$WORK/build" > "$WORK/install.log"
(cd "$WORK/stage" && find . -type f -o -type l | sed 's|^\.||' | sort) | tee "$WORK/stage.list"
for f in "$MODULE" /usr/bin/keyseal "$P11KIT_FILE" /usr/share/doc/keyseal/README.md /usr/share/doc/keyseal/cli.md; do
  grep -qx "$f" "$WORK/stage.list" || fail "cmake --install did not install $f"
done
grep -qx "module: $MODULE" "$WORK/stage$P11KIT_FILE" || fail "the p11-kit module file does not name $MODULE"

step "cpack -G DEB"
(cd "$WORK/build" && cpack -G DEB > "$WORK/cpack.log" 2>&1) || { cat "$WORK/cpack.log"; fail "cpack"; }
VERSION=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$WORK/build/CMakeCache.txt")
DEB="$WORK/build/keyseal_${VERSION}_amd64.deb"
[[ -f "$DEB" ]] || { ls "$WORK/build"/*.deb; fail "no $DEB"; }
dpkg-deb -c "$DEB" | tee "$WORK/deb.contents"
dpkg-deb -c "$DEB" | awk '{ print $6 }' | sed 's|^\.||; s| -> .*||' | grep -v '/$' | sort > "$WORK/deb.list"
diff -u "$WORK/stage.list" "$WORK/deb.list" || fail "the .deb does not hold what cmake --install installs"
dpkg-deb -f "$DEB" Package Version Architecture Depends | tee "$WORK/deb.fields"
DEPENDS=$(dpkg-deb -f "$DEB" Depends)
for lib in libc6 libssl3 libsqlite3-0 libargon2-1; do
  grep -q "$lib" <<< "$DEPENDS" || fail "Depends lacks $lib: $DEPENDS"
done

step "apt-get install ./$(basename "$DEB")"
INSTALLED=1
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$DEB" > "$WORK/apt-install.log" 2>&1 ||
  { cat "$WORK/apt-install.log"; fail "apt-get install"; }
dpkg -L keyseal | sort > "$WORK/dpkg.list"
for f in "${OWNED[@]}"; do [[ -e "$f" ]] || fail "$f not installed"; done

step "the installed module with pkcs11-tool and the keyseal tool (store in a temporary directory)"
export KEYSEAL_STORE="$TMP/store" KEYSEAL_CONF="$TMP/keyseal.conf" HOME="$TMP"
unset KEYSEAL_MODULE
mkdir -p "$KEYSEAL_STORE"
printf 'argon2_m_cost_kib = 8192\n' > "$KEYSEAL_CONF"
# No --module: the tool must find the installed module by itself.
keyseal init --label "package test" --so-pin 87654321 --pin 123456 | tee "$TMP/init.out"
SLOT=$(awk '/^slot:/ { print $2 }' "$TMP/init.out")
pkcs11-tool --module "$MODULE" --list-slots
pkcs11-tool --module "$MODULE" --slot "$SLOT" --login --pin 123456 --keypairgen --key-type EC:prime256v1 \
  --id 01 --label "package key"
printf 'data' > "$TMP/data"
openssl dgst -sha256 -binary "$TMP/data" > "$TMP/data.sha256"
pkcs11-tool --module "$MODULE" --slot "$SLOT" --login --pin 123456 --sign --mechanism ECDSA --id 01 \
  --signature-format openssl -i "$TMP/data.sha256" -o "$TMP/sig"
keyseal export --slot "$SLOT" --id 01 --public --out "$TMP/pub.pem"
openssl pkeyutl -verify -pubin -inkey "$TMP/pub.pem" -in "$TMP/data.sha256" -sigfile "$TMP/sig"
keyseal list --pin 123456 | tee "$TMP/list.out"
grep -q 'label "package key"' "$TMP/list.out" || fail "keyseal list does not show the key"
ssh-keygen -D "$MODULE" | grep -q '^ecdsa-sha2-nistp256 ' || fail "ssh-keygen -D does not list the key"
if command -v p11-kit >/dev/null; then
  p11-kit list-modules | tee "$TMP/p11kit.out"
  grep -q 'keyseal' "$TMP/p11kit.out" || fail "p11-kit list-modules does not show keyseal"
fi

step "apt-get remove keyseal"
DEBIAN_FRONTEND=noninteractive apt-get remove -y -q keyseal > "$WORK/apt-remove.log" 2>&1 ||
  { cat "$WORK/apt-remove.log"; fail "apt-get remove"; }
if dpkg-query -W -f='${Status}' keyseal 2>/dev/null | grep -Eq 'installed|config-files'; then
  fail "dpkg still lists keyseal: $(dpkg-query -W -f='${Status}' keyseal)"
fi
left=0
while read -r f; do
  [[ -z "$f" || -d "$f" ]] && continue   # shared directories (/usr/bin) stay
  if [[ -e "$f" || -L "$f" ]]; then echo "left behind: $f" >&2; left=1; fi
done < "$WORK/dpkg.list"
for f in "${OWNED[@]}"; do
  if [[ -e "$f" ]]; then echo "left behind: $f" >&2; left=1; fi
done
(( left == 0 )) || fail "files left after apt-get remove"
echo
echo "PASS: keyseal_${VERSION}_amd64.deb builds, installs, works and removes cleanly"
