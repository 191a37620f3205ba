#!/usr/bin/env bash
# Builds libkstoken (shared and static) and writes its pkg-config file.
#
#   ffi-c/install.sh [--release] [--prefix DIR]
#
# Without --prefix: the libraries stay in target/<profile>/ and target/<profile>/pkgconfig/kstoken.pc
# describes them in place (with an rpath), so that
#   PKG_CONFIG_PATH=target/debug/pkgconfig cc prog.c $(pkg-config --cflags --libs kstoken)
# works from the build tree. With --prefix DIR: installs DIR/lib/libkstoken.{so,a},
# DIR/include/kstoken.h and DIR/lib/pkgconfig/kstoken.pc.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

profile=debug
prefix=
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --prefix) prefix="$2"; shift ;;
    --prefix=*) prefix="${1#--prefix=}" ;;
    *) echo "usage: $0 [--release] [--prefix DIR]" >&2; exit 2 ;;
  esac
  shift
done

cargo_flags=(-p kstoken-ffi --locked)
[ "$profile" = release ] && cargo_flags+=(--release)
cargo build "${cargo_flags[@]}"

target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
build="$target/$profile"
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"

write_pc() { # prefix libdir includedir rpath output
  mkdir -p "$(dirname "$5")"
  sed -e "s|@PREFIX@|$1|" -e "s|@LIBDIR@|$2|" -e "s|@INCLUDEDIR@|$3|" \
      -e "s|@RPATH@|$4|" -e "s|@VERSION@|$version|" ffi-c/kstoken.pc.in > "$5"
}

if [ -z "$prefix" ]; then
  write_pc "$root" "$build" "$root/include" "-Wl,-rpath,\${libdir} " "$build/pkgconfig/kstoken.pc"
  echo "pkg-config file: $build/pkgconfig/kstoken.pc"
else
  mkdir -p "$prefix/lib/pkgconfig" "$prefix/include"
  install -m 0755 "$build/libkstoken.so" "$prefix/lib/libkstoken.so"
  install -m 0644 "$build/libkstoken.a" "$prefix/lib/libkstoken.a"
  install -m 0644 include/kstoken.h "$prefix/include/kstoken.h"
  write_pc "$prefix" "\${prefix}/lib" "\${prefix}/include" "" "$prefix/lib/pkgconfig/kstoken.pc"
  echo "installed into $prefix"
fi
