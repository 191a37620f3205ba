#!/usr/bin/env bash
# What the httpd test bed and the httpd benchmark share, installed on a fresh Debian machine:
# the packages (httpd/tests/packages.sh), the kstoken wheel, and a virtualenv made with the Python
# mod_wsgi embeds holding httpd/tests/requirements.txt and the wheel with its middleware extra (the
# one mod_wsgi's daemon processes load kstoken from). Used by scripts/test-httpd.sh and
# scripts/bench-httpd.sh.
#
#   httpd/tests/setup.sh ENV_FILE
#
# Writes ENV_FILE, shell assignments for the caller to source: VENV (the virtualenv), APPS (the WSGI
# applications of httpd/tests/apps), BASE (where work files go: target/httpd-tests, or a directory
# under /tmp when the httpd user cannot reach this tree; the apps are then copied there) and
# HTTPD_USER. The wheel: KSTOKEN_WHEEL=path, else one built by scripts/test-python.sh or
# scripts/test-middleware.sh that is newer than the sources, else one built here (maturin, release).
set -euo pipefail
[ $# -eq 1 ] || { echo "usage: $0 ENV_FILE" >&2; exit 2; }
ENV_FILE=$1
cd "$(dirname "$0")/../.."
ROOT=$PWD
T=$ROOT/target/httpd-tests
mkdir -p "$T"

echo "== httpd: packages"
bash httpd/tests/packages.sh

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

{
    printf 'VENV=%q\n' "$VENV"
    printf 'APPS=%q\n' "$APPS"
    printf 'BASE=%q\n' "$BASE"
    printf 'HTTPD_USER=%q\n' "$HTTPD_USER"
} > "$ENV_FILE"
