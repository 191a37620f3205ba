"""Reading certificates, keys and CA bundles from files, with a size bound.

Everything kstoken reads from a path (``Verifier``/``Signer`` paths, the file names of
``kstoken.cms``) goes through :func:`read_credential`, so ``/dev/zero`` or a sparse 3 GB file costs
at most the limit + 1 bytes before it is refused, and PEM passed inline obeys the same bound
(:func:`check_credential_len`). The limit is the core's (``Limits::max_credential_len``), or the
``max_credential_len`` a ``Verifier`` or ``Signer`` was given.
"""

import os
from typing import Tuple, Union

from kstoken import _kstoken
from kstoken.exceptions import CertificateConfigError

#: Largest certificate, key or CA bundle accepted by default, in bytes: the core's default (16 MiB;
#: a system CA bundle is about 220 KB, keystone's files are 1-2 KB each).
MAX_CREDENTIAL_LEN: int = _kstoken.DEFAULT_MAX_CREDENTIAL_LEN

Path = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]


def too_large(what: str, where: str, limit: int = MAX_CREDENTIAL_LEN) -> CertificateConfigError:
    """The error for a credential over ``limit`` bytes."""
    return CertificateConfigError(
        "%s %s is larger than %d bytes, the limit for a certificate, key or CA bundle"
        % (what, where, limit)
    )


def check_credential_len(
    data: Union[str, bytes, bytearray], what: str, limit: int = MAX_CREDENTIAL_LEN
) -> None:
    """Refuse inline PEM (``str``/``bytes``) longer than ``limit``."""
    if len(data) > limit:
        raise too_large(what, "(inline)", limit)


def read_credential(path: Path, what: str, limit: int = MAX_CREDENTIAL_LEN) -> Tuple[os.stat_result, bytes]:
    """The file's ``fstat`` (taken before reading) and its bytes, reading at most ``limit`` + 1.

    :raises CertificateConfigError: the path is unusable (missing, unreadable, NUL byte) or the
        file is larger than ``limit``.
    :raises TypeError: ``path`` is not a ``str``, ``bytes`` or ``os.PathLike`` (an ``int`` would
        be taken as a file descriptor by ``open``).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("the %s path must be str, bytes or os.PathLike, not %s" % (what, type(path).__name__))
    where = os.fsdecode(path)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size > limit:
                raise too_large(what, where, limit)
            # st_size is 0 for /dev/zero and pipes: the bounded read is what holds the line
            data = f.read(limit + 1)
    except OSError as e:
        raise CertificateConfigError("cannot read %s %s: %s" % (what, where, e.strerror)) from None
    except ValueError as e:  # a path with a NUL byte
        raise CertificateConfigError("cannot read %s %r: %s" % (what, where, e)) from None
    if len(data) > limit:
        raise too_large(what, where, limit)
    return st, data
