"""kstoken.compat for operators who stay on keystonemiddleware: the paste filter and the PKIZ 401 fix."""

import base64
import binascii
import json
import os
import zlib

import pytest

pytestmark = pytest.mark.unit

ksm_auth_token = pytest.importorskip("keystonemiddleware.auth_token")

import kstoken  # noqa: E402
from keystoneclient.common import cms as ksc_cms  # noqa: E402
from kstoken import compat  # noqa: E402


@pytest.fixture(autouse=True)
def clean():
    compat.unpatch()
    yield
    compat.unpatch()


def corrupt_pkiz():
    stream = zlib.compress(b"-----BEGIN CMS-----\nMIIB\n-----END CMS-----\n")
    return "PKIZ_" + base64.urlsafe_b64encode(stream[:-4] + b"\x00\x00\x00\x01").decode()


def app(environ, start_response):
    start_response("200 OK", [])
    return [b"ok"]


def status_of(mw, token):
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "s", "SERVER_PORT": "80",
               "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "HTTP_X_AUTH_TOKEN": token}
    seen = []
    try:
        b"".join(mw(environ, lambda s, h, e=None: seen.append(s)))
    except Exception:
        return "500"
    return seen[0].split()[0]


@pytest.fixture
def conf(tmp_path):
    pki = kstoken.generate_pki(key_bits=2048)
    os.chmod(tmp_path, 0o700)
    (tmp_path / "signing_cert.pem").write_bytes(pki["signing_cert"])
    (tmp_path / "cacert.pem").write_bytes(pki["ca_cert"])
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    body = {"token": {"expires_at": "2099-01-01T00:00:00Z", "user": {"id": "u", "name": "n", "domain": {"id": "d", "name": "D"}},
                      "project": {"id": "p", "name": "P", "domain": {"id": "d", "name": "D"}}, "roles": []}}
    return {"signing_dir": str(tmp_path), "www_authenticate_uri": "http://ks"}, signer.sign_pkiz(json.dumps(body))


def test_corrupt_pkiz_is_500_stock_and_401_patched(conf):
    c, good = conf
    mw = ksm_auth_token.AuthProtocol(app, dict(c))
    assert status_of(mw, corrupt_pkiz()) == "500"
    compat.patch()
    assert status_of(mw, corrupt_pkiz()) == "401"
    assert status_of(mw, good) == "200"
    compat.unpatch()
    compat.patch(helpers=True)
    assert status_of(mw, corrupt_pkiz()) == "401"


def test_inflate_error_is_both_kinds():
    compat.patch()
    with pytest.raises(zlib.error) as info:
        ksc_cms.pkiz_uncompress(corrupt_pkiz())
    assert isinstance(info.value, binascii.Error)
    assert isinstance(info.value, compat.PKIZInflateError)
    assert compat.patch() == []  # the wrapper is stable: patching twice changes nothing
    compat.unpatch()
    with pytest.raises(zlib.error) as info:
        ksc_cms.pkiz_uncompress(corrupt_pkiz())
    assert not isinstance(info.value, binascii.Error)


def test_filter_factory_patches_when_the_pipeline_loads(conf):
    c, good = conf
    assert not compat.is_patched()
    make_filter = compat.filter_factory({"__file__": "/etc/x/api-paste.ini"}, helpers="true", bind="false")
    assert compat.is_patched()
    assert ksc_cms.token_to_cms is kstoken.cms.token_to_cms  # helpers = true
    authtoken = ksm_auth_token.filter_factory({}, **c)(app)
    pipeline = make_filter(authtoken)
    assert pipeline is authtoken  # a pass-through: no wrapper on the request path
    assert status_of(pipeline, good) == "200"
    assert status_of(pipeline, corrupt_pkiz()) == "401"
