#!/usr/bin/env bash
# The httpd benchmark (part of `make bench`, not of `make test`; issue 20, item 4): one private Apache
# httpd (event MPM, 127.0.0.1) built from the test bed's parts (httpd/tests/testbed), serving the same
# small backend (a hello WSGI app in mod_wsgi daemon processes) with no token check (the ceiling),
# behind kstoken.middleware in mod_wsgi, and behind mod_kstoken (skipped while the module logs that
# it is a skeleton), uncached and cached, under wrk with 300 distinct 9 KB v3 PKI tokens, in
# interleaved rounds. Writes target/bench/httpd.json, then the httpd section of benches/RESULTS.md
# and benches/httpd.png. Options go to benches/httpd/run.py (--duration, --runs, --setups, --note,
# ...); at the defaults it takes about two minutes.
#
# Installs what it needs as the test bed does (httpd/tests/setup.sh: packages, the wheel, the
# virtualenv mod_wsgi loads kstoken from), wrk and memcached, and builds mod_kstoken against an
# optimised libkstoken (httpd/build.sh --release, into target/bench/httpd). Runs as root (httpd's
# children and the daemons run as www-data). Every process it starts is stopped by PID, on failure
# and on interruption too.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
B=$ROOT/target/bench
mkdir -p "$B/httpd"

bash httpd/tests/setup.sh "$B/httpd/setup.env"
# shellcheck source=/dev/null # written by httpd/tests/setup.sh: VENV, APPS, BASE, HTTPD_USER
. "$B/httpd/setup.env"

echo "== httpd bench: wrk, memcached"
need_apt=()
for tool in wrk memcached; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/bin/$tool" ] || need_apt+=("$tool")
done
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "   installing ${need_apt[*]} with apt-get"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
        --no-install-recommends "${need_apt[@]}" >/dev/null
fi
"$VENV/bin/python" -c 'import matplotlib' 2>/dev/null ||
    "$VENV/bin/pip" install -q --disable-pip-version-check matplotlib

echo "== httpd bench: mod_kstoken against an optimised libkstoken"
MODULE=$(bash httpd/build.sh --release --prefix "$B/httpd/prefix" --out "$B/httpd/mod" 2>"$B/httpd/build.log") ||
    { cat "$B/httpd/build.log" >&2; exit 1; }
echo "   $MODULE"

echo "== httpd bench: wrk against httpd"
PIDS=$B/httpd/pids
: > "$PIDS"
RUN_PID=""
# Stops what benches/httpd/run.py started and did not stop (it stops everything itself, in a
# `finally`, also on SIGTERM; this is for when it could not): each process group it listed, by PID.
cleanup() {
    if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
        kill -TERM "$RUN_PID" 2>/dev/null || true
        wait "$RUN_PID" 2>/dev/null || true
    fi
    local pid
    while read -r pid; do
        [ -n "$pid" ] || continue
        kill -TERM -- "-$pid" 2>/dev/null || continue
        sleep 2
        kill -KILL -- "-$pid" 2>/dev/null || true
    done < "$PIDS"
    : > "$PIDS"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
"$VENV/bin/python" benches/httpd/run.py "$B/httpd.json" --apps "$APPS" --work "$BASE/bench-work" \
    --module "$MODULE" --user "$HTTPD_USER" --pids "$PIDS" "$@" &
RUN_PID=$!
wait "$RUN_PID"
RUN_PID=""
"$VENV/bin/python" benches/httpd/report.py "$B/httpd.json" benches
