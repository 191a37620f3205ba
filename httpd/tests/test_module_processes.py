"""mod_kstoken under each of httpd's MPMs (prefork, worker, event) and across graceful restarts: the
per-child state (authenticators, signing directories) made in child_init works in every child and
thread at once, the second-level cache (shmcb) is shared by the children, and a graceful restart
with a changed configuration serves every request, before, during and after it, with the answer the
configuration in force gives, and no child dies on a signal."""

import concurrent.futures
import os
import signal
import time

import pytest

from testbed import module
from testbed.module import http, received
from testbed.procs import wait_until
from testbed.tokens import KeystonePki, v3_body

MPMS = ["prefork", "worker", "event"]
USERS = ["alice", "bob", "carol", "dave"]


@pytest.fixture(scope="module")
def keystone_pki(workdir, kstoken_cli):
    return KeystonePki(kstoken_cli, os.path.join(workdir, "processes-keystone-pki"))


@pytest.fixture(scope="module")
def signing(workdir, keystone_pki):
    from conftest import HTTPD_USER

    return module.signing_dir(os.path.join(workdir, "processes-signing"), HTTPD_USER,
                              {"signing_cert.pem": keystone_pki.signing_cert, "cacert.pem": keystone_pki.ca_cert})


@pytest.fixture(scope="module")
def user_tokens(keystone_pki):
    """A token per user: a request answered with another user's headers would show."""
    return {user: keystone_pki.sign(v3_body("processes-" + user, user=user)) for user in USERS}


def start(workdir, kstoken_module, backend, signing, mpm, name, more="", **kwargs):
    from conftest import HTTPD_USER

    cls = module.module_instance_class()
    instance = cls(os.path.join(workdir, "httpd-" + name), HTTPD_USER, mpm, kstoken_module, backend,
                   module.directives(signing) + more, **kwargs)
    return instance.start()


def fatal_lines(log: str):
    """Error-log lines of children dying (a signal) or of the module failing to set up."""
    return [line for line in log.splitlines() if "exit signal" in line or "AH00052" in line
            or "mod_kstoken: cannot" in line or "[kstoken:crit]" in line]


def one(instance, tokens, i):
    """One request: a valid token (user i) or an invalid one; (expected, what happened)."""
    user = USERS[i % len(USERS)]
    if i % 5 == 4:
        status, _, body = http(instance.url("/api/x"), {"X-Auth-Token": "not-a-token"})
        return ("401", str(status) if status != 401 or b'"code": 401' not in body else "401")
    status, _, body = http(instance.url("/api/x"), {"X-Auth-Token": tokens[user], "X-User-Name": "mallory"})
    if status != 200:
        return ("200 " + user, str(status))
    return ("200 " + user, "200 " + received(body).get("x-user-name", "?"))


@pytest.mark.parametrize("mpm", MPMS)
def test_concurrent_requests_under_each_mpm(workdir, kstoken_module, backend, signing, user_tokens, mpm):
    instance = start(workdir, kstoken_module, backend, signing, mpm, "mpm-" + mpm)
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            results = list(pool.map(lambda i: one(instance, user_tokens, i), range(200)))
        wrong = [r for r in results if r[0] != r[1]]
        assert not wrong, wrong[:5]
        log = instance.error_log()
        assert not fatal_lines(log), fatal_lines(log)
        # every child loaded the certificates in child_init
        assert "mod_kstoken: loaded the signing and CA certificates of %s" % signing in log
    finally:
        instance.stop()


@pytest.mark.parametrize("mpm", MPMS)
def test_a_graceful_restart_with_a_new_configuration(workdir, kstoken_module, backend, signing, user_tokens, mpm):
    instance = start(workdir, kstoken_module, backend, signing, mpm, "graceful-" + mpm)
    stop = time.monotonic() + 3600
    try:
        def load():
            out = []
            i = 0
            while time.monotonic() < stop:
                out.append(one(instance, user_tokens, i))
                i += 1
            return out

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            loads = [pool.submit(load) for _ in range(4)]
            time.sleep(1.0)
            # a location more, delaying the decision, and the cache off: then a graceful restart
            instance.extra = """<Location /api/delayed/>
    KstokenDelayAuthDecision On
    KstokenTokenCacheTime -1
</Location>"""
            instance.write()
            os.kill(instance.pid(), signal.SIGUSR1)
            wait_until(lambda: instance.error_log().count("resuming normal operations") >= 2, 30,
                       "httpd's graceful restart")
            time.sleep(1.5)
            stop = time.monotonic()
            results = [r for f in loads for r in f.result()]
        wrong = [r for r in results if r[0] != r[1]]
        assert len(results) > 40 and not wrong, (len(results), wrong[:5])
        # the new configuration is in force
        status, _, body = http(instance.url("/api/delayed/x"), {"X-Auth-Token": "not-a-token"})
        assert status == 200 and received(body) == {"x-identity-status": "Invalid"}, body
        status, _, body = http(instance.url("/api/x"), {"X-Auth-Token": user_tokens["bob"]})
        assert status == 200 and received(body)["x-user-name"] == "bob"
        log = instance.error_log()
        assert log.count("mod_kstoken 0.2.0 (libkstoken 0.2.0)") >= 2, log
        assert not fatal_lines(log), fatal_lines(log)
    finally:
        stop = time.monotonic()
        instance.stop()


def test_the_shared_cache_serves_a_token_to_new_children(workdir, kstoken_module, backend, signing, user_tokens):
    """Prefork children serving one connection each: every request after the first comes to a new
    child, with an empty process cache: the token is read from shmcb, never validated again."""
    instance = start(workdir, kstoken_module, backend, signing, "prefork", "shared-cache",
                     server_extra="MaxConnectionsPerChild 1")
    try:
        token = user_tokens["carol"]
        for _ in range(6):
            status, _, body = http(instance.url("/api/x"), {"X-Auth-Token": token})
            assert status == 200 and received(body)["x-user-name"] == "carol"
        wait_until(lambda: instance.error_log().count("user token from the shared cache") >= 5, 10,
                   "the children's shared-cache hits")
        log = instance.error_log()
        assert log.count("user token validated") == 1, log
        assert "user token from the process cache" not in log
        pids = {line.split("[pid ")[1].split(":")[0] for line in log.splitlines()
                if "user token from the shared cache" in line}
        assert len(pids) >= 5, pids
        assert not fatal_lines(log)
    finally:
        instance.stop()


def test_without_a_cache_every_request_validates(workdir, kstoken_module, backend, signing, user_tokens):
    instance = start(workdir, kstoken_module, backend, signing, "event", "no-cache",
                     more="\n    KstokenTokenCacheTime -1", server_extra="KstokenCache none")
    try:
        for _ in range(4):
            status, _, _ = http(instance.url("/api/x"), {"X-Auth-Token": user_tokens["dave"]})
            assert status == 200
        wait_until(lambda: instance.error_log().count("user token validated") == 4, 10, "four validations")
        log = instance.error_log()
        assert "second-level token cache: none" in log
        assert "from the process cache" not in log and "from the shared cache" not in log
    finally:
        instance.stop()
