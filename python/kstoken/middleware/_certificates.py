"""Certificates and trust anchors: what the native authenticator verifies tokens with.

The CA in ``signing_dir`` (the operator's file, or the first fetch into an empty directory, as
keystonemiddleware does) is the trust anchor. The files are re-read when they change (by
``kstoken._file_key``'s rule) and what they hold replaces what is in force. A fetch from keystone takes
its signing certificate only if it chains to the trusted CA (``Verifier::rotate``, kept in memory; the
files are never overwritten), and a different CA only with ``kstoken_accept_new_ca``.
"""

import hashlib
import logging
import time
from typing import Optional, Set, Tuple

from kstoken import _kstoken
from kstoken._file_key import settled
from kstoken.exceptions import KstokenError
from kstoken.middleware._config import Settings
from kstoken.middleware._keystone import Keystone, KeystoneError
from kstoken.middleware._signing_dir import CA_CERT, SIGNING_CERT, SigningDirectory, Stamp

__all__ = ["Certificates", "why"]

#: Seconds between checks of signing_dir for replaced certificate files.
CERT_RECHECK = 1.0


def why(error: Exception) -> str:
    """An error's explanation: kstoken's exceptions keep keystoneclient's fixed ``str()`` and carry
    the detail in ``.output``."""
    output = getattr(error, "output", None)
    return " ".join(str(output).split()) if output else str(error)


class Certificates:
    """The certificates in force in ``native``: loaded from ``signing_dir``, fetched from keystone."""

    def __init__(
        self,
        settings: Settings,
        native: _kstoken.Authenticator,
        signing_dir: SigningDirectory,
        keystone: Keystone,
        log: logging.Logger,
    ) -> None:
        self.settings = settings
        self.native = native
        self.signing_dir = signing_dir
        self.keystone = keystone
        self.log = log
        # signing_dir's certificate files as last read: their keys, whether they could still change
        # unseen (a young ctime), and a digest of their contents.
        self._stamp: Optional[Tuple[Optional[Stamp], Optional[Stamp]]] = None
        self._settled = False
        self._digest: Optional[bytes] = None
        # The signing certificate(s) in force (from the files or a rotation), to tell a change.
        self._signing_pem: Optional[bytes] = None
        self._next_check = 0.0
        # The new CAs already reported (whoever answers for keystone could serve one a minute).
        self._new_cas: Set[str] = set()
        #: Fetches from keystone that failed (unreachable, refused answer), in this process.
        self.fetch_errors = 0

    def after_fork(self) -> None:
        """A forked child counts its own fetches."""
        self.fetch_errors = 0

    def loaded(self) -> bool:
        """Whether certificates are in force."""
        return bool(self.native.has_certificates())

    def _set(self, signing: bytes, ca: bytes) -> None:
        self.native.set_certificates(signing, ca)
        self._signing_pem = signing

    def _stamps(self) -> Tuple[Optional[Stamp], Optional[Stamp]]:
        return (self.signing_dir.stamp(SIGNING_CERT), self.signing_dir.stamp(CA_CERT))

    def load(self) -> bool:
        """(Re)loads the certificates from signing_dir when they changed; whether some are loaded.

        The files are the operator's: what they hold replaces what is in force, a new CA
        included. A change is seen by ``kstoken._file_key``'s rule, as ``kstoken.cms`` sees one."""
        started = time.time_ns()
        stamps = self._stamps()
        if stamps == self._stamp and self._settled:
            return self.loaded()
        signing_stamp, ca_stamp = stamps
        if signing_stamp is None or ca_stamp is None:
            self._stamp, self._settled = stamps, True
            return self.loaded()
        signing = self.signing_dir.read(SIGNING_CERT)
        ca = self.signing_dir.read(CA_CERT)
        if signing is None or ca is None:
            self._stamp, self._settled = stamps, True
            return self.loaded()
        digest = hashlib.sha256(len(signing).to_bytes(8, "big") + signing + ca).digest()
        unchanged = stamps == self._stamp and digest == self._digest
        self._stamp, self._digest = stamps, digest
        self._settled = settled(signing_stamp, started) and settled(ca_stamp, started)
        if unchanged:
            return self.loaded()
        try:
            self._set(signing, ca)
        except KstokenError as e:
            self.log.error("the certificates in %s cannot be used: %s", self.signing_dir.path, why(e))
            return self.loaded()
        self.log.info("loaded the signing and CA certificates from %s", self.signing_dir.path)
        return True

    def maybe_reload(self) -> None:
        """On a request: looks at signing_dir at most once per :data:`CERT_RECHECK`."""
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + CERT_RECHECK
        self.load()

    def fetch(self, kind: str) -> bool:
        """On the keystone thread: fetches keystone's signing certificate and CA and takes what it
        may (see the module's documentation); whether what is in force changed or was confirmed.
        ``kind`` (``"missing"`` or ``"rotation"``) is why it was asked for."""
        try:
            signing, ca = self.keystone.fetch_certificates()
        except KeystoneError as e:
            self.fetch_errors += 1
            self.log.error("cannot fetch the signing certificates: %s", e)
            return False
        if not self.loaded():
            return self._first(signing, ca)
        now = time.time()
        if signing == self._signing_pem:
            self.log.debug("keystone's signing certificate is the one in force")
            return True
        try:
            self.native.rotate_certificates(signing, now)
        except KstokenError as e:
            if not _kstoken.Authenticator.chains_to(signing, ca, now):
                self.log.error("keystone's signing certificate is not accepted: %s", why(e))
                return False
            if self.settings.kstoken_accept_new_ca:
                try:
                    self._set(signing, ca)
                except KstokenError as e2:
                    self.log.error("keystone's certificates cannot be used: %s", why(e2))
                    return False
                self.log.warning(
                    "keystone serves a new CA (sha256 %s); taken because kstoken_accept_new_ca = true "
                    "(in memory only: %s is unchanged)",
                    hashlib.sha256(ca).hexdigest(),
                    self.signing_dir.file(CA_CERT),
                )
                return True
            self._new_ca(ca, e)
            return False
        self._signing_pem = signing
        self.log.info(
            "rotated to keystone's new signing certificate (it chains to the CA in %s; kept in memory, "
            "the files are unchanged)",
            self.signing_dir.file(CA_CERT),
        )
        return True

    def _first(self, signing: bytes, ca: bytes) -> bool:
        """Nothing loaded: the files are missing (or unusable). The CA is the operator's file when
        there is one; without one, keystone's is trusted on first use, as keystonemiddleware does,
        and written so that it stays the trust anchor."""
        disk_ca = self.signing_dir.read(CA_CERT)
        trusted = disk_ca or ca
        if disk_ca is not None and not _kstoken.Authenticator.chains_to(signing, disk_ca):
            self._new_ca(ca, KstokenError("it does not chain to the CA in %s" % self.signing_dir.file(CA_CERT)))
            return False
        try:
            self._set(signing, trusted)
        except KstokenError as e:
            self.log.error("keystone's certificates cannot be used: %s", why(e))
            return False
        written = []
        try:
            for name, data in ((SIGNING_CERT, signing), (CA_CERT, ca)):
                if self.signing_dir.write_new(name, data):
                    written.append(name)
        except OSError as e:
            self.log.error("cannot write to %s: %s", self.signing_dir.path, e)
        self.log.info(
            "fetched signing certificate and fetched CA certificate from keystone (written to %s: %s); "
            "the CA in %s is the trust anchor",
            self.signing_dir.path,
            ", ".join(written) or "nothing, the files exist",
            self.signing_dir.file(CA_CERT),
        )
        self.load()
        return True

    def _new_ca(self, ca: bytes, error: Exception) -> None:
        """Keystone's certificate chains to a CA other than the trusted one: said once per CA."""
        fingerprint = hashlib.sha256(ca).hexdigest()
        message = (
            "keystone now serves a different CA (sha256 %s): its signing certificate does not chain to "
            "the trusted CA in %s, so tokens it signs are refused (%s). If keystone's PKI was rebuilt on "
            "purpose, check the new CA and replace cacert.pem and signing_cert.pem in %s with keystone's "
            "(GET .../OS-SIMPLE-CERT/ca and /certificates); or set kstoken_accept_new_ca = true to take "
            "whatever CA keystone serves (then whoever can answer for keystone chooses what is trusted)"
            % (fingerprint, self.signing_dir.file(CA_CERT), why(error), self.signing_dir.path)
        )
        if fingerprint in self._new_cas:
            self.log.debug(message)
            return
        if len(self._new_cas) >= 16:
            # Whoever answers for keystone could serve a new CA every minute: remember a few only.
            self._new_cas.clear()
        self._new_cas.add(fingerprint)
        self.log.error(message)
