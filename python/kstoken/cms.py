"""A drop-in for ``keystoneclient.common.cms`` (python-keystoneclient 6.0.0) that spawns no process.

Same public names, defaults, argument types and return types. Functions take file paths, as upstream
does; the parsed certificates (and the verifier's cached chain verdict) are kept per path and reused
while each file's ``(st_dev, st_ino, st_mtime_ns, st_size)`` is unchanged, so a call costs one
``stat`` per file. keystonemiddleware replaces its certificate files atomically (new inode), which
this notices.

Errors: a missing or unreadable certificate/CA file raises :class:`CertificateConfigError`; a token
that cannot be decoded raises :class:`CMSError` (stock keystoneclient on OpenSSL 3 misreports it as
``CertificateConfigError``); a verification failure raises :class:`VerificationError`, a
``subprocess.CalledProcessError`` with returncode 4; signing failures raise :class:`SigningError`, a
``subprocess.CalledProcessError`` as upstream.
"""

import hashlib
import logging
import os
import subprocess
import threading
import warnings
from typing import Any, Dict, Optional, Tuple, Union

from kstoken import _kstoken
from kstoken.exceptions import (
    CertificateConfigError,
    CMSError,
    KstokenError,
    PKIZDecodeError,
    SigningError,
)

__all__ = [
    "PKI_ASN1_PREFIX",
    "PKIZ_PREFIX",
    "PKIZ_CMS_FORM",
    "PKI_ASN1_FORM",
    "DEFAULT_TOKEN_DIGEST_ALGORITHM",
    "OpensslCmsExitStatus",
    "set_subprocess",
    "cms_verify",
    "is_pkiz",
    "pkiz_sign",
    "pkiz_uncompress",
    "pkiz_verify",
    "token_to_cms",
    "verify_token",
    "is_asn1_token",
    "is_ans1_token",
    "cms_sign_text",
    "cms_sign_data",
    "cms_sign_token",
    "cms_to_token",
    "cms_hash_token",
    "subprocess",
]

LOG = logging.getLogger(__name__)
PKI_ASN1_PREFIX = "MII"
PKIZ_PREFIX = "PKIZ_"
PKIZ_CMS_FORM = "DER"
PKI_ASN1_FORM = "PEM"
DEFAULT_TOKEN_DIGEST_ALGORITHM = "sha256"  # nosec


class OpensslCmsExitStatus(object):
    """The exit statuses of ``openssl cms`` (kept for compatibility)."""

    SUCCESS = 0
    COMMAND_OPTIONS_PARSING_ERROR = 1
    INPUT_FILE_READ_ERROR = 2
    CREATE_CMS_READ_MIME_ERROR = 3


def set_subprocess(_subprocess: Any = None) -> None:
    """Accepted for compatibility; kstoken spawns no process, so it has no effect."""


# --- file-keyed caches ---------------------------------------------------------------------------

_StatKey = Tuple[int, int, int, int]
_CACHE_MAX = 64
_lock = threading.Lock()
_verifiers: Dict[Tuple[str, str], Tuple[Tuple[_StatKey, _StatKey], Any]] = {}
_signers: Dict[Tuple[str, str, str], Tuple[Tuple[_StatKey, _StatKey], Any]] = {}


def _stat_key(st: os.stat_result) -> _StatKey:
    return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)


def _read(path: Any) -> Tuple[_StatKey, bytes]:
    with open(path, "rb") as f:
        key = _stat_key(os.fstat(f.fileno()))
        return key, f.read()


def _read_pair(first: Any, second: Any) -> Tuple[Tuple[_StatKey, _StatKey], bytes, bytes]:
    """Both files' contents, with the (dev, inode, mtime, size) they were read at."""
    first_key, first_data = _read(first)
    second_key, second_data = _read(second)
    return (first_key, second_key), first_data, second_data


def _lookup(cache: Dict[Any, Any], key: Any, stats: Tuple[_StatKey, _StatKey]) -> Any:
    """The cached object for ``key`` if its files are unchanged since it was built, else None."""
    hit = cache.get(key)
    return hit[1] if hit is not None and hit[0] == stats else None


def _remember(cache: Dict[Any, Any], key: Any, value: Any) -> None:
    with _lock:
        if len(cache) >= _CACHE_MAX:
            cache.clear()
        cache[key] = value


def clear_cache() -> None:
    """Forget every cached verifier and signer (they are rebuilt on the next call)."""
    with _lock:
        _verifiers.clear()
        _signers.clear()


def _verifier(signing_cert_file_name: Any, ca_file_name: Any) -> Any:
    try:
        cert_key = _stat_key(os.stat(signing_cert_file_name))
    except OSError as e:
        raise CertificateConfigError(
            "Could not open file or uri for loading certs of certificate file from %s: %s"
            % (signing_cert_file_name, e.strerror)
        ) from None
    try:
        ca_key = _stat_key(os.stat(ca_file_name))
    except OSError as e:
        raise CertificateConfigError(
            "Error loading file %s: %s" % (ca_file_name, e.strerror)
        ) from None
    key = (os.fspath(signing_cert_file_name), os.fspath(ca_file_name))
    verifier = _lookup(_verifiers, key, (cert_key, ca_key))
    if verifier is not None:
        return verifier
    try:
        stats, cert_pem, ca_pem = _read_pair(signing_cert_file_name, ca_file_name)
    except OSError as e:
        raise CertificateConfigError("Error loading file %s: %s" % (e.filename, e.strerror)) from None
    verifier = _kstoken.Verifier(cert_pem, ca_pem)
    _remember(_verifiers, key, (stats, verifier))
    return verifier


def _signer(signing_cert_file_name: Any, signing_key_file_name: Any, message_digest: str) -> Any:
    try:
        cert_key = _stat_key(os.stat(signing_cert_file_name))
        key_key = _stat_key(os.stat(signing_key_file_name))
    except OSError as e:
        raise SigningError(
            OpensslCmsExitStatus.INPUT_FILE_READ_ERROR,
            "cannot open %s: %s" % (e.filename, e.strerror),
        ) from None
    key = (os.fspath(signing_cert_file_name), os.fspath(signing_key_file_name), message_digest)
    cached = _lookup(_signers, key, (cert_key, key_key))
    if cached is not None:
        return cached
    try:
        stats, cert_pem, key_pem = _read_pair(signing_cert_file_name, signing_key_file_name)
    except OSError as e:
        raise SigningError(
            OpensslCmsExitStatus.INPUT_FILE_READ_ERROR,
            "cannot open %s: %s" % (e.filename, e.strerror),
        ) from None
    try:
        signer = _kstoken.Signer(cert_pem, key_pem, digest=message_digest)
    except SigningError:
        raise
    except CertificateConfigError as e:
        raise SigningError(OpensslCmsExitStatus.INPUT_FILE_READ_ERROR, e.output) from None
    except (ValueError, TypeError) as e:
        # `openssl cms -sign -md <unknown>` fails while parsing options
        raise SigningError(OpensslCmsExitStatus.COMMAND_OPTIONS_PARSING_ERROR, str(e)) from None
    _remember(_signers, key, (stats, signer))
    return signer


# --- verification --------------------------------------------------------------------------------


def _encoding_for_form(inform: str) -> str:
    if inform == PKI_ASN1_FORM:
        return "UTF-8"
    if inform == PKIZ_CMS_FORM:
        return "hex"
    raise ValueError('"inform" must be one of: %s' % ",".join((PKI_ASN1_FORM, PKIZ_CMS_FORM)))


def cms_verify(
    formatted: Union[str, bytes],
    signing_cert_file_name: str,
    ca_file_name: str,
    inform: str = PKI_ASN1_FORM,
) -> bytes:
    """Verify CMS PEM text against the signing certificate(s) and CA files; return the content.

    :raises kstoken.exceptions.VerificationError: (a ``subprocess.CalledProcessError``)
    :raises kstoken.exceptions.CertificateConfigError: certificate or CA file unusable.
    :raises kstoken.exceptions.CMSError: the document cannot be decoded.
    """
    if isinstance(formatted, str):
        data: Any = bytes(formatted, _encoding_for_form(inform))
    else:
        data = formatted
    verifier = _verifier(signing_cert_file_name, ca_file_name)
    return verifier.verify_pem(data)  # type: ignore[no-any-return]


def is_pkiz(token_text: str) -> bool:
    """Whether the token starts with ``PKIZ_``."""
    return token_text.startswith(PKIZ_PREFIX)


def pkiz_sign(
    text: Union[str, bytes],
    signing_cert_file_name: str,
    signing_key_file_name: str,
    compression_level: int = 6,
    message_digest: str = DEFAULT_TOKEN_DIGEST_ALGORITHM,
) -> str:
    """Sign ``text`` and return a PKIZ token."""
    signed = cms_sign_data(
        text,
        signing_cert_file_name,
        signing_key_file_name,
        PKIZ_CMS_FORM,
        message_digest=message_digest,
    )
    if not isinstance(compression_level, int) or not -1 <= compression_level <= 9:
        raise ValueError("Bad compression level")
    level = 6 if compression_level == -1 else compression_level
    return _kstoken.pkiz_compress(signed, level)


def pkiz_uncompress(signed_text: str) -> bytes:
    """The CMS PEM text (bytes) inside a PKIZ token.

    :raises kstoken.exceptions.PKIZDecodeError: (a ``CMSError`` and a ``binascii.Error``) when the
        payload is not canonical URL-safe base64 of one zlib stream.
    """
    payload = signed_text[len(PKIZ_PREFIX):].encode("utf-8")
    try:
        return _kstoken.pkiz_uncompress(PKIZ_PREFIX.encode("ascii") + payload)  # type: ignore[no-any-return]
    except CMSError as e:
        raise PKIZDecodeError(e.output) from None


def pkiz_verify(signed_text: str, signing_cert_file_name: str, ca_file_name: str) -> bytes:
    """Verify a PKIZ token; return the content."""
    uncompressed = pkiz_uncompress(signed_text)
    return cms_verify(uncompressed, signing_cert_file_name, ca_file_name, inform=PKIZ_CMS_FORM)


def token_to_cms(signed_text: str) -> str:
    """PKI token text to CMS PEM (``-`` back to ``/``, 64-character lines, CMS armour)."""
    if not isinstance(signed_text, str):
        raise TypeError("a str is required, not %s" % type(signed_text).__name__)
    return _kstoken.token_to_cms(signed_text)  # type: ignore[no-any-return]


def verify_token(token: str, signing_cert_file_name: str, ca_file_name: str) -> bytes:
    """Verify a PKI token; return the content."""
    return cms_verify(token_to_cms(token), signing_cert_file_name, ca_file_name)


def is_asn1_token(token: str) -> bool:
    """Whether the token starts with ``MII`` (upstream's rule: misses tokens < 256 or >= 16 KiB DER)."""
    return token[:3] == PKI_ASN1_PREFIX  # type: ignore[comparison-overlap]


def is_ans1_token(token: str) -> bool:
    """Deprecated alias of :func:`is_asn1_token`."""
    warnings.warn(
        "Using function/method 'kstoken.cms.is_ans1_token()' is deprecated in version '1.7.0' "
        "and will be removed in version '2.0.0': Use is_asn1_token() instead.",
        DeprecationWarning,
        stacklevel=2,
    )
    return is_asn1_token(token)


# --- signing -------------------------------------------------------------------------------------


def cms_sign_text(
    data_to_sign: Union[str, bytes],
    signing_cert_file_name: str,
    signing_key_file_name: str,
    message_digest: str = DEFAULT_TOKEN_DIGEST_ALGORITHM,
) -> str:
    """Sign ``data_to_sign``; return CMS PEM text."""
    return cms_sign_data(  # type: ignore[return-value]
        data_to_sign, signing_cert_file_name, signing_key_file_name, message_digest=message_digest
    )


def cms_sign_data(
    data_to_sign: Union[str, bytes],
    signing_cert_file_name: str,
    signing_key_file_name: str,
    outform: str = PKI_ASN1_FORM,
    message_digest: str = DEFAULT_TOKEN_DIGEST_ALGORITHM,
) -> Union[str, bytes]:
    """Sign like ``openssl cms -sign -nosmimecap -nodetach -nocerts -noattr -md <digest>``.

    Returns the CMS PEM as ``str`` for ``outform='PEM'``, else the PEM text as ``bytes``.

    :raises kstoken.exceptions.SigningError: (a ``subprocess.CalledProcessError``)
    """
    if isinstance(data_to_sign, str):
        data: Any = bytes(data_to_sign, encoding="utf-8")
    else:
        data = data_to_sign
    try:
        signer = _signer(signing_cert_file_name, signing_key_file_name, message_digest)
        output = signer.sign_cms(data)
    except SigningError as e:
        if e.returncode == OpensslCmsExitStatus.CREATE_CMS_READ_MIME_ERROR:
            LOG.error(
                "Signing error: Unable to load certificate - ensure you have configured PKI with "
                '"keystone-manage pki_setup"'
            )
        else:
            LOG.error("Signing error: %s", e.reason)
        raise
    except KstokenError as e:
        LOG.error("Signing error: %s", e)
        raise SigningError(OpensslCmsExitStatus.CREATE_CMS_READ_MIME_ERROR, str(e)) from None
    if outform == PKI_ASN1_FORM:
        return output  # type: ignore[no-any-return]
    return output.encode("utf-8")  # type: ignore[no-any-return]


def cms_sign_token(
    text: Union[str, bytes],
    signing_cert_file_name: str,
    signing_key_file_name: str,
    message_digest: str = DEFAULT_TOKEN_DIGEST_ALGORITHM,
) -> str:
    """Sign ``text``; return a PKI token."""
    output = cms_sign_data(
        text, signing_cert_file_name, signing_key_file_name, message_digest=message_digest
    )
    return cms_to_token(output)  # type: ignore[arg-type]


def cms_to_token(cms_text: str) -> str:
    """CMS PEM to PKI token text (``/`` to ``-``, armour and newlines removed)."""
    if not isinstance(cms_text, str):
        raise TypeError("a str is required, not %s" % type(cms_text).__name__)
    return _kstoken.cms_to_token(cms_text)  # type: ignore[no-any-return]


_NATIVE_HASHES = frozenset(("md5", "sha1", "sha224", "sha256", "sha384", "sha512"))


def cms_hash_token(token_id: Optional[str], mode: str = "md5") -> Optional[str]:
    """Hex digest of a PKI or PKIZ token; any other value is returned unchanged (``None`` too)."""
    if token_id is None:
        return None
    if is_asn1_token(token_id) or is_pkiz(token_id):
        if isinstance(mode, str) and mode.lower() in _NATIVE_HASHES:
            hashes = _kstoken.hash_token(token_id, [mode])
            if hashes is not None:
                return hashes[0]  # type: ignore[no-any-return]
        return hashlib.new(mode, token_id.encode("utf-8")).hexdigest()
    return token_id
