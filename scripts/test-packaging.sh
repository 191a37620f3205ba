#!/usr/bin/env bash
# The artifacts as users meet them (issue 12): libkstoken installed into a prefix and linked with
# pkg-config, shared and static, surviving the replacement of its file; the self-contained vendored
# libkstoken.a; the published Rust crate and its docs; the differential tests against the vendored
# OpenSSL; the portable wheel (auditwheel, exports, a plain `pip install`, three OpenSSLs in one
# process, OPENSSL_CONF); the sdist built by pip against the system OpenSSL. Every step is timed.
#
# Uses target/wheels/ from scripts/build-wheel.sh (built here when missing), and the Python test
# dependencies cached by scripts/test-python.sh in target/python-tests when present.
set -euo pipefail
# Under pipefail, `producer | grep -q` fails at random: grep exits at its first match and the
# producer dies of SIGPIPE. Every grep on a pipe here reads its whole input (`>/dev/null`).
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export KSTOKEN_VECTORS="${KSTOKEN_VECTORS:-$root/../shared/vectors}"
PYTHON=${PYTHON:-python3}
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
version="$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)"
soname="libkstoken.so.${version%%.*}"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
checks=0
fail() { echo "FAIL: $*" >&2; exit 1; }
# readme_size_matches ROW BYTES: the size README.md's packaging table gives in row ROW ("| ROW | 2.4 MB
# |", "KB" or "MB", decimal) is within 25% of BYTES (the artifacts grow with the code; a stale or
# wrong figure does not pass).
readme_size_matches() {
  local stated
  stated=$(grep -m1 "^| $1 | " README.md | awk -F'|' '{print $3}' | awk '{print $1, $2}')
  [ -n "$stated" ] || fail "README.md's packaging table has no row '$1'"
  python3 - "$1" "$stated" "$2" <<'PY' || exit 1
import sys
row, stated, actual = sys.argv[1], sys.argv[2].split(), int(sys.argv[3])
claimed = float(stated[0]) * {"KB": 1e3, "MB": 1e6}[stated[1]]
if not 0.75 <= actual / claimed <= 1.25:
    print("FAIL: README.md says the %s is %s %s; it is %d bytes: update the table" % (row, stated[0], stated[1], actual), file=sys.stderr)
    sys.exit(1)
PY
}
ok() { checks=$((checks + 1)); echo "   ok: $*"; }
timings=()
step_name=
step_start=$SECONDS
step() { # name: closes the previous step's timing and opens the next
  [ -z "$step_name" ] || timings+=("$(printf '%5d s  %s' $((SECONDS - step_start)) "$step_name")")
  step_name="$1"
  step_start=$SECONDS
  [ -z "$1" ] || echo "== $1"
}

step "tools"
apt_missing=()
command -v pkg-config >/dev/null 2>&1 || apt_missing+=(pkg-config)
command -v readelf >/dev/null 2>&1 || apt_missing+=(binutils)
command -v unzip >/dev/null 2>&1 || apt_missing+=(unzip)
if [ ${#apt_missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || fail "missing ${apt_missing[*]} (install them and re-run)"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}"
fi
tools="$target/packaging-tools"
if ! "$tools/bin/auditwheel" --version >/dev/null 2>&1; then
  rm -rf "$tools"
  "$PYTHON" -m venv "$tools"
  "$tools/bin/pip" install -q --disable-pip-version-check "auditwheel==6.8.2"
fi

pki="$KSTOKEN_VECTORS/keystoneclient/6.0.0/examples/pki"
token="$pki/cms/auth_token_scoped.pem"
sed '5s/A/B/;5s/^[^B]/B/' "$token" > "$work/tampered.pem"
run_verify() { # label program [env...]: verifies the example token, refuses a tampered one
  local label="$1" exe="$2"
  shift 2
  env "$@" "$exe" "$pki/certs/signing_cert.pem" "$pki/certs/cacert.pem" < "$token" > "$work/body.json" ||
    fail "$label: the example token did not verify"
  cmp -s <(tr -d '\r' < "$work/body.json") "$pki/cms/auth_token_scoped.json" ||
    fail "$label: wrong body"
  local rc=0
  env "$@" "$exe" "$pki/certs/signing_cert.pem" "$pki/certs/cacert.pem" < "$work/tampered.pem" \
    > /dev/null 2>&1 || rc=$?
  [ "$rc" = 4 ] || fail "$label: a tampered token gave exit status $rc, expected 4"
  ok "$label: verified the example token, refused a tampered one"
}
needed() { readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' '; }
exports_only() { # library pattern: every defined dynamic symbol matches the pattern
  local extra count
  count="$(nm -D --defined-only "$1" | awk '{print $3}' | grep -c .)"
  extra="$(nm -D --defined-only "$1" | awk '{print $3}' | grep -Ev "$2" || true)"
  [ -z "$extra" ] || fail "$1 exports more than $2: $(head -5 <<< "$extra" | tr '\n' ' ')"
  ok "$(basename "$1") exports $count symbols, all matching $2"
}
stripped() {
  if readelf -S "$1" | grep -E '\.debug_info|\.symtab' >/dev/null; then fail "$1 is not stripped"; fi
  ok "$(basename "$1") is stripped ($(stat -c %s "$1") bytes)"
}

step "C: release libkstoken, staged with --destdir"
bash ffi-c/install.sh --release --destdir "$work/stage" --prefix /opt/kstoken \
  --libdir lib/x86_64-linux-gnu --includedir include/kst > /dev/null
stage="$work/stage/opt/kstoken"
for f in lib/x86_64-linux-gnu/libkstoken.so.$version lib/x86_64-linux-gnu/libkstoken.a \
  include/kst/kstoken.h lib/x86_64-linux-gnu/pkgconfig/kstoken.pc; do
  [ -f "$stage/$f" ] || fail "staged install lacks $f"
done
grep -qx 'prefix=/opt/kstoken' "$stage/lib/x86_64-linux-gnu/pkgconfig/kstoken.pc" &&
  grep -qx 'libdir=${prefix}/lib/x86_64-linux-gnu' "$stage/lib/x86_64-linux-gnu/pkgconfig/kstoken.pc" &&
  grep -qx 'includedir=${prefix}/include/kst' "$stage/lib/x86_64-linux-gnu/pkgconfig/kstoken.pc" ||
  fail "the staged kstoken.pc does not name the final prefix"
ok "--destdir stages under D, kstoken.pc names the final prefix, --libdir/--includedir honoured"

step "C: install into a prefix, link with pkg-config (shared and --static)"
prefix="$work/usr"
bash ffi-c/install.sh --release --prefix "$prefix" > /dev/null
lib="$prefix/lib"
[ -f "$lib/libkstoken.so.$version" ] && [ ! -L "$lib/libkstoken.so.$version" ] ||
  fail "no file lib/libkstoken.so.$version"
[ "$(readlink "$lib/$soname")" = "libkstoken.so.$version" ] || fail "$soname is not a link to the file"
[ "$(readlink "$lib/libkstoken.so")" = "libkstoken.so.$version" ] || fail "libkstoken.so is not a link"
ok "lib/libkstoken.so.$version, with the links $soname and libkstoken.so"
readelf -d "$lib/libkstoken.so.$version" | grep "Library soname: \[$soname\]" >/dev/null || fail "SONAME"
ok "SONAME $soname"
system_needed="$(needed "$lib/libkstoken.so.$version")"
echo "   NEEDED: $system_needed"
if grep -q 'libssl' <<< "$system_needed"; then fail "libkstoken.so needs libssl"; fi
grep -q 'libcrypto.so' <<< "$system_needed" || fail "libkstoken.so should use the system libcrypto"
ok "no libssl dependency (OPENSSL_init_ssl is provided by ffi-c/openssl_init.c)"
exports_only "$lib/libkstoken.so.$version" '^kst_'
stripped "$lib/libkstoken.so.$version"
echo "   libkstoken.a: $(stat -c %s "$lib/libkstoken.a") bytes"

# Not exported: cargo's build scripts watch PKG_CONFIG_PATH, and a new value would rebuild them.
pc() { PKG_CONFIG_PATH="$lib/pkgconfig" pkg-config "$@"; }
cflags=(-std=c11 -Wall -Wextra -Werror -pedantic)
read -r -a pc_cflags <<< "$(pc --cflags kstoken)"
read -r -a pc_libs <<< "$(pc --libs kstoken)"
read -r -a pc_static <<< "$(pc --static --libs kstoken | sed 's/-lkstoken\b/-l:libkstoken.a/')"
echo "   pkg-config --static --libs kstoken: $(pc --static --libs kstoken)"
cc "${cflags[@]}" "${pc_cflags[@]}" ffi-c/examples/verify.c "${pc_libs[@]}" -o "$work/verify-shared"
cc "${cflags[@]}" "${pc_cflags[@]}" ffi-c/examples/verify.c "${pc_static[@]}" -o "$work/verify-static"
[ "$(needed "$work/verify-shared" | grep -o 'libkstoken[^ ]*')" = "$soname" ] ||
  fail "the shared program does not record $soname"
ok "the shared program records NEEDED $soname"
if needed "$work/verify-static" | grep libkstoken >/dev/null; then fail "the static program needs libkstoken.so"; fi
run_verify "shared (pkg-config)" "$work/verify-shared" LD_LIBRARY_PATH="$lib"
run_verify "static (pkg-config --static)" "$work/verify-static"
before="$(sha256sum < "$lib/libkstoken.so.$version")"

step "C: a newer build replaces the file (vendored OpenSSL, same SONAME)"
bash ffi-c/install.sh --release --vendored --prefix "$prefix" > /dev/null
[ "$(sha256sum < "$lib/libkstoken.so.$version")" != "$before" ] || fail "the library file did not change"
vendored_needed="$(needed "$lib/libkstoken.so.$version")"
echo "   NEEDED: $vendored_needed"
if grep -qE 'libssl|libcrypto' <<< "$vendored_needed"; then fail "the vendored libkstoken.so needs OpenSSL"; fi
exports_only "$lib/libkstoken.so.$version" '^kst_'
stripped "$lib/libkstoken.so.$version"
run_verify "shared program, not relinked, on the new file" "$work/verify-shared" LD_LIBRARY_PATH="$lib"
if LD_LIBRARY_PATH="$lib" ldd "$work/verify-shared" | grep -E 'libssl|libcrypto' >/dev/null; then
  fail "the program still loads the system OpenSSL: the new file was not the one loaded"
fi
ok "the program now loads the new file (no system libcrypto in its ldd)"

step "C: self-contained static library (vendored)"
static_libs="$(pc --static --libs kstoken)"
echo "   pkg-config --static --libs kstoken: $static_libs"
if grep -qE -- '-l(ssl|crypto)\b' <<< "$static_libs"; then fail "the vendored Libs.private names OpenSSL"; fi
read -r -a pc_static <<< "$(sed 's/-lkstoken\b/-l:libkstoken.a/' <<< "$static_libs")"
cc "${cflags[@]}" "${pc_cflags[@]}" ffi-c/examples/verify.c "${pc_static[@]}" -o "$work/verify-vendored"
if ldd "$work/verify-vendored" | grep -E 'libssl|libcrypto|libkstoken' >/dev/null; then
  fail "the program linked with the vendored libkstoken.a needs a shared OpenSSL or libkstoken"
fi
ok "verify.c linked without -lssl/-lcrypto; NEEDED: $(needed "$work/verify-vendored")"
run_verify "static, vendored OpenSSL" "$work/verify-vendored"
echo "   libkstoken.a (vendored): $(stat -c %s "$lib/libkstoken.a") bytes"

step "C: what the install says, and --rpath"
# Without --rpath, into a directory the loader does not search: the install says so and what to
# run, and a program linked with pkg-config does not start without it.
bash ffi-c/install.sh --release --prefix "$work/plain" > "$work/install-plain.txt"
grep -q "is NOT in the loader's search path" "$work/install-plain.txt" && grep -q "ldconfig" "$work/install-plain.txt" &&
  grep -q -- "--rpath" "$work/install-plain.txt" || { cat "$work/install-plain.txt"; fail "the install does not say what to run"; }
read -r -a plain_libs <<< "$(PKG_CONFIG_PATH="$work/plain/lib/pkgconfig" pkg-config --cflags --libs kstoken)"
cc "${cflags[@]}" ffi-c/examples/verify.c "${plain_libs[@]}" -o "$work/verify-plain"
rc=0
"$work/verify-plain" < /dev/null > /dev/null 2>&1 || rc=$?
[ "$rc" = 127 ] || fail "a program linked against an unregistered libdir started (exit $rc): the message would be wrong"
ok "an install outside the loader's path says so (ldconfig, --rpath, LD_LIBRARY_PATH); such a program does not start (127)"
bash ffi-c/install.sh --release --rpath --prefix "$work/rpath" > "$work/install-rpath.txt"
grep -q -- "-Wl,-rpath,$work/rpath/lib" "$work/install-rpath.txt" || fail "the --rpath install does not say so"
read -r -a rpath_libs <<< "$(PKG_CONFIG_PATH="$work/rpath/lib/pkgconfig" pkg-config --cflags --libs kstoken)"
cc "${cflags[@]}" ffi-c/examples/verify.c "${rpath_libs[@]}" -o "$work/verify-rpath"
run_verify "shared, --rpath install, no LD_LIBRARY_PATH" "$work/verify-rpath"

step "C: layout of cargo-c (cargo cinstall)"
if cargo cinstall --version > /dev/null 2>&1; then
  cargo cinstall --release --locked -p kstoken-ffi --prefix /usr --destdir "$work/capi" > /dev/null 2>&1 ||
    fail "cargo cinstall failed"
  (cd "$work/capi/usr" && find . \( -type f -o -type l \) | sort) > "$work/capi.list"
  (cd "$prefix" && find . \( -type f -o -type l \) | sort) > "$work/install.list"
  diff -u "$work/install.list" "$work/capi.list" || fail "cargo cinstall and ffi-c/install.sh differ"
  ok "cargo cinstall installs the same files"
else
  echo "   cargo-c is not installed: skipped (its metadata is in ffi-c/Cargo.toml; see the README)"
fi

step "Rust: cargo package -p kstoken, cargo doc"
cargo package --locked -p kstoken --allow-dirty > "$work/package.log" 2>&1 ||
  { cat "$work/package.log"; fail "cargo package -p kstoken"; }
crate="$target/package/kstoken-$version.crate"
tar -tzf "$crate" > "$work/crate.list"
if grep -qE '/tests/|testkit|shared/' "$work/crate.list"; then fail "the crate carries repository-only tests"; fi
for f in Cargo.toml README.md LICENSE src/lib.rs examples/demo.rs; do
  grep -qx "kstoken-$version/$f" "$work/crate.list" || fail "the crate lacks $f"
done
tar -xzOf "$crate" "kstoken-$version/LICENSE" | cmp -s - LICENSE || fail "the crate's LICENSE is not the repository's"
ok "the crate carries the repository's LICENSE (Apache-2.0)"
ok "kstoken-$version.crate: $(grep -c . "$work/crate.list") files, $(stat -c %s "$crate") bytes, builds alone"
RUSTDOCFLAGS="-D warnings" cargo doc --locked --no-deps -p kstoken > "$work/doc.log" 2>&1 ||
  { cat "$work/doc.log"; fail "cargo doc -p kstoken has warnings"; }
ok "cargo doc --no-deps -p kstoken: no warnings"

step "Rust: openssl differential tests against the vendored OpenSSL"
# The release profile and target/vendored: the same OpenSSL build as the vendored libkstoken above.
echo "   oracle: $(openssl version); linked: OpenSSL $(sed -n '/^name = "openssl-src"/{n;s/.*+\(.*\)"/\1/p}' Cargo.lock) (vendored)"
CARGO_TARGET_DIR="$target/vendored" cargo test --release --locked -p kstoken --features vendored \
  --test openssl_differential --test differential_mutations > "$work/vendored-tests.log" 2>&1 ||
  { tail -40 "$work/vendored-tests.log"; fail "differential tests with the vendored OpenSSL"; }
grep -E '^test result' "$work/vendored-tests.log" | sed 's/^/   /'
ok "openssl_differential and differential_mutations pass with the vendored OpenSSL"

step "Python: the portable wheel"
shopt -s nullglob
wheels=("$target"/wheels/kstoken-"$version"-cp39-abi3-manylinux*_x86_64.whl)
sdists=("$target"/wheels/kstoken-"$version".tar.gz)
if [ ${#wheels[@]} -ne 1 ] || [ ${#sdists[@]} -ne 1 ]; then
  bash scripts/build-wheel.sh
  wheels=("$target"/wheels/kstoken-"$version"-cp39-abi3-manylinux*_x86_64.whl)
  sdists=("$target"/wheels/kstoken-"$version".tar.gz)
fi
shopt -u nullglob
[ ${#wheels[@]} -eq 1 ] || fail "no single portable wheel in target/wheels"
wheel="${wheels[0]}"
case "$(basename "$wheel")" in
  *-cp39-abi3-*manylinux_2_17_x86_64*.whl) ok "$(basename "$wheel"): $(stat -c %s "$wheel") bytes" ;;
  *) fail "$(basename "$wheel") is not tagged cp39-abi3-manylinux_2_17_x86_64" ;;
esac
# The README's facts about the wheels: their file names (x86_64 and arm64) and this wheel's size.
grep -qF "$(basename "$wheel")" README.md || fail "README.md does not name the wheel $(basename "$wheel")"
grep -qF "$(basename "$wheel" | sed 's/x86_64/aarch64/g')" README.md ||
  fail "README.md does not name the arm64 wheel $(basename "$wheel" | sed 's/x86_64/aarch64/g')"
readme_size_matches "portable wheel" "$(stat -c %s "$wheel")"
ok "README.md names both wheels and this one's size"
"$tools/bin/auditwheel" show "$wheel" | tee "$work/auditwheel.txt" | sed 's/^/   | /'
tr '\n' ' ' < "$work/auditwheel.txt" | grep 'consistent with the following platform tag: *"manylinux_2_17_x86_64"' >/dev/null ||
  fail "auditwheel does not report manylinux_2_17_x86_64"
if grep -qE 'libssl|libcrypto' "$work/auditwheel.txt"; then fail "the wheel depends on an external OpenSSL"; fi
ok "auditwheel: manylinux_2_17_x86_64, no external libssl/libcrypto"
mkdir -p "$work/whl"
unzip -q "$wheel" -d "$work/whl"
module="$(find "$work/whl" -name '_kstoken*.so')"
module_needed="$(needed "$module")"
echo "   NEEDED: $module_needed"
exports_only "$module" '^PyInit__kstoken$'
# One unwinder: glibc's pthread_exit unwinds with libgcc_s, so the module must use it too (python/build.rs).
case " $module_needed " in *" libgcc_s.so.1 "*) ;; *) fail "the module does not link libgcc_s.so.1" ;; esac
if nm -D --defined-only "$module" | grep ' _Unwind_' >/dev/null; then fail "the module defines its own _Unwind_* functions"; fi
nm -D --undefined-only "$module" | grep '_Unwind_Resume@GCC_' >/dev/null || fail "_Unwind_Resume is not libgcc_s's"
ok "the module unwinds with the system's libgcc_s.so.1"

licence_text=$(find "$work/whl" -path '*.dist-info/licenses/LICENSE')
[ -n "$licence_text" ] && cmp -s "$licence_text" LICENSE || fail "the wheel does not carry the repository's LICENSE"
metadata=$(find "$work/whl" -path '*.dist-info/METADATA')
grep -qx 'License-Expression: Apache-2.0' "$metadata" || fail "the wheel's metadata has no License-Expression"
grep -q '^Project-URL: Source, ' "$metadata" || fail "the wheel's metadata has no project URL"
for minor in 9 10 11 12 13; do
  grep -qx "Classifier: Programming Language :: Python :: 3.$minor" "$metadata" || fail "no Python 3.$minor classifier"
done
ok "the wheel carries LICENSE, License-Expression, project URLs and Python 3.9-3.13 classifiers"

step "Python: plain pip install into a fresh venv; ssl, cryptography and kstoken in one process"
"$PYTHON" -m venv "$work/venv-wheel"
"$work/venv-wheel/bin/pip" install -q --disable-pip-version-check "$wheel" cryptography
"$work/venv-wheel/bin/python" scripts/wheel-coexistence.py | sed 's/^/   /'
ok "one process, three OpenSSLs: same verdicts, no crash"
installed_version=$("$work/venv-wheel/bin/python" -c 'import importlib.metadata as m, kstoken; assert kstoken.__version__ == m.version("kstoken"), kstoken.__version__; print(kstoken.__version__)') ||
  fail "kstoken.__version__ differs from the installed distribution's version"
[ "$installed_version" = "$version" ] || fail "kstoken.__version__ is $installed_version, the workspace is $version"
ok "kstoken.__version__ = $installed_version, the distribution's version and the workspace's"
# The wheel carries its own C zlib: PKIZ tokens must still be keystoneclient's bytes, which are
# Python's zlib over the CMS PEM.
"$work/venv-wheel/bin/python" - <<'EOF' || fail "PKIZ bytes of the wheel differ from Python's zlib"
import base64, zlib, kstoken
pki = kstoken.generate_pki(key_bits=2048)
signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
for n in (0, 1, 100, 5000):
    body = ('{"token": {"n": %d, "x": "%s"}}' % (n, "ab\ncd " * n)).encode()
    pem = signer.sign_cms(body).encode()
    for level in (1, 6, 9):
        reference = "PKIZ_" + base64.urlsafe_b64encode(zlib.compress(pem, level)).decode()
        assert signer.sign_pkiz(body, compression_level=level) == reference, (n, level)
EOF
ok "PKIZ tokens byte-identical to Python's zlib $("$work/venv-wheel/bin/python" -c 'import zlib; print(zlib.ZLIB_RUNTIME_VERSION)') at levels 1, 6, 9"

step "Python: how the portable wheel reads OpenSSL configuration"
cat > "$work/check_conf.py" <<'EOF'
import sys
import kstoken
try:
    signer = kstoken.Signer(open(sys.argv[1], "rb").read(), open(sys.argv[2], "rb").read())
    verifier = kstoken.Verifier(open(sys.argv[1], "rb").read(), open(sys.argv[3], "rb").read())
    verifier.verify(signer.sign_pki(b"{}"))
    print("works")
except kstoken.exceptions.KstokenError as e:
    print("refused:", type(e).__name__)
EOF
cp "$pki/certs/signing_cert.pem" "$pki/private/signing_key.pem" "$pki/certs/cacert.pem" "$work/"
conf_run() { # OPENSSL_CONF value: what signing and verifying give under it
  (cd "$work" && OPENSSL_CONF="$1" "$work/venv-wheel/bin/python" "$work/check_conf.py" \
    signing_cert.pem signing_key.pem cacert.pem)
}
providers_conf() { # file provider...: a configuration that activates these providers
  local file="$1" p
  shift
  printf 'openssl_conf = init\n[init]\nproviders = prov\n[prov]\n' > "$file"
  for p in "$@"; do printf '%s = %s_sect\n' "$p" "$p" >> "$file"; done
  for p in "$@"; do printf '[%s_sect]\nactivate = 1\n' "$p" >> "$file"; done
}
providers_conf "$work/base.cnf" base
providers_conf "$work/fips.cnf" fips base
providers_conf "$work/fips-default.cnf" fips default
[ "$(conf_run /nonexistent/openssl.cnf)" = works ] || fail "a missing OPENSSL_CONF file should be ignored"
ok "OPENSSL_CONF naming a missing file: ignored, the default provider works"
result="$(conf_run "$work/base.cnf")"
[[ "$result" == refused:* ]] || fail "a configuration with only the base provider: $result"
ok "OPENSSL_CONF is read: with only the base provider nothing loads or signs ($result)"
result="$(conf_run "$work/fips.cnf")"
[[ "$result" == refused:* ]] || fail "a configuration that activates fips and base: $result"
ok "fips + base (a FIPS system's usual configuration): no FIPS module in the wheel, fails closed ($result)"
result="$(conf_run "$work/fips-default.cnf")"
[ "$result" = works ] || fail "a configuration that activates fips and default: $result"
ok "fips + default: OpenSSL skips the fips provider it cannot load and works without FIPS"

step "Python: the sdist, built by pip against the system OpenSSL"
[ ${#sdists[@]} -eq 1 ] || fail "no sdist in target/wheels"
sdist="${sdists[0]}"
echo "   $(basename "$sdist"): $(stat -c %s "$sdist") bytes"
tar -xzOf "$sdist" "kstoken-$version/LICENSE" | cmp -s - LICENSE || fail "the sdist does not carry the repository's LICENSE"
tar -xzOf "$sdist" "kstoken-$version/PKG-INFO" | grep -qx 'License-Expression: Apache-2.0' || fail "the sdist's PKG-INFO has no licence"
ok "the sdist carries LICENSE and its licence in PKG-INFO"
"$PYTHON" -m venv "$work/venv-sdist"
T="$target/python-tests"
find_links=()
[ -d "$T/wheelhouse" ] && find_links=(--find-links "$T/wheelhouse")
"$work/venv-sdist/bin/pip" install -q --disable-pip-version-check "${find_links[@]}" \
  -r python/tests/upstream-requirements.txt
# The build shares compiled dependencies with this tree's release builds; the sources are the sdist's.
CARGO_TARGET_DIR="$target" "$work/venv-sdist/bin/pip" install -q --disable-pip-version-check "$sdist"
sdist_module="$(find "$work/venv-sdist/lib" -name '_kstoken*.so')"
sdist_needed="$(needed "$sdist_module")"
echo "   NEEDED: $sdist_needed"
# What README.md's packaging table says the sdist's module needs, and its size.
for lib in libssl.so.3 libcrypto.so.3 libz.so.1; do
  grep -qw "$lib" <<< "$sdist_needed" || fail "the sdist's module does not need $lib, as README.md says it does"
  grep -m1 '^| sdist | ' README.md | grep -qF "$lib" || fail "README.md's sdist row does not name $lib"
done
readme_size_matches sdist "$(stat -c %s "$sdist")"
ok "pip install of the sdist built a module that uses the system libcrypto"
ksm_tree=()
[ -d "$T/src/keystonemiddleware-6.1.0" ] && ksm_tree=(KSTOKEN_TEST_KSM_TREE="$T/src/keystonemiddleware-6.1.0")
(cd "$work" && env "${ksm_tree[@]}" "$work/venv-sdist/bin/python" -m pytest -p no:cacheprovider -q \
  "$root/python/tests" 2>&1 | tail -n 3 | sed 's/^/   /'; exit "${PIPESTATUS[0]}") ||
  fail "python/tests with the sdist build"
ok "python/tests pass with the sdist build"

step ""
echo "== packaging: step times"
printf '%s\n' "${timings[@]}"
echo "packaging: $checks passed, 0 failed"
