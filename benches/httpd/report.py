#!/usr/bin/env python3
"""The httpd benchmark's section of benches/RESULTS.md and its chart benches/httpd.png.

Usage: report.py HTTPD_JSON OUT_DIR — replaces the section between the markers in OUT_DIR/RESULTS.md
(appends it when absent) and writes OUT_DIR/httpd.png. benches/report.py calls :func:`section` too,
so a full `make bench` report keeps it.
"""

import json
import os
import sys
from typing import Any, Dict, List, Optional, Tuple

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wrkbench import bar_chart, median, replace_section  # noqa: E402

START = "<!-- httpd benchmark: start (benches/httpd/report.py) -->"
END = "<!-- httpd benchmark: end -->"
ORDER = ["module", "middleware", "ceiling"]
LABELS = {"ceiling": "httpd, no token check (ceiling)", "middleware": "kstoken.middleware under mod_wsgi",
          "module": "mod_kstoken"}
#: issue 20's targets: the module against the ceiling (uncached, cached) and ahead of the middleware
GOALS = {("ceiling", False): 0.6, ("ceiling", True): 0.9, ("middleware", False): 1.0, ("middleware", True): 1.0}

Ratio = Tuple[str, Optional[float], Optional[float], str]


def ratios(results: List[Dict[str, Any]], skipped: Dict[str, str]) -> List[Ratio]:
    """(name, best-run ratio, median-run ratio, goal) for issue 20's targets (``None`` ratios when the
    module was not measured, the goal then saying why) and the middleware against the ceiling."""
    by = {(r["setup"], r["cached"]): r for r in results}
    out: List[Ratio] = []
    for cached in (False, True):
        mode = "cached" if cached else "uncached"
        for setup, base in (("module", "ceiling"), ("module", "middleware"), ("middleware", "ceiling")):
            name = "%s vs %s, %s" % (LABELS[setup], "ceiling" if base == "ceiling" else LABELS[base], mode)
            goal = GOALS.get((base, cached)) if setup == "module" else None
            goal_text = "–" if goal is None else ("≥ %g" % goal if base == "ceiling" else "> 1 (ahead)")
            a, b = by.get((setup, cached)), by.get((base, cached))
            if a is None or b is None:
                why = skipped.get(setup) or skipped.get(base) or "not in this run"
                if setup == "module":
                    out.append((name, None, None, "%s; not measured: %s" % (goal_text, why.split(" (")[0])))
                continue
            out.append((name, a["rps"] / b["rps"], median(a["runs_rps"]) / median(b["runs_rps"]), goal_text))
    return out


def _met(best: float, med: float, goal: str) -> str:
    if goal.startswith("≥"):
        g, strict = float(goal[1:].strip()), False
    elif goal.startswith(">"):
        g, strict = float(goal[1:].split()[0]), True
    else:
        return ""

    def ok(x: float) -> str:
        return "✓" if (x > g if strict else x >= g) else "✗"

    return " (best %s, median %s)" % (ok(best), ok(med))


def section(data: Dict[str, Any]) -> List[str]:
    meta, results, skipped = data["meta"], data["results"], data.get("skipped", {})
    by = {(r["setup"], r["cached"]): r for r in results}
    lines = [START, "## mod_kstoken in Apache httpd (event MPM + wrk)", "",
             "Run: %s on %s; %s; Python %s; %s." % (
                 meta["date"], meta["machine"], meta["httpd"], meta["python"], meta["server"]),
             "Load: %s. Method: %s. Load average before/after (1, 5, 15 min): %s / %s." % (
                 meta["load"], meta["method"], meta.get("loadavg_before"), meta.get("loadavg_after")),
             ] + (["", "Measured: %s." % meta["note"]] if meta.get("note") else []) + [
             "",
             "What each setup serves: the same request (`GET /<setup>/bench` with `X-Auth-Token`) and the same "
             "6-byte answer of the same backend, `httpd/tests/apps/hello_app.py` in mod_wsgi daemon processes "
             "(`processes=2 threads=8`, docs/deployment.md's example), in the one httpd; only the token check in "
             "front of the backend differs. mod_kstoken is loaded for every setup; only its own locations carry "
             "`Kstoken*` directives (the middleware's options, directive for option: the same signing directory, "
             "offline, no revocation list).",
             "",
             "| setup | token check | backend | cached rows |",
             "|---|---|---|---|",
             "| httpd, no token check (ceiling) | none | the hello daemon group | (the same location again) |",
             "| kstoken.middleware under mod_wsgi | `kstoken.middleware` around the hello application, in the "
             "daemon processes | a daemon group of its own, same size | memcached (`token_cache_time = 300`), as in "
             "the gunicorn benchmark |",
             "| mod_kstoken | the module, in httpd's children, before the handler | the ceiling's daemon group | "
             "httpd's socache `shmcb` (`KstokenTokenCacheTime 300`) |",
             "",
             "Why this ceiling: the module checks a token, then httpd hands the request to whatever serves the "
             "location (a WSGI or proxied service), so \"the same httpd with no token check\" is the same location "
             "serving the same backend. The Python middleware can only run inside the backend's processes, so it "
             "is measured on that same backend too, and module against middleware compares the token checks, not "
             "mod_wsgi against a static file. (A static file would make a higher ceiling and a stricter ratio for "
             "the module, but an unfair comparison with the middleware.) Uncached: every request validates its "
             "token (`token_cache_time = -1`, `KstokenTokenCacheTime -1`); cached: every token was requested once "
             "before the runs.",
             "",
             "![httpd requests/s](httpd.png)", "",
             "| setup | uncached req/s | p50 | p99 | cached req/s | p50 | p99 |",
             "|---|---:|---:|---:|---:|---:|---:|"]

    def cells(r: Optional[Dict[str, Any]]) -> Tuple[str, str, str]:
        return ("%.0f" % r["rps"], "%.1f ms" % r["p50_ms"], "%.1f ms" % r["p99_ms"]) if r else ("–", "–", "–")

    for setup in ORDER:
        u, c = by.get((setup, False)), by.get((setup, True))
        if not u and not c:
            if setup in skipped:
                lines.append("| %s | not measured | | | not measured | | |" % LABELS[setup])
            continue
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % ((LABELS[setup],) + cells(u) + cells(c)))
    lines.append("")
    rows = data.get("targets") or ratios(results, skipped)
    if rows:
        lines += ["Ratios from this one run: of the best runs (as the table above), and of the median runs "
                  "(steadier when the machine is loaded).", "",
                  "| ratio | best runs | median runs | goal |", "|---|---:|---:|---|"]
        for name, best, med, goal in rows:
            if best is None or med is None:
                lines.append("| %s | – | – | %s |" % (name, goal))
            else:
                lines.append("| %s | %.2f× | %.2f× | %s%s |" % (name, best, med, goal, _met(best, med, goal)))
        lines.append("")
    for setup, why in sorted(skipped.items()):
        lines += ["%s: skipped, %s." % (LABELS.get(setup, setup), why), ""]
    lines.append(END)
    return lines


def chart(data: Dict[str, Any], path: str) -> None:
    by = {(r["setup"], r["cached"]): r for r in data["results"]}
    rows = [(LABELS[s], by[(s, False)]["rps"] if (s, False) in by else None,
             by[(s, True)]["rps"] if (s, True) in by else None)
            for s in ORDER if (s, False) in by or (s, True) in by]
    skipped = data.get("skipped", {})
    title = "token checks in Apache httpd under wrk, one run (%s)" % data["meta"]["date"]
    if skipped:
        title += "\n(not measured: %s)" % ", ".join(LABELS.get(s, s) for s in sorted(skipped))
    bar_chart(rows, path, title, "requests/s (best of runs), event MPM, hello app in mod_wsgi, 9 KB v3 PKI tokens",
              "cached (middleware: memcached; module: shmcb)", legend_below=True)


def main() -> None:
    src, out_dir = sys.argv[1:3]
    with open(src) as f:
        data = json.load(f)
    results_md = os.path.join(out_dir, "RESULTS.md")
    replace_section(results_md, START, END, section(data))
    try:
        chart(data, os.path.join(out_dir, "httpd.png"))
    except ImportError:
        print("matplotlib not installed: no chart", file=sys.stderr)
    print("updated %s (httpd section) and %s" % (results_md, os.path.join(out_dir, "httpd.png")))


if __name__ == "__main__":
    main()
