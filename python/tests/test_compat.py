"""kstoken.compat: patch / unpatch round trip, and the pytest plugin."""

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import cert_paths
from kstoken import cms, compat

ksc_cms = pytest.importorskip("keystoneclient.common.cms")


@pytest.fixture(autouse=True)
def clean():
    compat.unpatch()
    yield
    compat.unpatch()


def test_patch_unpatch_round_trip(monkeypatch):
    monkeypatch.setattr(ksc_cms, "subprocess", None)
    originals = {n: getattr(ksc_cms, n) for n in ("cms_verify", "cms_sign_data", "token_to_cms")}
    done = compat.patch()
    assert ksc_cms.cms_verify is cms.cms_verify and ksc_cms.cms_sign_data is cms.cms_sign_data
    assert ksc_cms.subprocess is subprocess
    assert ksc_cms.token_to_cms is originals["token_to_cms"]
    # subprocess, cms_verify, cms_sign_data, and pkiz_uncompress wrapped for the PKIZ 401 fix.
    assert compat.is_patched() and len(done) == 4
    assert compat.patch() == []  # idempotent
    compat.patch(helpers=True)
    assert ksc_cms.token_to_cms is cms.token_to_cms
    compat.unpatch()
    for name, original in originals.items():
        assert getattr(ksc_cms, name) is original
    assert ksc_cms.subprocess is None
    assert not compat.is_patched()


def test_patch_logs_what_it_patched_once(caplog):
    caplog.set_level(logging.INFO, logger="kstoken.compat")
    compat.patch()
    compat.patch()  # already patched: nothing changes, nothing said
    lines = [r for r in caplog.records if r.name == "kstoken.compat"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    text = lines[0].getMessage()
    for name in ("keystoneclient.common.cms.cms_verify", "keystoneclient.common.cms.cms_sign_data",
                 "keystoneclient.common.cms.pkiz_uncompress"):
        assert name in text, text


def test_patched_context_manager_nests():
    with compat.patched():
        with compat.patched(helpers=True):
            assert ksc_cms.cms_to_token is cms.cms_to_token
        assert ksc_cms.cms_verify is cms.cms_verify
        assert ksc_cms.cms_to_token is not cms.cms_to_token
    assert not compat.is_patched()


def test_patched_upstream_functions_spawn_nothing(monkeypatch):
    cert, ca, key = cert_paths("keystoneclient/6.0.0")

    def no_popen(*a, **kw):
        raise AssertionError("openssl spawned")

    monkeypatch.setattr(subprocess, "Popen", no_popen)
    with compat.patched():
        token = ksc_cms.cms_sign_token("data", cert, key)
        pkiz = ksc_cms.pkiz_sign("data", cert, key)
        assert ksc_cms.verify_token(token, cert, ca) == b"data"
        assert ksc_cms.pkiz_verify(pkiz, cert, ca) == b"data"
        assert ksc_cms.cms_sign_text("data", cert, key) == ksc_cms.token_to_cms(token)


def test_bind_patch():
    auth_token = pytest.importorskip("keystonemiddleware.auth_token")
    original = auth_token.BaseAuthProtocol._confirm_token_bind
    with compat.patched(bind=True):
        assert auth_token.BaseAuthProtocol._confirm_token_bind is compat.confirm_token_bind
    assert auth_token.BaseAuthProtocol._confirm_token_bind is original


def test_confirm_token_bind_behaviour():
    class Invalid(Exception):
        pass

    class Log:
        def info(self, *a):
            pass

    class Proto:
        log = Log()

        def __init__(self, mode):
            self._enforce_token_bind = mode

        def _invalid_user_token(self):
            raise Invalid()

    class Ref:
        def __init__(self, bind):
            self.bind = bind

    class Req:
        def __init__(self, auth_type, remote_user):
            self.auth_type = auth_type
            self.remote_user = remote_user
            self.environ = {}

    compat.confirm_token_bind(Proto("permissive"), Ref({}), Req(None, None))
    compat.confirm_token_bind(Proto("required"), Ref({"kerberos": "bob"}), Req("negotiate", "bob"))
    with pytest.raises(Invalid):
        compat.confirm_token_bind(Proto("required"), Ref({}), Req(None, None))
    with pytest.raises(Invalid):
        compat.confirm_token_bind(Proto("strict"), Ref({"kerberos": "bob"}), Req("negotiate", "eve"))


def test_pytest_plugin(pytester):
    pytester.makepyfile(
        """
        from keystoneclient.common import cms
        import kstoken.cms

        def test_patched():
            assert cms.cms_verify is kstoken.cms.cms_verify
        """
    )
    result = pytester.runpytest_subprocess("-p", "kstoken.pytest_plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert any("kstoken: keystoneclient.common.cms patched: True" in line for line in result.outlines)


# --- all or nothing (issue 14, item 9) ------------------------------------------------------------


def test_patch_without_keystonemiddleware_changes_nothing(monkeypatch):
    """bind=True needs keystonemiddleware; without it the patch fails before touching anything."""
    monkeypatch.setitem(sys.modules, "keystonemiddleware.auth_token", None)
    originals = {n: getattr(ksc_cms, n) for n in ("cms_verify", "cms_sign_data", "subprocess")}
    with pytest.raises(ImportError):
        compat.patch(bind=True)
    with pytest.raises(ImportError):
        with compat.patched(helpers=True, bind=True):
            raise AssertionError("the block must not run")
    assert {n: getattr(ksc_cms, n) for n in originals} == originals
    assert not compat.is_patched() and compat._originals == {}


def test_patch_rolls_back_when_setting_fails(monkeypatch):
    """A failure half-way through setting undoes what was set."""
    auth_token = pytest.importorskip("keystonemiddleware.auth_token")
    original_verify = ksc_cms.cms_verify

    class Frozen(type):
        def __setattr__(cls, name, value):
            raise AttributeError("read-only class")

    frozen = Frozen("BaseAuthProtocol", (), {"_confirm_token_bind": lambda *a: None})
    monkeypatch.setattr(auth_token, "BaseAuthProtocol", frozen)
    with pytest.raises(AttributeError, match="read-only"):
        compat.patch(bind=True)
    assert ksc_cms.cms_verify is original_verify and not compat.is_patched()


# --- bind through the real keystonemiddleware (issue 14, item 11) ---------------------------------

BIND_DRIVER = textwrap.dedent(
    r"""
    import contextlib, json, sys
    sys.path.insert(0, sys.argv[1])
    import webob, webob.dec
    from keystoneauth1 import fixture
    from keystonemiddleware import auth_token
    import kstoken
    from kstoken import compat

    pki = kstoken.generate_pki(key_bits=1024)
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    verifier = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"])

    class PkiMiddleware(auth_token.BaseAuthProtocol):
        # the token is a real PKI token, verified offline by kstoken
        def fetch_token(self, token, **kwargs):
            return verifier.verify_json(token)

    @webob.dec.wsgify
    def app(req):
        # BaseAuthProtocol passes every request on, marked Confirmed or Invalid
        return webob.Response(req.headers.get("X-Identity-Status", "missing"))

    def token(bind):
        t = fixture.V3Token()
        t.set_project_scope()
        t.add_role(name="member")
        for name, value in bind.items():
            t.set_bind(name, value)
        return signer.sign_pki(json.dumps(t))

    CASES = [
        # name, bind, environ
        ("null principal, Negotiate, no REMOTE_USER", {"kerberos": None}, {"AUTH_TYPE": "Negotiate"}),
        ("null principal, no AUTH_TYPE, no REMOTE_USER", {"kerberos": None}, {}),
        ("null principal, Negotiate, REMOTE_USER bob", {"kerberos": None},
         {"AUTH_TYPE": "Negotiate", "REMOTE_USER": "bob"}),
        ("bob, Negotiate, REMOTE_USER bob", {"kerberos": "bob"},
         {"AUTH_TYPE": "Negotiate", "REMOTE_USER": "bob"}),
        ("bob, Negotiate, no REMOTE_USER", {"kerberos": "bob"}, {"AUTH_TYPE": "Negotiate"}),
        ("bob, Negotiate, REMOTE_USER eve", {"kerberos": "bob"},
         {"AUTH_TYPE": "Negotiate", "REMOTE_USER": "eve"}),
    ]
    results = {}
    for mode in ("permissive", "strict", "required", "kerberos"):
        for name, bind, environ in CASES:
            tok = token(bind)
            for label in ("stock", "kstoken"):
                patch = compat.patched(bind=True) if label == "kstoken" else contextlib.nullcontext()
                with patch:
                    patched = auth_token.BaseAuthProtocol._confirm_token_bind is compat.confirm_token_bind
                    assert patched == (label == "kstoken")
                    req = webob.Request.blank("/", environ=dict(environ))
                    req.headers["X-Auth-Token"] = tok
                    resp = req.get_response(PkiMiddleware(app, enforce_token_bind=mode))
                results["%s | %s | %s" % (mode, name, label)] = resp.text
    print(json.dumps(results))
    """
)


def ksm_trees():
    tree = os.environ.get("KSTOKEN_TEST_KSM_TREE")
    if not tree:
        return []
    parent = os.path.dirname(tree)
    return sorted(
        os.path.join(parent, d) for d in os.listdir(parent) if d.startswith("keystonemiddleware-")
    )


@pytest.mark.skipif(not ksm_trees(), reason="needs KSTOKEN_TEST_KSM_TREE (scripts/test-python.sh sets it)")
@pytest.mark.parametrize("tree", ksm_trees(), ids=os.path.basename)
def test_null_kerberos_principal_through_the_real_middleware(tree):
    """Stock keystonemiddleware accepts {"kerberos": null} from a request without REMOTE_USER
    (``req.remote_user != identifier`` is ``None != None``); kstoken's bind patch refuses it:
    a null principal never matches. Every other case decides the same with and without kstoken."""
    out = subprocess.run(
        [sys.executable, "-c", BIND_DRIVER, tree], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    results = json.loads(out.stdout.splitlines()[-1])
    differ = {}
    for key, status in results.items():
        mode, name, label = key.split(" | ")
        if label == "stock" and results["%s | %s | kstoken" % (mode, name)] != status:
            differ["%s | %s" % (mode, name)] = (status, results["%s | %s | kstoken" % (mode, name)])
    print(os.path.basename(tree), "stock vs kstoken where they differ:", differ)
    modes = ("permissive", "strict", "required", "kerberos")
    null = "null principal, Negotiate, no REMOTE_USER"
    assert differ == {"%s | %s" % (mode, null): ("Confirmed", "Invalid") for mode in modes}
    for mode in modes:
        assert results["%s | bob, Negotiate, REMOTE_USER bob | kstoken" % mode] == "Confirmed"
        assert results["%s | bob, Negotiate, REMOTE_USER eve | kstoken" % mode] == "Invalid"
        assert results["%s | null principal, Negotiate, REMOTE_USER bob | stock" % mode] == "Invalid"
