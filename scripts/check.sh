#!/usr/bin/env bash
# The quick edit loop (`make check`), minutes where `make test` takes half an hour: formatting,
# clippy on the workspace and on the core without auth_token, the unit tests of every crate, the core
# without the auth_token feature, the layering check (no import cycles in core), mypy --strict and
# ruff on the Python package. The integration suites, C, the wheel, packaging, the middleware
# differential and fuzzing are `make test`'s.
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

stage "cargo fmt --check"
cargo fmt --all -- --check
stage "cargo clippy (workspace)"
cargo clippy --workspace --all-targets --locked -- -D warnings
stage "cargo clippy (core without auth_token)"
cargo clippy -p kstoken --no-default-features --all-targets --locked -- -D warnings
stage "unit tests of every crate"
cargo test --workspace --locked --lib --bins
stage "core without auth_token (unit tests)"
cargo test -p kstoken --locked --no-default-features --lib
stage "layering: no import cycles between core's modules (core/tests/layering.rs)"
cargo test -p kstoken --locked --test layering
stage "python: mypy --strict, ruff"
venv=target/check-venv
if ! "$venv/bin/python" -m pip show -q mypy ruff keystoneauth1 >/dev/null 2>&1; then
  rm -rf "$venv"
  "${PYTHON:-python3}" -m venv "$venv"
  # The versions scripts/test-python.sh uses; keystoneauth1 for its type information.
  "$venv/bin/pip" install -q --disable-pip-version-check "mypy==2.4.1" "ruff==0.17.6" keystoneauth1
fi
(cd python && "../$venv/bin/mypy" --strict --python-executable "../$venv/bin/python")
(cd python && "../$venv/bin/ruff" check kstoken)
stage ""
echo "== stage times (total $SECONDS s)"
printf '%s\n' "${times[@]}"
