"""Runs the code blocks of README.md and docs/*.md, so what they show cannot rot.

Every fenced block must be preceded by a marker comment saying how it is checked:

    <!-- doc-test: sh [prelude=NAME] [subst=OLD=>NEW] -->   run with bash -e in a fresh directory,
                                                            kstoken (target/debug) on PATH
    <!-- doc-test: python [prelude=NAME] [subst=...] -->    run with this interpreter (the test venv)
    <!-- doc-test: ini -->        parsed; every paste.filter_factory must import
    <!-- doc-test: same-as PATH --> every non-blank line appears, stripped, in PATH (a fragment of a
                                    file the tests build or run)
    <!-- doc-test: deploy NAME --> a server configuration sample that python/tests/deployment
                                   starts (that suite extracts it from the document and fails on a
                                   sample it did not start)
    <!-- doc-test: skip REASON --> not runnable here; the reason is printed

Usage: python scripts/test_docs.py [FILE...]   (defaults to README.md and docs/*.md)
Prints one line per block and "N passed, N failed"; exits 1 on any failure or unmarked block.
"""

import configparser
import importlib
import os
import pathlib
import re
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
# keystonemiddleware is run from its sdist tree in the test venv (scripts/test-python.sh).
if os.environ.get("KSTOKEN_TEST_KSM_TREE"):
    sys.path.append(os.environ["KSTOKEN_TEST_KSM_TREE"])
MARKER = re.compile(r"<!--\s*doc-test:\s*(.*?)\s*-->")
FENCE = re.compile(r"^```(\w*)\s*$")
VECTORS = pathlib.Path(os.environ.get("KSTOKEN_VECTORS", ROOT.parent / "shared" / "vectors"))

# Preludes: what a block assumes exists (files in its directory, Python names).
PRELUDES = {
    # README's Python block: PKI files, a token and its body, a signed revocation list response.
    "python-api": """
import json, kstoken
_pki = kstoken.generate_pki(key_bits=2048)
for _name in ("signing_cert", "signing_key"):
    open(_name + ".pem", "wb").write(_pki[_name])
open("cacert.pem", "wb").write(_pki["ca_cert"])
body = json.dumps({"token": {"expires_at": "2099-01-01T00:00:00.000000Z", "audit_ids": ["A"],
                             "user": {"id": "u", "name": "alice", "domain": {"id": "d", "name": "D"}}}})
token = kstoken.Signer("signing_cert.pem", "signing_key.pem").sign_pki(body)
response_body = json.dumps({"signed": kstoken.RevocationList([{"id": "x"}]).sign(
    kstoken.Signer("signing_cert.pem", "signing_key.pem"))})
environ = {}
mode, bind, auth_type, remote_user = "permissive", None, None, None
""",
    # docs/middleware.md's Python block: an application to wrap.
    "python-middleware": """
def app(environ, start_response):
    start_response("200 OK", [])
    return [b""]
async def asgi_app(scope, receive, send):
    pass
conf = {}
""",
    # README's C block: the library built and installed by ffi-c/install.sh, verify.c compiled
    # with pkg-config, a PKI and a token in the directory.
    "c-verify": """
bash "$ROOT/ffi-c/install.sh" > /dev/null
export PKG_CONFIG_PATH="$ROOT/target/debug/pkgconfig"
cc "$ROOT/ffi-c/examples/verify.c" $(pkg-config --cflags --libs kstoken) -o verify
export LD_LIBRARY_PATH="$ROOT/target/debug"
kstoken pki-setup . > /dev/null
echo '{"token": {"expires_at": "2099-01-01T00:00:00Z"}}' |
  kstoken sign --cert certs/signing_cert.pem --key private/signing_key.pem > token
""",
    # README's install block: verify.c next to the commands.
    "c-install": """
cp "$ROOT/ffi-c/examples/verify.c" .
export PKG_CONFIG_PATH="$PWD/prefix/lib/pkgconfig"
""",
}


def blocks(path):
    """(line, marker or None, language, text) for each fenced block of the file."""
    lines = path.read_text().splitlines()
    out = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        marker = None
        j = i - 1
        while j >= 0 and not lines[j].strip():
            j -= 1
        if j >= 0:
            mm = MARKER.search(lines[j])
            if mm:
                marker = mm.group(1)
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        out.append((start + 1, marker, m.group(1), "\n".join(body) + "\n"))
        i += 1
    return out


def parse_marker(marker):
    words = marker.split()
    kind, rest = words[0], words[1:]
    options = {"subst": []}
    args = []
    for w in rest:
        if w.startswith("prelude="):
            options["prelude"] = w.split("=", 1)[1]
        elif w.startswith("subst="):
            old, new = w.split("=", 1)[1].split("=>", 1)
            options["subst"].append((old, new))
        else:
            args.append(w)
    return kind, args, options


def run_block(kind, args, options, text):
    for old, new in options["subst"]:
        if old not in text:
            raise AssertionError("subst %r: not in the block" % old)
        text = text.replace(old, new)
    prelude = PRELUDES.get(options.get("prelude", ""), "")
    env = dict(os.environ, ROOT=str(ROOT), KSTOKEN_VECTORS=str(VECTORS))
    env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    env["PATH"] = "%s:%s" % (ROOT / "target" / "debug", env["PATH"])
    with tempfile.TemporaryDirectory(prefix="kstoken-doc-") as d:
        if kind == "sh":
            script = "set -euo pipefail\n" + prelude + text
            proc = subprocess.run(["bash", "-c", script], cwd=d, env=env, capture_output=True, text=True,
                                  timeout=600)
        else:
            proc = subprocess.run([sys.executable, "-c", prelude + text], cwd=d, env=env, capture_output=True,
                                  text=True, timeout=600)
        if proc.returncode != 0:
            raise AssertionError("exit %d\n%s%s" % (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:]))


def check_ini(text):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    for section in parser.sections():
        factory = parser[section].get("paste.filter_factory")
        if factory:
            module, _, attr = factory.partition(":")
            getattr(importlib.import_module(module), attr)


def check_same_as(args, text):
    target = (ROOT / args[0]).read_text().splitlines()
    stripped = {line.strip() for line in target}
    missing = [line for line in text.splitlines() if line.strip() and line.strip() not in stripped]
    if missing:
        raise AssertionError("not in %s: %s" % (args[0], missing[:3]))


def main():
    files = [pathlib.Path(f).resolve() for f in sys.argv[1:]]
    files = files or [ROOT / "README.md"] + sorted((ROOT / "docs").glob("*.md"))
    passed = failed = 0
    for path in files:
        for line, marker, language, text in blocks(path):
            where = "%s:%d (%s)" % (path.relative_to(ROOT), line, language or "text")
            if marker is None:
                print("FAIL %s: no <!-- doc-test: ... --> marker" % where)
                failed += 1
                continue
            kind, args, options = parse_marker(marker)
            try:
                if kind in ("sh", "python"):
                    run_block(kind, args, options, text)
                elif kind == "ini":
                    check_ini(text)
                elif kind == "same-as":
                    check_same_as(args, text)
                elif kind == "deploy":
                    pass  # started by python/tests/deployment (which checks it saw every sample)
                elif kind == "skip":
                    if not args:
                        raise AssertionError("skip without a reason")
                else:
                    raise AssertionError("unknown doc-test kind %r" % kind)
            except Exception as e:  # noqa: BLE001 - every failure is reported the same way
                print("FAIL %s: %s: %s" % (where, kind, e))
                failed += 1
                continue
            print("ok   %s: %s%s" % (where, kind, (" " + " ".join(args)) if args else ""))
            passed += 1
    print("docs: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
