#!/usr/bin/env python3
"""The middleware benchmark: requests/s and p50/p99 latency under wrk, one run on one machine.

gunicorn (2 sync workers, --preload) serves a tiny WSGI app (python/tests/middleware/apps.py) behind
(1) stock keystonemiddleware 6.1.0 ``auth_token`` (spawns ``openssl cms``), (2) the same with
``kstoken.compat.patch()``, (3) ``kstoken.middleware``, (4) no authentication (the server's ceiling);
each uncached (``token_cache_time = -1``) and cached (memcached, every token seen once before).
Load: wrk (-t1 -c4, 127.0.0.1 only) cycling through 300 distinct ~9 KB v3 PKI tokens with a
12-service catalog (benches/middleware/tokens.lua). All servers are started first; each gets a
warm-up, then ``--runs`` rounds measure every setup for ``--duration`` seconds in turn (interleaved, so
background load hits all setups alike) and the best run of each setup is reported (best-of-N: the VM
is noisy and shared). A run with any non-2xx answer or socket error is invalid and fails the benchmark.

Usage: run.py OUT_JSON [--duration S] [--runs N] [--warmup S] [--tokens N] [--setups a,b] [--smoke]
``--smoke``: one short run (a few seconds) of one setup, to prove the setup works (make test).
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "python", "tests", "middleware"))
sys.path.append(os.path.dirname(HERE))  # wrkbench (appended: "report" is this directory's)

from procs import Memcached, free_port  # noqa: E402
from servers import AppServer  # noqa: E402
from wrkbench import best_row, make_tokens, middleware_conf, token_sizes, wrk  # noqa: E402

SETUPS = {
    "stock": "keystonemiddleware 6.1.0 (openssl cms)",
    "compat": "keystonemiddleware + kstoken.compat.patch()",
    "kstoken": "kstoken.middleware",
    "none": "no authentication (ceiling)",
}


def has_kstoken_middleware() -> bool:
    try:
        import kstoken.middleware  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--setups", default="")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--note", default="", help="what was measured, e.g. which kstoken build (goes into the report)")
    args = ap.parse_args()
    if args.smoke:
        args.duration, args.runs, args.warmup, args.tokens = 2.0, 1, 1.0, 30
    available = ["stock", "compat"] + (["kstoken"] if has_kstoken_middleware() else []) + ["none"]
    setups = [s for s in args.setups.split(",") if s] if args.setups else available
    if args.smoke and not args.setups:
        setups = ["kstoken" if "kstoken" in available else "compat"]
    for s in setups:
        if s not in available:
            print("setup %r is not available here (kstoken.middleware importable: %s)" % (s, has_kstoken_middleware()),
                  file=sys.stderr)
            return 2

    load_before = os.getloadavg()
    work = tempfile.mkdtemp(prefix="kstoken-mw-bench-")
    logs = os.path.join(work, "logs")
    os.makedirs(logs)
    pki, texts, tokens_file = make_tokens(work, args.tokens)
    sizes = token_sizes(texts)
    memcached = Memcached(logs).start()
    results = []
    failures = []
    servers = {}
    try:
        # every server is started first (idle servers cost nothing), then the runs are interleaved:
        # round r measures every setup once, so a burst of background load hits all setups alike
        servers = {}
        runs = {}
        for setup in setups:
            for cached in (False, True):
                key = (setup, cached)
                sd = pki.signing_dir(os.path.join(work, "sd-%s-%d" % key))
                conf = middleware_conf(setup, cached, sd, memcached.server, free_port())
                srv = AppServer("bench-%s-%s" % (setup, "cached" if cached else "uncached"), logs, setup, conf,
                                worker_class="sync", workers=2, preload=True, access_log=False)
                servers[key] = srv
                status = srv.get(texts[0], path="/bench")[0]
                if status != 200:
                    raise RuntimeError("%s: first request answered %d\n%s" % (key, status, srv.proc.log_tail()))
                if cached:
                    for text in texts:  # every token seen once: the measured requests are cache hits
                        srv.get(text, path="/bench")
                runs[key] = []
        for key, srv in servers.items():
            wrk(srv.url, tokens_file, args.warmup)
        for _round in range(args.runs):
            for key, srv in servers.items():
                runs[key].append(wrk(srv.url, tokens_file, args.duration))
        for srv in servers.values():
            srv.stop()
        for (setup, cached), rs in runs.items():
            label = "%s, %s" % (setup, "cached" if cached else "uncached")
            bad = [r for r in rs if r["non2xx"] or r["socket_errors"]]
            if bad:
                failures.append("%s: %d non-2xx, %d socket errors" % (label, bad[0]["non2xx"], bad[0]["socket_errors"]))
            row = dict({"setup": setup, "label": SETUPS[setup], "cached": cached}, **best_row(rs))
            results.append(row)
            print("%-44s %-8s %8.0f req/s  p50 %7.2f ms  p99 %7.2f ms  (runs: %s)" % (
                SETUPS[setup], "cached" if cached else "uncached", row["rps"], row["p50_ms"], row["p99_ms"],
                ", ".join("%.0f" % x for x in row["runs_rps"])))
    finally:
        for srv in servers.values():
            srv.stop()
        memcached.stop()

    from report import ratios  # benches/middleware/report.py: the same ratios as the report

    targets = [list(r) for r in ratios(results)]
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": "%s, %d cores (%s)" % (platform.machine(), os.cpu_count() or 0, platform.platform()),
        "python": platform.python_version(),
        "server": "gunicorn %s, 2 sync workers, --preload, --limit-request-field_size 32768" % _version("gunicorn"),
        "keystonemiddleware": _version("keystonemiddleware"),
        "load": "wrk -t1 -c4 against 127.0.0.1, %d distinct v3 PKI tokens of %d-%d bytes (12-service catalog), "
                "cycling" % (len(texts), sizes[0], sizes[-1]),
        "method": "all servers started first; per setup a %g s warm-up, then %d interleaved rounds of %g s per "
                  "setup, best run reported (cached: every token requested once before)"
                  % (args.warmup, args.runs, args.duration),
        "smoke": args.smoke,
        "note": args.note,
        # the machine is shared: the load average says how quiet it was (2 cores: > 2 means contention)
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "results": results, "targets": targets}, f, indent=1)
    for name, best, median, goal in targets:
        print("%-70s best %6.2f×  median %6.2f×  %s" % (name, best, median, goal))
    if failures:
        print("FAIL: invalid runs (server logs kept in %s):\n  " % logs + "\n  ".join(failures), file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _version(dist: str) -> str:
    try:
        import importlib.metadata as md

        return md.version(dist)
    except Exception:  # noqa: BLE001
        return "?"


if __name__ == "__main__":
    sys.exit(main())
