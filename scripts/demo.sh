#!/usr/bin/env bash
# The main job on a built-in demo: a throw-away PKI, a signed token, verification.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo run --quiet --release --locked -p kstoken --example demo
