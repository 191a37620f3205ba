"""Fixtures for kstoken's own tests: the shared vectors, cert sets and throw-away PKIs."""

import json
import os
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
VECTORS = pathlib.Path(os.environ.get("KSTOKEN_VECTORS", ROOT.parent / "shared" / "vectors"))
CERT_SETS = ("keystoneclient/5.5.0", "keystoneclient/6.0.0", "keystonemiddleware/5.3.0")


def expected():
    with open(VECTORS / "EXPECTED.json") as f:
        return json.load(f)["files"]


def cert_paths(cert_set):
    base = VECTORS / cert_set / "examples" / "pki"
    return (
        str(base / "certs" / "signing_cert.pem"),
        str(base / "certs" / "cacert.pem"),
        str(base / "private" / "signing_key.pem"),
    )


def token_of(name, facts):
    text = (VECTORS / name).read_text()
    if facts["form"] == "pkiz":
        return text.strip()
    from kstoken import cms

    return cms.cms_to_token(text)


@pytest.fixture(scope="session")
def vectors():
    return expected()


@pytest.fixture(scope="session")
def pki(tmp_path_factory):
    """A throw-away keystone-style PKI written to files."""
    import kstoken

    d = tmp_path_factory.mktemp("pki")
    p = kstoken.generate_pki(key_bits=2048)
    paths = {}
    for name, data in p.items():
        (d / (name + ".pem")).write_bytes(data)
        paths[name] = str(d / (name + ".pem"))
    paths["pem"] = p
    return paths


# keystonemiddleware is not installed in the test venv (its sdist tree is run in place by
# scripts/test-python.sh); KSTOKEN_TEST_KSM_TREE points the compat tests at one such tree.
if os.environ.get("KSTOKEN_TEST_KSM_TREE"):
    import sys

    sys.path.append(os.environ["KSTOKEN_TEST_KSM_TREE"])
