"""Argument mistakes raise typed, clear errors (issue 14, items 8 and 10).

* An ``Iterable[str]`` parameter refuses a bare ``str`` (``is_revoked("<hash>")`` used to look up
  single characters and answer "not revoked" for a revoked hash); ``str | Iterable[str]``
  parameters (``hash_algorithms``, ``hash_token``'s ``algorithms``) take a bare ``str`` as one name.
* A kstoken object parameter given something else is a ``TypeError``, not an ``AttributeError``.
* A path with a NUL byte is a configuration error (``CertificateConfigError``; ``SigningError`` with
  the unreadable-file code in ``kstoken.cms``'s signing functions), as any unusable path.
* A token ``str`` with a lone surrogate is a malformed token (``MalformedTokenError``, a
  ``CMSError``); the validation pipeline rejects it like any malformed token.
* ``generate_pki``'s ``valid_days`` is checked up front: ``InvalidArgumentError`` (a ``ValueError``).
"""

import json

import pytest

import kstoken
from kstoken import cms
from kstoken.exceptions import (
    CertificateConfigError,
    CMSError,
    InvalidArgumentError,
    MalformedTokenError,
    SigningError,
    TokenRejected,
)


@pytest.fixture(scope="module")
def objects(pki):
    signer = kstoken.Signer(pki["signing_cert"], pki["signing_key"])
    verifier = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"])
    token = signer.sign_pki(json.dumps({"token": {"audit_ids": ["a1"], "expires_at": "2099-01-01T00:00:00Z"}}))
    return signer, verifier, token


# --- Iterable[str] parameters ------------------------------------------------------------------


def test_is_revoked_refuses_a_bare_str():
    revoked = kstoken.hash_token("MIIrevoked")[0]
    rl = kstoken.RevocationList([{"id": revoked}, {"audit_id": "audit-1"}])
    assert rl.is_revoked([revoked]) and rl.is_revoked(hashes=[], audit_ids=["audit-1"])
    assert rl.is_revoked((h for h in [revoked])) and rl.is_revoked({revoked})
    for bad in (revoked, revoked.encode(), bytearray(b"abc")):
        with pytest.raises(TypeError, match="hashes must be an iterable of str"):
            rl.is_revoked(bad)
    with pytest.raises(TypeError, match="audit_ids must be an iterable of str"):
        rl.is_revoked([], "audit-1")
    with pytest.raises(TypeError, match="mapping"):
        rl.is_revoked({revoked: True})
    with pytest.raises(TypeError, match="only str"):
        rl.is_revoked([revoked.encode()])
    with pytest.raises(TypeError):
        rl.is_revoked(42)


def test_revocation_list_entries_must_be_an_iterable_of_dicts():
    with pytest.raises(TypeError, match="bare dict"):
        kstoken.RevocationList({"id": "abc"})
    with pytest.raises(TypeError, match="bare str"):
        kstoken.RevocationList("abc")
    with pytest.raises(TypeError, match="must be a dict"):
        kstoken.RevocationList(["abc"])
    assert len(kstoken.RevocationList(iter([{"id": "abc"}]))) == 1


def test_algorithm_parameters_take_one_name_or_an_iterable_of_names(pki):
    token = "MIIabc"
    assert kstoken.hash_token(token, "sha256") == kstoken.hash_token(token, ["sha256"])
    assert len(kstoken.hash_token(token, ("md5", "sha256"))) == 2
    v = kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], hash_algorithms="sha256")
    assert v.hash_algorithms == ("sha256",)
    for bad in (b"md5", [b"md5"], {"md5": 1}, 5):
        with pytest.raises(TypeError):
            kstoken.hash_token(token, bad)
        with pytest.raises(TypeError):
            kstoken.Verifier(pki["signing_cert"], pki["ca_cert"], hash_algorithms=bad)
    with pytest.raises(ValueError):
        kstoken.hash_token(token, [])


def test_compat_unpatch_refuses_one_key():
    from kstoken import compat

    with pytest.raises(TypeError, match="one key"):
        compat.unpatch(("keystoneclient.common.cms", "", "cms_verify"))
    compat.unpatch([])


# --- kstoken objects -----------------------------------------------------------------------------


def test_kstoken_object_parameters_raise_type_error(objects):
    signer, verifier, token = objects
    body = kstoken.RevocationList([{"id": "x"}]).sign(signer)
    for bad in (None, "verifier", signer):
        with pytest.raises(TypeError, match="verifier must be a kstoken.Verifier"):
            kstoken.RevocationList.from_signed(body, bad)
        with pytest.raises(TypeError, match="verifier must be a kstoken.Verifier"):
            kstoken.validate(token, bad)
    for bad in ("x", [], verifier):
        with pytest.raises(TypeError, match="revocation_list must be a kstoken.RevocationList"):
            verifier.validate(token, revocation_list=bad)
    for bad in (None, verifier):
        with pytest.raises(TypeError, match="signer must be a kstoken.Signer"):
            kstoken.RevocationList().sign(bad)


# --- paths ---------------------------------------------------------------------------------------


def test_path_with_nul_is_a_configuration_error(pki, objects):
    _, _, token = objects
    nul = pki["signing_cert"] + "\0.pem"
    for path in (nul, nul.encode()):
        with pytest.raises(CertificateConfigError):
            kstoken.Verifier(path, pki["ca_cert"])
        with pytest.raises(CertificateConfigError):
            kstoken.Verifier(pki["signing_cert"], path)
        with pytest.raises(CertificateConfigError):
            kstoken.Signer(pki["signing_cert"], path)
        with pytest.raises(CertificateConfigError):
            cms.verify_token(token, path, pki["ca_cert"])
        with pytest.raises(CertificateConfigError):
            cms.verify_token(token, pki["signing_cert"], path)
        with pytest.raises(SigningError) as info:
            cms.cms_sign_token("x", pki["signing_cert"], path)
        assert info.value.returncode == cms.OpensslCmsExitStatus.INPUT_FILE_READ_ERROR


def test_non_path_types_are_type_errors(pki, objects):
    _, _, token = objects
    with pytest.raises(TypeError):
        kstoken.Verifier(3, pki["ca_cert"])
    with pytest.raises(TypeError):
        cms.verify_token(token, 3, pki["ca_cert"])


# --- lone surrogates -------------------------------------------------------------------------------

SURROGATE_TOKEN = "MII\ud800" + "A" * 40


def test_lone_surrogates_in_tokens_are_malformed_tokens(pki, objects):
    _, verifier, _ = objects
    calls = {
        "Verifier.verify": lambda: verifier.verify(SURROGATE_TOKEN),
        "Verifier.verify_json": lambda: verifier.verify_json(SURROGATE_TOKEN),
        "Verifier.hash": lambda: verifier.hash(SURROGATE_TOKEN),
        "hash_token": lambda: kstoken.hash_token(SURROGATE_TOKEN),
        "detect": lambda: kstoken.detect(SURROGATE_TOKEN),
        "cms.cms_verify": lambda: cms.cms_verify(
            "-----BEGIN CMS-----\n\ud800\n-----END CMS-----\n", pki["signing_cert"], pki["ca_cert"]
        ),
        "cms.verify_token": lambda: cms.verify_token(
            SURROGATE_TOKEN, pki["signing_cert"], pki["ca_cert"]
        ),
        "cms.pkiz_verify": lambda: cms.pkiz_verify(
            "PKIZ_\ud800", pki["signing_cert"], pki["ca_cert"]
        ),
        "cms.cms_hash_token": lambda: cms.cms_hash_token(SURROGATE_TOKEN),
        "cms.token_to_cms": lambda: cms.token_to_cms(SURROGATE_TOKEN),
        "cms.cms_to_token": lambda: cms.cms_to_token("-----BEGIN CMS-----\n\ud800"),
    }
    for name, call in calls.items():
        with pytest.raises(MalformedTokenError) as info:
            call()
        assert isinstance(info.value, CMSError), name
        assert "surrogate" in info.value.output, name


def test_validate_rejects_lone_surrogates_as_malformed(objects):
    _, verifier, _ = objects
    with pytest.raises(TokenRejected) as info:
        verifier.validate(SURROGATE_TOKEN)
    assert info.value.step == "signature" and isinstance(info.value.cause, CMSError)
    with pytest.raises(TokenRejected) as info:
        verifier.validate("uuid-\ud800")
    assert info.value.step == "detect"


def test_lone_surrogates_in_text_to_sign(objects):
    """Text to sign is neither a token nor configuration: str.encode's UnicodeEncodeError."""
    signer, _, _ = objects
    for sign in (signer.sign_pki, signer.sign_pkiz, signer.sign_cms, signer.sign_der):
        with pytest.raises(UnicodeEncodeError):
            sign("\ud800")
    assert signer.sign_pki("é") and signer.sign_cms(b"\xff")


# --- generate_pki ----------------------------------------------------------------------------------


@pytest.mark.parametrize("days", [0, -1, 2**32 - 1, 4_000_000])
def test_generate_pki_refuses_out_of_range_valid_days(days):
    with pytest.raises(InvalidArgumentError, match="valid_days must be between 1 and") as info:
        kstoken.generate_pki(key_bits=1024, valid_days=days)
    assert isinstance(info.value, ValueError)
    assert "openssl" not in str(info.value).lower()


def test_generate_pki_valid_days_type_and_range_ends():
    with pytest.raises(TypeError):
        kstoken.generate_pki(key_bits=1024, valid_days="10")
    with pytest.raises(TypeError):
        kstoken.generate_pki(key_bits=1024, valid_days=True)
    assert kstoken.generate_pki(key_bits=1024, valid_days=1)["signing_cert"]
    # the longest validity that still ends by 9999-12-31 works
    with pytest.raises(InvalidArgumentError) as info:
        kstoken.generate_pki(key_bits=1024, valid_days=10**9)
    longest = int(str(info.value).split("between 1 and ")[1].split(" ")[0])
    assert kstoken.generate_pki(key_bits=1024, valid_days=longest)["ca_cert"]
