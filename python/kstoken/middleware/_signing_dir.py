"""``signing_dir``: where the signing certificate, the CA and the last revocation list are kept.

keystonemiddleware's checks: an existing directory must be writable (else a startup error), and a
wrong owner or a mode other than 0700 is logged; a missing one is created 0700; an unset one is a
fresh ``mkdtemp(prefix="keystone-signing-")``. Files are replaced atomically (a temporary file in the
directory, then ``os.replace``), so readers never see a partial file.
"""

import logging
import os
import stat
import tempfile
import threading
from typing import Optional, Tuple

from kstoken._credentials import read_credential
from kstoken.exceptions import CertificateConfigError
from kstoken.middleware._config import ConfigurationError

__all__ = ["SigningDirectory", "SIGNING_CERT", "CA_CERT", "REVOCATION_LIST"]

#: keystonemiddleware's file names, so a directory can be shared or migrated.
SIGNING_CERT = "signing_cert.pem"
CA_CERT = "cacert.pem"
#: keystone's signed response, kept signed (keystonemiddleware 5.x stored the unverified JSON as
#: ``revoked.pem``; a different name keeps the two formats apart).
REVOCATION_LIST = "revoked.signed.pem"

#: What identifies a file's version: device, inode, modification time, size.
Stamp = Tuple[int, int, int, int]


class SigningDirectory:
    """The directory, created lazily when unset."""

    def __init__(self, path: Optional[str], log: logging.Logger) -> None:
        self._log = log
        self._path = path
        self._lock = threading.Lock()
        if path:
            log.info("Using %s as cache directory for signing certificate", path)
            self._verify()

    @property
    def path(self) -> str:
        """The directory, created on first use when unset."""
        with self._lock:
            if self._path is None:
                self._path = tempfile.mkdtemp(prefix="keystone-signing-")
                self._log.info("Using %s as cache directory for signing certificate", self._path)
                self._verify()
            return self._path

    def _verify(self) -> None:
        path = self._path
        assert path is not None
        if os.path.isdir(path):
            if not os.access(path, os.W_OK):
                raise ConfigurationError("unable to access signing_dir %s" % path)
            st = os.stat(path)
            uid = os.getuid()
            if st.st_uid != uid:
                self._log.warning("signing_dir is not owned by %s", uid)
            mode = stat.S_IMODE(st.st_mode)
            if mode != stat.S_IRWXU:
                self._log.warning("signing_dir mode is %s instead of %s", oct(mode), oct(stat.S_IRWXU))
        else:
            try:
                os.makedirs(path, stat.S_IRWXU)
            except OSError as e:
                raise ConfigurationError("cannot create signing_dir %s: %s" % (path, e)) from None

    def file(self, name: str) -> str:
        """The path of ``name`` in the directory."""
        return os.path.join(self.path, name)

    def read(self, name: str) -> Optional[bytes]:
        """The file's contents, or ``None`` when it cannot be read or is over the credential limit.

        Read with kstoken's bounded credential reader: a file in ``signing_dir`` is never read
        whole before its size is checked. A file that exists but is refused is logged.
        """
        path = self.file(name)
        try:
            return read_credential(path, name)[1]
        except CertificateConfigError as e:
            if os.path.exists(path):
                # keystoneclient's CertificateConfigError: str() is fixed, the detail is .output
                self._log.warning("signing_dir: %s", getattr(e, "output", None) or e)
            return None

    def stamp(self, name: str) -> Optional[Stamp]:
        """``(device, inode, mtime_ns, size)`` of the file, or ``None`` when it is missing."""
        try:
            st = os.stat(self.file(name))
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def mtime(self, name: str) -> Optional[float]:
        """The file's modification time, or ``None`` when it is missing."""
        try:
            return os.stat(self.file(name)).st_mtime
        except OSError:
            return None

    def write(self, name: str, data: bytes) -> None:
        """Replaces the file atomically (mode 0600)."""
        try:
            self._write(name, data)
        except OSError:
            # The directory may have been removed under us: recreate it and try once more.
            self._verify()
            self._write(name, data)

    def _write(self, name: str, data: bytes) -> None:
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix="." + name + ".")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.file(name))
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
