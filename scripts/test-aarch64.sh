#!/usr/bin/env bash
# The arm64 wheel on an arm64 CPython (Debian's python3.11 under qemu-user-static, set up by
# scripts/aarch64-python.sh): installs kstoken-*-manylinux2014_aarch64*.whl into a fresh copy of the
# emulated venv and runs a focused suite there, the token corpus of the shared vectors
# (tests/test_cms_vectors.py) and the API smoke tests (tests/test_api.py). Emulation runs Python
# 20-30x slower than native, so the rest of python/tests runs on x86_64 only.
#
# Cached under target/aarch64/: the sysroot, the venv with pip, and pytest's wheels (wheelhouse), so
# a second run only reinstalls the kstoken wheel. KSTOKEN_AARCH64_WHEEL names the wheel (default: the
# one `make wheel` built in target/wheels).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ARM=$ROOT/target/aarch64
export KSTOKEN_VECTORS="${KSTOKEN_VECTORS:-$ROOT/../shared/vectors}"
start=$SECONDS

wheel=${KSTOKEN_AARCH64_WHEEL:-$(ls "$ROOT"/target/wheels/kstoken-*-cp39-abi3-*manylinux_2_17_aarch64.whl 2> /dev/null || true)}
[ -n "$wheel" ] && [ -f "$wheel" ] || { echo "FAIL: no aarch64 wheel (make wheel, or scripts/build-wheel.sh --target aarch64)" >&2; exit 1; }
echo "== aarch64: $(basename "$wheel")"
bash scripts/aarch64-python.sh > /dev/null
PY=$ARM/bin/python-arm64
[ "$("$PY" -c 'import platform; print(platform.machine())')" = aarch64 ] || { echo "FAIL: not aarch64" >&2; exit 1; }

# The wheel's native module really is arm64 code, linking only what manylinux2014 allows.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && unzip -q "$wheel")
module=$(find "$work" -name '_kstoken*.so')
file -b "$module" | grep -q 'ARM aarch64' || { echo "FAIL: $module is not aarch64: $(file -b "$module")" >&2; exit 1; }
needed=$(readelf -d "$module" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "   NEEDED: $needed"
if grep -qE 'libssl|libcrypto' <<< "$needed"; then echo "FAIL: the aarch64 module needs a system OpenSSL" >&2; exit 1; fi

echo "== aarch64: pytest (cached in target/aarch64/wheelhouse) and the wheel into the emulated venv"
if [ ! -f "$ARM/wheelhouse/.done" ]; then
  rm -rf "$ARM/wheelhouse"
  "$PY" -m pip download -q --disable-pip-version-check --only-binary :all: -d "$ARM/wheelhouse" pytest
  touch "$ARM/wheelhouse/.done"
fi
"$PY" -m pip install -q --disable-pip-version-check --no-index --find-links "$ARM/wheelhouse" pytest
"$PY" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
"$PY" -c 'import platform, kstoken, kstoken._kstoken as n; print("   kstoken", kstoken.__version__, "on", platform.machine(), n.__file__)'

echo "== aarch64: the token corpus and the API smoke tests under emulation"
(cd "$work" && "$PY" -m pytest -p no:cacheprovider -q -c "$ROOT/python/tests/pytest.ini" \
  "$ROOT/python/tests/test_cms_vectors.py" "$ROOT/python/tests/test_api.py") || {
  echo "FAIL: the aarch64 wheel's focused suite" >&2
  exit 1
}
echo "aarch64: passed in $((SECONDS - start)) s"
