#!/usr/bin/env python3
"""Turn one benchmark run (criterion estimates + the Python benchmark's JSON) into
benches/RESULTS.md and benches/results.png.

Usage: report.py CRITERION_DIR PYTHON_RESULTS_JSON OUT_DIR [RUST_THREADS_TXT [INSTRUCTIONS_TXT [STRICT_RATIO_TXT]]]

INSTRUCTIONS_TXT holds "operation size instructions" lines from benches/instructions.sh (callgrind);
STRICT_RATIO_TXT the output of the `strict_ratio` example (verify over the strict floor, and validate over
verify + md5, interleaved).
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


# The floor that includes OpenSSL's CMS parser (`d2i_CMS`): kept for comparison with earlier runs.
OLD_FLOOR = "floor_with_cms_parse"
STRICT_SIZES = [("small", "small"), ("realistic", "9 KB"), ("large", "40 KB")]


def instruction_counts(path):
    """{(operation, size): instructions per operation} from benches/instructions.sh output."""
    out = {}
    if os.path.exists(path):
        for line in open(path):
            parts = line.split()
            if len(parts) == 3:
                out[(parts[0], parts[1])] = int(parts[2])
    return out


def interleaved_ratios(path):
    """{size: (median, q1, q3, verify_us, floor_us)} from the `strict_ratio` example's output."""
    out = {}
    if os.path.exists(path):
        for line in open(path):
            parts = line.split()
            if len(parts) == 6:
                out[parts[0]] = tuple(float(p) for p in parts[1:])
    return out


def strict_floor_section(rust, instructions, interleaved):
    """The strict floor (base64 + SHA-256 of the content + one RSA verify) against kstoken's verify."""
    lines = []
    groups = [size for size, _label in STRICT_SIZES if any(g == f"strict/{size}" for (g, _n) in rust)]
    if groups:
        lines += ["## Rust: verify against the strict floor", "",
                  "The strict floor is the work no verifier can skip: one base64 decode of the token "
                  "(the fastest decoder measured, `base64-simd`, after translating `-` to `/`), SHA-256 "
                  "of the content and one RSA verify (OpenSSL), nothing else (`benches/src/floor.rs`). "
                  f"`{OLD_FLOOR}` (in the verify tables above) adds OpenSSL's CMS parser `d2i_CMS` and "
                  "OpenSSL's slower base64 decoder. kstoken and the strict floor are measured back to "
                  "back (criterion group `strict/<size>`); the `floor_base64_*` rows are the decoders "
                  "the floor chose from.", ""]
    for size in groups:
        group = f"strict/{size}"
        rows = sorted(((n, v) for (g, n), v in rust.items() if g == group), key=lambda r: r[1][0])
        floor_us = rust.get((group, "strict_floor"), (None,))[0]
        old_floor = rust.get((f"verify/{size}", OLD_FLOOR), (None,))[0]
        lines += [f"### {size}", "",
                  "| benchmark | median | spread | vs strict_floor | vs " + OLD_FLOOR + " |",
                  "|---|---:|---:|---:|---:|"]
        for name, (med, mad) in rows:
            lines.append(f"| {name} | {fmt_us(med)} | ±{fmt_us(mad)} | {ratio(med, floor_us)} | {ratio(med, old_floor)} |")
        lines.append("")
    if interleaved:
        lines += ["### Interleaved (the `strict_ratio` example)", "",
                  "Criterion measures the two rows seconds apart, and the load of a shared machine drifts "
                  "in between; here short batches of verify and of the strict floor alternate (1001 rounds "
                  "of 10 calls each), and the ratio is the median of the per-round ratios.", "",
                  "| size | verify / strict floor | quartiles | verify | strict floor |",
                  "|---|---:|---:|---:|---:|"]
        for size, _label in STRICT_SIZES:
            if size in interleaved:
                med, q1, q3, v, f = interleaved[size]
                lines.append(f"| {size} | {med:.2f}× | {q1:.2f}–{q3:.2f} | {fmt_us(v)} | {fmt_us(f)} |")
        lines.append("")
        if any("validate_" + size in interleaved for size, _label in STRICT_SIZES):
            lines += ["The validation pipeline against verify + the md5 token hash, the same way (a round "
                      "times the three in alternating order):", "",
                      "| size | validate / (verify + md5) | quartiles | validate | verify + md5 |",
                      "|---|---:|---:|---:|---:|"]
            for size, _label in STRICT_SIZES:
                if "validate_" + size in interleaved:
                    med, q1, q3, v, f = interleaved["validate_" + size]
                    lines.append(f"| {size} | {med:.2f}× | {q1:.2f}–{q3:.2f} | {fmt_us(v)} | {fmt_us(f)} |")
            lines.append("")
    counted = sorted({size for (_op, size) in instructions}, key=[s for s, _ in STRICT_SIZES].index)
    if counted:
        lines += ["### Instruction counts (callgrind)", "",
                  "Instructions per operation under `valgrind --tool=callgrind` (`benches/instructions.sh`): "
                  "reproducible on a loaded machine where times are not. Valgrind hides the SHA extensions, "
                  "so SHA-256 runs OpenSSL's AVX2 code there and weighs more than it does natively; the "
                  "difference `verify − strict_floor` is the verifier's own work.", "",
                  "| operation | " + " | ".join(counted) + " |", "|---|" + "---:|" * len(counted)]
        ops = sorted({op for (op, _size) in instructions}, key=lambda op: -instructions.get((op, counted[0]), 0))
        for op in ops:
            lines.append(f"| {op} | " + " | ".join(f"{instructions.get((op, s), 0):,}" for s in counted) + " |")
        lines.append("| verify − strict_floor | " + " | ".join(
            f"{instructions.get(('verify', s), 0) - instructions.get(('strict_floor', s), 0):,}" for s in counted) + " |")
        lines.append("| verify / strict_floor | " + " | ".join(
            ratio(instructions.get(("verify", s)), instructions.get(("strict_floor", s))) for s in counted) + " |")
        lines.append("")
    return lines


def strict_floor_targets(rust, interleaved):
    """The verify targets: kstoken's PKI verify over the strict floor, per size."""
    targets = []
    for size, label in STRICT_SIZES[1:]:
        verify = rust.get((f"strict/{size}", "kstoken_pki"), (None,))[0]
        floor = rust.get((f"strict/{size}", "strict_floor"), (None,))[0]
        if verify and floor:
            targets.append((f"Rust verify ({label} PKI) vs strict floor", verify / floor, "≤ 1.15"))
        if size in interleaved:
            targets.append((f"Rust verify ({label} PKI) vs strict floor, interleaved", interleaved[size][0], "≤ 1.15"))
    old = (rust.get(("verify/realistic", "kstoken_pki"), (None,))[0], rust.get(("verify/realistic", OLD_FLOOR), (None,))[0])
    if all(old):
        targets.append((f"Rust verify (9 KB PKI) vs {OLD_FLOOR} (earlier floor, not a goal)", old[0] / old[1], "–"))
    return targets


def main():
    crit_dir, py_json, out_dir = sys.argv[1:4]
    rust_threads = open(sys.argv[4]).read().strip() if len(sys.argv) > 4 and os.path.exists(sys.argv[4]) else ""
    rust = criterion_results(crit_dir)
    instructions = instruction_counts(sys.argv[5]) if len(sys.argv) > 5 else {}
    interleaved = interleaved_ratios(sys.argv[6]) if len(sys.argv) > 6 else {}
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
    for group_prefix, base, floor in [("verify", "kstoken_pki", OLD_FLOOR), ("sign", "kstoken_pki", "raw_rsa_sign")]:
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
    lines += strict_floor_section(rust, instructions, interleaved)
    hash_rows = sorted((n, v) for (g, n), v in rust.items() if g == "hash")
    if hash_rows:
        lines += ["## Rust: token-id hashing (realistic token)", "", "| benchmark | median | spread |", "|---|---:|---:|"]
        lines += [f"| {n} | {fmt_us(m)} | ±{fmt_us(d)} |" for n, (m, d) in hash_rows]
        lines.append("")

    if py["results"]:
        lines += ["## Python", "", py["meta"].get("note", ""), "",
                  f"| group | benchmark | median | spread | vs kstoken Verifier.verify | vs Rust {OLD_FLOOR} |",
                  "|---|---|---:|---:|---:|---:|"]
        for r in py["results"]:
            base = next((x["median_us"] for x in py["results"]
                         if x["group"] == r["group"] and x["name"] == "kstoken Verifier.verify"), None)
            floor_us = headline.get((f"verify/{r.get('size', 'realistic')}", OLD_FLOOR))
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
    rust_targets += strict_floor_targets(rust, interleaved)
    if r("verify/realistic", "openssl_cms_verify") and r("verify/realistic", "kstoken_pki"):
        rust_targets.append(("speed-up vs in-process OpenSSL CMS_verify", r("verify/realistic", "openssl_cms_verify") / r("verify/realistic", "kstoken_pki"), "≥ 1.8"))
    if r("sign/realistic", "kstoken_pki") and r("sign/realistic", "raw_rsa_sign"):
        rust_targets.append(("sign vs raw RSA sign", r("sign/realistic", "kstoken_pki") / r("sign/realistic", "raw_rsa_sign"), "≤ 1.1"))
    py_verify = py.get("python_verify_realistic_us")
    if py_verify and r("verify/realistic", OLD_FLOOR):
        rust_targets.append((f"Python Verifier.verify (9 KB PKI) vs Rust {OLD_FLOOR}", py_verify / r("verify/realistic", OLD_FLOOR), "≤ 1.15"))
    if py_verify and r("verify/realistic", "openssl_cli_verify"):
        rust_targets.append(("speed-up of Python Verifier.verify vs openssl subprocess", r("verify/realistic", "openssl_cli_verify") / py_verify, "≥ 100"))
    inflate = r("verify/realistic", "floor_inflate")
    if inflate and r("verify/realistic", "kstoken_pkiz"):
        rust_targets.append((f"PKIZ verify vs {OLD_FLOOR} + inflate", r("verify/realistic", "kstoken_pkiz") / (r("verify/realistic", OLD_FLOOR) + inflate), "≤ 1.0"))
    for size, goal in (("realistic", "≤ 1.25"), ("large", "≤ 1.5")):
        pipe, ver, md5 = (r("verify/" + size, n) for n in ("kstoken_pipeline", "kstoken_pki", "token_hash_md5"))
        if pipe and ver and md5:
            label = "9 KB" if size == "realistic" else "40 KB"
            rust_targets.append((f"validate ({label}) vs verify + the token hash", pipe / (ver + md5), goal))
        if "validate_" + size in interleaved:
            label = "9 KB" if size == "realistic" else "40 KB"
            rust_targets.append((f"validate ({label}) vs verify + the token hash, interleaved",
                                 interleaved["validate_" + size][0], goal))
        counts = [instructions.get((op, size)) for op in ("validate", "verify", "token_hash_md5")]
        if all(counts):
            label = "9 KB" if size == "realistic" else "40 KB"
            rust_targets.append((f"validate ({label}) vs verify + the token hash, instructions (callgrind)",
                                 counts[0] / (counts[1] + counts[2]), goal))
    auth = r("verify/realistic", "kstoken_authenticate")
    if auth and r("verify/realistic", "kstoken_pki"):
        rust_targets.append(("middleware native call, uncached (9 KB) vs verify (headers and catalog included)",
                             auth / r("verify/realistic", "kstoken_pki"), "(measured)"))
    if rust_targets or targets:
        lines += ["## Targets", "", "| target | measured | goal |", "|---|---:|---|"]
        lines += [f"| {n} | {v:.2f} | {g} |" for n, v, g in rust_targets + [tuple(t) for t in targets]]
        lines.append("")

    # the sections of the wrk benchmarks (scripts/bench-middleware.sh, scripts/bench-httpd.sh), when they ran
    for name in ("middleware", "httpd"):
        bench_json = os.path.join(os.path.dirname(os.path.abspath(py_json)), name + ".json")
        if os.path.exists(bench_json):
            import importlib.util

            spec = importlib.util.spec_from_file_location(
                name + "_report", os.path.join(os.path.dirname(os.path.abspath(__file__)), name, "report.py"))
            bench_report = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(bench_report)
            with open(bench_json) as f:
                lines += bench_report.section(json.load(f)) + [""]

    with open(os.path.join(out_dir, "RESULTS.md"), "w") as f:
        f.write("\n".join(lines))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        names = [n for (g, n) in headline if g == "verify/realistic"]
        values = [headline[("verify/realistic", n)] for n in names]
        if ("strict/realistic", "strict_floor") in rust:
            names.append("strict_floor")
            values.append(rust[("strict/realistic", "strict_floor")][0])
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
