"""kstoken.cms against the original keystoneclient.common.cms functions (real openssl)."""

import inspect
import shutil
import subprocess

import pytest

from conftest import VECTORS, cert_paths
from kstoken import cms
from kstoken import exceptions as kexc

ksc_cms = pytest.importorskip("keystoneclient.common.cms")
ksc_exceptions = pytest.importorskip("keystoneclient.exceptions")

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl CLI")

PUBLIC = [
    "PKI_ASN1_PREFIX", "PKIZ_PREFIX", "PKIZ_CMS_FORM", "PKI_ASN1_FORM",
    "DEFAULT_TOKEN_DIGEST_ALGORITHM", "OpensslCmsExitStatus", "set_subprocess", "cms_verify",
    "is_pkiz", "pkiz_sign", "pkiz_uncompress", "pkiz_verify", "token_to_cms", "verify_token",
    "is_asn1_token", "is_ans1_token", "cms_sign_text", "cms_sign_data", "cms_sign_token",
    "cms_to_token", "cms_hash_token",
]

KSC = cert_paths("keystoneclient/6.0.0")
OLD = cert_paths("keystoneclient/5.5.0")
DATA = (VECTORS / "keystoneclient/6.0.0/examples/pki/cms/auth_token_scoped.json").read_text()


@pytest.fixture(autouse=True)
def stock():
    """Make sure the keystoneclient functions are the originals (not patched) during these tests."""
    from kstoken import compat

    compat.unpatch()
    assert ksc_cms.cms_verify is not cms.cms_verify


def _params(f):
    """Names, kinds and defaults of the parameters (annotations aside)."""
    sig = inspect.signature(inspect.unwrap(f))
    return [(p.name, p.kind, p.default) for p in sig.parameters.values()]


@pytest.mark.parametrize("name", PUBLIC)
def test_same_public_names_and_signatures(name):
    ours = getattr(cms, name)
    theirs = getattr(ksc_cms, name)
    if callable(theirs) and not isinstance(theirs, type):
        assert _params(ours) == _params(theirs), name
    elif isinstance(theirs, type):
        assert {k: v for k, v in vars(theirs).items() if k.isupper()} == {
            k: v for k, v in vars(ours).items() if k.isupper()
        }
    else:
        assert ours == theirs
    assert cms.subprocess is subprocess


@pytest.mark.parametrize("digest", ["sha256", "sha1", "sha512"])
@pytest.mark.parametrize("data", [DATA, DATA.encode(), "a\nb\r\nc\n", "", "é unicode ✓"])
def test_sign_identical(digest, data):
    cert, _, key = KSC
    assert cms.cms_sign_data(data, cert, key, message_digest=digest) == ksc_cms.cms_sign_data(
        data, cert, key, message_digest=digest
    )
    assert cms.cms_sign_data(data, cert, key, "DER", digest) == ksc_cms.cms_sign_data(
        data, cert, key, "DER", digest
    )
    assert cms.cms_sign_text(data, cert, key, digest) == ksc_cms.cms_sign_text(data, cert, key, digest)
    assert cms.cms_sign_token(data, cert, key, digest) == ksc_cms.cms_sign_token(data, cert, key, digest)
    for level in (1, 6, 9):
        assert cms.pkiz_sign(data, cert, key, level, digest) == ksc_cms.pkiz_sign(
            data, cert, key, level, digest
        )


def test_return_types():
    cert, ca, key = KSC
    assert type(cms.cms_sign_data(DATA, cert, key)) is str
    assert type(cms.cms_sign_data(DATA, cert, key, "DER")) is bytes
    token = cms.cms_sign_token(DATA, cert, key)
    pkiz = cms.pkiz_sign(DATA, cert, key)
    assert type(cms.verify_token(token, cert, ca)) is bytes
    assert type(cms.pkiz_verify(pkiz, cert, ca)) is bytes
    assert type(cms.pkiz_uncompress(pkiz)) is bytes
    assert type(cms.token_to_cms(token)) is str


def test_verify_identical():
    cert, ca, key = KSC
    for data in (DATA, "x\ny\n", "\x00nul"):
        pem = ksc_cms.cms_sign_text(data, cert, key)
        token = ksc_cms.cms_to_token(pem)
        pkiz = ksc_cms.pkiz_sign(data, cert, key)
        assert cms.cms_verify(pem, cert, ca) == ksc_cms.cms_verify(pem, cert, ca)
        assert cms.cms_verify(pem.encode(), cert, ca) == ksc_cms.cms_verify(pem.encode(), cert, ca)
        assert cms.verify_token(token, cert, ca) == ksc_cms.verify_token(token, cert, ca)
        assert cms.pkiz_verify(pkiz, cert, ca) == ksc_cms.pkiz_verify(pkiz, cert, ca)
        assert cms.pkiz_uncompress(pkiz) == ksc_cms.pkiz_uncompress(pkiz)
        assert cms.token_to_cms(token) == ksc_cms.token_to_cms(token)
        assert cms.cms_to_token(pem) == ksc_cms.cms_to_token(pem)
        for mode in ("md5", "sha1", "sha256", "sha512", "sha3_256"):
            assert cms.cms_hash_token(token, mode) == ksc_cms.cms_hash_token(token, mode)
            assert cms.cms_hash_token(pkiz, mode) == ksc_cms.cms_hash_token(pkiz, mode)


def test_verification_failures_like_stock():
    cert, ca, key = KSC
    old_cert, old_ca, old_key = OLD
    token = cms.cms_sign_token(DATA, cert, key)
    # flipped content byte -> content verify error; wrong signer cert -> signer not found
    pem = cms.token_to_cms(token)
    cases = [
        (pem, old_cert, ca),  # wrong signing cert (different issuer/serial)
        (pem, cert, old_ca),  # wrong CA
    ]
    for data, c, a in cases:
        with pytest.raises(subprocess.CalledProcessError) as stock_info:
            ksc_cms.cms_verify(data, c, a)
        with pytest.raises(kexc.VerificationError) as ours:
            cms.cms_verify(data, c, a)
        assert isinstance(ours.value, subprocess.CalledProcessError)
        assert ours.value.returncode == stock_info.value.returncode == 4
        assert ours.value.cmd == "openssl"
        assert ours.value.reason in stock_info.value.output, (ours.value.reason, stock_info.value.output)


def test_missing_files_like_stock():
    cert, ca, key = KSC
    token = cms.cms_sign_token(DATA, cert, key)
    pem = cms.token_to_cms(token)
    for c, a in ((cert, "/no/such/ca"), ("/no/such/cert", ca)):
        with pytest.raises(ksc_exceptions.CertificateConfigError):
            ksc_cms.cms_verify(pem, c, a)
        with pytest.raises(ksc_exceptions.CertificateConfigError) as ours:
            cms.cms_verify(pem, c, a)
        assert isinstance(ours.value, kexc.CertificateConfigError)
        assert ours.value.output and "/no/such/" in ours.value.output
        assert str(ours.value) == "Unable to load certificate."


def test_signing_failures_like_stock():
    cert, ca, key = KSC
    old_cert, _, old_key = OLD
    cases = [
        (cert, "/no/such/key", "sha256"),
        ("/no/such/cert", key, "sha256"),
        (cert, old_key, "sha256"),  # key does not match
        (cert, key, "nonesuch"),  # unknown digest
    ]
    for c, k, md in cases:
        with pytest.raises(subprocess.CalledProcessError) as stock_info:
            ksc_cms.cms_sign_data(DATA, c, k, message_digest=md)
        with pytest.raises(subprocess.CalledProcessError) as ours:
            cms.cms_sign_data(DATA, c, k, message_digest=md)
        assert isinstance(ours.value, kexc.SigningError)
        assert ours.value.returncode == stock_info.value.returncode, (c, k, md)
        assert ours.value.cmd == "openssl" and ours.value.output is None


def test_malformed_is_cms_error():
    """Deliberate difference: stock on OpenSSL 3 says CertificateConfigError, kstoken CMSError."""
    cert, ca, _ = KSC
    for garbage in ("garbage", "-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n", b""):
        with pytest.raises(ksc_exceptions.CMSError) as ours:
            cms.cms_verify(garbage, cert, ca)
        assert isinstance(ours.value, kexc.CMSError) and ours.value.output
        with pytest.raises((ksc_exceptions.CertificateConfigError, ksc_exceptions.CMSError)):
            ksc_cms.cms_verify(garbage, cert, ca)


def test_pkiz_uncompress_errors_are_binascii_errors():
    import binascii

    with pytest.raises(binascii.Error):
        cms.pkiz_uncompress("PKIZ_!!!")
    with pytest.raises(kexc.CMSError):
        cms.pkiz_uncompress("PKIZ_eJw=")
    with pytest.raises((TypeError, AttributeError)):
        cms.pkiz_uncompress(b"PKIZ_abc")
