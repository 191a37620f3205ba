#!/usr/bin/env bash
# An emulated aarch64 CPython for the aarch64 wheel's tests (and the aarch64 libgcc_s.so.1 the
# wheel links): Debian's arm64 python3.11 packages unpacked into a private sysroot under
# target/aarch64/ with a private apt configuration (no foreign architecture is added to the host),
# run by qemu-user-static; a venv with pip inside it. Idempotent: the debs and the sysroot are kept,
# so a second run only checks them (seconds).
#
#   scripts/aarch64-python.sh            prints the sysroot path on its last line
#   target/aarch64/bin/python-arm64 ...  the venv's python under qemu (works with or without
#                                        binfmt_misc, which this script registers when it can)
#
# Pitfalls (see also the README of the feasibility sketch this follows): without binfmt_misc,
# anything that starts sys.executable again (ensurepip, pip's build isolation) fails with "Exec
# format error", so the venv is made --without-pip and pip runs from its own wheel; the sysroot must
# be writable (the debs ship no .pyc); QEMU_LD_PREFIX must point at the sysroot.
set -euo pipefail
cd "$(dirname "$0")/.."
ARM=$PWD/target/aarch64
SYSROOT=$ARM/sysroot
VENV=$ARM/venv
APTD=$ARM/apt
export DEBIAN_FRONTEND=noninteractive
mkdir -p "$ARM"

if ! command -v qemu-aarch64-static > /dev/null; then
  [ "$(id -u)" = 0 ] || { echo "FAIL: qemu-user-static is missing (apt-get install qemu-user-static)" >&2; exit 1; }
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends qemu-user-static binfmt-support > /dev/null
fi
# binfmt_misc lets aarch64 programs be executed directly (subprocesses of sys.executable work).
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2> /dev/null || true
fi
if [ -e /proc/sys/fs/binfmt_misc/register ] && [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  update-binfmts --enable qemu-aarch64 2> /dev/null || true
fi

if [ ! -x "$SYSROOT/usr/bin/python3.11" ]; then
  mkdir -p "$APTD"/state/lists/partial "$APTD"/cache/archives/partial "$APTD"/etc/sources.list.d \
    "$APTD"/etc/apt.conf.d "$APTD"/etc/preferences.d "$ARM/debs"
  touch "$APTD/state/status"
  # The host's Debian sources (bookworm), read for arm64.
  for f in /etc/apt/sources.list.d/*.sources /etc/apt/sources.list.d/*.list; do
    [ -f "$f" ] && cp "$f" "$APTD/etc/sources.list.d/"
  done
  [ -f /etc/apt/sources.list ] && cp /etc/apt/sources.list "$APTD/etc/sources.list.d/host.list"
  cat > "$APTD/apt.conf" <<EOF
APT::Architecture "arm64";
APT::Architectures { "arm64"; };
Dir::State "$APTD/state";
Dir::State::status "$APTD/state/status";
Dir::Cache "$APTD/cache";
Dir::Etc "$APTD/etc";
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$APTD/etc/sources.list.d";
Dir::Etc::Trusted "/etc/apt/trusted.gpg";
Dir::Etc::TrustedParts "/etc/apt/trusted.gpg.d";
EOF
  export APT_CONFIG=$APTD/apt.conf
  apt-get update -qq
  pkgs=$(apt-get install -s -q --no-install-recommends python3.11 python3.11-venv | awk '/^Inst/{print $2":arm64"}')
  # shellcheck disable=SC2086
  (cd "$ARM/debs" && apt-get download -q $pkgs > /dev/null)
  rm -rf "$SYSROOT.tmp"
  mkdir -p "$SYSROOT.tmp"
  for d in "$ARM"/debs/*.deb; do dpkg-deb -x "$d" "$SYSROOT.tmp"; done
  mv "$SYSROOT.tmp" "$SYSROOT"
fi
Q=(qemu-aarch64-static -L "$SYSROOT")
if [ ! -x "$VENV/bin/pip" ]; then
  rm -rf "$VENV"
  QEMU_LD_PREFIX=$SYSROOT "${Q[@]}" "$SYSROOT/usr/bin/python3.11" -m venv --without-pip "$VENV"
  pip_wheel=$(ls "$SYSROOT"/usr/share/python-wheels/pip-*.whl)
  QEMU_LD_PREFIX=$SYSROOT "${Q[@]}" "$VENV/bin/python" "$pip_wheel/pip" install -q --disable-pip-version-check "$pip_wheel"
fi
mkdir -p "$ARM/bin"
cat > "$ARM/bin/python-arm64" <<EOF
#!/bin/sh
export QEMU_LD_PREFIX=$SYSROOT
exec qemu-aarch64-static -L $SYSROOT $VENV/bin/python "\$@"
EOF
chmod +x "$ARM/bin/python-arm64"
machine=$("$ARM/bin/python-arm64" -c 'import platform; print(platform.machine())')
[ "$machine" = aarch64 ] || { echo "FAIL: the emulated python reports $machine" >&2; exit 1; }
echo "$SYSROOT"
