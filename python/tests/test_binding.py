"""The native binding (issue 13) and the rules it takes from the core (issue 14, items 3, 6, 7).

* Exceptions are native classes (``kstoken._kstoken``) completed in ``kstoken.exceptions``: the
  native module raises the completed classes, which keep upstream's bases, attributes, ``str()``
  and pickling; ``PkiSetupError`` stands alone under ``KstokenError``.
* ``validate`` returns the native ``ValidatedToken``.
* Space, tab, CR and LF around a token are ignored by verify, validate, hash_token, detect and
  ``Verifier.hash`` (the core's rule).
* A clock outside the years 1 to 9999 (or outside 64 bits) is an ``InvalidArgumentError`` from
  ``verify(at=)``, ``RevocationList.from_signed(at=)`` and ``validate(now=)``.
* Limits and the CMS profile are keyword arguments; the credential bound is the core's.
* ``os.fork()`` waits for calls running without the GIL, counted natively.
"""

import datetime
import json
import os
import pickle
import subprocess
import sys
import textwrap
import threading

import pytest

import kstoken
from kstoken import _credentials, _kstoken, cms, exceptions
from kstoken.exceptions import (
    BindError,
    CertificateConfigError,
    CMSError,
    InvalidArgumentError,
    KstokenError,
    LimitExceededError,
    MalformedTokenError,
    PkiSetupError,
    PKIZDecodeError,
    SigningError,
    TokenRejected,
    VerificationError,
)

BODY = {
    "token": {
        "expires_at": "2099-01-01T00:00:00.123456Z",
        "audit_ids": ["audit-1"],
        "user": {"id": "u1", "name": "alice", "domain": {"id": "default", "name": "Default"}},
    }
}


@pytest.fixture(scope="module")
def objects(pki):
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    verifier = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], hash_algorithms=("sha256", "md5"))
    return signer, verifier, signer.sign_pki(json.dumps(BODY))


# --- exceptions ----------------------------------------------------------------------------------

NATIVE_BASES = [
    CertificateConfigError,
    CMSError,
    MalformedTokenError,
    LimitExceededError,
    VerificationError,
    SigningError,
    PkiSetupError,
    InvalidArgumentError,
    BindError,
    TokenRejected,
]


@pytest.mark.parametrize("cls", NATIVE_BASES, ids=lambda c: c.__name__)
def test_every_class_completes_its_native_class(cls):
    native = getattr(_kstoken, cls.__name__)
    assert native.__module__ == "kstoken._kstoken" and issubclass(cls, native)
    assert issubclass(native, _kstoken.KstokenError) and issubclass(cls, KstokenError)
    assert cls.__module__ == "kstoken.exceptions"


def test_the_root_is_the_native_class():
    assert KstokenError is _kstoken.KstokenError and kstoken.KstokenError is KstokenError
    assert KstokenError.__module__ == "kstoken.exceptions" and issubclass(KstokenError, Exception)
    assert not hasattr(exceptions, "_from_native")


def test_upstream_bases_stay():
    assert issubclass(VerificationError, subprocess.CalledProcessError)
    assert issubclass(SigningError, subprocess.CalledProcessError)
    assert issubclass(InvalidArgumentError, ValueError)
    assert issubclass(PKIZDecodeError, MalformedTokenError) and issubclass(PKIZDecodeError, ValueError)
    assert issubclass(LimitExceededError, _kstoken.LimitExceededError)
    keystoneclient = pytest.importorskip("keystoneclient.exceptions")
    assert issubclass(CertificateConfigError, keystoneclient.CertificateConfigError)
    assert issubclass(CMSError, keystoneclient.CMSError)
    assert issubclass(MalformedTokenError, keystoneclient.CMSError)


def test_pki_setup_error_stands_alone():
    assert issubclass(PkiSetupError, KstokenError)
    for other in (SigningError, InvalidArgumentError, subprocess.CalledProcessError, ValueError):
        assert not issubclass(PkiSetupError, other)
    assert kstoken.PkiSetupError is PkiSetupError


EXAMPLES = [
    (CertificateConfigError("no such file"), "Unable to load certificate.", {"output": "no such file"}),
    # str() carries the detail (issue 18: it was only in .output)
    (CMSError("bad"), "Unable to sign or verify data: bad", {"output": "bad"}),
    (CMSError(""), "Unable to sign or verify data.", {"output": ""}),
    (MalformedTokenError("bad"), "Unable to sign or verify data: bad", {"output": "bad"}),
    (PKIZDecodeError("bad b64"), "Unable to sign or verify data: bad b64", {"output": "bad b64"}),
    (
        LimitExceededError("token length exceeds the limit of 5", "token length"),
        "Unable to sign or verify data: token length exceeds the limit of 5",
        {"output": "token length exceeds the limit of 5", "what": "token length"},
    ),
    (
        # the reason, no openssl command (none runs); keystoneclient's attributes kept
        VerificationError("content verify error", "x"),
        "CMS verification failed: content verify error: x",
        {"reason": "content verify error", "detail": "x", "returncode": 4, "cmd": "openssl"},
    ),
    (
        SigningError(3, "key does not match"),
        "signing failed: key does not match",
        {"reason": "key does not match", "returncode": 3, "cmd": "openssl"},
    ),
    (PkiSetupError("RSA key generation failed"), "RSA key generation failed", {}),
    (InvalidArgumentError("unknown algorithm"), "unknown algorithm", {}),
    (BindError("missing_bind", "token is not bound"), "token is not bound", {"kind": "missing_bind"}),
    (
        TokenRejected("bind", "bind check failed", BindError("missing_bind", "m")),
        "bind check failed",
        {"step": "bind"},
    ),
]


@pytest.mark.parametrize("exc,text,attrs", EXAMPLES, ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else "")
def test_str_attributes_and_pickling(exc, text, attrs):
    for e in (exc, pickle.loads(pickle.dumps(exc))):
        assert type(e) is type(exc) and str(e) == text
        for name, value in attrs.items():
            assert getattr(e, name) == value, name
    again = pickle.loads(pickle.dumps(exc))
    if isinstance(exc, TokenRejected):
        assert isinstance(again.cause, BindError) and again.cause.kind == "missing_bind"


def test_native_errors_are_the_completed_classes(pki, objects):
    signer, verifier, token = objects
    with pytest.raises(MalformedTokenError) as info:
        verifier.verify("MIIgarbage")
    assert type(info.value) is MalformedTokenError and info.value.output
    with pytest.raises(BindError) as binfo:
        kstoken.check_bind("required", None, None, None)
    assert type(binfo.value) is BindError and binfo.value.kind == "missing_bind"
    with pytest.raises(InvalidArgumentError, match="unsupported hash type nonesuch"):
        kstoken.hash_token(token, ["nonesuch"])
    with pytest.raises(InvalidArgumentError, match="empty list"):
        kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], hash_algorithms=[])


# --- ValidatedToken --------------------------------------------------------------------------------


def test_validated_token_is_the_native_class(objects):
    _, verifier, token = objects
    ok = verifier.validate(token)
    assert type(ok) is kstoken.ValidatedToken is _kstoken.ValidatedToken
    assert ok.form == "pki" and ok.version == "v3" and ok.audit_ids == ["audit-1"]
    assert ok.hashes == kstoken.hash_token(token, ["sha256", "md5"])
    assert ok.content == json.dumps(BODY).encode() and isinstance(ok.content, bytes)
    # microseconds kept; an aware datetime in UTC
    assert ok.expires == datetime.datetime(2099, 1, 1, 0, 0, 0, 123456, tzinfo=datetime.timezone.utc)
    assert ok.expires.tzinfo is datetime.timezone.utc
    assert ok.bind is None
    data = ok.data
    assert data == BODY and ok.data is data  # decoded once
    with pytest.raises(AttributeError):
        ok.form = "pkiz"
    assert repr(ok).startswith("<kstoken.ValidatedToken pki v3 hashes=['")


def test_validated_token_bind_and_v2(objects):
    signer, verifier, _ = objects
    bound = kstoken.add_kerberos_bind(BODY, "bob")
    bound["token"]["bind"]["other"] = {"n": 1, "f": 1.5, "l": [True, None, "x"]}
    ok = verifier.validate(
        signer.sign_pkiz(json.dumps(bound)), auth_type="Negotiate", remote_user="bob"
    )
    assert ok.form == "pkiz" and ok.bind == json.loads(json.dumps(bound["token"]["bind"]))
    v2 = {"access": {"token": {"id": "t", "expires": "2099-01-01T00:00:00Z", "audit_ids": ["a2"]}}}
    ok = verifier.validate(signer.sign_pki(json.dumps(v2)))
    assert ok.version == "v2" and ok.audit_ids == ["a2"]
    assert ok.expires == datetime.datetime(2099, 1, 1, tzinfo=datetime.timezone.utc)
    no_expiry = verifier.validate(signer.sign_pki(json.dumps({"token": {"audit_ids": []}})))
    assert no_expiry.expires is None and no_expiry.audit_ids == []


def test_validate_rejections_carry_native_causes(objects, pki):
    _, verifier, token = objects
    with pytest.raises(TokenRejected) as info:
        verifier.validate(token[:-8] + "AAAAAAAA")
    assert info.value.step == "signature" and isinstance(info.value.cause, (CMSError, VerificationError))
    short = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], max_token_len=len(token) - 1)
    with pytest.raises(TokenRejected) as info:
        short.validate(token)
    assert info.value.step == "signature" and isinstance(info.value.cause, LimitExceededError)
    assert info.value.cause.what == "token length"


# --- whitespace (issue 14, item 7) -----------------------------------------------------------------

PADS = [(" ", "\n"), ("\t", "\r\n"), ("\r\n ", " \t")]


@pytest.mark.parametrize("before,after", PADS)
def test_whitespace_around_a_token_is_ignored(objects, before, after):
    signer, verifier, token = objects
    pkiz = signer.sign_pkiz(json.dumps(BODY))
    for tok in (token, pkiz):
        padded = before + tok + after
        assert verifier.verify(padded) == verifier.verify(tok)
        assert verifier.verify(padded.encode()) == verifier.verify(tok)
        assert verifier.verify_json(padded) == BODY
        assert verifier.validate(padded).hashes == verifier.validate(tok).hashes
        assert kstoken.hash_token(padded, ["md5", "sha256"]) == kstoken.hash_token(tok, ["md5", "sha256"])
        assert verifier.hash(padded) == verifier.hash(tok)
        assert kstoken.detect(padded) == kstoken.detect(tok) != "other"
        assert kstoken.detect(padded, lenient=True) == kstoken.detect(tok)
    assert verifier.hash(" uuid-token\n") == ["uuid-token"]


def test_whitespace_inside_a_token_is_not_ignored(objects):
    _, verifier, token = objects
    with pytest.raises(CMSError):
        verifier.verify(token[:50] + " " + token[50:])


# --- clocks out of range (issue 14, item 6) -------------------------------------------------------

BAD_CLOCKS = [-(2**63), 253402300800, 2**63 - 1, 2**70, -(2**70)]


@pytest.mark.parametrize("at", BAD_CLOCKS)
def test_out_of_range_clocks_are_invalid_arguments(objects, at):
    signer, verifier, token = objects
    body = kstoken.RevocationList([{"id": "x"}]).sign(signer)
    calls = {
        "verify": lambda: verifier.verify(token, at=at),
        "verify_json": lambda: verifier.verify_json(token, at=at),
        "from_signed": lambda: kstoken.RevocationList.from_signed(body, verifier, at=at),
        "validate": lambda: verifier.validate(token, now=at),
        "validate (not PKI)": lambda: verifier.validate("uuid", now=at),
    }
    for name, call in calls.items():
        with pytest.raises(InvalidArgumentError, match="out of range") as info:
            call()
        assert isinstance(info.value, ValueError), name


def test_clock_edges_are_accepted(objects):
    _, verifier, token = objects
    with pytest.raises(VerificationError, match="not yet valid"):
        verifier.verify(token, at=-62135596800)  # 0001-01-01
    with pytest.raises(VerificationError, match="expired"):
        verifier.verify(token, at=253402300799)  # 9999-12-31T23:59:59
    with pytest.raises(TypeError):
        verifier.verify(token, at="now")


# --- limits, profile, arguments ---------------------------------------------------------------------


def test_credential_bound_is_the_cores(pki, tmp_path):
    assert _credentials.MAX_CREDENTIAL_LEN == _kstoken.DEFAULT_MAX_CREDENTIAL_LEN == 16 << 20
    assert _kstoken.credential_limit(None) == _kstoken.DEFAULT_MAX_CREDENTIAL_LEN
    assert _kstoken.credential_limit(2**40) == 2**31 - 1  # what OpenSSL's BIOs take
    cert = pki["pem"]["signing_cert"]
    with pytest.raises(CertificateConfigError) as info:
        kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], max_credential_len=len(cert) - 1)
    assert "larger than %d bytes" % (len(cert) - 1) in info.value.output
    with pytest.raises(CertificateConfigError) as info:
        kstoken.Signer(cert, pki["signing_key"], max_credential_len=len(cert) - 1)
    assert "larger than" in info.value.output
    with pytest.raises(LimitExceededError) as linfo:
        _kstoken.Verifier(cert, pki["pem"]["ca_cert"], max_credential_len=len(cert) - 1)
    assert linfo.value.what == "certificate, key or bundle length"
    longest = max(len(cert), len(pki["pem"]["ca_cert"]))
    kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], max_credential_len=longest)


def test_content_limit(pki):
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"], max_content_len=10)
    assert signer.sign_pki("x" * 10)
    for sign in (signer.sign_pki, signer.sign_pkiz, signer.sign_cms, signer.sign_der):
        with pytest.raises(LimitExceededError) as info:
            sign("x" * 11)
        assert info.value.what == "content length"


def test_cms_profile_option(objects, pki):
    signer, verifier, _ = objects
    assert verifier.profile == "keystone"
    lenient = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], profile="lenient")
    assert lenient.profile == "lenient" and "lenient" in repr(lenient)
    # a PKI token text that kept the '/' of its base64: the same document, another text and hash
    for n in range(200):
        pem = signer.sign_cms("body %d" % n)
        slashed = "".join(pem.splitlines()[1:-1])
        if "/" in slashed:
            break
    else:
        pytest.fail("no signature with '/' in its base64")
    assert slashed.startswith("MII")
    with pytest.raises(MalformedTokenError) as info:
        verifier.verify(slashed)
    assert "profile" in info.value.output
    assert lenient.verify(slashed) == b"body %d" % n
    with pytest.raises(InvalidArgumentError, match="unknown CMS profile"):
        kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], profile="Keystone")


def test_hash_algorithms_are_parsed_once_by_the_core(pki):
    v = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], hash_algorithms=("SHA-256", "md5", "sha256"))
    assert v.hash_algorithms == ("sha256", "md5")
    assert len(v.hash("MIIabc")) == 2
    with pytest.raises(AttributeError):
        v.hash_algorithms = ("md5",)


def test_cms_hash_token_names_only_hashlib_knows():
    import hashlib

    assert cms.cms_hash_token("MIIabc", "sha3_256") == hashlib.sha3_256(b"MIIabc").hexdigest()
    assert cms.cms_hash_token("MIIabc", "SHA256") == hashlib.sha256(b"MIIabc").hexdigest()
    with pytest.raises(ValueError):
        cms.cms_hash_token("MIIabc", "nonesuch")


def test_generate_pki_errors():
    with pytest.raises(InvalidArgumentError, match="key_bits -1 is out of range"):
        kstoken.generate_pki(key_bits=-1)
    # the core's option rules (PkiOptions::validate), as InvalidArgumentError
    for options, words in (
        ({"key_bits": 512}, "below"),
        ({"key_bits": 8193}, "above"),
        ({"subject": "/"}, "names no attribute"),
        ({"subject": "CN=x"}, "openssl -subj form"),
        ({"subject": "/XX=y"}, "unknown attribute"),
    ):
        with pytest.raises(InvalidArgumentError, match=words):
            kstoken.generate_pki(**options)
    with pytest.raises(InvalidArgumentError) as info:
        kstoken.generate_pki(valid_days=10**9)
    assert "between 1 and %d " % _kstoken.max_valid_days() in str(info.value)
    with pytest.raises(InvalidArgumentError, match="after 9999-12-31"):
        _kstoken.generate_pki(valid_days=_kstoken.max_valid_days() + 1)
    pki = kstoken.generate_pki(key_bits=1024, valid_days=2, subject="/CN=x")
    assert sorted(pki) == ["ca_cert", "ca_key", "signing_cert", "signing_key"]
    assert all(isinstance(v, bytes) and v.startswith(b"-----BEGIN ") for v in pki.values())


# Native entry points check a str's length before encoding it: peak RSS growth stays far below the
# size of the copy (run in a subprocess whose address space is capped, as test_limits does).
NATIVE_MEASURE = textwrap.dedent(
    r"""
    import json, resource, sys
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
    from kstoken import _kstoken

    case, cert, ca, key = sys.argv[1:5]
    read = lambda p: open(p, "rb").read()
    verifier = _kstoken.Verifier(read(cert), read(ca))
    signer = _kstoken.Signer(read(cert), read(key))
    big = "MII" + "é" * (96 << 20)
    calls = {
        "verify": lambda: verifier.verify(big),
        "verify_pem": lambda: verifier.verify_pem(big),
        "validate": lambda: _kstoken.validate(big, verifier),
        "from_signed": lambda: _kstoken.RevocationList.from_signed(big, verifier),
        "from_json": lambda: _kstoken.RevocationList.from_json(big),
        "pkiz_uncompress": lambda: _kstoken.pkiz_uncompress(big),
        "sign_pki": lambda: signer.sign_pki(big),
        "Verifier": lambda: _kstoken.Verifier(big, read(ca)),
        "Signer": lambda: _kstoken.Signer(read(cert), big),
        "check_bind": lambda: _kstoken.check_bind("permissive", big),
        "x509_fingerprint": lambda: _kstoken.x509_fingerprint(big),
    }

    def status(field):  # kB
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(field + ":"))

    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    before = status("VmRSS")
    try:
        calls[case]()
        error = None
    except BaseException as e:
        error = [c.__name__ for c in type(e).__mro__]
    print(json.dumps({"error": error, "growth": (status("VmHWM") - before) * 1024}))
    """
)

NATIVE_CASES = {
    "verify": "LimitExceededError",
    "verify_pem": "LimitExceededError",
    "validate": "TokenRejected",
    "from_signed": "LimitExceededError",
    "from_json": "LimitExceededError",
    "pkiz_uncompress": "LimitExceededError",
    "sign_pki": "LimitExceededError",
    "Verifier": "LimitExceededError",
    "Signer": "LimitExceededError",
    "check_bind": "LimitExceededError",
    "x509_fingerprint": "LimitExceededError",
}


@pytest.mark.parametrize("case", sorted(NATIVE_CASES))
def test_native_entry_points_check_length_before_copying(case, pki):
    out = subprocess.run(
        [sys.executable, "-c", NATIVE_MEASURE, case, pki["signing_cert"], pki["ca_cert"], pki["signing_key"]],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["error"] and NATIVE_CASES[case] in result["error"], result
    # the UTF-8 copy of the 96 Mi-character text would be 192 MiB
    assert result["growth"] < 32 << 20, result


# --- the fork gate ----------------------------------------------------------------------------------


def test_no_call_is_left_counted(objects, pki):
    signer, verifier, token = objects
    for call in (
        lambda: verifier.verify(token),
        lambda: verifier.verify("MIIgarbage"),
        lambda: verifier.verify(token, at=2**62),
        lambda: verifier.validate("MIIgarbage"),
        lambda: kstoken.Signer(pki["signing_cert"], pki["ca_cert"]),
        lambda: kstoken.hash_token(token),
        lambda: kstoken.RevocationList.from_signed("{}", verifier),
    ):
        try:
            call()
        except KstokenError:
            pass
        assert _kstoken._running_calls() == 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_fork_waits_for_a_call_running_in_another_thread():
    """While another thread generates a 4096-bit PKI (seconds, without the GIL), os.fork() returns
    only after that call has left native code: no native call is running at the fork, in the parent
    or in the child."""
    started = threading.Event()
    result = {}

    def generate():
        started.set()
        result["pki"] = kstoken.generate_pki(key_bits=4096)

    thread = threading.Thread(target=generate)
    thread.start()
    started.wait()
    while _kstoken._running_calls() == 0 and thread.is_alive():
        pass
    assert _kstoken._running_calls() == 1, "the call ended before the fork: nothing was tested"
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, b"%d" % _kstoken._running_calls())
        os._exit(0)
    running_in_parent = _kstoken._running_calls()
    os.close(write)
    running_in_child = int(os.read(read, 16))
    os.close(read)
    os.waitpid(pid, 0)
    thread.join()
    assert running_in_parent == 0 and running_in_child == 0
    assert set(result["pki"]) == {"ca_cert", "ca_key", "signing_cert", "signing_key"}
