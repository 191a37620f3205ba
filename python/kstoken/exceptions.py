"""Exceptions raised by kstoken.

The classes mirror what python-keystoneclient's ``cms`` module raises, so existing ``except`` clauses
keep working:

* :class:`CertificateConfigError` - the signing certificate or CA bundle cannot be read. Also a
  ``keystoneclient.exceptions.CertificateConfigError`` when keystoneclient is importable.
* :class:`CMSError` - the token or CMS document cannot be decoded. Also a
  ``keystoneclient.exceptions.CMSError`` when keystoneclient is importable.
* :class:`VerificationError` - the document was decoded but did not verify; also a
  ``subprocess.CalledProcessError`` with ``returncode`` 4 and ``cmd`` ``'openssl'`` (its ``str()``
  says the reason, not an exit status: no openssl runs), as
  ``openssl cms -verify`` failures are upstream.
* :class:`SigningError` - signing failed; also a ``subprocess.CalledProcessError`` (``returncode`` 1
  for an unknown digest, 2 for an unreadable certificate or key, 3 for a key that does not match).
* :class:`PkiSetupError` - :func:`kstoken.generate_pki` failed inside OpenSSL with options it
  accepted (options it refuses raise :class:`InvalidArgumentError`). Neither a ``SigningError``
  (that class stands for ``openssl cms -sign`` exit statuses, which keystoneclient's callers branch
  on and key generation never had) nor an ``InvalidArgumentError`` (the arguments were fine).

Every class is a subclass of a class of the same name created by the native module
(``kstoken._kstoken``), which raises the classes of this module; :class:`KstokenError`, the root,
is the native class itself.

Deliberate difference: stock keystoneclient on OpenSSL 3 reports a malformed token as
``CertificateConfigError`` (it matches OpenSSL 1.x's error text only); kstoken raises
:class:`CMSError`, as keystoneclient did with OpenSSL 1.x.
"""

import binascii
import subprocess
from typing import TYPE_CHECKING, Any, Literal, Optional, Tuple

from kstoken import _kstoken

#: kstoken's stable names of the reasons a document did not verify (``VerificationError.kind``).
VerifyFailureKind = Literal[
    "signer_not_found",
    "bad_signature",
    "certificate_expired",
    "certificate_not_yet_valid",
    "untrusted_chain",
    "unsuitable_purpose",
    "unsupported_algorithm",
]

__all__ = [
    "KstokenError",
    "CertificateConfigError",
    "CMSError",
    "MalformedTokenError",
    "PKIZDecodeError",
    "LimitExceededError",
    "VerificationError",
    "SigningError",
    "PkiSetupError",
    "InvalidArgumentError",
    "BindError",
    "TokenRejected",
]

if TYPE_CHECKING:
    # keystoneclient ships no type information: its classes are plain Exception subclasses.
    _KscCertificateConfigError = Exception
    _KscCMSError = Exception
else:
    try:
        from keystoneclient.exceptions import CertificateConfigError as _KscCertificateConfigError
        from keystoneclient.exceptions import CMSError as _KscCMSError
    except Exception:  # keystoneclient absent or broken: no extra base (Exception is one already)
        _KscCertificateConfigError = _KscCMSError = Exception

#: Base class of every kstoken exception (the native class, re-exported as is).
KstokenError = _kstoken.KstokenError


class CertificateConfigError(_kstoken.CertificateConfigError, _KscCertificateConfigError):
    """The signing certificate or CA bundle cannot be used; ``.output`` says why."""

    def __init__(self, output: str) -> None:
        self.output = output
        Exception.__init__(self, "Unable to load certificate.")


class CMSError(_kstoken.CMSError, _KscCMSError):
    """The token or CMS document cannot be decoded; ``.output`` says why, and so does ``str()``
    (keystoneclient's message, then the detail)."""

    def __init__(self, output: str) -> None:
        self.output = output
        Exception.__init__(self, "Unable to sign or verify data.")

    def __str__(self) -> str:
        return "Unable to sign or verify data: %s" % self.output if self.output else "Unable to sign or verify data."


class MalformedTokenError(CMSError, _kstoken.MalformedTokenError):
    """A token or CMS document that is not well-formed."""


class PKIZDecodeError(MalformedTokenError, binascii.Error):
    """A PKIZ token whose payload is not canonical URL-safe base64 of one zlib stream.

    Also a ``binascii.Error``, which keystonemiddleware turns into an invalid token (401).
    """


class LimitExceededError(MalformedTokenError, _kstoken.LimitExceededError):
    """An input exceeded a resource limit; ``.what`` names the limit."""

    def __init__(self, output: str, what: Optional[str] = None) -> None:
        super().__init__(output)
        self.what = what


class VerificationError(_kstoken.VerificationError, subprocess.CalledProcessError):
    """A document that did not verify: ``openssl cms -verify`` exit status 4.

    ``.reason`` is OpenSSL's wording (``content verify error``, ``signer certificate not found``,
    ``certificate has expired``, ...); ``.detail`` carries more, such as OpenSSL's certificate
    verification error; ``.output`` both, as the text upstream's ``CalledProcessError`` carries.
    ``.kind`` is kstoken's stable name of the reason (``signer_not_found``, ``bad_signature``, ...),
    ``None`` when the error was built without one.
    """

    def __init__(self, reason: str, detail: str = "", kind: Optional[VerifyFailureKind] = None) -> None:
        self.reason = reason
        self.detail = detail
        self.kind = kind
        output = "CMS Verification failure\n" + reason
        if detail and detail != reason:
            output += ": " + detail
        subprocess.CalledProcessError.__init__(self, 4, "openssl", output=output)

    def __str__(self) -> str:
        # No openssl runs: the message says the reason, not a command's exit status (the
        # CalledProcessError attributes stay for keystoneclient's callers).
        if self.detail and self.detail != self.reason:
            return "CMS verification failed: %s: %s" % (self.reason, self.detail)
        return "CMS verification failed: %s" % self.reason

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.reason, self.detail, self.kind))


class SigningError(_kstoken.SigningError, subprocess.CalledProcessError):
    """Signing failed: upstream's ``CalledProcessError(returncode, 'openssl')`` (no output).

    ``returncode`` follows ``openssl cms -sign``: 1 unknown digest, 2 certificate or key unreadable,
    3 key does not match the certificate. ``.reason`` says what happened.
    """

    def __init__(self, returncode: int, reason: str) -> None:
        self.reason = reason
        subprocess.CalledProcessError.__init__(self, returncode, "openssl")

    def __str__(self) -> str:
        return "signing failed: %s" % self.reason

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.returncode, self.reason))


class PkiSetupError(_kstoken.PkiSetupError):
    """Generating a PKI failed inside OpenSSL (see the module docstring for why it stands alone)."""


class InvalidArgumentError(_kstoken.InvalidArgumentError, ValueError):
    """An argument kstoken does not accept, such as an unknown algorithm name."""


class BindError(_kstoken.BindError):
    """A token bind that the bind mode rejects; ``.kind`` is a short code of why."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.kind, str(self)))


class TokenRejected(_kstoken.TokenRejected):
    """The validation pipeline rejected a token; ``.step`` names the step that did."""

    def __init__(self, step: str, message: str, cause: Optional[BaseException] = None) -> None:
        super().__init__(message)
        self.step = step
        self.cause = cause

    def __reduce__(self) -> Tuple[Any, ...]:
        return (type(self), (self.step, str(self), self.cause))
