#!/usr/bin/env python3
"""The httpd benchmark (issue 20, item 4): requests/s and p50/p99 latency under wrk, one run on one
machine, of one private Apache httpd (event MPM, 127.0.0.1, plain HTTP) built from the test bed's
parts (httpd/tests/testbed), with the same backend behind every setup and only the token check in
front of it differing:

* ``ceiling``: the backend with no token check (what the same httpd serves at best);
* ``middleware``: ``kstoken.middleware`` in front of the backend, in its mod_wsgi daemon processes;
* ``module``: ``mod_kstoken`` in front of the backend, in httpd's own children. Skipped, with a line
  saying so, while the module logs at startup that it is a skeleton (it has no decision path yet).

The backend is ``httpd/tests/apps/hello_app.py`` (a 6-byte answer) in mod_wsgi daemon processes
(``processes=2 threads=8``, docs/deployment.md's mod_wsgi example): the ceiling and the module route
to the same daemon group, the middleware has its own groups of the same size (its application wraps
the same hello application). Each setup is measured uncached and cached, as benches/middleware
defines them: uncached, every request validates its token (``token_cache_time = -1``,
``KstokenTokenCacheTime -1``); cached, every token was requested once before (memcached for the
middleware, as in benches/middleware; httpd's socache ``shmcb`` for the module). Load: wrk (-t1
-c4 by default) cycling through 300 distinct ~9 KB v3 PKI tokens (benches/wrkbench.py). Every setup
is first checked (a valid token answered 200; for the checking setups an invalid one 401), warmed
up, then ``--runs`` interleaved rounds measure every setup for ``--duration`` s in turn; the best
run and the median run are reported. A run with a non-2xx answer or a socket error fails the
benchmark.

Usage: run.py OUT_JSON --apps DIR --work DIR [--module mod_kstoken.so] [--user www-data]
       [--duration S] [--runs N] [--warmup S] [--tokens N] [--connections N] [--setups a,b]
       [--pids FILE] [--note TEXT]
``--pids``: the process groups this run started and has not stopped yet, one PID a line, for the
caller's trap (scripts/bench-httpd.sh) should this process die without its ``finally``.
"""

import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import sysconfig
from typing import Any, Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "httpd", "tests"))
sys.path.insert(0, os.path.join(ROOT, "python", "tests", "middleware"))
sys.path.append(os.path.dirname(HERE))  # wrkbench (appended: "report" is this directory's)

from procs import Memcached, http_get  # noqa: E402 (python/tests/middleware)
from testbed.httpd import Instance, event_mpm, load_modules, server_head, wsgi_daemon  # noqa: E402
from testbed.middleware import signing_dir, write_app  # noqa: E402
from testbed.procs import free_port  # noqa: E402
from wrkbench import WWW_AUTHENTICATE_URI, best_row, make_tokens, middleware_conf, token_sizes, wrk  # noqa: E402

SETUPS = {
    "ceiling": "httpd, no token check (ceiling)",
    "middleware": "kstoken.middleware under mod_wsgi",
    "module": "mod_kstoken",
}
#: what the harness prints and reports while the module logs that it is a skeleton
SKELETON = "module has no decision path yet"
#: the backend's daemon processes and threads (docs/deployment.md's mod_wsgi example)
WSGI_PROCESSES, WSGI_THREADS = 2, 8
#: httpd's children and their threads (event MPM)
HTTPD_SERVERS, HTTPD_THREADS = 2, 16
#: the modules the benchmark's httpd loads (mod_kstoken comes on top when built)
LOAD = ["mpm_event", "authn_core", "authz_core", "socache_shmcb", "wsgi"]

#: mod_kstoken's directives in both of its locations: the middleware's options, directive for option
#: (offline, the same signing directory, no revocation list, the catalog included, as the
#: middleware's defaults do)
MODULE_DIRECTIVES = """Kstoken On
        KstokenSigningDir "{signing}"
        KstokenWWWAuthenticateURI {www_authenticate_uri}
        KstokenEnforceTokenBind permissive
        KstokenHashAlgorithms md5
        KstokenIncludeServiceCatalog On
        KstokenServiceTokenRolesRequired On
        KstokenRevocation off"""
#: the module's second-level cache in the cached location: httpd's socache shmcb, shared by the
#: children, the module's default (a server-wide ``KstokenCache shmcb``): nothing to say in the location.
MODULE_CACHE_DIRECTIVES = ""

CONFIG = """{head}
{mpm}
Timeout 20
# a 9 KB token in one header field (httpd's default limit is 8190 bytes; docs/deployment.md)
LimitRequestFieldSize 65536

WSGISocketPrefix {root}/run/wsgi
WSGIRestrictEmbedded On
{daemons}

<Directory />
    Require all denied
</Directory>
DocumentRoot "{root}/htdocs"
# Each script names its process group and the main interpreter (application-group=%{{GLOBAL}}: C
# extensions are not written for sub-interpreters), so mod_wsgi loads it when its daemon processes
# start, not at the first request of each.
# mod_wsgi maps PATH_INFO through a sub-request (PATH_TRANSLATED): into this empty directory
<Directory "{root}/htdocs">
    Require all granted
</Directory>
<Directory "{root}/wsgi">
    Require all granted
</Directory>

# (a) the ceiling: the backend, no token check
WSGIScriptAlias /ceiling "{root}/wsgi/hello.wsgi" process-group=hello application-group=%{{GLOBAL}}
{middleware}
{module}
"""

MIDDLEWARE_LOCATION = """
# (b) kstoken.middleware in front of the backend, {mode}
<Directory "{dir}">
    Require all granted
</Directory>
WSGIScriptAlias /middleware-{mode} "{wsgi}" process-group=middleware-{mode} application-group=%{{GLOBAL}}
"""

MODULE_LOCATION = """
# (c) mod_kstoken in front of the backend (the ceiling's daemon group), {mode}
WSGIScriptAlias /module-{mode} "{root}/wsgi/hello.wsgi" process-group=hello application-group=%{{GLOBAL}}
<Location /module-{mode}>
        {directives}
        KstokenTokenCacheTime {cache_time}
        {cache}
</Location>
"""


class BenchHttpd(Instance):
    """The benchmark's httpd: plain HTTP on 127.0.0.1, the event MPM, the hello application in
    mod_wsgi daemon processes at /ceiling (and /module-*), each middleware script (mode -> path)
    at /middleware-<mode> in a daemon group of its own, and mod_kstoken (when given) at
    /module-uncached and /module-cached."""

    DIRS = Instance.DIRS + ("wsgi",)

    def __init__(self, root: str, user: Optional[str], python_path: str, module: Optional[str], signing: str,
                 middleware: Dict[str, str]) -> None:
        super().__init__(root)
        self.user = user
        self.python_path = python_path
        self.module = module
        self.signing = signing
        self.middleware = middleware

    def url(self) -> str:
        return "http://127.0.0.1:%d" % self.port

    def prepare(self) -> None:
        with open(os.path.join(self.root, "wsgi", "hello.wsgi"), "w") as f:
            f.write("from hello_app import application  # noqa: F401\n")

    def config(self) -> str:
        modules = load_modules(LOAD)
        if self.module:
            modules += "\nLoadModule kstoken_module %s" % self.module
        daemons = [wsgi_daemon("hello", self.user, WSGI_PROCESSES, WSGI_THREADS, self.python_path)]
        daemons += [wsgi_daemon("middleware-" + mode, self.user, WSGI_PROCESSES, WSGI_THREADS, self.python_path)
                    for mode in self.middleware]
        middleware = "".join(MIDDLEWARE_LOCATION.format(mode=mode, dir=os.path.dirname(wsgi), wsgi=wsgi)
                             for mode, wsgi in self.middleware.items())
        module = ""
        if self.module:
            directives = MODULE_DIRECTIVES.format(signing=self.signing, www_authenticate_uri=WWW_AUTHENTICATE_URI)
            module = "".join(MODULE_LOCATION.format(mode=mode, root=self.root, directives=directives,
                                                    cache_time=cache_time, cache=cache)
                             for mode, cache_time, cache in (("uncached", -1, ""),
                                                             ("cached", 300, MODULE_CACHE_DIRECTIVES)))
        return CONFIG.format(head=server_head(self.root, self.port, self.user, modules),
                             mpm=event_mpm(HTTPD_SERVERS, HTTPD_THREADS), root=self.root,
                             daemons="\n".join(daemons), middleware=middleware, module=module)


class PidFile:
    """The process groups started and not yet stopped, one PID a line, for the caller's trap."""

    def __init__(self, path: Optional[str]) -> None:
        self.path = path
        self.pids: List[int] = []
        self._write()

    def _write(self) -> None:
        if self.path:
            with open(self.path + ".tmp", "w") as f:
                f.write("".join("%d\n" % p for p in self.pids))
            os.replace(self.path + ".tmp", self.path)

    def add(self, pid: int) -> None:
        self.pids.append(pid)
        self._write()

    def remove(self, pid: int) -> None:
        if pid in self.pids:
            self.pids.remove(pid)
            self._write()


def module_state(httpd: BenchHttpd) -> Tuple[bool, str]:
    """(whether mod_kstoken decides, its startup line): a skeleton says so at startup."""
    log = httpd.wait_for_log("mod_kstoken ", timeout=10)
    line = [li for li in log.splitlines() if "mod_kstoken " in li][-1]
    return "skeleton" not in line, line[line.index("mod_kstoken "):]


def check(url: str, path: str, token: str, refuses: bool) -> None:
    """A valid token is answered 200 with the backend's body at ``path``; with ``refuses``, an
    invalid one 401 (the setup does check tokens: otherwise it would measure nothing)."""
    status, _, body = http_get(url + path, headers={"X-Auth-Token": token}, timeout=30)
    if status != 200 or body != b"hello\n":
        raise RuntimeError("%s: a valid token was answered %d %r" % (path, status, body[:300]))
    if refuses:
        status, _, body = http_get(url + path, headers={"X-Auth-Token": "not-a-token"}, timeout=30)
        if status != 401:
            raise RuntimeError("%s: an invalid token was answered %d %r, not 401: this setup checks no token"
                               % (path, status, body[:300]))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--apps", required=True, help="httpd/tests/apps, or its copy the httpd user can read")
    ap.add_argument("--work", required=True, help="a directory the httpd user can reach (emptied)")
    ap.add_argument("--module", default="", help="mod_kstoken.so (httpd/build.sh --release)")
    ap.add_argument("--user", default="www-data", help="the user httpd's children and the daemons run as")
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--tokens", type=int, default=300)
    ap.add_argument("--connections", type=int, default=4)
    ap.add_argument("--setups", default="ceiling,middleware,module")
    ap.add_argument("--pids", default="")
    ap.add_argument("--note", default="", help="what was measured and how quiet the machine was (into the report)")
    args = ap.parse_args()
    setups = [s for s in args.setups.split(",") if s]
    for s in setups:
        if s not in SETUPS:
            print("unknown setup %r (known: %s)" % (s, ", ".join(SETUPS)), file=sys.stderr)
            return 2
    # SIGTERM (the caller's trap) unwinds through the finally below, which stops every process
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))

    load_before = os.getloadavg()
    work = os.path.abspath(args.work)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(os.path.join(work, "logs"))
    os.chmod(work, 0o755)
    pki, texts, tokens_file = make_tokens(work, args.tokens)
    sizes = token_sizes(texts)
    signing = signing_dir(work, args.user, {"signing_cert.pem": pki.path("signing_cert"),
                                            "cacert.pem": pki.path("ca_cert")})
    python_path = ":".join([args.apps, sysconfig.get_paths()["purelib"]])
    pids = PidFile(args.pids or None)
    skipped: Dict[str, str] = {}
    memcached: Optional[Memcached] = None
    httpd: Optional[BenchHttpd] = None
    runs: Dict[Tuple[str, bool], List[Dict[str, Any]]] = {}
    module_line = ""
    try:
        middleware: Dict[str, str] = {}
        if "middleware" in setups:
            memcached = Memcached(os.path.join(work, "logs")).start()
            pids.add(memcached.proc.pid)
            for cached in (False, True):
                mode = "cached" if cached else "uncached"
                root = os.path.join(work, "middleware-" + mode)
                os.makedirs(root)
                os.chmod(root, 0o755)
                conf = middleware_conf("middleware-" + mode, cached, signing, memcached.server, free_port())
                middleware[mode] = write_app(root, signing, app="hello_app", **conf)
        module = os.path.abspath(args.module) if args.module and "module" in setups else None
        if "module" in setups and not module:
            skipped["module"] = "mod_kstoken.so was not built (--module)"
        httpd = BenchHttpd(os.path.join(work, "httpd"), args.user, python_path, module, signing, middleware)
        httpd.start()
        assert httpd.proc is not None
        pids.add(httpd.proc.pid)
        if module:
            decides, module_line = module_state(httpd)
            if not decides:
                skipped["module"] = "%s (its startup line: %s)" % (SKELETON, module_line)
        for setup in setups:
            if setup in skipped:
                print("%s: skipped, %s" % (SETUPS[setup], skipped[setup]))
        measured = [s for s in setups if s not in skipped]
        paths = {(s, c): "/%s/bench" % s if s == "ceiling" else "/%s-%s/bench" % (s, "cached" if c else "uncached")
                 for s in measured for c in (False, True)}
        url = httpd.url()
        for (setup, cached), path in paths.items():
            check(url, path, texts[0], refuses=setup != "ceiling")
            runs[(setup, cached)] = []
        for (setup, cached), path in paths.items():
            if cached and setup != "ceiling":  # every token seen once: the measured requests are cache hits
                for text in texts:
                    status = http_get(url + path, headers={"X-Auth-Token": text}, timeout=30)[0]
                    if status != 200:
                        raise RuntimeError("%s: warming the cache, a valid token was answered %d" % (path, status))
        if memcached is not None:
            items = int(memcached.stats()["curr_items"])
            if items < len(texts):
                raise RuntimeError("memcached holds %d items after %d tokens went through the cached middleware: "
                                   "its cache is not in use" % (items, len(texts)))
        # all setups are served by the one httpd; the runs are interleaved: round r measures every
        # setup once, so a burst of background load hits all setups alike
        for key, path in paths.items():
            wrk(url, tokens_file, args.warmup, args.connections, path)
        for _round in range(args.runs):
            for key, path in paths.items():
                runs[key].append(wrk(url, tokens_file, args.duration, args.connections, path))
    finally:
        if httpd is not None and httpd.proc is not None:
            pid = httpd.proc.pid
            httpd.stop()
            pids.remove(pid)
        if memcached is not None and memcached.proc is not None:
            pid = memcached.proc.pid
            memcached.stop()
            pids.remove(pid)

    results = []
    failures = []
    for (setup, cached), rs in runs.items():
        label = "%s, %s" % (setup, "cached" if cached else "uncached")
        bad = [r for r in rs if r["non2xx"] or r["socket_errors"]]
        if bad:
            failures.append("%s: %d non-2xx, %d socket errors" % (label, bad[0]["non2xx"], bad[0]["socket_errors"]))
        row = dict({"setup": setup, "label": SETUPS[setup], "cached": cached}, **best_row(rs))
        results.append(row)
        print("%-36s %-8s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (runs: %s)" % (
            SETUPS[setup], "cached" if cached else "uncached", row["rps"], row["p50_ms"], row["p99_ms"],
            ", ".join("%.0f" % x for x in row["runs_rps"])))

    from report import ratios  # benches/httpd/report.py: the same ratios as the report

    targets = ratios(results, skipped)
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": "%s, %d cores (%s)" % (platform.machine(), os.cpu_count() or 0, platform.platform()),
        "httpd": _apache_version(),
        "python": platform.python_version(),
        "server": "event MPM, %d children of %d threads; plain HTTP on 127.0.0.1; no access log; backend "
                  "httpd/tests/apps/hello_app.py in mod_wsgi %s daemon processes (processes=%d threads=%d)"
                  % (HTTPD_SERVERS, HTTPD_THREADS, _mod_wsgi_version(), WSGI_PROCESSES, WSGI_THREADS),
        "module": module_line or skipped.get("module", ""),
        "load": "wrk -t1 -c%d against 127.0.0.1, %d distinct v3 PKI tokens of %d-%d bytes (12-service catalog), "
                "cycling" % (args.connections, len(texts), sizes[0], sizes[1]),
        "method": "one httpd serving every setup; per setup a %g s warm-up, then %d interleaved rounds of %g s "
                  "per setup; best and median runs reported (cached: every token requested once before)"
                  % (args.warmup, args.runs, args.duration),
        "note": args.note,
        # the machine is shared: the load average says how quiet it was (2 cores: > 2 means contention)
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in os.getloadavg()],
    }
    with open(args.out, "w") as f:
        json.dump({"meta": meta, "results": results, "skipped": skipped, "targets": targets}, f, indent=1)
    for name, best, med, goal in targets:
        if best is None or med is None:
            print("%-64s %s" % (name, goal))
        else:
            print("%-64s best %5.2f×  median %5.2f×  %s" % (name, best, med, goal))
    if failures:
        print("FAIL: invalid runs (logs kept in %s):\n  " % work + "\n  ".join(failures), file=sys.stderr)
        return 1
    return 0


def _apache_version() -> str:
    out = subprocess.run(["/usr/sbin/apache2", "-v"], capture_output=True, text=True, timeout=30).stdout
    return out.splitlines()[0].split(":", 1)[-1].strip() if out else "?"


def _mod_wsgi_version() -> str:
    out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libapache2-mod-wsgi-py3"], capture_output=True,
                         text=True, timeout=30)
    return out.stdout.strip() or "?"


if __name__ == "__main__":
    sys.exit(main())
