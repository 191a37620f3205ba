"""What the wrk benchmarks share (benches/middleware: gunicorn; benches/httpd: Apache httpd): the token
set, one wrk run, kstoken.middleware's options, medians, a marked section of RESULTS.md and the
bar chart of requests/s, so that both measure and report the same way.

The tokens come from the middleware tests' fixtures (python/tests/middleware/tokens.py: v3 bodies as
keystone's ``V3TokenDataHelper`` made them, a 12-service catalog, signed by ``kstoken.Signer``): 300
distinct ~9 KB PKI tokens by default, which wrk (benches/middleware/tokens.lua) sends in turn.
"""

import json
import os
import re
import subprocess
import sys
import time
from typing import Any, Dict, List, Optional, Sequence, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
#: the middleware tests' helpers (procs.py, tokens.py), imported where used: the reports need
#: neither kstoken nor the test helpers
MIDDLEWARE_TESTS = os.path.join(ROOT, "python", "tests", "middleware")

#: the wrk script: each request carries the next token of the file named by KSTOKEN_WRK_TOKENS
TOKENS_LUA = os.path.join(HERE, "middleware", "tokens.lua")
#: what the middleware names in WWW-Authenticate (never contacted)
WWW_AUTHENTICATE_URI = "https://keystone.example.org:5000/v3"


def _middleware_tests() -> None:
    if MIDDLEWARE_TESTS not in sys.path:
        sys.path.insert(0, MIDDLEWARE_TESTS)


def make_tokens(work: str, count: int) -> Tuple[Any, List[str], str]:
    """A keystone signing PKI under ``work/pki`` (``tokens.Pki`` of the middleware tests) and
    ``count`` distinct v3 PKI tokens signed by it, valid for 6 hours: (the PKI, the tokens, the file
    wrk reads them from, one a line)."""
    _middleware_tests()
    from tokens import Pki, v3_body

    pki = Pki(os.path.join(work, "pki"))
    t0 = time.monotonic()
    texts = [pki.sign(v3_body("bench-%d" % i, expires_in=6 * 3600), "pki") for i in range(count)]
    path = os.path.join(work, "tokens.txt")
    with open(path, "w") as f:
        f.write("\n".join(texts) + "\n")
    sizes = sorted(len(t) for t in texts)
    print("%d distinct v3 PKI tokens, %d-%d bytes, signed in %.1f s" % (len(texts), sizes[0], sizes[-1],
                                                                        time.monotonic() - t0))
    return pki, texts, path


def token_sizes(texts: Sequence[str]) -> Tuple[int, int]:
    """The smallest and largest token, in bytes."""
    sizes = sorted(len(t) for t in texts)
    return sizes[0], sizes[-1]


def wrk(url: str, tokens_file: str, duration: float, connections: int = 4, path: str = "/bench") -> Dict[str, Any]:
    """One wrk run (one thread, ``connections`` connections, ``duration`` s) of GET ``path`` on
    ``url``, cycling through the tokens: counts, latency percentiles (µs) and ``rps``."""
    _middleware_tests()
    from procs import bin_path

    env = dict(os.environ, KSTOKEN_WRK_TOKENS=tokens_file, KSTOKEN_WRK_PATH=path)
    argv = [bin_path("wrk"), "-t1", "-c%d" % connections, "-d%ds" % max(1, int(round(duration))), "--timeout", "10s",
            "-s", TOKENS_LUA, url + path]
    out = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=duration + 60, check=False)
    m = re.search(r"^KSTOKEN_WRK (\{.*\})$", out.stdout, re.M)
    if out.returncode != 0 or not m:
        raise RuntimeError("wrk failed (%d): %s %s" % (out.returncode, out.stdout, out.stderr))
    r: Dict[str, Any] = json.loads(m.group(1))
    r["rps"] = r["requests"] / (r["duration_us"] / 1e6)
    return r


def middleware_conf(name: str, cached: bool, signing_dir: str, memcached_server: str,
                    closed_port: int) -> Dict[str, str]:
    """kstoken.middleware's (and keystonemiddleware's) options in both benchmarks: offline validation
    with the certificates in ``signing_dir`` and no service credentials (keystonemiddleware 6.x
    style), the identity endpoint a closed port (never contacted for PKI tokens); uncached:
    ``token_cache_time = -1``, cached: memcached with a 300 s lifetime."""
    conf = {
        "www_authenticate_uri": WWW_AUTHENTICATE_URI,
        "identity_uri": "http://127.0.0.1:%d" % closed_port,
        "signing_dir": signing_dir,
        "http_request_max_retries": "0",
        "service_token_roles_required": "true",
        "log_name": "bench.%s" % name,
    }
    if cached:
        conf.update(memcached_servers=memcached_server, token_cache_time="300")
    else:
        conf["token_cache_time"] = "-1"
    return conf


def median(xs: Sequence[float]) -> float:
    """The median of ``xs``."""
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def best_row(runs: List[Dict[str, Any]]) -> Dict[str, Any]:
    """A setup's row from its runs: the best run's req/s and latencies, and every run's req/s."""
    best = max(runs, key=lambda r: r["rps"])
    return {"rps": best["rps"], "p50_ms": best["p50_us"] / 1000, "p99_ms": best["p99_us"] / 1000,
            "requests": best["requests"], "runs_rps": [round(r["rps"], 1) for r in runs]}


def replace_section(results_md: str, start: str, end: str, lines: List[str]) -> None:
    """Replaces the text between the markers ``start`` and ``end`` (``lines`` includes them) in
    ``results_md``, or appends it when absent."""
    text = open(results_md).read() if os.path.exists(results_md) else "# kstoken benchmark results\n"
    block = "\n".join(lines)
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    with open(results_md, "w") as f:
        f.write(text)


def bar_chart(rows: List[Tuple[str, Optional[float], Optional[float]]], path: str, title: str, xlabel: str,
              cached_label: str, legend_below: bool = False) -> None:
    """A horizontal bar chart of (label, uncached req/s, cached req/s) rows, written to ``path``
    (the legend at the upper right, or under the chart)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 0.9 * len(rows) + 1.6))
    height = 0.38
    for i, (color, label) in enumerate((("#d8893b", "uncached"), ("#3b7dd8", cached_label))):
        ys = [y + (i - 0.5) * height for y in range(len(rows))]
        vals = [(row[2] if i else row[1]) or 0.0 for row in rows]
        ax.barh(ys, vals, height=height, color=color, label=label)
        for y, v in zip(ys, vals):
            if v:
                ax.text(v, y, " %.0f" % v, va="center", fontsize=8)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([row[0] for row in rows])
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    if legend_below:
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=2, frameon=False)
    else:
        ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
