#!/usr/bin/env python3
"""The Python side of the benchmarks: what a Python service pays per token with each option.

Usage: python_bench.py FIXTURES_DIR OUT_JSON

Measured in one process, one run: keystoneclient's cms_verify (an openssl subprocess per token),
kstoken's drop-in kstoken.cms.cms_verify (file paths), kstoken.Verifier.verify (PKI and PKIZ),
M2Crypto's SMIME.verify when installed, and the floor as seen from Python (base64 decode + one RSA
verify through pyca/cryptography); hashlib.md5 against kstoken.hash_token; and Verifier.verify
throughput with 1, 2 and 4 threads (the GIL is released while verifying).
"""
import base64
import hashlib
import json
import os
import platform
import statistics
import sys
import threading
import time

import kstoken
import kstoken.cms


def measure(fn, number, repeat=7):
    """Median and median absolute deviation of the per-call time, in µs."""
    fn()
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        samples.append((time.perf_counter() - start) / number * 1e6)
    med = statistics.median(samples)
    return med, statistics.median(abs(s - med) for s in samples)


def main():
    fixtures, out_path = sys.argv[1:3]
    path = lambda name: os.path.join(fixtures, name)
    cert, ca = path("signing_cert.pem"), path("ca.pem")
    results, notes = [], []

    def add(group, name, size, fn, number):
        med, spread = measure(fn, number)
        results.append({"group": group, "name": name, "size": size, "median_us": med, "spread_us": spread})
        print(f"{group:18} {name:40} {med:10.1f} µs ±{spread:.1f}", flush=True)

    interleaved_ratios = {}

    def interleaved(group, size, number, fns, rounds=15):
        """The functions timed in alternation, round after round: each one's median per-call time,
        and the median over the rounds of validate / (verify + hash) taken within each round."""
        for fn in fns.values():
            fn()
        samples = {name: [] for name in fns}
        ratios = []
        for _ in range(rounds):
            this = {}
            for name, fn in fns.items():
                start = time.perf_counter()
                for _ in range(number):
                    fn()
                this[name] = (time.perf_counter() - start) / number * 1e6
                samples[name].append(this[name])
            ratios.append(this["kstoken Verifier.validate"]
                          / (this["kstoken Verifier.verify"] + this["kstoken.hash_token md5"]))
        interleaved_ratios[size] = statistics.median(ratios)
        for name, s in samples.items():
            med = statistics.median(s)
            spread = statistics.median(abs(x - med) for x in s)
            if name == "kstoken Verifier.verify":
                name = "kstoken Verifier.verify (interleaved)"
            results.append({"group": group, "name": name, "size": size, "median_us": med, "spread_us": spread})
            print(f"{group:18} {name:40} {med:10.1f} µs ±{spread:.1f}", flush=True)
        print(f"{group:18} {'validate / (verify + md5), interleaved':40} {interleaved_ratios[size]:10.3f}", flush=True)

    verifier = kstoken.Verifier(cert, ca)
    try:
        from keystoneclient.common import cms as ksc_cms
    except ImportError:
        ksc_cms = None
        notes.append("python-keystoneclient not installed: its subprocess path was not measured.")
    try:
        from M2Crypto import BIO, SMIME, X509
    except ImportError:
        SMIME = None
        notes.append("M2Crypto not installed (it builds from sdist only): not measured.")
    from cryptography import x509 as cx509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    public_key = cx509.load_pem_x509_certificate(open(cert, "rb").read()).public_key()
    revocations = kstoken.RevocationList(
        [{"id": "%032x" % i, "expires": "2099-01-01T00:00:00Z", "audit_id": "audit%04d" % i} for i in range(100)])
    for size in ["small", "realistic", "large"]:
        group = f"verify/{size}"
        pki = open(path(f"{size}.pki")).read()
        pkiz = open(path(f"{size}.pkiz")).read()
        pem = open(path(f"{size}.pem")).read()
        n = 2000 if size != "large" else 500
        add(group, "kstoken Verifier.verify", size, lambda: verifier.verify(pki), n)
        add(group, "kstoken Verifier.verify (PKIZ)", size, lambda: verifier.verify(pkiz), n)
        add(group, "kstoken.cms.cms_verify (file paths)", size, lambda: kstoken.cms.cms_verify(pem, cert, ca), n)
        # The floor from Python: decode the token text and check one RSA signature over the content.
        doc = kstoken.Verifier  # noqa: F841 (keeps the import used when run standalone)
        content = verifier.verify(pki)
        der = base64.b64decode(pki.replace("-", "/"))
        signature = der[-256:]
        std_b64 = pki.replace("-", "/")

        def floor():
            base64.b64decode(std_b64)
            public_key.verify(signature, content, padding.PKCS1v15(), hashes.SHA256())

        add(group, "floor: base64 + RSA verify (pyca)", size, floor, n)
        if size != "small":
            # The validation pipeline against what it cannot avoid: verify plus the token hash
            # (md5, the default), with a revocation list to consult, as the Rust benchmark does
            # (lenient detection: the large token's DER is over 16 KiB, beyond the upstream `MII`
            # rule, so the hash is taken with the same rule: with the upstream one hash_token
            # returns None for it without hashing, which made the 40 KB ratio read 3.19).
            # Interleaved, as the Rust strict ratio: a loaded machine slows all three alike.
            interleaved(group, size, n // 4, {
                "kstoken Verifier.validate":
                    lambda: verifier.validate(pki, revocation_list=revocations, lenient=True),
                "kstoken Verifier.verify": lambda: verifier.verify(pki),
                "kstoken.hash_token md5": lambda: kstoken.hash_token(pki, ["md5"], lenient=True),
            })
        if SMIME is not None:
            s = SMIME.SMIME()
            store = X509.X509_Store()
            store.load_info(ca)
            s.set_x509_store(store)
            stack = X509.X509_Stack()
            stack.push(X509.load_cert(cert))
            s.set_x509_stack(stack)
            pkcs7_pem = pem.replace("BEGIN CMS", "BEGIN PKCS7").replace("END CMS", "END PKCS7").encode()

            def m2():
                bio = BIO.MemoryBuffer(pkcs7_pem)
                p7 = SMIME.load_pkcs7_bio(bio)
                return s.verify(p7, flags=SMIME.PKCS7_NOINTERN)

            try:
                m2()
                add(group, "M2Crypto SMIME.verify", size, m2, n)
            except Exception as e:  # a peer that cannot verify is reported, not fatal
                notes.append(f"M2Crypto failed to verify: {e}")
        if ksc_cms is not None:
            add(group, "keystoneclient cms_verify (openssl subprocess)", size,
                lambda: ksc_cms.cms_verify(pem, cert, ca), 20)

    token = open(path("realistic.pki")).read()
    add("hash/realistic", "hashlib.md5", "realistic", lambda: hashlib.md5(token.encode()).hexdigest(), 5000)
    add("hash/realistic", "kstoken.hash_token md5", "realistic", lambda: kstoken.hash_token(token, ["md5"]), 5000)
    add("hash/realistic", "kstoken.hash_token md5+sha256", "realistic",
        lambda: kstoken.hash_token(token, ["md5", "sha256"]), 5000)

    # Long runs, best of three: short ones measure thread start-up and the GIL hand-over's warm-up.
    threads_out = []
    per_thread = 20000
    for count in (1, 2, 4):
        def work():
            for _ in range(per_thread):
                verifier.verify(token)
        best = 0.0
        for _ in range(3):
            workers = [threading.Thread(target=work) for _ in range(count)]
            start = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            best = max(best, count * per_thread / (time.perf_counter() - start))
        threads_out.append({"threads": count, "per_second": best})
        print(f"threads {count}: {best:.0f} verifications/s", flush=True)

    def med(group, name):
        return next((r["median_us"] for r in results if r["group"] == group and r["name"] == name), None)

    targets = []
    g = "verify/realistic"
    ks = med(g, "kstoken Verifier.verify")
    if med(g, "floor: base64 + RSA verify (pyca)"):
        targets.append(["Python Verifier.verify vs Python primitives floor", ks / med(g, "floor: base64 + RSA verify (pyca)"), "≤ 1.0"])
    if med(g, "keystoneclient cms_verify (openssl subprocess)"):
        targets.append(["speed-up vs keystoneclient (Python)", med(g, "keystoneclient cms_verify (openssl subprocess)") / ks, "≥ 100"])
    for size, label, goal in (("realistic", "9 KB", "≤ 1.25"), ("large", "40 KB", "≤ 1.5")):
        if size in interleaved_ratios:
            targets.append([f"Python validate ({label}) vs verify + the token hash, interleaved",
                            interleaved_ratios[size], goal])
    targets.append(["2 threads vs 1 thread throughput", threads_out[1]["per_second"] / threads_out[0]["per_second"], "≥ 1.8"])
    json.dump({
        "meta": {"python": platform.python_version(), "note": " ".join(notes)},
        "results": results, "threads": threads_out, "targets": targets,
        "python_verify_realistic_us": ks,
    }, open(out_path, "w"), indent=1)


if __name__ == "__main__":
    main()
