#!/usr/bin/env bash
# Builds libkstoken (shared and static) and installs it, or describes it in the build tree.
#
#   ffi-c/install.sh [--release] [--vendored] [--prefix P [--destdir D] [--libdir L] [--includedir I] [--rpath]]
#
# With --prefix P: installs
#   L/libkstoken.so.X.Y.Z       the shared library, SONAME libkstoken.so.X (X: the major version)
#   L/libkstoken.so.X           -> libkstoken.so.X.Y.Z (what programs load)
#   L/libkstoken.so             -> libkstoken.so.X.Y.Z (what `-lkstoken` finds)
#   L/libkstoken.a              the static library
#   I/kstoken.h                 the header
#   L/pkgconfig/kstoken.pc      for `pkg-config kstoken` and `pkg-config --static kstoken`
# with L = P/lib and I = P/include unless given (relative values are taken under P). --destdir D
# stages the files under D (D/P/...) while kstoken.pc keeps naming P, as packagers expect.
# Programs linked with `pkg-config --libs kstoken` load libkstoken.so.X at run time from the
# loader's search path: after installing into a directory the loader searches (/usr/local/lib on
# Debian), run `ldconfig`; for any other directory add it to /etc/ld.so.conf.d/ and run `ldconfig`,
# or install with --rpath, which makes kstoken.pc add `-Wl,-rpath,L` so programs find the library
# where it is. The install ends by saying which applies.
#
# Without --prefix: the libraries stay in the build tree (target/<profile>/) with the
# libkstoken.so.X link, and target/<profile>/pkgconfig/kstoken.pc describes them in place with an
# rpath, so that
#   PKG_CONFIG_PATH=target/debug/pkgconfig cc prog.c $(pkg-config --cflags --libs kstoken)
# works from the build tree.
#
# --vendored builds OpenSSL from source and links it into both libraries (target/vendored/):
# libkstoken.a then needs no system OpenSSL at link time, libkstoken.so none at run time.
# --release installs stripped libraries (the release profile strips the shared one; the static
# one loses its debug sections here).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

usage() {
  echo "usage: $0 [--release] [--vendored] [--prefix P [--destdir D] [--libdir L] [--includedir I] [--rpath]]" >&2
  exit 2
}
profile=debug
vendored=
prefix=
destdir=
libdir=
includedir=
rpath=
while [ $# -gt 0 ]; do
  case "$1" in
    --release) profile=release ;;
    --vendored) vendored=1 ;;
    --rpath) rpath=1 ;;
    --prefix | --destdir | --libdir | --includedir)
      [ $# -ge 2 ] || usage
      declare "${1#--}=$2"
      shift
      ;;
    --prefix=* | --destdir=* | --libdir=* | --includedir=*)
      opt="${1%%=*}"
      declare "${opt#--}=${1#*=}"
      ;;
    *) usage ;;
  esac
  shift
done
if [ -z "$prefix" ] && [ -n "$destdir$libdir$includedir$rpath" ]; then
  echo "$0: --destdir, --libdir, --includedir and --rpath need --prefix" >&2
  exit 2
fi

target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
cargo_flags=(-p kstoken-ffi --locked)
[ "$profile" = release ] && cargo_flags+=(--release)
if [ -n "$vendored" ]; then
  # A target directory of its own: switching features back and forth rebuilds nothing.
  target="$target/vendored"
  cargo_flags+=(--features vendored)
fi
CARGO_TARGET_DIR="$target" cargo build "${cargo_flags[@]}"
build="$target/$profile"

version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
major="${version%%.*}"
soname="libkstoken.so.$major"
if command -v readelf >/dev/null 2>&1 &&
  ! readelf -d "$build/libkstoken.so" | grep -q "Library soname: \[$soname\]"; then
  echo "$0: $build/libkstoken.so does not have the SONAME $soname (see ffi-c/build.rs)" >&2
  exit 1
fi

# Link line of libkstoken.a: rustc's `--print native-static-libs` for this crate. The vendored
# build carries OpenSSL inside libkstoken.a.
libs_private="-lz -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc"
[ -n "$vendored" ] || libs_private="-lssl -lcrypto $libs_private"

write_pc() { # prefix libdir includedir rpath output
  mkdir -p "$(dirname "$5")"
  sed -e "s|@PREFIX@|$1|" -e "s|@LIBDIR@|$2|" -e "s|@INCLUDEDIR@|$3|" -e "s|@RPATH@|$4|" \
    -e "s|@VERSION@|$version|" -e "s|@LIBS_PRIVATE@|$libs_private|" ffi-c/kstoken.pc.in > "$5"
}

if [ -z "$prefix" ]; then
  ln -sf libkstoken.so "$build/$soname"
  write_pc "$root" "$build" "$root/include" "-Wl,-rpath,\${libdir} " "$build/pkgconfig/kstoken.pc"
  echo "pkg-config file: $build/pkgconfig/kstoken.pc"
  exit 0
fi

case "$prefix" in /*) ;; *) echo "$0: --prefix must be absolute" >&2; exit 2 ;; esac
prefix="${prefix%/}"
[ -n "$libdir" ] || libdir=lib
[ -n "$includedir" ] || includedir=include
case "$libdir" in /*) ;; *) libdir="$prefix/$libdir" ;; esac
case "$includedir" in /*) ;; *) includedir="$prefix/$includedir" ;; esac
pc_dir() { # dir: as written in kstoken.pc, relative to ${prefix} when under it
  case "$1" in "$prefix"/*) echo "\${prefix}/${1#"$prefix"/}" ;; *) echo "$1" ;; esac
}

lib_dest="$destdir$libdir"
mkdir -p "$lib_dest/pkgconfig" "$destdir$includedir"
install -m 0755 "$build/libkstoken.so" "$lib_dest/libkstoken.so.$version"
ln -sf "libkstoken.so.$version" "$lib_dest/$soname"
ln -sf "libkstoken.so.$version" "$lib_dest/libkstoken.so"
install -m 0644 "$build/libkstoken.a" "$lib_dest/libkstoken.a"
if [ "$profile" = release ]; then
  "${STRIP:-strip}" --strip-debug "$lib_dest/libkstoken.a"
fi
install -m 0644 include/kstoken.h "$destdir$includedir/kstoken.h"
pc_rpath=""
[ -z "$rpath" ] || pc_rpath="-Wl,-rpath,\${libdir} "
write_pc "$prefix" "$(pc_dir "$libdir")" "$(pc_dir "$includedir")" "$pc_rpath" "$lib_dest/pkgconfig/kstoken.pc"
echo "installed libkstoken $version ($soname) into $destdir$prefix:"
echo "  $lib_dest/libkstoken.so.$version (+ $soname, libkstoken.so), $lib_dest/libkstoken.a"
echo "  $destdir$includedir/kstoken.h"
echo "  $lib_dest/pkgconfig/kstoken.pc (PKG_CONFIG_PATH=$lib_dest/pkgconfig if pkg-config does not search it)"
if [ -n "$rpath" ]; then
  echo "programs linked with pkg-config find $soname in $libdir (kstoken.pc adds -Wl,-rpath,$libdir)"
elif [ -n "$destdir" ]; then
  echo "staged under $destdir: once installed, run ldconfig so programs find $soname in $libdir"
elif ldconfig -v -N 2> /dev/null | grep -q "^$libdir:"; then
  echo "$libdir is in the loader's search path: run ldconfig (as root) so programs find $soname"
else
  echo "$libdir is NOT in the loader's search path: programs linked against libkstoken will not start"
  echo "until you add it (echo $libdir > /etc/ld.so.conf.d/kstoken.conf; ldconfig), or reinstall with"
  echo "--rpath (kstoken.pc then adds -Wl,-rpath,$libdir), or set LD_LIBRARY_PATH=$libdir"
fi
