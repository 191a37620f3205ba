"""mod_kstoken and kstoken.middleware sharing memcached in keystonemiddleware's format, for each
memcache_security_strategy (None, MAC, ENCRYPT), on two real memcached servers: a token the module
validated is a cache hit for a Python process running kstoken.middleware (its Engine, here in the
test's process), and one the Python process validated is a hit for the module; every entry is on the
server python-memcached chooses, stored with flags 0 as pymemcache stores bytes, and (without
encryption, whose IV is random) byte for byte what the Python process would store."""

import os
import socket
import sys
from typing import Optional, Tuple

import pytest

from testbed import module
from testbed.module import http, received
from testbed.procs import wait_until
from testbed.tokens import KeystonePki, v3_body

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = "sekrit-memcache-key"


@pytest.fixture(scope="module")
def memcacheds(workdir):
    sys.path.insert(0, os.path.join(REPO, "python", "tests", "middleware"))
    from procs import Memcached

    servers = [Memcached(workdir).start() for _ in range(2)]
    try:
        yield servers
    finally:
        for m in servers:
            m.stop()


@pytest.fixture(scope="module")
def keystone_pki(workdir, kstoken_cli):
    return KeystonePki(kstoken_cli, os.path.join(workdir, "memcached-keystone-pki"))


@pytest.fixture(scope="module")
def signing(workdir, keystone_pki):
    from conftest import HTTPD_USER

    certs = {"signing_cert.pem": keystone_pki.signing_cert, "cacert.pem": keystone_pki.ca_cert}
    return (module.signing_dir(os.path.join(workdir, "memcached-signing"), HTTPD_USER, certs),
            module.signing_dir(os.path.join(workdir, "memcached-signing-python"), "root", certs))


def raw_get(port: int, key: str) -> Optional[Tuple[int, bytes]]:
    """(flags, value) stored under ``key`` on the memcached at ``port``, or None."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"get " + key.encode() + b"\r\n")
        data = b""
        while not data.endswith(b"END\r\n"):
            chunk = s.recv(1 << 20)
            assert chunk, data
            data += chunk
    if data == b"END\r\n":
        return None
    head, rest = data.split(b"\r\n", 1)
    _, name, flags, length = head.split()[:4]
    assert name.decode() == key
    return int(flags), rest[:int(length)]


@pytest.mark.parametrize("strategy", ["None", "MAC", "ENCRYPT"])
def test_module_and_middleware_share_memcached(workdir, kstoken_module, backend, memcacheds, keystone_pki, signing,
                                              strategy):
    from conftest import HTTPD_USER
    from kstoken import _kstoken
    from kstoken.middleware._engine import Engine
    from kstoken.middleware._memcache import python_memcached_hash

    servers = ",".join(m.server for m in memcacheds)
    extra = "KstokenMemcachedServers %s\nKstokenMemcacheSecurityStrategy %s\nKstokenMemcacheSocketTimeout 1" % (
        servers, strategy)
    if strategy != "None":
        extra += "\nKstokenMemcacheSecretKey " + SECRET
    cls = module.module_instance_class()
    instance = cls(os.path.join(workdir, "httpd-memcached-" + strategy), HTTPD_USER, "event", kstoken_module,
                   backend, module.directives(signing[0]), server_extra=extra).start()
    conf = {"signing_dir": signing[1], "memcached_servers": servers, "memcache_security_strategy": strategy,
            "www_authenticate_uri": module.WWW_AUTHENTICATE, "service_token_roles_required": "true"}
    if strategy != "None":
        conf["memcache_secret_key"] = SECRET
    engine = Engine(conf)
    # a Python authenticator that names the keys and computes the values kstoken.middleware stores
    oracle = _kstoken.Authenticator(hash_algorithms=["md5"], shared_cache=True,
                                    memcache_security_strategy=None if strategy == "None" else strategy,
                                    memcache_secret_key=SECRET)
    with open(keystone_pki.signing_cert, "rb") as f, open(keystone_pki.ca_cert, "rb") as g:
        oracle.set_certificates(f.read(), g.read())
    try:
        assert "second-level token cache: memcached %s (%s)" % (servers, strategy) in instance.error_log()

        def module_get(token: str) -> None:
            status, _, body = http(instance.url("/api/x"), {"X-Auth-Token": token})
            assert status == 200 and received(body)["x-user-name"] == "alice", body

        # the module validates and stores: the Python process finds it
        token_a = keystone_pki.sign(v3_body("memcached-a-" + strategy))
        module_get(token_a)
        wait_until(lambda: "user token validated" in instance.error_log(), 10, "the module's validation")
        out = engine.authenticate(token_a, None)
        assert out.decision == "pass" and out.user_source == "shared_cache", (out.decision, out.user_source)

        # the Python process validates and stores: the module finds it
        token_b = keystone_pki.sign(v3_body("memcached-b-" + strategy))
        out = engine.authenticate(token_b, None)
        assert out.user_source == "validated"
        # pymemcache's set is `noreply`: wait for memcached to have it before asking the module
        key_b = oracle.authenticate(token_b).shared_keys[0]
        server_b = memcacheds[python_memcached_hash(key_b.encode()) % len(memcacheds)]
        wait_until(lambda: raw_get(server_b.port, key_b), 10, "the Python process's entry")
        module_get(token_b)
        wait_until(lambda: "user token from the shared cache" in instance.error_log(), 10, "the module's hit")

        # where and how the module stores: python-memcached's server, flags 0, the Python bytes
        placed = [0, 0]
        for i in range(40):
            if min(placed) >= 2 and i >= 8:
                break
            token = keystone_pki.sign(v3_body("memcached-%d-%s" % (i, strategy)))
            module_get(token)
            first = oracle.authenticate(token)
            assert first.decision == "need_shared", first.decision
            key = first.shared_keys[0]
            expected_value = dict(oracle.authenticate(token, shared={}).shared_store)[key]
            index = python_memcached_hash(key.encode()) % len(memcacheds)
            stored = wait_until(lambda: raw_get(memcacheds[index].port, key), 10, "the entry %s" % key)
            assert raw_get(memcacheds[1 - index].port, key) is None
            flags, value = stored
            assert flags == 0
            if strategy == "ENCRYPT":
                assert value != expected_value and len(value) == len(expected_value)
            else:
                assert value == expected_value
            placed[index] += 1
        # both servers were chosen for some keys
        assert min(placed) >= 2, placed
    finally:
        engine.close()
        instance.stop()


def test_a_memcached_that_stops_answering_is_a_miss_within_the_timeout(workdir, kstoken_module, backend,
                                                                        keystone_pki, signing):
    """A server that accepts connections and never answers: every request is answered (validated)
    within the socket timeout, and the server is then left alone."""
    from conftest import HTTPD_USER

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(64)
    port = silent.getsockname()[1]
    cls = module.module_instance_class()
    instance = cls(os.path.join(workdir, "httpd-memcached-silent"), HTTPD_USER, "event", kstoken_module, backend,
                   module.directives(signing[0]),
                   server_extra="KstokenMemcachedServers 127.0.0.1:%d\nKstokenMemcacheSocketTimeout 0.5\n"
                                "KstokenMemcacheDeadRetry 30" % port).start()
    try:
        import time

        total = 0.0
        for i in range(6):
            token = keystone_pki.sign(v3_body("silent-%d" % i))
            started = time.monotonic()
            status, _, body = http(instance.url("/api/x"), {"X-Auth-Token": token}, timeout=10)
            elapsed = time.monotonic() - started
            total += elapsed
            assert status == 200 and received(body)["x-user-name"] == "alice"
            # one wait of at most the timeout (the get)
            assert elapsed < 1.5, (i, elapsed)
        # each of the two children waits once, then leaves the server alone
        assert total < 2 * 0.5 + 1.5, total
        log = instance.error_log()
        assert "mod_kstoken: memcached get at 127.0.0.1:%d failed" % port in log, log
    finally:
        instance.stop()
        silent.close()
