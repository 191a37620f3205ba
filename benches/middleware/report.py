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

START = "<!-- middleware benchmark: start (benches/middleware/report.py) -->"
END = "<!-- middleware benchmark: end -->"
ORDER = ["stock", "compat", "kstoken", "none"]


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
    if data.get("targets"):
        lines += ["| ratio (same run) | measured | goal |", "|---|---:|---|"]
        for name, value, goal in data["targets"]:
            met = ""
            if goal.startswith("≥"):
                met = " ✓" if value >= float(goal[1:].strip()) else " ✗"
            lines.append("| %s | %.2f× | %s%s |" % (name, value, goal, met))
        lines.append("")
    if not any(r["setup"] == "kstoken" for r in results):
        lines += ["kstoken.middleware was not in the measured tree: its rows and targets are missing.", ""]
    lines.append(END)
    return lines


def chart(data: Dict[str, Any], path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by = {(r["setup"], r["cached"]): r for r in data["results"]}
    setups = [s for s in ORDER if (s, False) in by or (s, True) in by]
    labels = [(by.get((s, False)) or by.get((s, True)))["label"] for s in setups]
    fig, ax = plt.subplots(figsize=(10, 0.9 * len(setups) + 1.6))
    height = 0.38
    for i, (cached, color) in enumerate(((False, "#d8893b"), (True, "#3b7dd8"))):
        ys = [y + (i - 0.5) * height for y in range(len(setups))]
        vals = [by[(s, cached)]["rps"] if (s, cached) in by else 0 for s in setups]
        ax.barh(ys, vals, height=height, color=color, label="cached (memcached)" if cached else "uncached")
        for y, v in zip(ys, vals):
            if v:
                ax.text(v, y, " %.0f" % v, va="center", fontsize=8)
    ax.set_yticks(range(len(setups)))
    ax.set_yticklabels(labels)
    ax.invert_yaxis()
    ax.set_xlabel("requests/s (best of runs), gunicorn 2 sync workers, 9 KB v3 PKI tokens")
    ax.set_title("auth_token middlewares under wrk, one run (%s)" % data["meta"]["date"])
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    src, out_dir = sys.argv[1:3]
    with open(src) as f:
        data = json.load(f)
    results_md = os.path.join(out_dir, "RESULTS.md")
    text = open(results_md).read() if os.path.exists(results_md) else "# kstoken benchmark results\n"
    block = "\n".join(section(data))
    if START in text and END in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(results_md, "w") as f:
        f.write(text)
    try:
        chart(data, os.path.join(out_dir, "middleware.png"))
    except ImportError:
        print("matplotlib not installed: no chart", file=sys.stderr)
    print("updated %s (middleware section) and %s" % (results_md, os.path.join(out_dir, "middleware.png")))


if __name__ == "__main__":
    main()
