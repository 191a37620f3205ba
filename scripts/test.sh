#!/usr/bin/env bash
# The whole test suite: formatting, lints, and every test of the workspace, then the C library,
# the Python distributions, the packaging checks, the middleware and httpd test beds and the fuzz
# smoke test. Prints each stage's time.
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
stage "man pages and shell completions (make man)"
make --no-print-directory man
man -l target/docs/man/kstoken.1 > /dev/null 2>&1 || [ ! -x "$(command -v man)" ] || { echo "FAIL: man -l kstoken.1" >&2; exit 1; }
bash -c 'source target/docs/completions/kstoken.bash && complete -p kstoken > /dev/null' ||
  { echo "FAIL: the bash completion does not load" >&2; exit 1; }
stage "C library"
bash scripts/test-c.sh
stage "Python distributions (make wheel): the portable x86_64 wheel and the sdist"
bash scripts/build-wheel.sh --target x86_64
# The arm64 wheel builds in the background while the x86_64 one is tested (its own cargo target
# directory, target/wheel-build, which the stages below do not use); its tests come last.
bash scripts/build-wheel.sh --target aarch64 > target/wheel-build-aarch64.out 2>&1 &
aarch64_build=$!
stage "Python: the portable wheel against python/tests and the upstream suites"
# An absolute path: the stages below run pip and pytest from other directories.
wheel="$PWD/$(ls target/wheels/kstoken-*-cp39-abi3-*manylinux_2_17_x86_64*.whl)"
KSTOKEN_WHEEL="$wheel" bash scripts/test-python.sh
stage "Packaging: installed libkstoken, vendored OpenSSL, the crate, the wheel and the sdist"
bash scripts/test-packaging.sh
stage "docs: every code block of README.md and docs/ run or checked (scripts/test_docs.py)"
KSTOKEN_TEST_KSM_TREE="$PWD/target/python-tests/src/keystonemiddleware-6.1.0" \
  target/python-tests/venv-test/bin/python scripts/test_docs.py
stage "middleware: differential against keystonemiddleware, real servers"
KSTOKEN_WHEEL="$wheel" bash scripts/test-middleware.sh
stage "httpd: a private KDC and httpd, real tickets and client certificates, kstoken.middleware under mod_wsgi"
KSTOKEN_WHEEL="$wheel" bash scripts/test-httpd.sh
stage "aarch64: the arm64 wheel (built meanwhile) under qemu: token corpus and API smoke tests"
wait "$aarch64_build" || { cat target/wheel-build-aarch64.out >&2; echo "FAIL: the aarch64 wheel build" >&2; exit 1; }
tail -n 2 target/wheel-build-aarch64.out
bash scripts/test-aarch64.sh
stage "fuzz smoke"
bash scripts/test-fuzz.sh
stage ""
echo "== stage times (total $SECONDS s)"
printf '%s\n' "${times[@]}"
