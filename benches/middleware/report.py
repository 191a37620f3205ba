#!/usr/bin/env python3
"""The middleware benchmark's section of benches/RESULTS.md and its chart benches/middleware.png.

Usage: report.py MIDDLEWARE_JSON OUT_DIR — replaces the section between the markers in
OUT_DIR/RESULTS.md (appends it when absent) and writes OUT_DIR/middleware.png.
benches/report.py calls :func:`section` too, so a full `make bench` report keeps it.
"""

import json
import os
import sys
from typing import Any, Dict, List

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from wrkbench import bar_chart, median, replace_section  # noqa: E402

START = "<!-- middleware benchmark: start (benches/middleware/report.py) -->"
END = "<!-- middleware benchmark: end -->"
ORDER = ["stock", "compat", "kstoken", "none"]


def ratios(results: List[Dict[str, Any]]) -> List[Any]:
    """(name, best-run ratio, median-run ratio, goal) for the issue's targets and the compat rows."""
    by = {(r["setup"], r["cached"]): r for r in results}
    out = []
    for cached, ceiling_goal, stock_goal in ((False, 0.6, 10.0), (True, 0.8, 2.0)):
        mode = "cached" if cached else "uncached"
        for setup in ("kstoken", "compat"):
            a = by.get((setup, cached))
            if a is None:
                continue
            for base, goal in (("none", ceiling_goal), ("stock", stock_goal)):
                b = by.get((base, cached))
                if b is None:
                    continue
                goal_text = ("≥ %g" % goal) if setup == "kstoken" else "–"
                out.append(("%s vs %s, %s" % (a["label"], "ceiling" if base == "none" else "stock", mode),
                            a["rps"] / b["rps"], median(a["runs_rps"]) / median(b["runs_rps"]), goal_text))
    return out


def section(data: Dict[str, Any]) -> List[str]:
    meta, results = data["meta"], data["results"]
    by = {(r["setup"], r["cached"]): r for r in results}
    lines = [START, "## Middleware in a real server (gunicorn + wrk)", "",
             "Run: %s on %s; Python %s; %s; keystonemiddleware %s." % (
                 meta["date"], meta["machine"], meta["python"], meta["server"], meta["keystonemiddleware"]),
             "Load: %s. Method: %s. Load average before/after (1, 5, 15 min): %s / %s." % (
                 meta["load"], meta["method"], meta.get("loadavg_before"), meta.get("loadavg_after")),
             ] + (["", "Measured: %s." % meta["note"]] if meta.get("note") else []) + [
             "", "![middleware requests/s](middleware.png)", "",
             "| setup | uncached req/s | p50 | p99 | cached req/s | p50 | p99 |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for setup in ORDER:
        u, c = by.get((setup, False)), by.get((setup, True))
        if not u and not c:
            continue
        label = (u or c)["label"]

        def cells(r):
            return ("%.0f" % r["rps"], "%.1f ms" % r["p50_ms"], "%.1f ms" % r["p99_ms"]) if r else ("–", "–", "–")

        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % ((label,) + cells(u) + cells(c)))
    lines.append("")
    rows = ratios(results)
    if rows:
        lines += ["Ratios from this one run: of the best runs (as the table above), and of the median runs "
                  "(steadier when the machine is loaded).", "",
                  "| ratio | best runs | median runs | goal |", "|---|---:|---:|---|"]
        for name, best, med, goal in rows:
            met = ""
            if goal.startswith("≥"):
                g = float(goal[1:].strip())
                met = " (best %s, median %s)" % ("✓" if best >= g else "✗", "✓" if med >= g else "✗")
            lines.append("| %s | %.2f× | %.2f× | %s%s |" % (name, best, med, goal, met))
        lines.append("")
    if not any(r["setup"] == "kstoken" for r in results):
        lines += ["kstoken.middleware was not in the measured tree: its rows and targets are missing.", ""]
    lines.append(END)
    return lines


def chart(data: Dict[str, Any], path: str) -> None:
    by = {(r["setup"], r["cached"]): r for r in data["results"]}
    setups = [s for s in ORDER if (s, False) in by or (s, True) in by]
    rows = [((by.get((s, False)) or by.get((s, True)))["label"],
             by[(s, False)]["rps"] if (s, False) in by else None,
             by[(s, True)]["rps"] if (s, True) in by else None) for s in setups]
    bar_chart(rows, path, "auth_token middlewares under wrk, one run (%s)" % data["meta"]["date"],
              "requests/s (best of runs), gunicorn 2 sync workers, 9 KB v3 PKI tokens", "cached (memcached)")


def main() -> None:
    src, out_dir = sys.argv[1:3]
    with open(src) as f:
        data = json.load(f)
    results_md = os.path.join(out_dir, "RESULTS.md")
    replace_section(results_md, START, END, section(data))
    try:
        chart(data, os.path.join(out_dir, "middleware.png"))
    except ImportError:
        print("matplotlib not installed: no chart", file=sys.stderr)
    print("updated %s (middleware section) and %s" % (results_md, os.path.join(out_dir, "middleware.png")))


if __name__ == "__main__":
    main()
