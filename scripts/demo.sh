#!/usr/bin/env bash
# The main job on a built-in demo: a throw-away PKI, a v3 token with a bind section signed, then
# verified through the CLI (whole middleware pipeline), the Rust API, the C library and the Python
# wheel, and sent in HTTP requests through kstoken.middleware; a tampered token rejected; time per
# verification next to the `openssl cms -verify` subprocess that keystoneclient spawns per token.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

echo "== building (release): kstoken CLI, libkstoken, the Rust demo"
cargo build --quiet --release --locked -p kstoken-cli -p kstoken-ffi
cargo build --quiet --release --locked -p kstoken --example demo
kst=target/release/kstoken
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo
echo "== 1. a throw-away PKI in keystone's layout (kstoken pki-setup; keystone-manage pki_setup fails on OpenSSL 3)"
"$kst" pki-setup "$work/ssl" >/dev/null
cert="$work/ssl/certs/signing_cert.pem"
ca="$work/ssl/certs/ca.pem"
key="$work/ssl/private/signing_key.pem"
find "$work/ssl" -type f | sed "s|$work/||" | sort | sed 's/^/   /'

echo
echo "== 2. sign a v3 token bound to a kerberos principal"
cat > "$work/body.json" <<'JSON'
{"token":{"methods":["external"],"user":{"id":"u1","name":"demo","domain":{"id":"default","name":"Default"}},"project":{"id":"p1","name":"demo","domain":{"id":"default","name":"Default"}},"roles":[{"id":"r1","name":"member"}],"bind":{"kerberos":"demo@EXAMPLE.ORG"},"audit_ids":["Zm9vYmFyYmF6cXV4"],"issued_at":"2026-01-01T00:00:00.000000Z","expires_at":"2099-01-01T00:00:00.000000Z"}}
JSON
"$kst" sign --cert "$cert" --key "$key" --in "$work/body.json" > "$work/token.pki"
"$kst" sign --cert "$cert" --key "$key" --pkiz --in "$work/body.json" > "$work/token.pkiz"
"$kst" sign --cert "$cert" --key "$key" --pem --in "$work/body.json" > "$work/token.pem"
echo "   PKI token: $(wc -c < "$work/token.pki") chars, PKIZ token: $(wc -c < "$work/token.pkiz") chars"
echo "   token id: $("$kst" hash --algorithm md5 < "$work/token.pki")"

echo
echo "== 3. verify with the CLI: keystonemiddleware's whole offline validation, bind mode strict"
"$kst" verify --signing-cert "$cert" --ca "$ca" --bind-mode strict --auth-type Negotiate \
  --remote-user demo@EXAMPLE.ORG < "$work/token.pki" | cut -c1-100
echo "   ... accepted. The same token for another user:"
if "$kst" verify --signing-cert "$cert" --ca "$ca" --bind-mode strict --auth-type Negotiate \
    --remote-user mallory@EXAMPLE.ORG < "$work/token.pki" >/dev/null; then
  echo "   ERROR: accepted" >&2; exit 1
fi

echo
echo "== 4. verify through the C library (ffi-c/examples/verify.c, linked statically)"
cc -std=c11 -Wall -Wextra -Werror -I include ffi-c/examples/verify.c target/release/libkstoken.a \
  -lssl -lcrypto -lz -lpthread -ldl -lm -o "$work/verify_c"
"$work/verify_c" "$cert" "$ca" < "$work/token.pkiz" | cut -c1-100
echo

echo
echo "== 5. verify through the Python wheel"
bash scripts/build-wheel.sh "$work/venv" > "$work/wheel.log" 2>&1 || { cat "$work/wheel.log"; exit 1; }
"$work/venv/bin/python" - "$cert" "$ca" "$work" <<'PY'
import sys, time
import kstoken
cert, ca, work = sys.argv[1:4]
token = open(f"{work}/token.pki").read().strip()
verifier = kstoken.Verifier(cert, ca)
body = verifier.verify(token)
print("  ", body[:100].decode())
n = 2000
start = time.perf_counter()
for _ in range(n):
    verifier.verify(token)
per = (time.perf_counter() - start) / n
open(f"{work}/python_us", "w").write(f"{per * 1e6:.1f}")
PY

echo
echo "== 6. the request path: kstoken.middleware (keystonemiddleware's auth_token) in front of a WSGI app on 127.0.0.1"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check keystoneauth1 pymemcache  # kstoken[middleware]
"$work/venv/bin/python" scripts/demo_middleware.py "$cert" "$ca" "$work"

echo
echo "== 7. a tampered token is rejected"
python3 -c "import sys; t=open(sys.argv[1]).read(); i=len(t)//2; sys.stdout.write(t[:i]+('A' if t[i]!='A' else 'B')+t[i+1:])" \
  "$work/token.pki" > "$work/tampered.pki"
if "$kst" verify --signing-cert "$cert" --ca "$ca" < "$work/tampered.pki" 2> "$work/err"; then
  echo "   ERROR: tampered token accepted" >&2; exit 1
fi
echo "   $(cat "$work/err")"

echo
echo "== 8. the Rust API, and time per verification"
cargo run --quiet --release --locked -p kstoken --example demo | sed 's/^/   /'
runs=30
start=$(date +%s%N)
for _ in $(seq $runs); do
  openssl cms -verify -certfile "$cert" -CAfile "$ca" -inform PEM -nosmimecap -nodetach -nocerts \
    -noattr < "$work/token.pem" > /dev/null 2>&1
done
openssl_us=$(( ($(date +%s%N) - start) / runs / 1000 ))
python_us=$(cat "$work/python_us")
echo "   Python kstoken.Verifier.verify:               ${python_us} µs per verification"
echo "   openssl cms -verify subprocess (keystoneclient): ${openssl_us} µs per verification"
python3 -c "print(f'   kstoken from Python is {$openssl_us / $python_us:.0f}x faster than the subprocess path')"
