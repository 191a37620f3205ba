"""What kstoken.middleware logs (issue 18, item 9): no message repeats the logger's name (a service's
``%(name)s: %(message)s`` printed ``kstoken.middleware: kstoken.middleware: mode ...``); the
``service_token_roles_required`` warning once, also when keystonemiddleware validates other tokens
online (it logs it itself); DEBUG lines for accepted, cached and refused tokens that never carry the
token (an 8-digit hash prefix at most)."""

import hashlib
import logging

import pytest

pytestmark = pytest.mark.unit

pytest.importorskip("keystoneauth1")

from inprocess import PAST, App, body, sign, signing_dir, status  # noqa: E402
from kstoken.middleware import AuthProtocol  # noqa: E402

OFFLINE = {"identity_uri": "http://127.0.0.1:9", "http_request_max_retries": "0"}
ROLES_WARNING = "service_token_roles_required"


def ours(caplog):
    return [r for r in caplog.records if r.name == "kstoken.middleware"]


def test_no_message_repeats_the_logger_name(pem, keystone_thread, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="kstoken.middleware")
    mw = AuthProtocol(App(), keystone_thread.conf(signing_dir=signing_dir(tmp_path), revocation_cache_time="60"))
    assert status(mw, sign(pem, body())) == 200  # certificates fetched, a list fetched
    assert status(mw, "MIIbroken") == 401
    records = ours(caplog)
    assert any("mode: revocation lists enforced" in r.getMessage() for r in records)
    assert any("fetched signing certificate" in r.getMessage() for r in records)
    formatted = [logging.Formatter("%(name)s: %(message)s").format(r) for r in records]
    doubled = [line for line in formatted if line.startswith("kstoken.middleware: kstoken.middleware")]
    assert not doubled, doubled
    assert not [r for r in records if r.getMessage().startswith("kstoken.middleware:")]


def test_the_service_roles_warning_is_logged_once(pem, tmp_path, caplog):
    caplog.set_level(logging.WARNING)
    AuthProtocol(App(), dict(OFFLINE, signing_dir=signing_dir(tmp_path, pem)))
    assert sum(ROLES_WARNING in r.getMessage() for r in caplog.records) == 1
    caplog.clear()
    AuthProtocol(App(), dict(OFFLINE, signing_dir=signing_dir(tmp_path, pem, "sd2"), service_token_roles_required="true"))
    assert sum(ROLES_WARNING in r.getMessage() for r in caplog.records) == 0


def test_the_service_roles_warning_is_logged_once_with_online_validation(pem, keystone_thread, tmp_path, caplog):
    """With service credentials and keystonemiddleware installed, other tokens are validated online
    by keystonemiddleware, which logs the warning itself: kstoken does not log it again."""
    pytest.importorskip("keystonemiddleware.auth_token")
    caplog.set_level(logging.WARNING)
    mw = AuthProtocol(App(), keystone_thread.conf(signing_dir=signing_dir(tmp_path, pem), kstoken_revocation="off"))
    assert mw.engine.online, mw.engine.online_reason
    assert sum(ROLES_WARNING in r.getMessage() for r in caplog.records) == 1, [r.getMessage() for r in caplog.records]


def test_debug_lines_for_accepted_cached_and_refused_tokens(pem, tmp_path, caplog):
    mw = AuthProtocol(App(), dict(OFFLINE, signing_dir=signing_dir(tmp_path, pem)))
    token = sign(pem, body())
    expired = sign(pem, body("old", expires=PAST))
    caplog.set_level(logging.DEBUG, logger="kstoken.middleware")
    assert status(mw, token) == 200
    assert status(mw, "  " + token + "\t") == 200  # the same token, padded: from the cache
    assert status(mw, expired) == 401
    lines = [r.getMessage() for r in ours(caplog) if r.levelno == logging.DEBUG]
    tid = hashlib.sha256(token.encode()).hexdigest()[:8]
    assert "user token %s accepted (validated now)" % tid in lines, lines
    assert "user token %s accepted (the process cache)" % tid in lines, lines
    eid = hashlib.sha256(expired.encode()).hexdigest()[:8]
    assert any(line.startswith("user token %s refused at expiry: " % eid) for line in lines), lines
    text = "\n".join(r.getMessage() for r in caplog.records)
    for t in (token, expired):
        assert t not in text and t[:40] not in text  # never the token, nor a prefix of it
    # Not at INFO: nothing is computed or logged per accepted token.
    caplog.clear()
    caplog.set_level(logging.INFO, logger="kstoken.middleware")
    assert status(mw, token) == 200
    assert not ours(caplog)
