#!/usr/bin/env bash
# The httpd test bed (httpd/tests): a private MIT realm (krb5kdc), a private TLS PKI, a private Apache
# httpd (mod_ssl with optional client certificates, mod_auth_gssapi, mod_wsgi, mod_proxy to an echoing
# backend), clients `kinit` + `curl --negotiate` and `curl --cert`; all on 127.0.0.1, stopped by PID.
# Asserts the test bed itself (tickets and certificates reach the application and the backend, a
# rogue certificate is refused), then kstoken.middleware under mod_wsgi enforcing Kerberos and x509
# token binds on real tickets and real client certificates, `kstoken sync` against the keystone
# stand-in keeping the middleware's signing directory fresh, and the mod_kstoken skeleton (built
# with apxs against an installed libkstoken, loaded, its directives checked at startup).
#
# Installs what it needs on a fresh Debian machine: the packages (httpd/tests/packages.sh), the
# kstoken command (cargo, debug build), libkstoken and mod_kstoken (httpd/build.sh), and a virtualenv made with the Python mod_wsgi embeds, holding
# pytest and the kstoken wheel with its middleware extra. The wheel: KSTOKEN_WHEEL=path, else one
# built by scripts/test-python.sh or scripts/test-middleware.sh that is newer than the sources, else
# one built here. Runs as root. Work files: target/httpd-tests/work (wiped at the start of each run),
# or under /tmp when the httpd user cannot reach this tree.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
T=$ROOT/target/httpd-tests
mkdir -p "$T"
START=$(date +%s)

echo "== httpd: packages"
bash httpd/tests/packages.sh

echo "== httpd: the kstoken command"
cargo build -q -p kstoken-cli --locked
CLI=$ROOT/target/debug/kstoken

echo "== httpd: mod_kstoken (apxs, against libkstoken installed in target/httpd-tests/prefix)"
MODULE=$(bash httpd/build.sh 2>"$T/build.log") || { cat "$T/build.log" >&2; exit 1; }
echo "   $MODULE"

echo "== httpd: the kstoken wheel"
newer_than_sources() { # wheel: true when no source file is newer
    [ -z "$(find core python/src python/kstoken python/Cargo.toml python/pyproject.toml Cargo.lock \
        -newer "$1" -type f -print -quit 2>/dev/null)" ]
}
WHEEL=${KSTOKEN_WHEEL:-}
if [ -z "$WHEEL" ]; then
    for dir in "$ROOT/target/python-tests/wheels" "$ROOT/target/middleware-tests/wheels" "$T/wheels"; do
        candidate=$(ls -t "$dir"/kstoken-*.whl 2>/dev/null | head -n 1 || true)
        if [ -n "$candidate" ] && newer_than_sources "$candidate"; then
            WHEEL=$candidate
            echo "   reusing $WHEEL (newer than the sources)"
            break
        fi
    done
fi
if [ -z "$WHEEL" ]; then
    if [ ! -x "$T/venv-tools/bin/maturin" ]; then
        rm -rf "$T/venv-tools"
        python3 -m venv "$T/venv-tools"
        "$T/venv-tools/bin/pip" install -q --disable-pip-version-check "maturin>=1.9.4,<2"
    fi
    rm -rf "$T/wheels"
    (cd python && "$T/venv-tools/bin/maturin" build --release --locked --compatibility linux -o "$T/wheels") 2>&1 |
        grep -v '^ *Compiling ' | tail -n 3
    WHEEL=$(ls "$T"/wheels/kstoken-*.whl)
fi

# httpd's children and mod_wsgi's daemon processes run as the httpd user and read the WSGI apps, the
# venv and the work files: when this tree is not reachable by that user (a clone under a 0700
# directory), they live under /tmp instead (the apps copied there).
HTTPD_USER=${KSTOKEN_HTTPD_USER:-www-data}
BASE=$T
APPS=$ROOT/httpd/tests/apps
if ! runuser -u "$HTTPD_USER" -- test -r "$APPS/echo_app.py" 2>/dev/null; then
    BASE=/tmp/kstoken-httpd-tests-$(printf '%s' "$ROOT" | sha256sum | cut -c1-12)
    mkdir -p "$BASE"
    chmod 755 "$BASE"
    rm -rf "$BASE/apps"
    cp -r "$APPS" "$BASE/apps"
    chmod -R a+rX "$BASE/apps"
    APPS=$BASE/apps
    # the tests run `kstoken sync` as the httpd user
    cp "$CLI" "$BASE/kstoken"
    CLI=$BASE/kstoken
    echo "   $ROOT is not readable by $HTTPD_USER: its files go to $BASE"
fi

# mod_wsgi's daemon processes import kstoken from this venv (python-path=its site-packages), so it is
# made with the interpreter whose libpython mod_wsgi links, not whatever `python3` is first on PATH.
echo "== httpd: the virtualenv (the Python mod_wsgi embeds)"
PYVER=$(ldd /usr/lib/apache2/modules/mod_wsgi.so | sed -n 's/.*libpython\([0-9][0-9]*\.[0-9][0-9]*\).*/\1/p' | head -n 1)
[ -n "$PYVER" ] || { echo "FAIL: mod_wsgi.so links no libpython" >&2; exit 1; }
PY=/usr/bin/python$PYVER
VENV=$BASE/venv
REQS=$ROOT/httpd/tests/requirements.txt
stamp=$(cat "$REQS" <(echo "$PY") | sha256sum | cut -c1-16)
if [ ! -f "$VENV/.reqs-$stamp" ]; then
    rm -rf "$VENV"
    "$PY" -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQS"
    touch "$VENV/.reqs-$stamp"
fi
"$VENV/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
"$VENV/bin/pip" install -q --disable-pip-version-check "$WHEEL[middleware]" 2>&1 |
    grep -v 'does not provide the extra' || true
echo "   $("$VENV/bin/python" --version), $(basename "$WHEEL")"

echo "== httpd: pytest httpd/tests"
rm -rf "$BASE/work"
mkdir -p "$BASE/work"
STATUS=0
(cd "$T" && KSTOKEN_CLI=$CLI KSTOKEN_HTTPD_MODULE=$MODULE KSTOKEN_HTTPD_WORKDIR=$BASE/work KSTOKEN_HTTPD_APPS=$APPS \
    KSTOKEN_HTTPD_USER=$HTTPD_USER "$VENV/bin/python" -m pytest -q -rfEs -c "$ROOT/httpd/tests/pytest.ini" \
    --junitxml="$T/report.xml" "$ROOT/httpd/tests") || STATUS=1
echo "httpd test bed: $(( $(date +%s) - START )) s"
if [ "$STATUS" -ne 0 ]; then
    echo "FAIL: httpd test bed (logs under $BASE/work)" >&2
    exit 1
fi
echo "httpd: all passed"
