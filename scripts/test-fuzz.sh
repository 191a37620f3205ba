#!/usr/bin/env bash
# Fuzz smoke test: build every cargo-fuzz target and run each briefly from the committed seed
# corpus (into a throw-away output corpus). FUZZ_SECONDS sets the time per target (default 20).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-20}"
# cargo-fuzz needs nightly-only rustc flags; the stable toolchain accepts them with this set.
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --version 0.13.2 --locked
fi
cargo fuzz build -O
failed=0
passed=0
for target in $(cargo fuzz list); do
  out=$(mktemp -d)
  log="$out/log"
  if cargo fuzz run -O "$target" "$out" "fuzz/corpus/$target" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -malloc_limit_mb=512 >"$log" 2>&1; then
    runs=$(grep -Eo '^Done [0-9]+ runs' "$log" | grep -Eo '[0-9]+' || echo "?")
    echo "fuzz $target: ok, $runs runs in ${seconds}s"
    passed=$((passed + 1))
  else
    echo "fuzz $target: FAILED" >&2
    tail -40 "$log" >&2
    failed=$((failed + 1))
  fi
  rm -rf "$out"
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
