"""``signing_dir``: where the signing certificate, the CA and the last revocation list are kept.

keystonemiddleware's checks: an existing directory must be writable (else a startup error), and a
wrong owner or a mode other than 0700 is logged; a missing one is created 0700; an unset one is a
fresh ``mkdtemp(prefix="keystone-signing-")``.

The certificate files are the operator's: the middleware writes one only when it is missing (the
first fetch into an empty directory, as keystonemiddleware does), through a temporary file linked
into place, so it never overwrites a file, not even one another process wrote a moment before. The
revocation-list files are the middleware's own and are replaced atomically (``os.replace``). Readers
never see a partial file.
"""

import logging
import os
import stat
import tempfile
import threading
from typing import Optional

from kstoken._credentials import MAX_CREDENTIAL_LEN, read_credential
from kstoken._file_key import FileKey, file_key
from kstoken.exceptions import CertificateConfigError
from kstoken.middleware._config import ConfigurationError

__all__ = ["SigningDirectory", "SIGNING_CERT", "CA_CERT", "REVOCATION_LIST", "HELD_REVOCATIONS", "Stamp"]

#: keystonemiddleware's file names, so a directory can be shared or migrated.
SIGNING_CERT = "signing_cert.pem"
CA_CERT = "cacert.pem"
#: keystone's signed response, kept signed (keystonemiddleware 5.x stored the unverified JSON as
#: ``revoked.pem``; a different name keeps the two formats apart).
REVOCATION_LIST = "revoked.signed.pem"
#: Revocations seen in earlier lists that the last one lacks and whose tokens have not expired
#: (keystone's JSON ``{"revoked": [...]}``, unsigned: it can only add refusals); absent when none.
HELD_REVOCATIONS = "revoked.held.json"

#: What identifies a file's version: ``kstoken._file_key``'s rule, ctime included.
Stamp = FileKey


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

    def read(self, name: str, limit: int = MAX_CREDENTIAL_LEN) -> Optional[bytes]:
        """The file's contents, or ``None`` when it cannot be read or is over ``limit`` bytes (the
        credential limit unless said otherwise).

        Read with kstoken's bounded credential reader: a file in ``signing_dir`` is never read
        whole before its size is checked. A file that exists but is refused is logged.
        """
        path = self.file(name)
        try:
            return read_credential(path, name, limit)[1]
        except CertificateConfigError as e:
            if os.path.exists(path):
                # keystoneclient's CertificateConfigError: str() is fixed, the detail is .output
                self._log.warning("signing_dir: %s", getattr(e, "output", None) or e)
            return None

    def stamp(self, name: str) -> Optional[Stamp]:
        """The file's key (``kstoken._file_key``: device, inode, size, mtime, ctime), or ``None``
        when it is missing."""
        try:
            return file_key(os.stat(self.file(name)))
        except OSError:
            return None

    def mtime(self, name: str) -> Optional[float]:
        """The file's modification time, or ``None`` when it is missing."""
        try:
            return os.stat(self.file(name)).st_mtime
        except OSError:
            return None

    def write(self, name: str, data: bytes) -> None:
        """Replaces the file atomically (mode 0600): for the middleware's own files only."""
        try:
            self._write(name, data, replace=True)
        except OSError:
            # The directory may have been removed under us: recreate it and try once more.
            self._verify()
            self._write(name, data, replace=True)

    def write_new(self, name: str, data: bytes) -> bool:
        """Creates the file (mode 0600) only if it does not exist; whether it was written. An
        existing file, the operator's or another process's, is never touched."""
        try:
            return self._write(name, data, replace=False)
        except FileNotFoundError:
            self._verify()
            return self._write(name, data, replace=False)

    def remove(self, name: str) -> None:
        """Removes the file if it exists (for the middleware's own files only)."""
        try:
            os.unlink(self.file(name))
        except FileNotFoundError:
            pass

    def _write(self, name: str, data: bytes, replace: bool) -> bool:
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix="." + name + ".")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            if replace:
                os.replace(tmp, self.file(name))
                return True
            try:
                # link() fails on an existing name: no window in which another file is replaced.
                os.link(tmp, self.file(name))
            except FileExistsError:
                return False
            finally:
                os.unlink(tmp)
            return True
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
