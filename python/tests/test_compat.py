"""kstoken.compat: patch / unpatch round trip, and the pytest plugin."""

import subprocess

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
