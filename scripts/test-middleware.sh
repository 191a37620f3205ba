#!/usr/bin/env bash
# The middleware suite (python/tests/middleware): kstoken.middleware and kstoken.compat compared with
# keystonemiddleware's auth_token on the same requests (6.1.0, and 5.3.0 for signed revocation lists),
# then real servers (gunicorn sync/gthread with --preload, uvicorn) with a real memcached and the
# keystone stand-in, docs/deployment.md's samples in gunicorn, uWSGI and Apache mod_wsgi, and a few seconds of wrk against gunicorn to prove the benchmark setup works.
# `scripts/test-middleware.sh --setup-only` only prepares the environments (for the benchmark).
#
# Installs what it needs on a fresh Debian machine: apt memcached, wrk (and openssl, the reference's
# verifier); two virtualenvs under target/middleware-tests (keystonemiddleware 6.1.0 and 5.3.0, with
# gunicorn, uvicorn, WebOb, keystoneauth1 ...), reinstalled only when their requirements change. The
# kstoken wheel is the one scripts/test-python.sh built (target/python-tests/wheels) when it is newer
# than the sources, else it is built here; KSTOKEN_WHEEL=path overrides.
#
# Side pairs compared: stock-stock (sanity), stock-compat, and stock-kstoken when this tree has
# python/kstoken/middleware (KSTOKEN_MW_PAIRS overrides). Nothing is skipped: what is not run is said.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
T=$ROOT/target/middleware-tests
PYTHON=${PYTHON:-python3}
TESTS=$ROOT/python/tests/middleware
mkdir -p "$T"
START=$(date +%s)

echo "== middleware: system tools (memcached, wrk, openssl; uWSGI and Apache mod_wsgi for docs/deployment.md)"
need_apt=()
for tool in memcached wrk openssl; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/bin/$tool" ] || need_apt+=("$tool")
done
[ -x /usr/bin/uwsgi-core ] || need_apt+=(uwsgi-core)
[ -f /usr/lib/uwsgi/plugins/python3_plugin.so ] || need_apt+=(uwsgi-plugin-python3)
[ -x /usr/sbin/apache2 ] || need_apt+=(apache2-bin)
[ -f /usr/lib/apache2/modules/mod_wsgi.so ] || need_apt+=(libapache2-mod-wsgi-py3)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "   installing ${need_apt[*]} with apt-get"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi
for tool in memcached wrk openssl; do
    command -v "$tool" >/dev/null 2>&1 || [ -x "/usr/bin/$tool" ] || {
        echo "FAIL: $tool is required by the middleware suite and could not be installed" >&2
        exit 1
    }
done

echo "== middleware: the kstoken wheel"
WHEEL=${KSTOKEN_WHEEL:-}
# pytest runs from $T, so a relative KSTOKEN_WHEEL is made absolute here.
case $WHEEL in ""|/*) ;; *) WHEEL=$PWD/$WHEEL ;; esac
if [ -z "$WHEEL" ]; then
    candidate=$(ls -t "$ROOT"/target/python-tests/wheels/kstoken-*.whl 2>/dev/null | head -n 1 || true)
    if [ -n "$candidate" ] && [ -z "$(find core python/src python/kstoken python/Cargo.toml python/pyproject.toml \
        Cargo.lock -newer "$candidate" -type f -print -quit 2>/dev/null)" ]; then
        WHEEL=$candidate
        echo "   reusing $WHEEL (built by scripts/test-python.sh, newer than the sources)"
    else
        if [ ! -x "$T/venv-tools/bin/maturin" ]; then
            rm -rf "$T/venv-tools"
            "$PYTHON" -m venv "$T/venv-tools"
            "$T/venv-tools/bin/pip" install -q --disable-pip-version-check "maturin>=1.9.4,<2"
        fi
        rm -rf "$T/wheels"
        (cd python && "$T/venv-tools/bin/maturin" build --release --locked --compatibility linux -o "$T/wheels") 2>&1 |
            grep -v '^ *Compiling ' | tail -n 3
        WHEEL=$(ls "$T"/wheels/kstoken-*.whl)
    fi
fi

# venv NAME: keystonemiddleware's environment NAME (ksm6, ksm5) with the wheel, recreated when the
# requirements change, the wheel reinstalled every run.
venv() {
    local name=$1 reqs=$TESTS/requirements-$1.txt dir=$T/venv-$1
    local stamp
    stamp=$(sha256sum "$reqs" | cut -c1-16)
    if [ ! -f "$dir/.reqs-$stamp" ]; then
        echo "   creating $dir"
        rm -rf "$dir"
        "$PYTHON" -m venv "$dir"
        "$dir/bin/pip" install -q --disable-pip-version-check -r "$reqs"
        touch "$dir/.reqs-$stamp"
    fi
    "$dir/bin/pip" install -q --disable-pip-version-check --force-reinstall --no-deps "$WHEEL"
    # the middleware extra's dependencies, as `pip install kstoken[middleware]` would bring them
    "$dir/bin/pip" install -q --disable-pip-version-check "$WHEEL[middleware]" 2>&1 |
        grep -v 'does not provide the extra' || true
}
echo "== middleware: virtualenvs (keystonemiddleware 6.1.0 and 5.3.0, made in parallel)"
venv ksm6 > "$T/venv-ksm6.log" 2>&1 &
pid6=$!
venv ksm5 > "$T/venv-ksm5.log" 2>&1 &
pid5=$!
for v in 6:$pid6 5:$pid5; do
    wait "${v#*:}" || { cat "$T/venv-ksm${v%%:*}.log" >&2; echo "FAIL: the ksm${v%%:*} virtualenv" >&2; exit 1; }
    cat "$T/venv-ksm${v%%:*}.log"
done

if [ "${1:-}" = "--setup-only" ]; then
    # used by scripts/bench-middleware.sh: the environments, no tests
    echo "   environments ready: $T/venv-ksm6, $T/venv-ksm5"
    exit 0
fi

if [ -n "${KSTOKEN_MW_PAIRS:-}" ]; then
    PAIRS=$KSTOKEN_MW_PAIRS
elif [ -d python/kstoken/middleware ]; then
    PAIRS=stock-stock,stock-compat,stock-kstoken
else
    PAIRS=stock-stock,stock-compat
    echo "NOTE: python/kstoken/middleware is not in this tree: the stock-vs-kstoken differential and the" \
        "kstoken.middleware server tests are NOT run (pairs: $PAIRS)"
fi
export KSTOKEN_MW_PAIRS=$PAIRS
export KSTOKEN_VECTORS=${KSTOKEN_VECTORS:-$ROOT/../shared/vectors}
REPORT=$T/report
rm -rf "$REPORT" "$T/work"
mkdir -p "$REPORT" "$T/work"
export KSTOKEN_MW_REPORT_DIR=$REPORT KSTOKEN_MW_WORKDIR=$T/work KSTOKEN_MW_KSM5_PYTHON=$T/venv-ksm5/bin/python
# test_deployment.py installs this wheel into a virtualenv of the system python3 (uWSGI, mod_wsgi).
export KSTOKEN_MW_WHEEL=$WHEEL

STATUS=0
run() {
    local venv=$1 marker=$2
    echo "== middleware: pytest -m '$marker' (keystonemiddleware $("$T/venv-$venv/bin/python" -c \
        'import importlib.metadata as m; print(m.version("keystonemiddleware"))'); pairs $PAIRS)"
    (cd "$T" && "$T/venv-$venv/bin/python" -m pytest -p no:cacheprovider -q -rfEs --show-capture=no \
        -c "$TESTS/pytest.ini" -m "$marker" --junitxml="$REPORT/$venv.xml" "$TESTS") || STATUS=1
}
run ksm6 "ksm6 or servers"
run ksm5 ksm5

# The benchmark's setup (gunicorn, memcached, wrk with 9 KB tokens) for a few seconds: it works and
# answers only 2xx. Numbers from this run mean nothing; `make bench` measures.
echo "== middleware: wrk smoke run of the benchmark setup"
"$T/venv-ksm6/bin/python" benches/middleware/run.py "$REPORT/bench-smoke.json" --smoke || {
    echo "FAIL: the benchmark setup's smoke run" >&2
    STATUS=1
}

echo
echo "== middleware: differential counts (requests = cases x 2: uncached, then cached)"
"$T/venv-ksm6/bin/python" - "$REPORT" <<'EOF'
import collections, json, os, sys
rows = []
for name in sorted(os.listdir(sys.argv[1])):
    if name.endswith(".jsonl"):
        with open(os.path.join(sys.argv[1], name)) as f:
            rows += [json.loads(line) for line in f]
by_pair = collections.OrderedDict()
for r in rows:
    p = by_pair.setdefault(r["pair"], {"configs": 0, "cases": 0, "requests": 0, "identical": 0, "unexpected": 0,
                                       "known": collections.Counter()})
    p["configs"] += 1
    for k in ("cases", "requests", "identical", "unexpected"):
        p[k] += r[k]
    p["known"].update(r["known"])
print("%-18s %7s %6s %8s %9s %10s  %s" % ("pair", "configs", "cases", "requests", "identical", "unexpected",
                                          "known differences (requests)"))
for pair, p in by_pair.items():
    known = ", ".join("%s %d" % kv for kv in sorted(p["known"].items())) or "none"
    print("%-18s %7d %6d %8d %9d %10d  %s" % (pair, p["configs"], p["cases"], p["requests"], p["identical"],
                                              p["unexpected"], known))
EOF
echo "middleware suite: $(( $(date +%s) - START )) s"
if [ "$STATUS" -ne 0 ]; then
    echo "FAIL: middleware suite (logs of the servers under $T/work/*/logs)" >&2
    exit 1
fi
echo "middleware: all passed"
