"""memcached interoperability: kstoken.middleware and keystonemiddleware read each other's cache
entries (plain, MAC and ENCRYPT), and the pymemcache client picks servers as python-memcached does."""

import json
import logging
import os

import pytest

pytestmark = pytest.mark.unit

ksm_cache = pytest.importorskip("keystonemiddleware.auth_token._cache")

import kstoken  # noqa: E402
from kstoken.middleware import AuthProtocol  # noqa: E402
from kstoken.middleware._memcache import parse_server, python_memcached_hash  # noqa: E402

FUTURE = "2099-01-01T00:00:00Z"


class FakeMemcache:
    """A memcached stand-in both sides talk to (keystonemiddleware through its environ-cache hook)."""

    def __init__(self):
        self.data = {}

    def get(self, key):
        return self.data.get(key)

    def set(self, key, value, time=0, **kwargs):
        self.data[key] = value
        return True


def body(user):
    return {"token": {"expires_at": FUTURE, "audit_ids": ["a-" + user],
                      "user": {"id": "u-" + user, "name": user, "domain": {"id": "d", "name": "D"}},
                      "project": {"id": "p", "name": "P", "domain": {"id": "d", "name": "D"}},
                      "roles": [{"id": "r", "name": "reader"}]}}


@pytest.fixture(scope="module")
def pki():
    return kstoken.generate_pki(key_bits=2048)


def signing_dir(tmp_path, pki, with_certs=True):
    d = tmp_path / ("sd-%d" % len(os.listdir(tmp_path)))
    d.mkdir(mode=0o700)
    if with_certs:
        (d / "signing_cert.pem").write_bytes(pki["signing_cert"])
        (d / "cacert.pem").write_bytes(pki["ca_cert"])
    return str(d)


class App:
    environ = None

    def __call__(self, environ, start_response):
        self.environ = environ
        start_response("200 OK", [])
        return [b""]


def request(mw, token):
    env = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "SERVER_NAME": "s", "SERVER_PORT": "80",
           "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "HTTP_X_AUTH_TOKEN": token}
    seen = []
    b"".join(mw(env, lambda s, h, e=None: seen.append(s)))
    return int(seen[0].split()[0])


def middleware(tmp_path, pki, fake, strategy, with_certs=True):
    conf = {"signing_dir": signing_dir(tmp_path, pki, with_certs), "identity_uri": "http://127.0.0.1:9",
            "http_request_max_retries": "0", "memcached_servers": "127.0.0.1:1",
            "memcache_security_strategy": strategy}
    if strategy != "None":
        conf["memcache_secret_key"] = "sekrit"
    app = App()
    mw = AuthProtocol(app, conf)
    mw.engine.memcache = fake  # the same bytes pymemcache would move
    return mw, app


def ksm_token_cache(strategy):
    log = logging.getLogger("test")
    kwargs = dict(cache_time=300, env_cache_name="memcache")
    if strategy == "None":
        return ksm_cache.TokenCache(log, **kwargs)
    return ksm_cache.SecureTokenCache(log, strategy, "sekrit", **kwargs)


@pytest.mark.parametrize("strategy", ["None", "MAC", "ENCRYPT"])
def test_keystonemiddleware_reads_what_kstoken_wrote(tmp_path, pki, strategy):
    fake = FakeMemcache()
    mw, _ = middleware(tmp_path, pki, fake, strategy)
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    token = signer.sign_pki(json.dumps(body("alice")))
    assert request(mw, token) == 200
    assert len(fake.data) == 1
    cache = ksm_token_cache(strategy)
    cache.initialize({"memcache": fake})
    assert cache.get(kstoken.hash_token(token)[0]) == body("alice")
    if strategy == "ENCRYPT":
        assert b"alice" not in next(iter(fake.data.values()))
    # A refused token is shared as keystonemiddleware's "invalid" marker.
    assert request(mw, "MIIbroken") == 401
    assert cache.get(kstoken.hash_token("MIIbroken")[0]) == "invalid"


@pytest.mark.parametrize("strategy", ["None", "MAC", "ENCRYPT"])
def test_kstoken_reads_what_keystonemiddleware_wrote(tmp_path, pki, strategy):
    fake = FakeMemcache()
    cache = ksm_token_cache(strategy)
    cache.initialize({"memcache": fake})
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    token = signer.sign_pki(json.dumps(body("bob")))
    cache.set(kstoken.hash_token(token)[0], body("bob"))
    cache.set(kstoken.hash_token("MIIwhatever")[0], "invalid")
    # No certificates at all: the answer can only come from the shared cache.
    mw, app = middleware(tmp_path, pki, fake, strategy, with_certs=False)
    assert request(mw, token) == 200
    assert app.environ["HTTP_X_USER_NAME"] == "bob"
    assert app.environ["keystone.token_info"] == body("bob")
    assert request(mw, "MIIwhatever") == 401
    # Another secret cannot read (or forge) the entries: MAC mismatch reads as a miss.
    if strategy != "None":
        other = ksm_cache.SecureTokenCache(logging.getLogger("t"), strategy, "other", cache_time=300,
                                           env_cache_name="memcache")
        other.initialize({"memcache": fake})
        assert other.get(kstoken.hash_token(token)[0]) is None


def test_tampered_entries_are_misses(tmp_path, pki):
    fake = FakeMemcache()
    mw, _ = middleware(tmp_path, pki, fake, "MAC", with_certs=False)
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    token = signer.sign_pki(json.dumps(body("carol")))
    cache = ksm_token_cache("MAC")
    cache.initialize({"memcache": fake})
    cache.set(kstoken.hash_token(token)[0], body("carol"))
    key = next(iter(fake.data))
    stored = bytearray(fake.data[key])
    stored[-5] ^= 1
    fake.data[key] = bytes(stored)
    # Not trusted, and without certificates nothing else can vouch for the token.
    assert request(mw, token) == 503


def test_server_selection_matches_python_memcached():
    import memcache  # python-memcached, keystonemiddleware's client

    assert memcache.cmemcache_hash(b"tokens/abc") == python_memcached_hash(b"tokens/abc")
    for key in (b"tokens/" + bytes([i]) * 3 for i in range(60, 90)):
        assert memcache.cmemcache_hash(key) == python_memcached_hash(key)
    assert parse_server("10.0.0.1:11211") == ("10.0.0.1", 11211)
    assert parse_server("[::1]:11212") == ("::1", 11212)
    assert parse_server("inet6:[fe80::1]:11211") == ("fe80::1", 11211)
    assert parse_server("unix:/run/memcached.sock") == "/run/memcached.sock"


@pytest.mark.parametrize("junk", [b'{"token": 1}', b"{}", b'{"token": {"expires_at": "2099-01-01T00:00:00Z", "user"',
                                  b'[{"token": 1}, 0]', b"\x9c\x00random"])
def test_unreadable_entries_are_misses(tmp_path, pki, junk):
    """Anything in memcached that does not read as token data is a miss: the token is validated
    (it was refused until the entry expired)."""
    fake = FakeMemcache()
    mw, app = middleware(tmp_path, pki, fake, "None")
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    token = signer.sign_pki(json.dumps(body("dave")))
    cache = ksm_token_cache("None")
    cache.initialize({"memcache": fake})
    cache.set(kstoken.hash_token(token)[0], "placeholder")
    key = next(iter(fake.data))
    fake.data[key] = junk
    assert request(mw, token) == 200
    assert app.environ["HTTP_X_USER_NAME"] == "dave"


def test_encrypt_is_never_plain_text(tmp_path, pki):
    """keystonemiddleware accepts the strategy in any case but encrypts only for 'ENCRYPT' (it stores
    'encrypt' in plain text, MAC only). kstoken refuses any other spelling at startup, and 'ENCRYPT'
    encrypts, shared with keystonemiddleware."""
    from kstoken.middleware import ConfigurationError

    for spelling in ("encrypt", "Encrypt", "mac"):
        with pytest.raises(ConfigurationError, match="memcache_security_strategy"):
            middleware(tmp_path, pki, FakeMemcache(), spelling)
    fake = FakeMemcache()
    mw, _ = middleware(tmp_path, pki, fake, "ENCRYPT")
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    token = signer.sign_pki(json.dumps(body("erin")))
    assert request(mw, token) == 200
    (stored,) = fake.data.values()
    assert b"erin" not in stored and b"eyJ0b2" not in stored  # neither the JSON nor its base64
    cache = ksm_token_cache("ENCRYPT")
    cache.initialize({"memcache": fake})
    assert cache.get(kstoken.hash_token(token)[0]) == body("erin")
