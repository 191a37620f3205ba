#!/usr/bin/env bash
# The httpd test bed (httpd/tests): a private MIT realm (krb5kdc), a private TLS PKI, a private Apache
# httpd (mod_ssl with optional client certificates, mod_auth_gssapi, mod_wsgi, mod_proxy to an echoing
# backend), clients `kinit` + `curl --negotiate` and `curl --cert`; all on 127.0.0.1, stopped by PID.
# Asserts the test bed itself (tickets and certificates reach the application and the backend, a
# rogue certificate is refused), then kstoken.middleware under mod_wsgi enforcing Kerberos and x509
# token binds on real tickets and real client certificates, `kstoken sync` against the keystone
# stand-in keeping the middleware's signing directory fresh, and mod_kstoken (built with apxs against
# an installed libkstoken): its configuration checks, its decisions (binds, spoofed headers, refusals,
# service tokens, Require kstoken-*), the differential against kstoken.middleware in the same httpd,
# the prefork/worker/event MPMs and graceful restarts, its caches (shmcb; memcached shared with
# kstoken.middleware), and its signing directory kept by `kstoken sync`.
#
# Installs what it needs on a fresh Debian machine: the packages, the kstoken wheel and a virtualenv
# made with the Python mod_wsgi embeds, holding pytest and the wheel with its middleware extra
# (httpd/tests/setup.sh: the wheel is KSTOKEN_WHEEL=path, else one built by scripts/test-python.sh or
# scripts/test-middleware.sh that is newer than the sources, else one built here), the kstoken
# command (cargo, debug build), libkstoken and mod_kstoken (httpd/build.sh). Runs as root. Work
# files: target/httpd-tests/work (wiped at the start of each run), or under /tmp when the httpd user
# cannot reach this tree.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
T=$ROOT/target/httpd-tests
mkdir -p "$T"
START=$(date +%s)

# packages, the wheel, the virtualenv mod_wsgi loads kstoken from (shared with scripts/bench-httpd.sh)
bash httpd/tests/setup.sh "$T/setup.env"
# shellcheck source=/dev/null # written by httpd/tests/setup.sh: VENV, APPS, BASE, HTTPD_USER
. "$T/setup.env"

echo "== httpd: the kstoken command"
cargo build -q -p kstoken-cli --locked
CLI=$ROOT/target/debug/kstoken
if [ "$BASE" != "$T" ]; then
    # the tests run `kstoken sync` as the httpd user, who cannot reach this tree
    cp "$CLI" "$BASE/kstoken"
    CLI=$BASE/kstoken
fi

echo "== httpd: mod_kstoken (apxs, against libkstoken installed in target/httpd-tests/prefix)"
MODULE=$(bash httpd/build.sh 2>"$T/build.log") || { cat "$T/build.log" >&2; exit 1; }
echo "   $MODULE"

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
