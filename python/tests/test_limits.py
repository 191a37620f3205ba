"""Bounded reads and early length checks in the Python package (issue 14, items 3 and 10).

Certificates, keys and CA bundles are read with a bound (``/dev/zero`` or a sparse 3 GB file is
refused after at most the limit + 1 bytes), and a token longer than the verifier's ``max_token_len``
is refused before Python encodes or copies it. Memory is measured in a fresh subprocess whose
address space is capped (so a regression fails instead of exhausting the machine): the peak RSS
(``VmHWM``, reset through ``/proc/self/clear_refs`` once the inputs are built) during the call.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import kstoken
from kstoken import cms
from kstoken._credentials import MAX_CREDENTIAL_LEN
from kstoken.exceptions import (
    CertificateConfigError,
    CMSError,
    LimitExceededError,
    PKIZDecodeError,
    SigningError,
)

# Peak RSS growth allowed for one refused call: the bounded read (MAX_CREDENTIAL_LEN, 16 MiB)
# with room to spare, and far below the hundreds of MiB or GiB an unbounded read or an early copy
# costs.
MAX_GROWTH = 32 << 20
BIG_TOKEN = 96 << 20  # characters: three times MAX_GROWTH

MEASURE = textwrap.dedent(
    r"""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    import kstoken
    from kstoken import cms

    case, bad, cert, ca, key = sys.argv[1:6]
    token = kstoken.Signer(cert, key).sign_pki("x")
    verifier = kstoken.Verifier(cert, ca)
    cms.verify_token(token, cert, ca)
    cms.cms_sign_token("x", cert, key)
    # the one long text this case needs, built before the measurement starts
    n = int(bad) if bad.isdigit() else 0
    big = "MII" + "A" * (n - 3) if n and "pkiz" not in case and "cms_verify" not in case else None
    pkiz = "PKIZ_" + "A" * (n - 5) if n and "pkiz" in case else None
    pem = "-----BEGIN CMS-----\n" + "A" * n if n and "cms_verify" in case else None
    calls = {
        "Verifier(cert)": lambda: kstoken.Verifier(bad, ca),
        "Verifier(ca)": lambda: kstoken.Verifier(cert, bad),
        "Signer(key)": lambda: kstoken.Signer(cert, bad),
        "cms.verify_token(cert)": lambda: cms.verify_token(token, bad, ca),
        "cms.verify_token(ca)": lambda: cms.verify_token(token, cert, bad),
        "cms.cms_sign_token(key)": lambda: cms.cms_sign_token("x", cert, bad),
        "Verifier.verify(str)": lambda: verifier.verify(big),
        "Verifier.verify_json(str)": lambda: verifier.verify_json(big),
        "cms.cms_verify(str)": lambda: cms.cms_verify(pem, cert, ca),
        "cms.verify_token(str)": lambda: cms.verify_token(big, cert, ca),
        "cms.pkiz_uncompress(str)": lambda: cms.pkiz_uncompress(pkiz),
        "cms.pkiz_verify(str)": lambda: cms.pkiz_verify(pkiz, cert, ca),
    }
    def status(field):  # kB
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

    # Reset the peak so that neither building the inputs nor the forked pytest process (whose peak
    # getrusage's ru_maxrss keeps across exec) hides what the call itself allocates.
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    try:
        calls[case]()
        error = None
    except BaseException as e:
        error = [c.__name__ for c in type(e).__mro__]
    growth = (status("VmHWM") - before) * 1024
    print(json.dumps({"error": error, "growth": growth}))
    """
)


def measure(case, bad, pki):
    out = subprocess.run(
        [sys.executable, "-c", MEASURE, case, str(bad), pki["signing_cert"], pki["ca_cert"],
         pki["signing_key"]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    print("%s with %s: %s, peak RSS +%.1f MiB" % (case, bad, result["error"] and result["error"][0],
                                                   result["growth"] / 2**20))
    return result


@pytest.fixture(scope="module")
def sparse_3g(tmp_path_factory):
    path = tmp_path_factory.mktemp("sparse") / "sparse-3g.pem"
    with open(path, "wb") as f:
        f.truncate(3 << 30)
    return str(path)


CREDENTIAL_CASES = {
    "Verifier(cert)": "CertificateConfigError",
    "Verifier(ca)": "CertificateConfigError",
    "Signer(key)": "CertificateConfigError",
    "cms.verify_token(cert)": "CertificateConfigError",
    "cms.verify_token(ca)": "CertificateConfigError",
    "cms.cms_sign_token(key)": "SigningError",
}


@pytest.mark.parametrize("source", ["/dev/zero", "sparse 3 GB file"])
@pytest.mark.parametrize("case", sorted(CREDENTIAL_CASES))
def test_huge_credential_files_are_refused_after_a_bounded_read(case, source, pki, sparse_3g):
    result = measure(case, "/dev/zero" if source == "/dev/zero" else sparse_3g, pki)
    assert result["error"] and CREDENTIAL_CASES[case] in result["error"], result
    assert result["growth"] < MAX_GROWTH, result


TOKEN_CASES = {
    "Verifier.verify(str)": "LimitExceededError",
    "Verifier.verify_json(str)": "LimitExceededError",
    "cms.cms_verify(str)": "LimitExceededError",
    "cms.verify_token(str)": "LimitExceededError",
    "cms.pkiz_uncompress(str)": "PKIZDecodeError",
    "cms.pkiz_verify(str)": "PKIZDecodeError",
}


@pytest.mark.parametrize("case", sorted(TOKEN_CASES))
def test_long_str_tokens_are_refused_before_any_copy(case, pki):
    result = measure(case, BIG_TOKEN, pki)
    assert result["error"] and TOKEN_CASES[case] in result["error"], result
    assert "CMSError" in result["error"]
    assert result["growth"] < MAX_GROWTH, result


def test_credential_limit_boundaries(pki, tmp_path):
    cert = pki["pem"]["signing_cert"]
    # just at the limit: accepted (PEM readers skip text around the blocks)
    at_limit = tmp_path / "at-limit.pem"
    at_limit.write_bytes(cert + b"\n" * (MAX_CREDENTIAL_LEN - len(cert)))
    kstoken.Verifier(str(at_limit), pki["ca_cert"])
    token = kstoken.Signer(pki["signing_cert"], pki["signing_key"]).sign_pki("x")
    assert cms.verify_token(token, str(at_limit), pki["ca_cert"]) == b"x"
    over = tmp_path / "over-limit.pem"
    over.write_bytes(cert + b"\n" * (MAX_CREDENTIAL_LEN + 1 - len(cert)))
    with pytest.raises(CertificateConfigError) as info:
        kstoken.Verifier(str(over), pki["ca_cert"])
    assert "larger than %d bytes" % MAX_CREDENTIAL_LEN in info.value.output
    with pytest.raises(CertificateConfigError):
        cms.verify_token(token, str(over), pki["ca_cert"])
    with pytest.raises(SigningError) as sinfo:
        cms.cms_sign_token("x", pki["signing_cert"], str(over))
    assert sinfo.value.returncode == cms.OpensslCmsExitStatus.INPUT_FILE_READ_ERROR
    # inline PEM obeys the same bound
    with pytest.raises(CertificateConfigError):
        kstoken.Verifier(cert + b"\n" * MAX_CREDENTIAL_LEN, pki["ca_cert"])
    with pytest.raises(CertificateConfigError):
        kstoken.Signer(cert.decode() + "\n" * MAX_CREDENTIAL_LEN, pki["signing_key"])


def test_token_limit_boundaries(pki):
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    token = signer.sign_pki("x")
    v = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], max_token_len=len(token))
    assert v.verify(token) == b"x" and v.verify(token.encode()) == b"x"
    for too_long in (token + "A", (token + "A").encode(), "MII" + "é" * len(token)):
        with pytest.raises(LimitExceededError) as info:
            v.verify(too_long)
        assert info.value.what == "token length"


def nested(depth):
    return "[" * depth + "]" * depth


def test_verify_json_honours_max_json_depth(pki):
    """Deep nesting is the package's LimitExceededError, never Python's RecursionError."""
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    v = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"])
    assert v.verify_json(signer.sign_pki(nested(64))) == json.loads(nested(64))
    for depth in (65, 100_000):
        with pytest.raises(LimitExceededError) as info:
            v.verify_json(signer.sign_pki(nested(depth)))
        assert info.value.what == "JSON nesting depth"
        assert isinstance(info.value, CMSError)
    shallow = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], max_json_depth=3)
    assert shallow.verify_json(signer.sign_pki(nested(3))) == [[[]]]
    with pytest.raises(LimitExceededError):
        shallow.verify_json(signer.sign_pki(nested(4)))
    small = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], max_json_len=10)
    with pytest.raises(LimitExceededError) as info:
        small.verify_json(signer.sign_pki('{"a": "long enough"}'))
    assert info.value.what == "JSON size"
    # a depth past what Python's json module can nest is still the package's error
    deep = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], max_json_depth=10**6)
    with pytest.raises(LimitExceededError):
        deep.verify_json(signer.sign_pki(nested(100_000)))


def test_pkiz_decode_error_for_every_bad_pkiz_text():
    with pytest.raises(PKIZDecodeError):
        cms.pkiz_uncompress("PKIZ_" + "A" * (kstoken._kstoken.DEFAULT_MAX_TOKEN_LEN))
    with pytest.raises(PKIZDecodeError):
        cms.pkiz_uncompress("PKIZ_\ud800")
