"""kstoken: sign and verify OpenStack Keystone PKI and PKIZ tokens in-process.

The fast API (build objects once, share them between threads; the GIL is released while they work):

* :class:`Verifier` - ``Verifier(signing_cert, ca).verify(token) -> bytes``
* :class:`Signer` - ``Signer(cert, key).sign_pki(text) -> str`` (also ``sign_pkiz``, ``sign_cms``)
* :func:`hash_token` - keystone's token-id hashes
* :func:`check_bind`, :func:`add_kerberos_bind`, :func:`add_x509_bind` - token bind

``kstoken.cms`` is a drop-in for ``keystoneclient.common.cms``; ``kstoken.compat`` patches it into
keystoneclient and keystonemiddleware; ``kstoken.exceptions`` holds the exception classes.

Certificates, keys and CA bundles (paths or inline PEM) are accepted up to 16 MiB each (the core's
default, ``max_credential_len=`` to change it); tokens are checked against the verifier's limits
before they are copied. Space, tab, CR and LF around a token are ignored everywhere a token is
taken. ``Iterable[str]`` parameters refuse a bare ``str``. ``os.fork()`` waits for kstoken calls
running in other threads, so a child never inherits a lock one of them held (the README's fork
safety section says what that cannot cover).
"""

import collections.abc
import json
import os
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from kstoken import _args, _kstoken
from kstoken._credentials import check_credential_len, read_credential
from kstoken._kstoken import ValidatedToken
from kstoken.exceptions import (
    BindError,
    CertificateConfigError,
    CMSError,
    InvalidArgumentError,
    KstokenError,
    LimitExceededError,
    PkiSetupError,
    SigningError,
    TokenRejected,
    VerificationError,
)

#: The version of this kstoken (the native module's, which is also the wheel's).
__version__: str = _kstoken.__version__

__all__ = [
    "__version__",
    "Verifier",
    "Signer",
    "RevocationList",
    "ValidatedToken",
    "validate",
    "hash_token",
    "detect",
    "check_bind",
    "add_kerberos_bind",
    "add_x509_bind",
    "x509_fingerprint",
    "generate_pki",
    "KstokenError",
    "CertificateConfigError",
    "CMSError",
    "VerificationError",
    "SigningError",
    "PkiSetupError",
    "InvalidArgumentError",
    "BindError",
    "TokenRejected",
]

PemOrPath = Union[str, bytes, "os.PathLike[str]"]
Text = Union[str, bytes]

_PEM_MARK = "-----BEGIN "


def _load(value: PemOrPath, what: str, max_credential_len: Optional[int]) -> bytes:
    """PEM given inline (``str``/``bytes`` containing ``-----BEGIN``) or read from a path.

    Either way at most the credential limit (``kstoken._credentials``, or ``max_credential_len``) is
    accepted.
    """
    limit = _kstoken.credential_limit(max_credential_len)
    if isinstance(value, str) and _PEM_MARK in value:
        check_credential_len(value, what, limit)
        try:
            return value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise CertificateConfigError("%s is not UTF-8 text: %s" % (what, e.reason)) from None
    if isinstance(value, (bytes, bytearray)) and _PEM_MARK.encode() in value:
        check_credential_len(value, what, limit)
        return bytes(value)
    if not isinstance(value, (str, bytes, os.PathLike)):
        raise TypeError("%s must be PEM text or a path, not %s" % (what, type(value).__name__))
    return read_credential(value, what, limit)[1]


class Verifier:
    """Verifies PKI tokens, PKIZ tokens and CMS PEM against signing certificate(s) and a CA bundle.

    ``signing_cert`` and ``ca`` are PEM (``bytes``/``str``) or paths. Build once and share: the
    certificates are parsed once and each signer's chain verdict is cached. Keyword arguments:

    * ``hash_algorithms`` for :meth:`hash` and :meth:`validate` (one name or several; default md5);
    * ``profile``: ``"keystone"`` (the default) accepts only the CMS encoding keystone's signer
      writes, so a signed document has one token text and one token hash, and a re-encoded revoked
      token cannot pass a revocation check by hash; ``"lenient"`` accepts every structure
      ``openssl cms -verify`` accepts (BER, attributes, certificates, extra digest algorithms, ``/``
      in PKI text), for tokens keystone's signer did not write;
    * resource limits ``max_token_len``, ``max_inflated_len``, ``max_json_len``, ``max_json_depth``
      (1 MiB, 1 MiB, 1 MiB, 64) and ``max_credential_len`` (16 MiB per certificate file or bundle).
    """

    __slots__ = ("_native", "__weakref__")
    _native: _kstoken.Verifier

    def __init__(
        self,
        signing_cert: PemOrPath,
        ca: PemOrPath,
        *,
        hash_algorithms: Union[str, Iterable[str]] = ("md5",),
        profile: str = "keystone",
        max_token_len: Optional[int] = None,
        max_inflated_len: Optional[int] = None,
        max_json_len: Optional[int] = None,
        max_json_depth: Optional[int] = None,
        max_credential_len: Optional[int] = None,
    ) -> None:
        names = _args.str_or_items(hash_algorithms, "hash_algorithms")
        cert_pem = _load(signing_cert, "signing certificate", max_credential_len)
        ca_pem = _load(ca, "CA bundle", max_credential_len)
        self._native = _kstoken.Verifier(
            cert_pem,
            ca_pem,
            hash_algorithms=names,
            profile=profile,
            max_token_len=max_token_len,
            max_inflated_len=max_inflated_len,
            max_json_len=max_json_len,
            max_json_depth=max_json_depth,
            max_credential_len=max_credential_len,
        )

    @property
    def hash_algorithms(self) -> Tuple[str, ...]:
        """The token hash algorithms, in order, each once (``md5``, ``sha256``, ...)."""
        return tuple(self._native.hash_algorithms)

    @property
    def profile(self) -> str:
        """The CMS profile: ``"keystone"`` or ``"lenient"``."""
        return self._native.profile

    def verify(self, token: Text, at: Optional[int] = None) -> bytes:
        """Verify a PKI token, a PKIZ token or CMS PEM; return the signed content.

        ``at`` is the verification time in Unix seconds (like ``openssl cms -verify -attime``);
        default now. Space, tab, CR and LF around the token are ignored.

        :raises VerificationError: signature, signer or chain rejected (returncode 4, ``.reason``).
        :raises CMSError: the token cannot be decoded (``LimitExceededError`` when over a limit,
            ``MalformedTokenError`` for a ``str`` that is not UTF-8 text).
        :raises InvalidArgumentError: ``at`` is outside the years 1 to 9999.
        """
        return self._native.verify(token, at)

    def verify_json(self, token: Text, at: Optional[int] = None) -> Any:
        """:meth:`verify`, then decode the content as JSON.

        The content must fit ``max_json_len`` and ``max_json_depth`` before it is decoded.

        :raises LimitExceededError: the content is larger or nested deeper than the limits.
        :raises ValueError: the content is not JSON (``json.JSONDecodeError``, ``UnicodeDecodeError``).
        """
        content = self._native.verify_json(token, at)
        try:
            return json.loads(content)
        except RecursionError:
            # only when max_json_depth was raised past what Python's json module can nest
            raise LimitExceededError(
                "JSON nesting depth exceeds what Python's json module can decode",
                "JSON nesting depth",
            ) from None

    def hash(self, token: str) -> List[str]:
        """The token's cache keys: its hashes for PKI/PKIZ tokens, else ``[token]`` (as the middleware).

        Space, tab, CR and LF around the token are not part of it.
        """
        return self._native.hash(token)

    def validate(
        self,
        token: str,
        *,
        revocation_list: Optional["RevocationList"] = None,
        bind_mode: str = "permissive",
        auth_type: Optional[str] = None,
        remote_user: Optional[str] = None,
        client_cert: Optional[Text] = None,
        now: Optional[int] = None,
        lenient: bool = False,
    ) -> ValidatedToken:
        """keystonemiddleware's offline validation of a PKI/PKIZ token as one call.

        Steps, in the middleware's order: detect the form (``MII``/``PKIZ_``; ``lenient=True`` also
        recognises other PKI sizes), hash it with ``hash_algorithms``, check the hashes against
        ``revocation_list``, verify the signature, decode the body, check its audit ids against the
        list, reject it when expired at ``now`` (Unix seconds; default now), and enforce the bind
        (``bind_mode`` as ``enforce_token_bind``, with ``auth_type``/``remote_user``/``client_cert``).
        Space, tab, CR and LF around the token are ignored.

        :raises TokenRejected: with ``.step`` one of ``detect`` (not PKI: validate online),
            ``revoked_by_hash``, ``signature``, ``body``, ``revoked_by_audit_id``, ``expiry``,
            ``bind``; ``.cause`` holds the underlying exception (VerificationError, CMSError,
            BindError) where there is one. A ``str`` token with a lone surrogate (not UTF-8 text)
            is rejected like any malformed token, never raised as ``UnicodeEncodeError``.
        :raises InvalidArgumentError: ``now`` is outside the years 1 to 9999.
        :raises TypeError: ``revocation_list`` is not a :class:`RevocationList`.
        """
        revocations = (
            None
            if revocation_list is None
            else _args.instance(revocation_list, RevocationList, "revocation_list")._native
        )
        return _kstoken.validate(
            token,
            self._native,
            revocations,
            bind_mode=bind_mode,
            lenient=lenient,
            auth_type=auth_type,
            remote_user=remote_user,
            client_cert=client_cert,
            now=now,
        )

    def __repr__(self) -> str:
        return "<kstoken.Verifier hash_algorithms=%r profile=%s>" % (self.hash_algorithms, self.profile)


def validate(token: str, verifier: Verifier, **kwargs: Any) -> ValidatedToken:
    """:meth:`Verifier.validate` as a function."""
    return _args.instance(verifier, Verifier, "verifier").validate(token, **kwargs)


class RevocationList:
    """keystone's signed revocation list, indexed by token hash and by audit id.

    Build it from entries (dicts with ``id``, ``expires``, ``audit_id``), from verified JSON
    (:meth:`from_json`) or from keystone's signed response (:meth:`from_signed`).
    """

    __slots__ = ("_native", "__weakref__")
    _native: _kstoken.RevocationList

    def __init__(self, entries: Iterable[Mapping[str, Optional[str]]] = ()) -> None:
        """:raises TypeError: ``entries`` is not an iterable of mappings (a bare dict or str is not)."""
        if isinstance(entries, (str, bytes, bytearray, collections.abc.Mapping)):
            raise TypeError(
                "entries must be an iterable of dicts, not a bare %s (wrap one entry in a list)"
                % type(entries).__name__
            )
        rows = []
        for e in entries:
            if not isinstance(e, collections.abc.Mapping):
                raise TypeError("each entry must be a dict, not %s" % type(e).__name__)
            rows.append((e.get("id"), e.get("expires"), e.get("audit_id")))
        self._native = _kstoken.RevocationList(rows)

    @classmethod
    def _wrap(cls, native: _kstoken.RevocationList) -> "RevocationList":
        self = cls.__new__(cls)
        self._native = native
        return self

    @classmethod
    def from_json(cls, content: Text) -> "RevocationList":
        """From the list's JSON text ``{"revoked": [...]}`` (already verified)."""
        return cls._wrap(_kstoken.RevocationList.from_json(content))

    @classmethod
    def from_signed(cls, body: Text, verifier: Verifier, at: Optional[int] = None) -> "RevocationList":
        """From keystone's response ``{"signed": "<CMS PEM>"}`` (or the PEM), verified first.

        :raises VerificationError: the signature does not verify.
        :raises CMSError: the body or the list cannot be decoded.
        :raises InvalidArgumentError: ``at`` is outside the years 1 to 9999.
        :raises TypeError: ``verifier`` is not a :class:`Verifier`.
        """
        native_verifier = _args.instance(verifier, Verifier, "verifier")._native
        return cls._wrap(_kstoken.RevocationList.from_signed(body, native_verifier, at))

    def is_revoked(self, hashes: Iterable[str] = (), audit_ids: Iterable[str] = ()) -> bool:
        """Whether any of the token hashes or audit ids is listed.

        Both are iterables of ``str``: a bare ``str`` is refused with ``TypeError`` (it would be
        looked up one character at a time); pass ``[token_hash]``, or use :meth:`contains_hash`.
        """
        return self._native.is_revoked(
            _args.str_items(hashes, "hashes"), _args.str_items(audit_ids, "audit_ids")
        )

    def contains_hash(self, token_hash: str) -> bool:
        """Whether this token hash (or UUID token) is listed."""
        return self._native.contains_hash(token_hash)

    def contains_audit_id(self, audit_id: str) -> bool:
        """Whether this audit id is listed."""
        return self._native.contains_audit_id(audit_id)

    @property
    def entries(self) -> List[Dict[str, str]]:
        """The entries as dicts (keys present only when set)."""
        out = []
        for id_, expires, audit_id in self._native.entries():
            entry = {}
            if expires is not None:
                entry["expires"] = expires
            if id_ is not None:
                entry["id"] = id_
            if audit_id is not None:
                entry["audit_id"] = audit_id
            out.append(entry)
        return out

    def to_json(self) -> str:
        """The list's JSON text exactly as keystone serialises it."""
        return self._native.to_json()

    def sign(self, signer: "Signer") -> str:
        """keystone's signed response body ``{"signed": "<CMS PEM>"}``.

        :raises TypeError: ``signer`` is not a :class:`Signer`.
        """
        return self._native.sign(_args.instance(signer, Signer, "signer")._native)

    def __len__(self) -> int:
        return len(self._native)

    def __repr__(self) -> str:
        return "<kstoken.RevocationList %d entries>" % len(self)


class Signer:
    """Signs token bodies like ``openssl cms -sign`` (text mode, ``-nocerts -noattr``).

    ``cert`` and ``key`` are PEM (``bytes``/``str``) or paths; ``digest`` one of sha1, sha224,
    sha256 (default), sha384, sha512; ``binary=True`` signs the bytes as given (``-binary``).
    Limits: ``max_credential_len`` (16 MiB per file) and ``max_content_len`` (1 MiB to sign).
    A ``str`` to sign is encoded as UTF-8; one that cannot be (a lone surrogate) raises
    ``UnicodeEncodeError``, a ``ValueError``, as ``str.encode`` does.
    """

    __slots__ = ("_native", "__weakref__")
    _native: _kstoken.Signer

    def __init__(
        self,
        cert: PemOrPath,
        key: PemOrPath,
        *,
        digest: str = "sha256",
        binary: bool = False,
        max_credential_len: Optional[int] = None,
        max_content_len: Optional[int] = None,
    ) -> None:
        cert_pem = _load(cert, "signing certificate", max_credential_len)
        key_pem = _load(key, "signing key", max_credential_len)
        self._native = _kstoken.Signer(
            cert_pem,
            key_pem,
            digest=digest,
            binary=binary,
            max_credential_len=max_credential_len,
            max_content_len=max_content_len,
        )

    @property
    def digest(self) -> str:
        """The digest algorithm name."""
        return self._native.digest

    def sign_pki(self, text: Text) -> str:
        """Sign; return a PKI token (``cms_sign_token``)."""
        return self._native.sign_pki(text)

    def sign_pkiz(self, text: Text, compression_level: int = 6) -> str:
        """Sign; return a PKIZ token (``pkiz_sign``)."""
        return self._native.sign_pkiz(text, compression_level)

    def sign_cms(self, text: Text) -> str:
        """Sign; return CMS PEM text (``cms_sign_text``)."""
        return self._native.sign_cms(text)

    def sign_der(self, text: Text) -> bytes:
        """Sign; return CMS DER."""
        return self._native.sign_der(text)

    def __repr__(self) -> str:
        return "<kstoken.Signer digest=%s>" % self.digest


def hash_token(
    token: str, algorithms: Union[str, Iterable[str]] = ("md5",), lenient: bool = False
) -> Optional[List[str]]:
    """Keystone's token-id hashes (``cms_hash_token``), one per algorithm, lowercase hex.

    ``None`` unless ``token`` is a PKI (``MII``; with ``lenient=True`` the rule of :func:`detect`'s
    ``lenient``, as ``Verifier.validate(lenient=True)`` hashes) or PKIZ (``PKIZ_``) token.
    ``algorithms`` is one name or an iterable of names (each hashed once). Space, tab, CR and LF
    around the token are not part of it: the hash is the one keystone listed for the token as sent.
    """
    return _kstoken.hash_token(token, _args.str_or_items(algorithms, "algorithms"), lenient)


def detect(token: str, lenient: bool = False) -> str:
    """``'pki'``, ``'pkiz'`` or ``'other'``.

    The default is keystone's rule (``MII`` / ``PKIZ_`` prefixes); ``lenient=True`` also recognises
    PKI tokens whose DER is shorter than 256 or longer than 16 KiB. Space, tab, CR and LF around
    the token are ignored.
    """
    return _kstoken.detect(token, lenient)


def check_bind(
    mode: str,
    bind: Optional[Dict[str, Any]],
    auth_type: Optional[str],
    remote_user: Optional[str],
    client_cert: Optional[Text] = None,
) -> None:
    """Enforce a token's bind section as keystone and keystonemiddleware do (``enforce_token_bind``).

    ``mode`` is ``disabled``, ``permissive``, ``strict``, ``required`` or a bind type name;
    ``bind`` the token's bind dict (or ``None``); ``auth_type`` / ``remote_user`` the WSGI
    ``AUTH_TYPE`` / ``REMOTE_USER``; ``client_cert`` the TLS client certificate (PEM or DER) for an
    ``x509`` bind. Returns ``None`` when accepted.

    A ``kerberos`` bind matches only a ``remote_user`` equal to its principal, which must be a
    string: ``{"kerberos": None}`` never matches, where keystone and keystonemiddleware accept it
    from a Negotiate request without ``REMOTE_USER`` (``None != None`` is false) - a bind that an
    unauthenticated request satisfies would fail open.

    :raises BindError: when rejected (``.kind`` says why).
    """
    bind_json = None if bind is None else json.dumps(bind)
    _kstoken.check_bind(mode, bind_json, auth_type, remote_user, client_cert)


def _json_object(text: str) -> Dict[str, Any]:
    body: Dict[str, Any] = json.loads(text)
    return body


def add_kerberos_bind(body: Dict[str, Any], principal: str) -> Dict[str, Any]:
    """A copy of a v2 or v3 token body with a ``kerberos`` bind for ``principal``."""
    return _json_object(_kstoken.add_kerberos_bind(json.dumps(body), principal))


def add_x509_bind(body: Dict[str, Any], client_cert: Text) -> Dict[str, Any]:
    """A copy of a v2 or v3 token body with an ``x509`` bind (``{"sha256": fingerprint}``)."""
    return _json_object(_kstoken.add_x509_bind(json.dumps(body), client_cert))


def x509_fingerprint(cert: Text) -> str:
    """Lowercase hex SHA-256 of a certificate's DER (PEM or DER input): the ``x509`` bind value."""
    return _kstoken.x509_fingerprint(cert)


def generate_pki(
    *, key_bits: Optional[int] = None, valid_days: Optional[int] = None, subject: Optional[str] = None
) -> Dict[str, bytes]:
    """A throw-away CA and signing certificate in ``keystone-manage pki_setup``'s layout.

    Returns ``{"ca_cert", "ca_key", "signing_cert", "signing_key"}`` as PEM bytes.

    :raises InvalidArgumentError: an option cannot make a working PKI (the core's rules): ``valid_days``
        below 1 or ending the certificates after 9999-12-31 (the last date a certificate can
        carry), ``key_bits`` outside 1024 to 8192, a subject without attributes or not in
        ``openssl -subj`` form.
    :raises PkiSetupError: OpenSSL failed to generate the keys or certificates.
    """
    return _kstoken.generate_pki(
        key_bits=key_bits, valid_days=_args.valid_days(valid_days), subject=subject
    )
