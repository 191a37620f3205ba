#!/usr/bin/env bash
# Builds the Python distributions of kstoken.
#
#   scripts/build-wheel.sh              `make wheel`: into target/wheels/
#       kstoken-V-cp39-abi3-manylinux_2_17_x86_64.whl   portable: OpenSSL built from source and
#           linked statically with its symbols hidden (only PyInit__kstoken is exported); runs on
#           any x86_64 Linux with glibc >= 2.17 and CPython >= 3.9
#       kstoken-V.tar.gz                                the sdist: `pip install` builds it against
#           the system OpenSSL (FIPS deployments: the system's providers and configuration)
#   scripts/build-wheel.sh --host VENV  a quick wheel for this machine only (system OpenSSL,
#       linux_x86_64 tag), installed into the virtualenv VENV (created if missing): demo, benchmarks
#       (`scripts/build-wheel.sh VENV` does the same)
#
# The portable wheel is built with `maturin --zig` (zig from the ziglang package links against
# glibc 2.17 without a manylinux container) in target/wheel-build, a target directory of its own.
# Tools are pinned and installed into target/wheel-tools.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PYTHON=${PYTHON:-python3}
MATURIN="maturin==1.16.0"
ZIGLANG="ziglang==0.17.1"

host=
case "${1:-}" in
  --host) host=1; venv="${2:?usage: build-wheel.sh --host VENV}" ;;
  "") ;;
  -*) echo "usage: $0 [--host VENV]" >&2; exit 2 ;;
  *) host=1; venv="$1" ;;
esac

if [ -n "$host" ]; then
  [ -x "$venv/bin/python" ] || "$PYTHON" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$MATURIN"
  rm -rf target/wheels/host
  "$venv/bin/maturin" build --quiet --release --locked -m python/Cargo.toml -o target/wheels/host \
    --compatibility linux
  "$venv/bin/pip" install --quiet --disable-pip-version-check --force-reinstall --no-deps \
    target/wheels/host/kstoken-*.whl
  exit 0
fi

tools=$ROOT/target/wheel-tools
if ! "$tools/bin/python" -m pip show -q maturin ziglang >/dev/null 2>&1 ||
  ! "$tools/bin/maturin" --version | grep -qx "maturin ${MATURIN#*==}"; then
  rm -rf "$tools"
  "$PYTHON" -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check "$MATURIN" "$ZIGLANG"
fi

out=$ROOT/target/wheels
mkdir -p "$out"
rm -f "$out"/kstoken-*.whl "$out"/kstoken-*.tar.gz
log=$ROOT/target/wheel-build.log
start=$SECONDS
echo "== wheel: maturin build --zig --compatibility manylinux2014 --features vendored"
# maturin runs zig as `python3 -m ziglang`: the tools' python3 comes first on PATH. The module links
# the system's libgcc_s.so.1 (python/build.rs says why: one unwinder, or SIGSEGV at interpreter exit).
libgcc_s=$(realpath "$(cc -print-file-name=libgcc_s.so.1)")
[ -f "$libgcc_s" ] || { echo "FAIL: libgcc_s.so.1 not found (cc -print-file-name)" >&2; exit 1; }
PATH="$tools/bin:$PATH" CARGO_TARGET_DIR=$ROOT/target/wheel-build KSTOKEN_LINK_LIBGCC_S=$libgcc_s \
  "$tools/bin/maturin" build --release --locked --zig \
  --compatibility manylinux2014 --features vendored -m python/Cargo.toml -o "$out" > "$log" 2>&1 ||
  { grep -v '^ *Compiling ' "$log" >&2; echo "FAIL: wheel build (log: $log)" >&2; exit 1; }
echo "== sdist: maturin sdist"
"$tools/bin/maturin" sdist -m python/Cargo.toml -o "$out" >> "$log" 2>&1 ||
  { tail -20 "$log" >&2; echo "FAIL: sdist (log: $log)" >&2; exit 1; }
if grep -qiE '^(warning|⚠️)|warning:' "$log"; then
  grep -iE -A5 '^(warning|⚠️)|warning:' "$log" >&2
  echo "FAIL: the wheel or sdist build printed warnings (log: $log)" >&2
  exit 1
fi
ls -l "$out"/kstoken-*.whl "$out"/kstoken-*.tar.gz | awk '{print "   " $5 " bytes  " $NF}'
echo "   built in $((SECONDS - start)) s"
