#!/usr/bin/env bash
# Builds the Python distributions of kstoken.
#
#   scripts/build-wheel.sh              `make wheel`: into target/wheels/
#       kstoken-V-cp39-abi3-manylinux2014_x86_64.manylinux_2_17_x86_64.whl   portable: OpenSSL
#           built from source and linked statically with its symbols hidden (only PyInit__kstoken
#           is exported); runs on any x86_64 Linux with glibc >= 2.17 and CPython >= 3.9
#       kstoken-V-cp39-abi3-manylinux2014_aarch64.manylinux_2_17_aarch64.whl  the same for arm64
#           (cross-built: maturin --zig --target aarch64-unknown-linux-gnu; it links the arm64
#           libgcc_s.so.1 of the sysroot scripts/aarch64-python.sh unpacks)
#       kstoken-V.tar.gz                                the sdist: `pip install` builds it against
#           the system OpenSSL (FIPS deployments: the system's providers and configuration)
#   scripts/build-wheel.sh --target x86_64 | aarch64
#                                       only that wheel (x86_64: and the sdist); scripts/test.sh
#                                       builds the aarch64 one while the x86_64 one is tested
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
targets=(x86_64 aarch64)
case "${1:-}" in
  --host) host=1; venv="${2:?usage: build-wheel.sh --host VENV}" ;;
  --target)
    case "${2:-}" in
      x86_64 | aarch64) targets=("$2") ;;
      *) echo "usage: $0 --target x86_64|aarch64" >&2; exit 2 ;;
    esac ;;
  "") ;;
  -*) echo "usage: $0 [--host VENV | --target x86_64|aarch64]" >&2; exit 2 ;;
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
  ! "$tools/bin/maturin" --version | grep -x "maturin ${MATURIN#*==}" >/dev/null; then
  rm -rf "$tools"
  "$PYTHON" -m venv "$tools"
  "$tools/bin/pip" install --quiet --disable-pip-version-check "$MATURIN" "$ZIGLANG"
fi

out=$ROOT/target/wheels
mkdir -p "$out"
log=$ROOT/target/wheel-build
start=$SECONDS

# build_wheel ARCH: the portable wheel for ARCH (x86_64 or aarch64) into target/wheels.
build_wheel() {
  local arch=$1 libgcc_s triple=() build_log=$log-$1.log
  rm -f "$out"/kstoken-*_"$arch".whl
  if [ "$arch" = x86_64 ]; then
    libgcc_s=$(realpath "$(cc -print-file-name=libgcc_s.so.1)")
  else
    rustup target list --installed | grep -qx aarch64-unknown-linux-gnu ||
      rustup target add aarch64-unknown-linux-gnu > /dev/null
    libgcc_s=$(bash scripts/aarch64-python.sh | tail -n 1)/lib/aarch64-linux-gnu/libgcc_s.so.1
    triple=(--target aarch64-unknown-linux-gnu)
  fi
  [ -f "$libgcc_s" ] || { echo "FAIL: libgcc_s.so.1 for $arch not found ($libgcc_s)" >&2; return 1; }
  echo "== wheel ($arch): maturin build --zig --compatibility manylinux2014 --features vendored ${triple[*]}"
  # maturin runs zig as `python3 -m ziglang`: the tools' python3 comes first on PATH. The module
  # links libgcc_s.so.1 (python/build.rs says why: one unwinder, or SIGSEGV at interpreter exit).
  PATH="$tools/bin:$PATH" CARGO_TARGET_DIR=$ROOT/target/wheel-build KSTOKEN_LINK_LIBGCC_S=$libgcc_s \
    "$tools/bin/maturin" build --release --locked --zig "${triple[@]}" \
    --compatibility manylinux2014 --features vendored -m python/Cargo.toml -o "$out" > "$build_log" 2>&1 ||
    { grep -v '^ *Compiling ' "$build_log" >&2; echo "FAIL: $arch wheel build (log: $build_log)" >&2; return 1; }
  no_warnings "$build_log"
}

no_warnings() {
  if grep -qiE '^(warning|⚠️)|warning:' "$1"; then
    grep -iE -A5 '^(warning|⚠️)|warning:' "$1" >&2
    echo "FAIL: the build printed warnings (log: $1)" >&2
    return 1
  fi
}

for arch in "${targets[@]}"; do
  build_wheel "$arch"
  if [ "$arch" = x86_64 ]; then
    echo "== sdist: maturin sdist"
    rm -f "$out"/kstoken-*.tar.gz
    "$tools/bin/maturin" sdist -m python/Cargo.toml -o "$out" > "$log-sdist.log" 2>&1 ||
      { tail -20 "$log-sdist.log" >&2; echo "FAIL: sdist (log: $log-sdist.log)" >&2; exit 1; }
    no_warnings "$log-sdist.log"
  fi
done
{ ls -l "$out"/kstoken-*.whl "$out"/kstoken-*.tar.gz 2>/dev/null || true; } | awk '{print "   " $5 " bytes  " $NF}'
echo "   built in $((SECONDS - start)) s"
