#!/usr/bin/env python3
"""Turn one benchmark run (criterion estimates + the Python benchmark's JSON) into
benches/RESULTS.md and benches/results.png.

Usage: report.py CRITERION_DIR PYTHON_RESULTS_JSON OUT_DIR [RUST_THREADS_TXT]
"""
import datetime
import json
import os
import platform
import subprocess
import sys


def criterion_results(root):
    """{(group, bench): (median_us, mad_us)} from target/criterion/<group...>/<bench>/new."""
    out = {}
    for dirpath, _dirs, files in os.walk(root):
        if "estimates.json" in files and os.path.basename(dirpath) == "new":
            bench_dir = os.path.dirname(dirpath)
            with open(os.path.join(dirpath, "benchmark.json")) as f:
                meta = json.load(f)
            with open(os.path.join(dirpath, "estimates.json")) as f:
                est = json.load(f)
            group = meta["group_id"]
            name = meta["function_id"] or ""
            if meta.get("value_str"):
                name = f"{name}/{meta['value_str']}"
            out[(group, name)] = (
                est["median"]["point_estimate"] / 1000.0,
                est["median_abs_dev"]["point_estimate"] / 1000.0,
            )
            del bench_dir
    return out


def fmt_us(us):
    if us >= 1000:
        return f"{us / 1000:.2f} ms"
    return f"{us:.1f} µs"


def ratio(a, b):
    return f"{a / b:.2f}×" if a and b else "–"


def command_version(*cmd):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "n/a"


def main():
    crit_dir, py_json, out_dir = sys.argv[1:4]
    rust_threads = open(sys.argv[4]).read().strip() if len(sys.argv) > 4 and os.path.exists(sys.argv[4]) else ""
    rust = criterion_results(crit_dir)
    py = json.load(open(py_json)) if os.path.exists(py_json) else {"results": [], "meta": {}}
    lines = [
        "# kstoken benchmark results",
        "",
        f"Run: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC} on "
        f"{platform.machine()}, {os.cpu_count()} cores ({platform.platform()}).",
        f"Versions: {command_version('rustc', '--version')}; {command_version('openssl', 'version')}; "
        f"Python {py.get('meta', {}).get('python', platform.python_version())}.",
        "",
        "Medians with the median absolute deviation as spread; every ratio compares numbers measured "
        "in this same run. Reproduce with `make bench`.",
        "",
    ]
    headline = {}
    for group_prefix, base, floor in [("verify", "kstoken_pki", "floor"), ("sign", "kstoken_pki", "raw_rsa_sign")]:
        for size in ["small", "realistic", "large"]:
            group = f"{group_prefix}/{size}"
            rows = sorted((n, v) for (g, n), v in rust.items() if g == group)
            if not rows:
                continue
            base_us = rust.get((group, base), (None,))[0]
            floor_us = rust.get((group, floor), (None,))[0]
            lines += [f"## Rust: {group}", "", f"| benchmark | median | spread | vs kstoken | vs {floor} |",
                      "|---|---:|---:|---:|---:|"]
            for name, (med, mad) in sorted(rows, key=lambda r: r[1][0]):
                lines.append(f"| {name} | {fmt_us(med)} | ±{fmt_us(mad)} | {ratio(med, base_us)} | {ratio(med, floor_us)} |")
                headline[(group, name)] = med
            lines.append("")
    hash_rows = sorted((n, v) for (g, n), v in rust.items() if g == "hash")
    if hash_rows:
        lines += ["## Rust: token-id hashing (realistic token)", "", "| benchmark | median | spread |", "|---|---:|---:|"]
        lines += [f"| {n} | {fmt_us(m)} | ±{fmt_us(d)} |" for n, (m, d) in hash_rows]
        lines.append("")

    if py["results"]:
        lines += ["## Python", "", py["meta"].get("note", ""), "",
                  "| group | benchmark | median | spread | vs kstoken Verifier.verify | vs Rust floor |",
                  "|---|---|---:|---:|---:|---:|"]
        for r in py["results"]:
            base = next((x["median_us"] for x in py["results"]
                         if x["group"] == r["group"] and x["name"] == "kstoken Verifier.verify"), None)
            floor_us = headline.get((f"verify/{r.get('size', 'realistic')}", "floor"))
            lines.append(f"| {r['group']} | {r['name']} | {fmt_us(r['median_us'])} | ±{fmt_us(r['spread_us'])} | "
                         f"{ratio(r['median_us'], base)} | {ratio(r['median_us'], floor_us) if r['group'].startswith('verify') else '–'} |")
        lines.append("")
        if py.get("threads"):
            lines += ["### Throughput with threads (Verifier.verify, realistic PKI token)", "",
                      "| threads | verifications/s | vs 1 thread |", "|---:|---:|---:|"]
            one = py["threads"][0]["per_second"]
            lines += [f"| {t['threads']} | {t['per_second']:.0f} | {t['per_second'] / one:.2f}× |" for t in py["threads"]]
            lines.append("")

    if rust_threads:
        lines += ["### Rust: one Verifier shared by threads (realistic PKI token)", "", "```", rust_threads, "```", ""]

    targets = py.get("targets", [])
    rust_targets = []
    r = lambda g, n: headline.get((g, n))
    if r("verify/realistic", "kstoken_pki") and r("verify/realistic", "floor"):
        rust_targets.append(("Rust verify (9 KB PKI) vs floor", r("verify/realistic", "kstoken_pki") / r("verify/realistic", "floor"), "≤ 1.15"))
    if r("verify/realistic", "openssl_cms_verify") and r("verify/realistic", "kstoken_pki"):
        rust_targets.append(("speed-up vs in-process OpenSSL CMS_verify", r("verify/realistic", "openssl_cms_verify") / r("verify/realistic", "kstoken_pki"), "≥ 1.8"))
    if r("sign/realistic", "kstoken_pki") and r("sign/realistic", "raw_rsa_sign"):
        rust_targets.append(("sign vs raw RSA sign", r("sign/realistic", "kstoken_pki") / r("sign/realistic", "raw_rsa_sign"), "≤ 1.1"))
    py_verify = py.get("python_verify_realistic_us")
    if py_verify and r("verify/realistic", "floor"):
        rust_targets.append(("Python Verifier.verify (9 KB PKI) vs Rust floor", py_verify / r("verify/realistic", "floor"), "≤ 1.15"))
    if py_verify and r("verify/realistic", "openssl_cli_verify"):
        rust_targets.append(("speed-up of Python Verifier.verify vs openssl subprocess", r("verify/realistic", "openssl_cli_verify") / py_verify, "≥ 100"))
    inflate = r("verify/realistic", "floor_inflate")
    if inflate and r("verify/realistic", "kstoken_pkiz"):
        rust_targets.append(("PKIZ verify vs floor + inflate", r("verify/realistic", "kstoken_pkiz") / (r("verify/realistic", "floor") + inflate), "≤ 1.0"))
    if rust_targets or targets:
        lines += ["## Targets", "", "| target | measured | goal |", "|---|---:|---|"]
        lines += [f"| {n} | {v:.2f} | {g} |" for n, v, g in rust_targets + [tuple(t) for t in targets]]
        lines.append("")

    # the middleware benchmark's section (scripts/bench-middleware.sh), when it ran
    mw_json = os.path.join(os.path.dirname(os.path.abspath(py_json)), "middleware.json")
    if os.path.exists(mw_json):
        import importlib.util

        spec = importlib.util.spec_from_file_location(
            "middleware_report", os.path.join(os.path.dirname(os.path.abspath(__file__)), "middleware", "report.py"))
        middleware_report = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(middleware_report)
        with open(mw_json) as f:
            lines += middleware_report.section(json.load(f)) + [""]

    with open(os.path.join(out_dir, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        names = [n for (g, n) in headline if g == "verify/realistic"]
        values = [headline[("verify/realistic", n)] for n in names]
        py_rows = [x for x in py["results"] if x["group"] == "verify/realistic"]
        names += [f"py: {x['name']}" for x in py_rows]
        values += [x["median_us"] for x in py_rows]
        order = sorted(range(len(values)), key=lambda i: values[i])
        fig, ax = plt.subplots(figsize=(10, 0.45 * len(order) + 1.5))
        ax.barh([names[i] for i in order], [values[i] for i in order], color="#3b7dd8")
        ax.set_xscale("log")
        ax.set_xlabel("median time per 9 KB token verification (µs, log scale)")
        ax.set_title("kstoken vs peers, one run")
        for y, i in enumerate(order):
            ax.text(values[i], y, f" {fmt_us(values[i])}", va="center", fontsize=8)
        fig.tight_layout()
        fig.savefig(os.path.join(out_dir, "results.png"), dpi=110)
    except ImportError:
        print("matplotlib not installed: no chart", file=sys.stderr)
    print(f"wrote {os.path.join(out_dir, 'RESULTS.md')}")


if __name__ == "__main__":
    main()
