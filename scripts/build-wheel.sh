#!/usr/bin/env bash
# Builds the kstoken wheel with maturin and installs it into the virtualenv VENV (created if missing).
# Usage: scripts/build-wheel.sh VENV
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:?usage: build-wheel.sh VENV}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --upgrade pip "maturin>=1.9.4,<2"
rm -rf target/wheels/kstoken-*.whl
"$venv/bin/maturin" build --quiet --release --locked -m python/Cargo.toml -o target/wheels --compatibility linux
"$venv/bin/pip" install --quiet --force-reinstall --no-deps target/wheels/kstoken-*.whl
