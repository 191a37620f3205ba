"""Fixtures of the middleware suite: PKIs, the token set, the keystone stand-in process, the side
pairs of the differential, and a log directory kept for failures.

One suite, one keystone stand-in (``keystone_standin.py``: a process for the servers, a thread for
the in-process tests). Every test carries a marker saying where it runs: ``unit`` (in-process, the
wheel's own environment: scripts/test-python.sh), ``ksm6`` (keystonemiddleware 6.1.0: the
differential, the servers), ``servers`` (real processes) and ``ksm5`` (5.3.0: signed revocation
lists), the last three in scripts/test-middleware.sh's environments. The scripts select them with
``-m``, so what is not run is reported as deselected, never skipped. ``KSTOKEN_MW_PAIRS`` lists the
side pairs to compare (default all three).
"""

import logging
import os
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

# keystonemiddleware is not installed in the wheel's environment (scripts/test-python.sh runs its
# sdist tree in place); KSTOKEN_TEST_KSM_TREE points the in-process tests that compare with it there.
if os.environ.get("KSTOKEN_TEST_KSM_TREE"):
    sys.path.append(os.environ["KSTOKEN_TEST_KSM_TREE"])

from harness import quiet_logs  # noqa: E402
from standin import StandIn  # noqa: E402
from tokens import Pki, TokenSet  # noqa: E402

ALL_PAIRS = ("stock-stock", "stock-compat", "stock-kstoken")


@pytest.fixture(autouse=True)
def _stop_middlewares(request):
    """In-process tests: every middleware a test built stops its keystone thread when it ends."""
    yield
    if request.node.get_closest_marker("unit") is not None:
        from kstoken.middleware import _process

        for engine in _process.registered():
            engine.close()


@pytest.fixture(scope="session")
def pem(pki):
    """The session PKI as ``kstoken.generate_pki`` gives it (``signing_cert``, ``ca_cert``, ...)."""
    return pki.pem


@pytest.fixture
def keystone_thread(pem):
    """The keystone stand-in on a thread of this process, serving ``pem``."""
    from keystone_standin import InThread

    ks = InThread(pem)
    yield ks
    ks.close()


@pytest.fixture(autouse=True)
def _quiet_logs(request):
    """The differential and server tests log little (keystonemiddleware warns per PKI token); the
    in-process tests look at the logs, so theirs are left as they are."""
    if request.node.get_closest_marker("unit") is not None:
        yield
        return
    saved = quiet_logs()
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


def pairs():
    value = os.environ.get("KSTOKEN_MW_PAIRS")
    chosen = tuple(p.strip() for p in value.split(",") if p.strip()) if value else ALL_PAIRS
    for p in chosen:
        assert p in ALL_PAIRS, "unknown pair %r in KSTOKEN_MW_PAIRS (known: %s)" % (p, ", ".join(ALL_PAIRS))
    return chosen


def pytest_generate_tests(metafunc):
    if "pair" in metafunc.fixturenames:
        metafunc.parametrize("pair", pairs())


@pytest.fixture(scope="session")
def workdir():
    base = os.environ.get("KSTOKEN_MW_WORKDIR")
    if base:
        os.makedirs(base, exist_ok=True)
        return tempfile.mkdtemp(prefix="run-", dir=base)
    return tempfile.mkdtemp(prefix="kstoken-mw-")


@pytest.fixture(scope="session")
def logdir(workdir):
    d = os.path.join(workdir, "logs")
    os.makedirs(d, exist_ok=True)
    return d


@pytest.fixture(scope="session")
def pki(workdir):
    return Pki(os.path.join(workdir, "pki"))


@pytest.fixture(scope="session")
def other_pki(workdir):
    return Pki(os.path.join(workdir, "pki-other"))


@pytest.fixture(scope="session")
def tokens(pki, other_pki):
    return TokenSet(pki, other_pki)


@pytest.fixture(scope="session")
def standin(workdir, pki, logdir):
    """The keystone stand-in for the whole session (tests that change its state restore it)."""
    s = StandIn(os.path.join(workdir, "keystone"), pki, logdir)
    yield s
    s.stop()


def require_side(kind):
    """The side must be importable: a missing side is a failure with a reason, not a skip."""
    if kind == "kstoken":
        try:
            import kstoken.middleware  # noqa: F401
        except ImportError as e:
            pytest.fail("kstoken.middleware is not importable (%s); run only the pairs this tree has with "
                        "KSTOKEN_MW_PAIRS" % e)
    elif kind == "compat":
        import kstoken.compat  # noqa: F401
