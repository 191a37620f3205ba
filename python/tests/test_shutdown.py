"""Interpreter shutdown while daemon threads are inside kstoken calls.

CPython up to 3.13 ends a daemon thread that asks for the GIL during shutdown with
``pthread_exit``, which unwinds the thread through the extension's frames with glibc's unwinder
(libgcc_s). A module carrying a second unwinder (the static libunwind ``maturin --zig`` links by
default) crashes there with SIGSEGV; python/build.rs makes the portable wheel link libgcc_s.
"""

import subprocess
import sys
import textwrap

RUNS = 8

SCRIPT = textwrap.dedent(
    r"""
    import threading, time
    import kstoken

    pki = kstoken.generate_pki(key_bits=2048)
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    verifier = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"])
    token = signer.sign_pki("x" * 4000)

    def verify():
        while True:
            verifier.verify(token)

    def sign():
        while True:
            signer.sign_pkiz("y" * 4000)

    for target in (verify, verify, sign, sign):
        threading.Thread(target=target, daemon=True).start()
    time.sleep(0.3)
    print("exiting with threads inside kstoken")
    """
)


def test_exit_while_daemon_threads_are_inside_kstoken_calls() -> None:
    for run in range(RUNS):
        out = subprocess.run(
            [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60
        )
        assert out.returncode == 0, "run %d: exit status %d, stderr: %s" % (
            run,
            out.returncode,
            out.stderr[-2000:],
        )
        assert out.stdout.strip() == "exiting with threads inside kstoken"
