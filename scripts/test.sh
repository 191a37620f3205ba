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
echo "== Python wheel and upstream suites"
bash scripts/test-python.sh
echo "== middleware: differential against keystonemiddleware, real servers"
bash scripts/test-middleware.sh
echo "== fuzz smoke"
bash scripts/test-fuzz.sh
