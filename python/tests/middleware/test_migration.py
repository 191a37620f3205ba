"""A keystonemiddleware 6.x configuration moved over unchanged (issue 18, item 2): service credentials
put kstoken into the revocation-list mode, and current keystone answers 404 or 410 for the list. That
means "this keystone has no lists": one WARNING naming ``kstoken_revocation``, then PKI tokens are
validated offline as 6.x does (200), not refused as unavailable (503). Only a keystone that is down
or answers 5xx is unavailable."""

import logging

import pytest

pytestmark = pytest.mark.unit

pytest.importorskip("keystoneauth1")

import kstoken  # noqa: E402
from inprocess import App, body, sign, signing_dir, status, tamper  # noqa: E402
from kstoken.middleware import AuthProtocol  # noqa: E402

LIST = "GET /v3/auth/tokens/OS-PKI/revoked"


@pytest.fixture
def keystone(keystone_thread):
    return keystone_thread


def ksm6_conf(keystone, sd):
    """What a keystonemiddleware 6.1.0 service has in [keystone_authtoken]: the service user, the
    public endpoint, service token roles required, no kstoken option (its own log name, so that only
    its records are counted)."""
    return keystone.conf(signing_dir=sd, service_token_roles_required="true", log_name="nova.authtoken")


@pytest.mark.parametrize("answer", [410, 404])
def test_a_keystone_without_lists_validates_offline_with_one_warning(pem, keystone, tmp_path, caplog, answer):
    keystone.faults[LIST] = {"status": answer}
    mw = AuthProtocol(App(), ksm6_conf(keystone, signing_dir(tmp_path, pem)))
    assert mw.engine.revocation  # credentials: the list mode, as 5.x had it
    caplog.set_level(logging.WARNING)
    caplog.clear()
    token = sign(pem, body())
    assert status(mw, token) == 200
    assert status(mw, sign(pem, body("bob"))) == 200
    assert status(mw, tamper(token)) == 401
    mw.engine.lists.refresh(mw.engine.thread)  # the next refresh: still none, said once
    assert status(mw, sign(pem, body("carol"))) == 200
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING and r.name == "nova.authtoken"]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]
    message = warnings[0].getMessage()
    assert "kstoken_revocation = off" in message and str(answer) in message, message
    assert mw.stats()["revocation_list"]["keystone_has_none"] is True
    assert keystone.count(LIST) >= 2


def test_revocations_seen_before_still_hold(pem, keystone, tmp_path):
    """A keystone that served a list and then answers 410: what was revoked stays revoked."""
    revoked = sign(pem, body("mallory"))
    keystone.revoked = [{"id": kstoken.hash_token(revoked)[0], "expires": "2099-01-01T00:00:00Z"}]
    mw = AuthProtocol(App(), keystone.conf(signing_dir=signing_dir(tmp_path, pem), revocation_cache_time="60"))
    assert status(mw, revoked) == 401
    keystone.faults[LIST] = {"status": 410}
    mw.engine.lists.refresh(mw.engine.thread)
    assert status(mw, revoked) == 401
    assert status(mw, sign(pem, body())) == 200
    # keystone serves lists again: enforced with their period again
    keystone.faults.clear()
    mw.engine.lists.refresh(mw.engine.thread)
    assert mw.stats()["revocation_list"]["keystone_has_none"] is False
    assert status(mw, revoked) == 401


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 503}, "down"])
def test_a_keystone_down_or_failing_is_unavailable(pem, keystone, tmp_path, fault):
    if fault == "down":
        keystone.stop()
    else:
        keystone.faults[LIST] = fault
    mw = AuthProtocol(App(), keystone.conf(signing_dir=signing_dir(tmp_path, pem), kstoken_request_fetch_timeout="2"))
    assert status(mw, sign(pem, body())) == 503
