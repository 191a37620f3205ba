"""Fork safety (issue 14, item 2): a child forked while other threads use kstoken must not hang.

A lock held by another thread at the instant of ``fork()`` stays held in the child for ever. The
stress test forks many children while threads hammer every kind of kstoken call; each child must
verify and sign, then exit, within 5 seconds (else it is killed and the test fails).
"""

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from kstoken import _file_cache, cms, compat

CHILD_SECONDS = 5

STRESS = textwrap.dedent(
    r"""
    import json, os, signal, sys, threading, time
    import kstoken
    from kstoken import cms

    forks, child_seconds, directory = int(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
    pki = kstoken.generate_pki(key_bits=2048)
    for name, data in pki.items():
        with open(os.path.join(directory, name + ".pem"), "wb") as f:
            f.write(data)
    cert, ca, key = (os.path.join(directory, n + ".pem") for n in ("signing_cert", "ca_cert", "signing_key"))
    signer = kstoken.Signer(cert, key)
    verifier = kstoken.Verifier(cert, ca)
    token = signer.sign_pki("hello")
    stop = threading.Event()

    def cms_calls():  # the drop-in, its file caches rebuilt over and over (as after rotations)
        while not stop.is_set():
            cms.verify_token(token, cert, ca)
            cms.cms_sign_token("x", cert, key)
            cms.clear_cache()

    def shared_objects():  # one Verifier and one Signer shared by threads
        while not stop.is_set():
            verifier.verify(token)
            signer.sign_pki("x")
            kstoken.hash_token(token, ["md5", "sha256"])

    def new_objects():  # certificates and keys decoded all the time
        while not stop.is_set():
            kstoken.Verifier(pki["signing_cert"], pki["ca_cert"]).verify(token)
            kstoken.Signer(pki["signing_cert"], pki["signing_key"])

    threads = [threading.Thread(target=f, daemon=True)
               for f in (cms_calls, cms_calls, shared_objects, new_objects, new_objects)]
    for t in threads:
        t.start()
    time.sleep(0.2)
    hung = failed = 0
    for _ in range(forks):
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                ok = (
                    cms.verify_token(token, cert, ca) == b"hello"
                    and kstoken.Verifier(cert, ca).verify(token) == b"hello"
                    and verifier.verify(signer.sign_pki("child")) == b"child"
                    and kstoken.Verifier(pki["signing_cert"], pki["ca_cert"]).verify(
                        cms.cms_sign_token("c", cert, key)) == b"c"
                )
                code = 0 if ok else 3
            finally:
                os._exit(code)
        deadline = time.monotonic() + child_seconds
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                failed += os.waitstatus_to_exitcode(status) != 0
                break
            if time.monotonic() > deadline:
                hung += 1
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                break
            time.sleep(0.001)
    stop.set()
    print(json.dumps({"forks": forks, "hung": hung, "failed": failed}))
    """
)


def test_fork_while_threads_use_kstoken(tmp_path):
    forks = int(os.environ.get("KSTOKEN_FORK_STRESS", "150"))
    started = time.monotonic()
    out = subprocess.run(
        [sys.executable, "-c", STRESS, str(forks), str(CHILD_SECONDS), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60 + forks * (CHILD_SECONDS + 1),
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    print("fork stress: %s in %.1f s" % (result, time.monotonic() - started))
    assert result == {"forks": forks, "hung": 0, "failed": 0}


def run_in_child(target):
    """Fork; run ``target`` in the child; return its exit code, or None if it hung."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            target()
            code = 0
        finally:
            os._exit(code)
    deadline = time.monotonic() + CHILD_SECONDS
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.005)
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return None


@pytest.mark.parametrize(
    "module,use",
    # kstoken.cms's per-file cache (and its lock) lives in kstoken._file_cache.
    [(_file_cache, cms.clear_cache), (compat, compat.unpatch)],
    ids=["kstoken.cms", "kstoken.compat"],
)
def test_module_lock_held_by_another_thread_at_fork(module, use):
    """The child gets fresh module locks, whatever the parent's threads held."""
    held, release = threading.Event(), threading.Event()

    def holder():
        with module._lock:
            held.set()
            release.wait()

    assert hasattr(module, "_lock"), module  # else the holder thread dies and the test waits forever

    thread = threading.Thread(target=holder)
    thread.start()
    held.wait()
    try:
        assert run_in_child(use) == 0
    finally:
        release.set()
        thread.join()
