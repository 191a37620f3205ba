#!/usr/bin/env bash
# The benchmark command: criterion (Rust), the Python script, the middleware under wrk
# (scripts/bench-middleware.sh) and mod_kstoken in Apache httpd under wrk (scripts/bench-httpd.sh;
# both can also run alone) in one run, then the report benches/RESULTS.md and the chart
# benches/results.png. Not part of the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null
B=target/bench
mkdir -p "$B"

echo "== Rust benchmarks (criterion)"
rm -rf target/criterion
cargo bench --locked -p kstoken-benches

echo "== Rust threads (one Verifier shared by 1, 2, 4 threads)"
cargo run --quiet --release --locked -p kstoken-benches --example threads | tee "$B/rust_threads.txt"

echo "== Rust verify over the strict floor, interleaved"
cargo run --quiet --release --locked -p kstoken-benches --example strict_ratio | tee "$B/strict_ratio.txt"

echo "== fixtures for Python"
cargo run --quiet --release --locked -p kstoken-benches --example fixtures -- "$B/fixtures"

echo "== instruction counts (callgrind): verify and the strict floor"
if ! command -v valgrind >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq valgrind
fi
bash benches/instructions.sh "$B/fixtures" "$B/instructions.txt"
cat "$B/instructions.txt"

echo "== Python benchmarks"
bash scripts/build-wheel.sh "$B/venv" > "$B/wheel.log" 2>&1 || { cat "$B/wheel.log"; exit 1; }
"$B/venv/bin/pip" install --quiet python-keystoneclient==6.0.0 cryptography matplotlib swig
# M2Crypto only builds from its sdist (with swig); it is an optional peer.
"$B/venv/bin/pip" install --quiet --no-build-isolation M2Crypto > "$B/m2crypto.log" 2>&1 ||
  echo "   M2Crypto did not build (see $B/m2crypto.log): measured without it"
"$B/venv/bin/python" benches/python_bench.py "$B/fixtures" "$B/python.json"

echo "== middleware in gunicorn under wrk"
bash scripts/bench-middleware.sh

echo "== mod_kstoken and the middleware in Apache httpd under wrk"
bash scripts/bench-httpd.sh

echo "== report"
"$B/venv/bin/python" benches/report.py target/criterion "$B/python.json" benches "$B/rust_threads.txt" "$B/instructions.txt" "$B/strict_ratio.txt"
