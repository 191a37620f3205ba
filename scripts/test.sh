#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test of the workspace, then the C library,
# the Python distributions, the packaging checks and the fuzz smoke test. Prints each stage's time.
set -euo pipefail
cd "$(dirname "$0")/.."
times=()
stage_name=
stage_start=$SECONDS
stage() { # name: closes the previous stage's timing and announces the next
  [ -z "$stage_name" ] || times+=("$(printf '%5d s  %s' $((SECONDS - stage_start)) "$stage_name")")
  stage_name="$1"
  stage_start=$SECONDS
  [ -z "$1" ] || echo "== $1"
}

stage "setup"
bash scripts/setup.sh
stage "cargo fmt --check"
cargo fmt --all -- --check
stage "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo clippy -p kstoken --no-default-features --all-targets --locked -- -D warnings
stage "cargo test (the layering check, core/tests/layering.rs, among them)"
cargo test --workspace --locked
stage "core without the auth_token feature: builds and passes its tests"
cargo test -p kstoken --locked --no-default-features
stage "C library"
bash scripts/test-c.sh
stage "Python distributions (make wheel): the portable wheel and the sdist"
bash scripts/build-wheel.sh
stage "Python: the portable wheel against python/tests and the upstream suites"
wheel="$(ls target/wheels/kstoken-*-cp39-abi3-*manylinux_2_17_x86_64*.whl)"
KSTOKEN_WHEEL="$wheel" bash scripts/test-python.sh
stage "Packaging: installed libkstoken, vendored OpenSSL, the crate, the wheel and the sdist"
bash scripts/test-packaging.sh
stage "middleware: differential against keystonemiddleware, real servers"
KSTOKEN_WHEEL="$wheel" bash scripts/test-middleware.sh
stage "fuzz smoke"
bash scripts/test-fuzz.sh
stage ""
echo "== stage times (total $SECONDS s)"
printf '%s\n' "${times[@]}"
