"""A drop-in for ``keystoneclient.common.cms`` (python-keystoneclient 6.0.0) that spawns no process.

Same public names, defaults, argument types and return types. Functions take file paths, as upstream
does, which re-reads the files on every call; kstoken keeps the parsed certificates (and the
verifier's cached chain verdict) per path, and reuses them only while the files are provably the
ones they were built from:

* Each call runs ``stat`` on both files. A cached object is reused only while every file's
  ``(st_dev, st_ino, st_size, st_mtime_ns, st_ctime_ns)`` is unchanged. The ctime is the key: any
  write, rename onto the path or ``touch`` sets it to the current time, and unlike the mtime no
  user can set it back, so a rotation that keeps sizes, mtimes and inodes (GNU ``tar -x`` unlinks
  and recreates each file and ext4 hands the inode back; an in-place rewrite then ``touch -r``) is
  still seen.
* A file whose ctime is less than 2 seconds older than the moment kstoken began reading it may
  change again without its ctime changing: before Linux 6.13 (multigrain timestamps) the kernel
  stamps files from its coarse clock, which ticks every 1-10 ms, and some file systems store whole
  seconds (ext4 with 128-byte inodes, HFS+) or 2 s steps (FAT). While a file is that
  young, each call reads both files again (bounded, as always) and reuses the cached object only if
  their SHA-256 is unchanged; the first read that begins 2 s or more after the last change settles
  the entry, and from then on a call costs the two ``stat`` calls alone. (Counted by callgrind: a
  settled lookup costs about 6% of the instructions of a verification, a young one about half;
  the window only follows a change.) The rule assumes the file system's clock agrees with this
  host's to within that window.
* keystonemiddleware replaces its certificate files atomically (new inode), which is seen at once.

Files are read with a bound (``kstoken._credentials.MAX_CREDENTIAL_LEN``, the core's 16 MiB): a
larger one is refused with :class:`CertificateConfigError`. A token text longer than the verifier's token limit is
refused before it is encoded or copied.

Errors: a missing, unreadable or oversized certificate/CA file, or a path with a NUL byte, raises
:class:`CertificateConfigError`; a token that cannot be decoded (a ``str`` with a lone surrogate
included) raises :class:`CMSError` (stock keystoneclient on OpenSSL 3 misreports it as
``CertificateConfigError``); a verification failure raises :class:`VerificationError`, a
``subprocess.CalledProcessError`` with returncode 4; signing failures raise :class:`SigningError`, a
``subprocess.CalledProcessError`` as upstream (returncode 2 for an unusable certificate or key file).

The module is fork-safe (the README's fork safety section).
"""

import hashlib
import logging
import os
import subprocess
import warnings
from typing import Any, Optional, Union

from kstoken import _args, _kstoken
from kstoken._file_cache import FileCache
from kstoken._file_cache import file_key as _file_key
from kstoken.exceptions import (
    CertificateConfigError,
    CMSError,
    InvalidArgumentError,
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


# --- file-keyed caches (kstoken._file_cache) -----------------------------------------------------

_verifiers: "FileCache[_kstoken.Verifier]" = FileCache(64)
_signers: "FileCache[_kstoken.Signer]" = FileCache(64)


def clear_cache() -> None:
    """Forget every cached verifier and signer (they are rebuilt on the next call)."""
    _verifiers.clear()
    _signers.clear()


def _verifier(signing_cert_file_name: Any, ca_file_name: Any) -> _kstoken.Verifier:
    try:
        cert_key = _file_key(os.stat(os.fspath(signing_cert_file_name)))
    except (OSError, ValueError) as e:
        raise CertificateConfigError(
            "Could not open file or uri for loading certs of certificate file from %s: %s"
            % (signing_cert_file_name, _why(e))
        ) from None
    try:
        ca_key = _file_key(os.stat(os.fspath(ca_file_name)))
    except (OSError, ValueError) as e:
        raise CertificateConfigError("Error loading file %s: %s" % (ca_file_name, _why(e))) from None
    return _verifiers.get(
        (os.fspath(signing_cert_file_name), os.fspath(ca_file_name)),
        (cert_key, ca_key),
        (signing_cert_file_name, ca_file_name),
        ("signing certificate file", "CA file"),
        _new_verifier,
    )


def _new_verifier(cert_pem: bytes, ca_pem: bytes) -> _kstoken.Verifier:
    return _kstoken.Verifier(cert_pem, ca_pem)


def _why(e: Exception) -> str:
    return e.strerror if isinstance(e, OSError) and e.strerror else str(e)


def _signer(
    signing_cert_file_name: Any, signing_key_file_name: Any, message_digest: str
) -> _kstoken.Signer:
    try:
        cert_key = _file_key(os.stat(os.fspath(signing_cert_file_name)))
        key_key = _file_key(os.stat(os.fspath(signing_key_file_name)))
    except (OSError, ValueError) as e:
        raise SigningError(
            OpensslCmsExitStatus.INPUT_FILE_READ_ERROR,
            "cannot open %s: %s" % (getattr(e, "filename", None) or signing_cert_file_name, _why(e)),
        ) from None

    def build(cert_pem: bytes, key_pem: bytes) -> _kstoken.Signer:
        try:
            return _kstoken.Signer(cert_pem, key_pem, digest=message_digest)
        except SigningError:
            raise
        except CertificateConfigError as e:
            raise SigningError(OpensslCmsExitStatus.INPUT_FILE_READ_ERROR, e.output) from None
        except (ValueError, TypeError) as e:
            # `openssl cms -sign -md <unknown>` fails while parsing options
            raise SigningError(OpensslCmsExitStatus.COMMAND_OPTIONS_PARSING_ERROR, str(e)) from None

    try:
        return _signers.get(
            (os.fspath(signing_cert_file_name), os.fspath(signing_key_file_name), message_digest),
            (cert_key, key_key),
            (signing_cert_file_name, signing_key_file_name),
            ("signing certificate file", "signing key file"),
            build,
        )
    except CertificateConfigError as e:  # unreadable or too large
        raise SigningError(OpensslCmsExitStatus.INPUT_FILE_READ_ERROR, e.output) from None


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
    # the file caches' verifiers have the default limits; refused before the encoding copy
    _args.token(formatted, _kstoken.DEFAULT_MAX_TOKEN_LEN)
    if isinstance(formatted, str):
        data: Any = bytes(formatted, _encoding_for_form(inform))
    else:
        data = formatted
    return _verifier(signing_cert_file_name, ca_file_name).verify_pem(data)


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
    try:
        # checked before the slice and the encoding copy it
        _args.token(signed_text, _kstoken.DEFAULT_MAX_TOKEN_LEN)
        payload = signed_text[len(PKIZ_PREFIX):].encode("utf-8")
        return _kstoken.pkiz_uncompress(PKIZ_PREFIX.encode("ascii") + payload)
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
    _args.token(signed_text, None)
    return _kstoken.token_to_cms(signed_text)


def verify_token(token: str, signing_cert_file_name: str, ca_file_name: str) -> bytes:
    """Verify a PKI token; return the content."""
    _args.token(token, _kstoken.DEFAULT_MAX_TOKEN_LEN)
    return cms_verify(token_to_cms(token), signing_cert_file_name, ca_file_name)


def is_asn1_token(token: str) -> bool:
    """Whether the token starts with ``MII`` (upstream's rule: misses tokens < 256 or >= 16 KiB DER)."""
    return token[:3] == PKI_ASN1_PREFIX


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
    return _sign_pem(data_to_sign, signing_cert_file_name, signing_key_file_name, message_digest)


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
    output = _sign_pem(data_to_sign, signing_cert_file_name, signing_key_file_name, message_digest)
    if outform == PKI_ASN1_FORM:
        return output
    return output.encode("utf-8")


def _sign_pem(
    data_to_sign: Union[str, bytes],
    signing_cert_file_name: str,
    signing_key_file_name: str,
    message_digest: str,
) -> str:
    """The CMS PEM text of ``cms_sign_data``, with its errors and log lines."""
    if isinstance(data_to_sign, str):
        data = bytes(data_to_sign, encoding="utf-8")
    else:
        data = data_to_sign
    try:
        return _signer(signing_cert_file_name, signing_key_file_name, message_digest).sign_cms(data)
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


def cms_sign_token(
    text: Union[str, bytes],
    signing_cert_file_name: str,
    signing_key_file_name: str,
    message_digest: str = DEFAULT_TOKEN_DIGEST_ALGORITHM,
) -> str:
    """Sign ``text``; return a PKI token."""
    return cms_to_token(
        _sign_pem(text, signing_cert_file_name, signing_key_file_name, message_digest)
    )


def cms_to_token(cms_text: str) -> str:
    """CMS PEM to PKI token text (``/`` to ``-``, armour and newlines removed)."""
    if not isinstance(cms_text, str):
        raise TypeError("a str is required, not %s" % type(cms_text).__name__)
    _args.token(cms_text, None)
    return _kstoken.cms_to_token(cms_text)


def cms_hash_token(token_id: Optional[str], mode: str = "md5") -> Optional[str]:
    """Hex digest of a PKI or PKIZ token; any other value is returned unchanged (``None`` too)."""
    if token_id is None:
        return None
    if is_asn1_token(token_id) or is_pkiz(token_id):
        _args.token(token_id, None)
        try:
            hashes = _kstoken.hash_token(token_id, [mode])
        except (InvalidArgumentError, TypeError):  # a name only hashlib knows (sha3_256, blake2b)
            hashes = None
        if hashes is not None:
            return hashes[0]
        return hashlib.new(mode, token_id.encode("utf-8")).hexdigest()
    return token_id
