#!/usr/bin/env bash
# Builds mod_kstoken (httpd/mod_kstoken.c and its httpd/kstoken_*.c) with apxs against an installed
# libkstoken, found by `pkg-config kstoken`.
#
#   httpd/build.sh [--release] [--prefix P] [--out DIR]
#
# Installs libkstoken into P (default target/httpd-tests/prefix) with ffi-c/install.sh (a debug
# build; --release an optimised one, as the benchmark scripts/bench-httpd.sh needs), then builds
# the module into DIR (default target/httpd-tests/mod): DIR/mod_kstoken.so, linked to
# libkstoken.so.0 with a run path to P/lib (load it by absolute path: `LoadModule kstoken_module
# DIR/mod_kstoken.so`; `apxs -i` would write under /usr/lib/apache2/modules). C warnings are errors.
# Needs apache2-dev (apxs), pkg-config and a C compiler.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
prefix=$root/target/httpd-tests/prefix
out=$root/target/httpd-tests/mod
install_flags=()
while [ $# -gt 0 ]; do
    case "$1" in
        --release) install_flags+=(--release) ;;
        --prefix) prefix=$2; shift ;;
        --out) out=$2; shift ;;
        *) echo "usage: $0 [--release] [--prefix P] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
done
apxs=$(command -v apxs || command -v apxs2 || true)
[ -n "$apxs" ] || { echo "$0: apxs not found (apt-get install apache2-dev)" >&2; exit 1; }

bash "$root/ffi-c/install.sh" ${install_flags[@]+"${install_flags[@]}"} --prefix "$prefix" >/dev/null
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
cflags=$(pkg-config --cflags kstoken)
libdir=$(pkg-config --variable=libdir kstoken)

# apxs builds in the source's directory: build a copy, so the tree stays clean.
rm -rf "$out"
mkdir -p "$out"
cp "$root"/httpd/*.c "$root"/httpd/*.h "$out/"
args=(-c -Wc,-Wall -Wc,-Wextra -Wc,-Werror)
for f in $cflags; do args+=("-Wc,$f"); done
# shellcheck disable=SC2046 # pkg-config's flags are words
(cd "$out" && "$apxs" "${args[@]}" $(pkg-config --libs kstoken) "-Wl,-Wl,-rpath,$libdir" mod_kstoken.c kstoken_*.c) \
    > "$out/apxs.log" 2>&1 || { grep -E 'error|warning' "$out/apxs.log" | head -n 40 >&2; exit 1; }
cp "$out/.libs/mod_kstoken.so" "$out/mod_kstoken.so"
# (ldd's output is kept whole: `ldd | grep -q` fails under pipefail when grep stops reading first)
linked=$(ldd "$out/mod_kstoken.so")
case "$linked" in
    *"libkstoken.so.0 => $libdir/"*) ;;
    *)
        echo "$0: $out/mod_kstoken.so does not load libkstoken.so.0 from $libdir" >&2
        echo "$linked" >&2
        exit 1
        ;;
esac
echo "$out/mod_kstoken.so"
