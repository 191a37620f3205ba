"""kstoken.cms against the shared vectors (EXPECTED.json) and against keystoneclient's own functions."""

import hashlib
import json

import pytest

from conftest import CERT_SETS, VECTORS, cert_paths, expected, token_of
from kstoken import cms
from kstoken.exceptions import VerificationError

FILES = sorted(expected().items())
IDS = [name for name, _ in FILES]


@pytest.mark.parametrize("name,facts", FILES, ids=IDS)
def test_hashes(name, facts):
    token = token_of(name, facts)
    assert len(token) == facts["token_len"]
    assert cms.cms_hash_token(token) == facts["token_md5"]
    assert cms.cms_hash_token(token, mode="sha256") == facts["token_sha256"]
    assert cms.cms_hash_token(token, mode="sha3_256") == hashlib.sha3_256(token.encode()).hexdigest()


@pytest.mark.parametrize("name,facts", FILES, ids=IDS)
@pytest.mark.parametrize("cert_set", CERT_SETS)
def test_verify_every_cert_set(name, facts, cert_set):
    token = token_of(name, facts)
    cert, ca, _ = cert_paths(cert_set)
    if facts["form"] == "pkiz":
        assert cms.is_pkiz(token) and not cms.is_asn1_token(token)

        def call():
            return cms.pkiz_verify(token, cert, ca)

    else:
        assert cms.is_asn1_token(token) and not cms.is_pkiz(token)

        def call():
            return cms.verify_token(token, cert, ca)

    if cert_set in facts["verifies_with"]:
        content = call()
        assert isinstance(content, bytes)
        assert len(content) == facts["content_len"]
        assert hashlib.sha256(content).hexdigest() == facts["content_sha256"]
        assert (b"\r\n" in content) == facts["content_has_crlf"]
        if facts["content_json_equals_sibling_json"]:
            sibling = (VECTORS / name).with_suffix(".json")
            assert json.loads(content) == json.loads(sibling.read_text())
    else:
        with pytest.raises(VerificationError) as info:
            call()
        assert info.value.returncode == 4
        assert info.value.reason in ("content verify error", "signer certificate not found")


@pytest.mark.parametrize("name,facts", [f for f in FILES if f[1]["form"] == "pki"], ids=lambda x: x if isinstance(x, str) else "")
def test_pem_round_trip(name, facts):
    pem = (VECTORS / name).read_text()
    token = cms.cms_to_token(pem)
    assert cms.token_to_cms(token) == pem


def test_helpers_edge_cases():
    assert cms.token_to_cms("") == "-----BEGIN CMS-----\n-----END CMS-----\n"
    assert cms.cms_hash_token("MIIxyz") == "009f3e7fda5ad50dae0c99661213dfa0"
    assert cms.cms_hash_token("PKIZ_") == "2dd605975ca246cd65b16d252f6c8203"
    assert cms.cms_hash_token(None) is None
    assert cms.cms_hash_token("a-uuid-token") == "a-uuid-token"
    with pytest.raises(ValueError):
        cms.cms_hash_token("MIIxyz", mode="nonesuch")
    with pytest.raises(TypeError):
        cms.is_pkiz(b"PKIZ_")
    with pytest.raises(TypeError):
        cms.token_to_cms(b"MII")
    with pytest.raises(TypeError):
        cms.cms_hash_token(b"PKIZ_")
    assert cms.is_asn1_token("MIIabc") and not cms.is_asn1_token("mii")
    with pytest.warns(DeprecationWarning):
        assert cms.is_ans1_token("MIIabc")
    with pytest.raises(ValueError):
        cms.cms_verify("x", "a", "b", inform="XML")
    with pytest.raises(LookupError):
        cms.cms_verify("x", "a", "b", inform=cms.PKIZ_CMS_FORM)


def test_sign_byte_identical_to_vectors():
    """Re-signing a vector's content with its key reproduces the vector byte for byte."""
    cert, ca, key = cert_paths("keystoneclient/6.0.0")
    name = "keystoneclient/6.0.0/examples/pki/cms/auth_token_scoped.pem"
    pem = (VECTORS / name).read_text()
    content = cms.verify_token(cms.cms_to_token(pem), cert, ca)
    # the content is CRLF-canonicalised; signing the JSON file's text reproduces it
    data = (VECTORS / name).with_suffix(".json").read_text()
    signed = cms.cms_sign_text(data, cert, key)
    if signed == pem:
        assert cms.cms_sign_token(data, cert, key) == cms.cms_to_token(pem)
    assert cms.cms_verify(signed, cert, ca) == content
