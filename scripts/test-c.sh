#!/usr/bin/env bash
# The C ABI's tests: build libkstoken, check that include/kstoken.h is what cbindgen generates,
# compile the C tests and the example against the shared and the static library, run them, run
# them again under valgrind memcheck, and once more built with AddressSanitizer and
# UndefinedBehaviorSanitizer (the C side instrumented; the library's allocations are checked through
# ASan's malloc). Every test must leave standard error empty: the library never prints to the
# host's stderr, not even when it panics (test_panic). Exits non-zero on any failure.
#
# Environment: KSTOKEN_C_PROFILE=release to test the release build (default debug);
# KSTOKEN_VECTORS to point at the test vectors (default ../shared/vectors).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

CBINDGEN_VERSION=0.29.2
profile="${KSTOKEN_C_PROFILE:-debug}"
export KSTOKEN_VECTORS="${KSTOKEN_VECTORS:-$root/../shared/vectors}"

apt_install() {
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
  else
    echo "missing: $* (install it and re-run)" >&2
    exit 1
  fi
}

echo "== tools"
command -v cc >/dev/null 2>&1 || apt_install gcc libc6-dev
command -v pkg-config >/dev/null 2>&1 || apt_install pkg-config
command -v valgrind >/dev/null 2>&1 || apt_install valgrind
if ! cbindgen --version 2>/dev/null | grep -x "cbindgen $CBINDGEN_VERSION" >/dev/null; then
  cargo install cbindgen --version "$CBINDGEN_VERSION" --locked
fi

echo "== build libkstoken ($profile)"
install_flags=()
[ "$profile" = release ] && install_flags+=(--release)
bash ffi-c/install.sh "${install_flags[@]}"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
build="$target/$profile"
export PKG_CONFIG_PATH="$build/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"

echo "== header is up to date"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cbindgen --quiet --config ffi-c/cbindgen.toml --crate kstoken-ffi --output "$work/kstoken.h" ffi-c
if ! diff -u include/kstoken.h "$work/kstoken.h"; then
  echo "include/kstoken.h is stale: regenerate it with" >&2
  echo "  cbindgen --config ffi-c/cbindgen.toml --crate kstoken-ffi --output include/kstoken.h ffi-c" >&2
  exit 1
fi
if command -v c++ >/dev/null 2>&1; then
  echo '#include "kstoken.h"' | c++ -x c++ -std=c++11 -fsyntax-only -Wall -Wextra -Werror -Iinclude -
fi

echo "== compile (shared and static)"
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic -g -pthread)
read -r -a pc_cflags <<<"$(pkg-config --cflags kstoken)"
read -r -a pc_libs <<<"$(pkg-config --libs kstoken)"
libdir="$(pkg-config --variable=libdir kstoken)"
read -r -a static_libs <<<"$(pkg-config --static --libs-only-l kstoken | sed 's/-lkstoken//')"
bin="$build/ctest"
mkdir -p "$bin"
programs=()
for src in ffi-c/tests/test_*.c ffi-c/examples/verify.c; do
  name="$(basename "$src" .c)"
  if [ "$name" = test_panic ] && [ "$profile" != debug ]; then
    echo "test_panic: not built: only debug libraries export kst_debug_panic"
    continue
  fi
  cc "${cflags[@]}" "${pc_cflags[@]}" -o "$bin/$name-shared" "$src" "${pc_libs[@]}"
  cc "${cflags[@]}" "${pc_cflags[@]}" -o "$bin/$name-static" "$src" "$libdir/libkstoken.a" \
    "${static_libs[@]}"
  programs+=("$name")
done
# The static binaries must not need libkstoken.so; the shared ones must.
if grep -q libkstoken <<<"$(ldd "$bin/test_api-static")" ||
  ! grep -q libkstoken.so <<<"$(ldd "$bin/test_api-shared")"; then
  echo "unexpected linkage of the test binaries" >&2
  exit 1
fi

total=0
run_test() { # label command...: runs it and adds its "N passed, 0 failed" count
  local label="$1" out line
  shift
  out="$("$@" 2>"$work/stderr")" || {
    echo "$out"
    cat "$work/stderr" >&2
    echo "FAILED: $*" >&2
    exit 1
  }
  if [ -s "$work/stderr" ]; then
    cat "$work/stderr" >&2
    echo "FAILED: $* wrote to standard error" >&2
    exit 1
  fi
  line="$(tail -n1 <<<"$out")"
  echo "$label: $line"
  [[ "$line" =~ ^([0-9]+)\ passed,\ 0\ failed$ ]] || { echo "FAILED: $*" >&2; exit 1; }
  total=$((total + BASH_REMATCH[1]))
}

pki="$KSTOKEN_VECTORS/keystoneclient/6.0.0/examples/pki"
run_example() { # binary [wrapper...]: the example verifies a token and rejects a tampered one
  local exe="$1"; shift
  "$@" "$exe" "$pki/certs/signing_cert.pem" "$pki/certs/cacert.pem" \
    <"$pki/cms/auth_token_scoped.pem" >"$work/body.json"
  cmp -s <(tr -d '\r' <"$work/body.json") "$pki/cms/auth_token_scoped.json"
  sed '5s/A/B/;5s/^[^B]/B/' "$pki/cms/auth_token_scoped.pem" >"$work/tampered.pem"
  local rc=0
  "$@" "$exe" "$pki/certs/signing_cert.pem" "$pki/certs/cacert.pem" \
    <"$work/tampered.pem" >/dev/null 2>"$work/stderr" || rc=$?
  [ "$rc" = 4 ] || { echo "example: tampered token gave exit status $rc" >&2; exit 1; }
  echo "${*:+$1 }$(basename "$exe"): verified the example token, rejected a tampered one"
}

has_panic_test() { [[ " ${programs[*]} " == *" test_panic "* ]]; }

echo "== run"
for kind in shared static; do
  run_test "test_api-$kind" "$bin/test_api-$kind"
  run_test "test_authenticator-$kind" "$bin/test_authenticator-$kind"
  # 25 iterations of 8 threads; the revocation list is replaced after every 5 validations with it.
  run_test "test_threads-$kind" "$bin/test_threads-$kind" 25 5
  # 20 iterations of 8 threads on one authenticator while its list and verifier are replaced.
  run_test "test_auth_threads-$kind" "$bin/test_auth_threads-$kind" 20 5
  if has_panic_test; then run_test "test_panic-$kind" "$bin/test_panic-$kind"; fi
  run_example "$bin/verify-$kind"
done

echo "== valgrind"
vg=(valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect,possible)
for kind in shared static; do
  run_test "valgrind test_api-$kind" "${vg[@]}" "$bin/test_api-$kind"
  run_test "valgrind test_authenticator-$kind" "${vg[@]}" "$bin/test_authenticator-$kind"
  if has_panic_test; then run_test "valgrind test_panic-$kind" "${vg[@]}" "$bin/test_panic-$kind"; fi
  run_example "$bin/verify-$kind" "${vg[@]}"
done
run_test "valgrind test_threads-shared" "${vg[@]}" "$bin/test_threads-shared" 6 3
run_test "valgrind test_auth_threads-shared" "${vg[@]}" "$bin/test_auth_threads-shared" 4 2

echo "== sanitizers (ASan, UBSan; against the shared library)"
san=(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
for src in ffi-c/tests/test_*.c; do
  name="$(basename "$src" .c)"
  [[ " ${programs[*]} " == *" $name "* ]] || continue
  cc "${cflags[@]}" "${san[@]}" "${pc_cflags[@]}" -o "$bin/$name-asan" "$src" "${pc_libs[@]}"
done
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:exitcode=23
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
run_test "asan test_api" "$bin/test_api-asan"
run_test "asan test_authenticator" "$bin/test_authenticator-asan"
run_test "asan test_threads" "$bin/test_threads-asan" 25 5
run_test "asan test_auth_threads" "$bin/test_auth_threads-asan" 20 5
if has_panic_test; then run_test "asan test_panic" "$bin/test_panic-asan"; fi
unset ASAN_OPTIONS UBSAN_OPTIONS

echo "== C tests: $total checks passed, 0 failed"
