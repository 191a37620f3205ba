#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked
echo "== C library"
bash scripts/test-c.sh
echo "== Python distributions (make wheel): the portable wheel and the sdist"
bash scripts/build-wheel.sh
echo "== Python: the portable wheel against python/tests and the upstream suites"
KSTOKEN_WHEEL="$(ls target/wheels/kstoken-*-cp39-abi3-*manylinux_2_17_x86_64*.whl)" bash scripts/test-python.sh
echo "== Packaging: installed libkstoken, vendored OpenSSL, the crate, the wheel and the sdist"
bash scripts/test-packaging.sh
echo "== fuzz smoke"
bash scripts/test-fuzz.sh
