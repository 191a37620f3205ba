#!/usr/bin/env bash
# The middleware benchmark (part of `make bench`): gunicorn with stock keystonemiddleware, with
# kstoken.compat, with kstoken.middleware and with no authentication, under wrk; writes
# target/bench/middleware.json and updates the middleware section of benches/RESULTS.md and
# benches/middleware.png. Options are passed to benches/middleware/run.py (--duration, --runs, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/bench
bash scripts/test-middleware.sh --setup-only
PY=target/middleware-tests/venv-ksm6/bin/python
"$PY" -c 'import matplotlib' 2>/dev/null || "$PY" -m pip install -q --disable-pip-version-check matplotlib
"$PY" benches/middleware/run.py target/bench/middleware.json "$@"
"$PY" benches/middleware/report.py target/bench/middleware.json benches
