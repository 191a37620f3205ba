"""kstoken's portable wheel in a process that uses two other OpenSSLs at the same time.

The wheel links its own OpenSSL statically with the symbols hidden. This process also imports
Python's `ssl` (the system's libssl/libcrypto) and pyca/cryptography (its own static OpenSSL),
keeps a TLS connection to a real `ssl` server thread on 127.0.0.1 busy, and meanwhile 8 threads
verify CMS documents with kstoken while pyca verifies the same signatures (RSA PKCS#1 v1.5 over the
signed content: keystone's documents have no signed attributes). Every document is judged by both,
and both must give its expected verdict: intact ones verify, ones with a flipped content or
signature byte do not. Any symbol clash between the three OpenSSLs would show as a crash, a hang or
a wrong verdict.

Usage: python wheel-coexistence.py   (with the wheel and cryptography installed)
"""

import base64
import datetime
import os
import socket
import ssl
import sys
import tempfile
import threading
from typing import Dict, List, Optional, Tuple

import cryptography
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.x509.oid import NameOID

import kstoken

THREADS = 8
ROUNDS = 40


def der_children(data: bytes) -> List[Tuple[int, bytes]]:
    """The (tag, value) pairs of a DER sequence of TLVs (definite lengths only)."""
    out = []
    i = 0
    while i < len(data):
        tag = data[i]
        length = data[i + 1]
        i += 2
        if length & 0x80:
            n = length & 0x7F
            length = int.from_bytes(data[i : i + n], "big")
            i += n
        out.append((tag, data[i : i + length]))
        i += length
    return out


def content_and_signature(der: bytes) -> Tuple[bytes, bytes, int, int]:
    """The signed content and the signature of a one-signer SignedData, with their offsets."""
    (_, content_info), = der_children(der)
    _, signed_data = der_children(content_info)[1]
    (_, sd), = der_children(signed_data)
    fields = der_children(sd)
    econtent = der_children(fields[2][1])[1][1]
    (_, content), = der_children(econtent)
    signer_info = der_children(fields[-1][1])[0][1]
    signature = der_children(signer_info)[-1][1]
    c_at, s_at = der.find(content), der.rfind(signature)
    assert c_at > 0 and s_at > c_at
    return content, signature, c_at, s_at


def pem(der: bytes) -> str:
    b64 = base64.b64encode(der).decode()
    lines = [b64[i : i + 64] for i in range(0, len(b64), 64)]
    return "-----BEGIN CMS-----\n" + "\n".join(lines) + "\n-----END CMS-----\n"


def flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def tls_server(tmp: str) -> Tuple[ssl.SSLContext, int, threading.Event]:
    """An echo server with a throw-away certificate for localhost, in a thread."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = os.path.join(tmp, "tls.pem"), os.path.join(tmp, "tls.key")
    with open(cert_path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as f:
        f.write(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert_path, key_path)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        with listener:
            conn, _ = listener.accept()
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                while True:
                    data = tls.recv(4096)
                    if not data:
                        return
                    tls.sendall(data)

    threading.Thread(target=serve, daemon=True).start()
    client_ctx = ssl.create_default_context(cafile=cert_path)
    return client_ctx, port, stop


def main() -> int:
    failures: List[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        client_ctx, port, stop = tls_server(tmp)
        raw = socket.create_connection(("127.0.0.1", port), timeout=30)
        tls = client_ctx.wrap_socket(raw, server_hostname="localhost")
        tls.sendall(b"hello")
        assert tls.recv(16) == b"hello"
        print(f"TLS to 127.0.0.1:{port}: {tls.version()}, {tls.cipher()[0]} (Python ssl, {ssl.OPENSSL_VERSION})")

        pki = kstoken.generate_pki(key_bits=2048)
        signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
        verifier = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"])
        public_key = x509.load_pem_x509_certificate(pki["signing_cert"]).public_key()
        assert isinstance(public_key, RSAPublicKey)

        # (document, expected verdict) pairs: intact, content flipped, signature flipped.
        cases: List[Tuple[str, bytes, bytes, bool]] = []
        for n in range(12):
            body = ('{"token": {"n": %d, "user": {"id": "u%d"}, "padding": "%s"}}' % (n, n, "x" * n * 37)).encode()
            der = signer.sign_der(body)
            content, signature, c_at, s_at = content_and_signature(der)
            assert content == body
            cases.append((pem(der), content, signature, True))
            bad = flip(der, c_at + len(content) // 2)
            cases.append((pem(bad), *content_and_signature(bad)[:2], False))
            bad = flip(der, s_at + 7)
            cases.append((pem(bad), *content_and_signature(bad)[:2], False))

        def kstoken_verdict(doc: str) -> bool:
            try:
                verifier.verify(doc)
                return True
            except kstoken.exceptions.KstokenError:
                return False

        def pyca_verdict(content: bytes, signature: bytes) -> bool:
            try:
                public_key.verify(signature, content, padding.PKCS1v15(), hashes.SHA256())
                return True
            except cryptography.exceptions.InvalidSignature:
                return False

        counts: Dict[str, int] = {"kstoken": 0, "pyca": 0, "tls": 0}
        lock = threading.Lock()
        start = threading.Barrier(THREADS + 1)

        def worker(index: int) -> None:
            start.wait()
            done = {"kstoken": 0, "pyca": 0}
            for r in range(ROUNDS):
                for i, (doc, content, signature, expected) in enumerate(cases):
                    # Half the threads ask kstoken first, half pyca: both orders interleave.
                    if (index + r + i) % 2:
                        k, p = kstoken_verdict(doc), pyca_verdict(content, signature)
                    else:
                        p, k = pyca_verdict(content, signature), kstoken_verdict(doc)
                    done["kstoken"] += 1
                    done["pyca"] += 1
                    if k != expected or p != expected:
                        with lock:
                            failures.append(f"case {i}: expected {expected}, kstoken {k}, pyca {p}")
            with lock:
                for key, value in done.items():
                    counts[key] += value

        def tls_traffic() -> None:
            start.wait()
            while not stop.is_set():
                tls.sendall(b"ping")
                if tls.recv(16) != b"ping":
                    failures.append("TLS echo answered wrongly")
                    return
                counts["tls"] += 1

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
        traffic = threading.Thread(target=tls_traffic)
        for t in threads + [traffic]:
            t.start()
        for t in threads:
            t.join(timeout=600)
            if t.is_alive():
                failures.append("a verifying thread hung")
        stop.set()
        traffic.join(timeout=60)
        tls.close()

    expected_checks = THREADS * ROUNDS * len(cases)
    print(
        f"{THREADS} threads: {counts['kstoken']} kstoken and {counts['pyca']} pyca verdicts on {len(cases)} documents "
        f"({len(cases) // 3} intact, {2 * len(cases) // 3} tampered), {counts['tls']} TLS round trips meanwhile"
    )
    print(f"cryptography {cryptography.__version__}: {cryptography_openssl()}")
    for failure in failures[:10]:
        print("FAIL:", failure, file=sys.stderr)
    if counts["kstoken"] != expected_checks or counts["pyca"] != expected_checks or counts["tls"] == 0:
        failures.append("not every check ran")
    passed = expected_checks - len(failures)
    print(f"coexistence: {max(passed, 0)} passed, {len(failures)} failed")
    return 1 if failures else 0


def cryptography_openssl() -> Optional[str]:
    try:
        from cryptography.hazmat.backends.openssl.backend import backend

        return str(backend.openssl_version_text())
    except Exception:  # the attribute moved between versions; informative only
        return None


if __name__ == "__main__":
    sys.exit(main())
