#!/usr/bin/env bash
# Instruction counts per operation under callgrind: reproducible where wall-clock times are not
# (a shared, loaded machine). Writes "operation size instructions" lines to OUT (default stdout).
# Usage: benches/instructions.sh FIXTURES_DIR [OUT]
# (needs valgrind; FIXTURES_DIR as the `fixtures` example writes it, made there if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=${1:?usage: benches/instructions.sh FIXTURES_DIR [OUT]}
out=${2:-/dev/stdout}
iterations=${INSTRUCTION_ITERATIONS:-200}
# The `profiling` profile: release code that keeps its symbols (the release profile strips them,
# and callgrind's --toggle-collect finds the measured function by name).
cargo build --quiet --profile profiling --locked -p kstoken-benches --example instructions
[ -f "$fixtures/realistic.pki" ] ||
  cargo run --quiet --release --locked -p kstoken-benches --example fixtures -- "$fixtures" >/dev/null
bin=target/profiling/examples/instructions
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/lines"
for size in realistic large; do
  for op in ${INSTRUCTION_OPS:-verify validate token_hash_md5 strict_floor floor_base64_crate floor_base64_simd floor_base64_openssl}; do
    valgrind --tool=callgrind --callgrind-out-file="$tmp/cg" --collect-atstart=no \
      --toggle-collect='*measured*' "$bin" "$fixtures" "$op" "$size" "$iterations" 2> "$tmp/log" ||
      { cat "$tmp/log" >&2; exit 1; }
    total=$(sed -n 's/^summary: //p' "$tmp/cg")
    # Nothing counted means the measured function was not found: an error, not a zero.
    [ "${total:-0}" -gt 0 ] || { echo "callgrind counted nothing for $op $size (symbols?)" >&2; exit 1; }
    echo "$op $size $((total / iterations))" >> "$tmp/lines"
  done
done
cat "$tmp/lines" > "$out"
