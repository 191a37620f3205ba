"""kstoken.middleware against a real (in-thread) keystone: modes, certificates, revocation lists,
keystone outages, signing_dir, configuration, threads and fork."""

import json
import logging
import os
import stat
import sys
import threading
import time

import pytest

pytestmark = pytest.mark.unit

pytest.importorskip("keystoneauth1")

import kstoken  # noqa: E402
from kstoken.middleware import AuthProtocol, ConfigurationError  # noqa: E402
from kstoken.middleware import _config  # noqa: E402
from inprocess import App, signing_dir, status, wait_for  # noqa: E402
from keystone_standin import InThread as Keystone  # noqa: E402
from keystone_standin import rotated as issue_signing_cert  # noqa: E402

FUTURE = "2099-01-01T00:00:00.000000Z"


def body(user="alice", audit="AUD-alice", expires=FUTURE):
    return {"token": {
        "methods": ["password"], "expires_at": expires, "audit_ids": [audit],
        "user": {"id": "u-" + user, "name": user, "domain": {"id": "default", "name": "Default"}},
        "project": {"id": "p1", "name": "demo", "domain": {"id": "default", "name": "Default"}},
        "roles": [{"id": "r", "name": "member"}],
    }}


@pytest.fixture(scope="module")
def pkis():
    return kstoken.generate_pki(key_bits=2048), kstoken.generate_pki(key_bits=2048, subject="/CN=rotated")


@pytest.fixture
def keystone(pkis):
    ks = Keystone(pkis[0])
    yield ks
    ks.close()


def signer(pki):
    return kstoken.Signer(pki["signing_cert"], pki["signing_key"])


def sign(pki, b):
    return signer(pki).sign_pki(json.dumps(b))


def test_offline_mode_logs_it_and_needs_no_keystone(pkis, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="kstoken.middleware")
    mw = AuthProtocol(App(), {"signing_dir": signing_dir(tmp_path, pkis[0]), "identity_uri": "http://127.0.0.1:9"})
    assert "mode: offline, no list" in caplog.text
    assert "revocation lists enforced" not in caplog.text
    assert status(mw, sign(pkis[0], body())) == 200
    assert status(mw, sign(pkis[1], body())) == 401
    assert not mw.engine.revocation


def test_certificates_are_fetched_into_a_new_signing_dir(pkis, keystone, tmp_path):
    sd = str(tmp_path / "new" / "signing")
    mw = AuthProtocol(App(), {"signing_dir": sd, "identity_uri": keystone.url})
    assert status(mw, sign(pkis[0], body())) == 200
    assert keystone.count("GET /v3/OS-SIMPLE-CERT/certificates") == 1
    assert keystone.count("GET /v3/OS-SIMPLE-CERT/ca") == 1
    assert stat.S_IMODE(os.stat(sd).st_mode) == 0o700
    with open(os.path.join(sd, "signing_cert.pem"), "rb") as f:
        assert f.read() == pkis[0]["signing_cert"]
    # A second middleware finds them on disk.
    mw2 = AuthProtocol(App(), {"signing_dir": sd, "identity_uri": keystone.url})
    assert status(mw2, sign(pkis[0], body())) == 200
    assert keystone.count("GET /v3/OS-SIMPLE-CERT/certificates") == 1


def test_no_certificates_and_no_keystone_is_503(pkis, tmp_path):
    mw = AuthProtocol(App(), {"signing_dir": signing_dir(tmp_path), "identity_uri": "http://127.0.0.1:9",
                              "http_request_max_retries": "0"})
    token = sign(pkis[0], body())
    assert status(mw, token) == 503
    delayed = AuthProtocol(App(), {"signing_dir": signing_dir(tmp_path, name="sd2"), "identity_uri": "http://127.0.0.1:9",
                                   "delay_auth_decision": "true", "http_request_max_retries": "0"})
    app = delayed._app
    assert status(delayed, token) == 200 and app.environ["HTTP_X_IDENTITY_STATUS"] == "Invalid"


def test_signing_key_rotation(pkis, keystone, tmp_path):
    """keystone rotates its signing key under the same CA: a token from the new key makes the
    middleware fetch the certificate once and take it (it chains to the trusted CA), in memory:
    signing_dir's files are the operator's and stay as they were."""
    old = pkis[0]
    new = issue_signing_cert(old, "keystone signing key 2")
    sd = signing_dir(tmp_path, old)
    mw = AuthProtocol(App(), {"signing_dir": sd, "identity_uri": keystone.url})
    assert status(mw, sign(old, body())) == 200
    keystone.pki = new
    assert status(mw, sign(new, body("bob"))) == 200
    assert keystone.count("GET /v3/OS-SIMPLE-CERT/certificates") == 1
    with open(os.path.join(sd, "signing_cert.pem"), "rb") as f:
        assert f.read() == old["signing_cert"]


def test_certificates_replaced_on_disk_are_reloaded(pkis, tmp_path):
    old, new = pkis
    sd = signing_dir(tmp_path, old)
    mw = AuthProtocol(App(), {"signing_dir": sd, "identity_uri": "http://127.0.0.1:9"})
    assert status(mw, sign(new, body())) == 401
    for name, data in (("signing_cert.pem", new["signing_cert"]), ("cacert.pem", new["ca_cert"])):
        tmp = os.path.join(sd, name + ".tmp")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(sd, name))
    wait_for(lambda: status(mw, sign(new, body("carol"))) == 200, 5, "the new certificates")


def revocation_conf(keystone, sd, **extra):
    return keystone.conf(signing_dir=sd, revocation_cache_time="0.3", **extra)


def test_revocation_lists_enforced_with_credentials(pkis, keystone, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="kstoken.middleware")
    pki = pkis[0]
    revoked = sign(pki, body("mallory"))
    audit_revoked = sign(pki, body("eve", audit="AUD-eve"))
    keystone.revoked = [{"id": kstoken.hash_token(revoked)[0]}, {"audit_id": "AUD-eve"}]
    mw = AuthProtocol(App(), revocation_conf(keystone, signing_dir(tmp_path, pki)))
    assert "mode: revocation lists enforced" in caplog.text
    good = sign(pki, body())
    assert status(mw, good) == 200
    assert status(mw, revoked) == 401
    assert status(mw, audit_revoked) == 401
    assert keystone.count("GET /v3/auth/tokens/OS-PKI/revoked") >= 1
    # A newly revoked token is refused once the list is refreshed (fresh tokens; cached ones only
    # with check_revocations_for_cached).
    later = sign(pki, body("trudy"))
    keystone.revoked.append({"id": kstoken.hash_token(later)[0]})
    wait_for(lambda: mw.engine.native.revocation_list_state()[0] == 3, 5, "the refreshed list")
    assert status(mw, later) == 401
    assert os.path.exists(os.path.join(mw.engine.signing_dir.path, "revoked.signed.pem"))
    mw.engine.close()


def test_cached_tokens_checked_when_configured(pkis, keystone, tmp_path):
    pki = pkis[0]
    token = sign(pki, body("dave", audit="AUD-dave"))
    mw = AuthProtocol(App(), revocation_conf(keystone, signing_dir(tmp_path, pki), check_revocations_for_cached="true"))
    assert status(mw, token) == 200
    keystone.revoked = [{"audit_id": "AUD-dave"}]
    wait_for(lambda: status(mw, token) == 401, 5, "the cached token to be refused")
    mw.engine.close()


def test_keystone_down_keeps_the_last_list_then_fails_closed(pkis, keystone, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="kstoken.middleware")
    pki = pkis[0]
    revoked = sign(pki, body("mallory"))
    keystone.revoked = [{"id": kstoken.hash_token(revoked)[0]}]
    mw = AuthProtocol(App(), revocation_conf(keystone, signing_dir(tmp_path, pki), kstoken_revocation_stale_time="1.5"))
    assert status(mw, sign(pki, body())) == 200
    keystone.stop()
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < 1.2:
        n += 1
        assert status(mw, sign(pki, body("u%d" % n))) == 200
        assert status(mw, revoked) == 401
        time.sleep(0.1)
    wait_for(lambda: "revocation list is stale" in caplog.text, 3, "the stale warning")
    late = iter(range(1000))
    wait_for(lambda: status(mw, sign(pki, body("late%d" % next(late)))) == 503, 5, "503 after the stale allowance")
    assert time.monotonic() - t0 >= 1.2
    wait_for(lambda: "revocation list expired" in caplog.text, 3, "the expiry error")
    keystone.start()  # back, on the same port
    wait_for(lambda: status(mw, sign(pki, body("back%d" % next(late)))) == 200, 10, "keystone back")
    assert status(mw, revoked) == 401
    mw.engine.close()


def test_a_list_that_does_not_verify_is_never_used(pkis, keystone, tmp_path, caplog):
    pki, other = pkis
    keystone.list_signer = signer(other)
    # keystone.pki stays the first PKI, so fetching certificates cannot make the list verify.
    mw = AuthProtocol(App(), revocation_conf(keystone, signing_dir(tmp_path, pki)))
    assert status(mw, sign(pki, body())) == 503
    assert "unusable" in caplog.text
    mw.engine.close()


def test_explicit_revocation_off_with_credentials(pkis, keystone, tmp_path):
    mw = AuthProtocol(App(), keystone.conf(signing_dir=signing_dir(tmp_path, pkis[0]), kstoken_revocation="off"))
    assert status(mw, sign(pkis[0], body())) == 200
    assert keystone.count("GET /v3/auth/tokens/OS-PKI/revoked") == 0


def test_signing_dir_checks(tmp_path, caplog):
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    os.chmod(loose, 0o755)
    AuthProtocol(App(), {"signing_dir": str(loose), "identity_uri": "http://127.0.0.1:9"})
    assert "signing_dir mode is 0o755 instead of 0o700" in caplog.text
    if os.getuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(ConfigurationError):
            AuthProtocol(App(), {"signing_dir": str(locked)})


def test_configuration_errors_and_warnings(tmp_path, caplog):
    sd = signing_dir(tmp_path)
    with pytest.raises(ConfigurationError, match="delay_auth_decision"):
        AuthProtocol(App(), {"signing_dir": sd, "delay_auth_decision": "perhaps"})
    with pytest.raises(ConfigurationError, match="memcache_secret_key"):
        AuthProtocol(App(), {"signing_dir": sd, "memcache_security_strategy": "MAC"})
    with pytest.raises(ConfigurationError, match="memcache_security_strategy"):
        AuthProtocol(App(), {"signing_dir": sd, "memcache_security_strategy": "rot13", "memcache_secret_key": "k"})
    with pytest.raises(ConfigurationError, match="auth_type"):
        AuthProtocol(App(), {"signing_dir": sd, "auth_type": "no-such-plugin"})
    with pytest.raises(ConfigurationError, match="kstoken_revocation"):
        AuthProtocol(App(), {"signing_dir": sd, "kstoken_revocation": "sometimes"})
    AuthProtocol(App(), {"signing_dir": sd, "nonsense_option": "1", "cache": "swift.cache", "here": "/etc"})
    assert 'The option "nonsense_option" is not known to kstoken.middleware' in caplog.text
    assert "Swift" in caplog.text
    assert '"here"' not in caplog.text


def test_configuration_values_like_oslo_config():
    s = _config.load({"delay_auth_decision": "Yes", "hash_algorithms": "sha256, md5", "memcache_servers": "a:1,b:2",
                      "auth_uri": "http://old", "token_cache_time": "-1", "auth_plugin": "password",
                      "auth_url": "http://ks/v3", "username": "u"})
    assert s.delay_auth_decision is True
    assert s.hash_algorithms == ["sha256", "md5"]
    assert s.memcached_servers == ["a:1", "b:2"]
    assert s.www_authenticate_uri == "http://old"
    assert s.token_cache_time == -1
    assert s.auth_type == "password" and s.has_credentials and s.revocation_enforced
    assert s.warnings == []
    assert "kstoken_revocation" not in str(_config.load({"kstoken_revocation": "off"}).ksm_conf)


def test_oslo_config_file(tmp_path):
    ini = tmp_path / "nova.conf"
    ini.write_text("[DEFAULT]\ndebug = true\n[keystone_authtoken]\nwww_authenticate_uri = http://from-file\n"
                   "delay_auth_decision = true\nauth_section = sa\n[sa]\nauth_type = password\nusername = n\n")
    s = _config.load({"oslo_config_project": "nova", "oslo_config_file": str(ini), "delay_auth_decision": "false"})
    assert s.www_authenticate_uri == "http://from-file"
    assert s.delay_auth_decision is False  # paste wins over the file, as in keystonemiddleware
    assert s.auth_type == "password" and s.extra["username"] == "n"


def test_www_authenticate_fallbacks(tmp_path):
    sd = signing_dir(tmp_path)
    assert AuthProtocol(App(), {"signing_dir": sd}).engine.www_authenticate_uri == "https://127.0.0.1:35357"
    assert AuthProtocol(App(), {"signing_dir": sd, "identity_uri": "http://ks:35357/admin/"}).engine \
        .www_authenticate_uri == "http://ks:35357"
    mw = AuthProtocol(App(), {"signing_dir": sd, "auth_type": "password", "auth_url": "http://ks:5000/v3",
                              "kstoken_revocation": "off"})
    assert mw.engine.www_authenticate_uri == "http://ks:5000/v3"


def test_threads_share_one_middleware(pkis, tmp_path):
    pki = pkis[0]
    mw = AuthProtocol(App(), {"signing_dir": signing_dir(tmp_path, pki), "identity_uri": "http://127.0.0.1:9"})
    tokens = [sign(pki, body("user%d" % i)) for i in range(20)]
    bad = [t[:-30] for t in tokens[:5]]
    errors = []

    def worker(i):
        try:
            for j in range(50):
                assert status(mw, tokens[(i + j) % len(tokens)]) == 200
                assert status(mw, bad[(i + j) % len(bad)]) == 401
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    entries, size = mw.engine.native.cache_usage()
    assert entries == 25 and size > 0


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_built_before_fork_works_in_the_child(pkis, keystone, tmp_path):
    """gunicorn --preload: the middleware is built in the master; each worker must work, and start
    its own revocation refresher."""
    pki = pkis[0]
    revoked = sign(pki, body("mallory"))
    keystone.revoked = [{"id": kstoken.hash_token(revoked)[0]}]
    mw = AuthProtocol(App(), revocation_conf(keystone, signing_dir(tmp_path, pki)))
    good = sign(pki, body())
    assert status(mw, good) == 200  # the parent has a refresher thread and a keystone session now
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            ok = status(mw, good) == 200 and status(mw, revoked) == 401
            # The child refreshes the list itself: its deadline moves on.
            first = mw.engine.native.revocation_list_state()[1]
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and mw.engine.native.revocation_list_state()[1] == first:
                time.sleep(0.05)
            thread = mw.engine.thread.thread
            ok = ok and mw.engine.native.revocation_list_state()[1] > first
            ok = ok and thread is not None and thread.is_alive()
            code = 0 if ok else 1
        finally:
            os._exit(code)
    _, result = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(result) == 0
    mw.engine.close()


def test_paste_filter_factory(pkis, tmp_path):
    from kstoken.middleware import filter_factory

    app = App()
    mw = filter_factory({"__file__": "/etc/api-paste.ini", "here": "/etc"},
                        signing_dir=signing_dir(tmp_path, pkis[0]), identity_uri="http://127.0.0.1:9")(app)
    assert isinstance(mw, AuthProtocol)
    assert status(mw, sign(pkis[0], body())) == 200
    assert app.environ["HTTP_X_USER_NAME"] == "alice"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))


def test_signing_dir_files_are_read_with_a_bound(tmp_path, caplog):
    """A file in signing_dir that never ends (a link to /dev/zero) is refused after at most the
    credential limit, logged, and treated as unusable; a missing one is None without a log line."""
    from kstoken._credentials import MAX_CREDENTIAL_LEN
    from kstoken.middleware._signing_dir import SigningDirectory

    d = signing_dir(tmp_path)
    os.symlink("/dev/zero", os.path.join(d, "signing_cert.pem"))
    sd = SigningDirectory(d, logging.getLogger("kstoken.middleware.test"))
    with caplog.at_level(logging.WARNING, logger="kstoken.middleware.test"):
        assert sd.read("signing_cert.pem") is None
        assert sd.read("cacert.pem") is None
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "signing_cert.pem" in warnings[0], warnings
    assert "larger than %d bytes" % MAX_CREDENTIAL_LEN in warnings[0], warnings
