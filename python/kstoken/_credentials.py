"""Reading certificates, keys and CA bundles from files, with a size bound.

Everything kstoken reads from a path (``Verifier``/``Signer`` paths, the file names of
``kstoken.cms``) goes through :func:`read_credential`, so ``/dev/zero`` or a sparse 3 GB file costs
at most :data:`MAX_CREDENTIAL_LEN` + 1 bytes before it is refused, and PEM passed inline obeys the same
bound (:func:`check_credential_len`).
"""

import os
from typing import Any, Tuple

from kstoken import _kstoken
from kstoken.exceptions import CertificateConfigError

#: Largest certificate, key or CA bundle accepted, in bytes. A system CA bundle is about 220 KB;
#: keystone's files are 1-2 KB each. Hook: once the core's ``Limits`` carries its credential limit
#: and the native module exports that default as ``DEFAULT_MAX_CREDENTIAL_LEN``, it is used here
#: (and this module stays the one place the Python package reads it from).
MAX_CREDENTIAL_LEN: int = getattr(_kstoken, "DEFAULT_MAX_CREDENTIAL_LEN", 1 << 20)


def too_large(what: str, where: Any) -> CertificateConfigError:
    """The error for a credential over :data:`MAX_CREDENTIAL_LEN` bytes."""
    return CertificateConfigError(
        "%s %s is larger than %d bytes, the limit for a certificate, key or CA bundle"
        % (what, where, MAX_CREDENTIAL_LEN)
    )


def check_credential_len(data: Any, what: str) -> None:
    """Refuse inline PEM (``str``/``bytes``) longer than :data:`MAX_CREDENTIAL_LEN`."""
    if len(data) > MAX_CREDENTIAL_LEN:
        raise too_large(what, "(inline)")


def read_credential(path: Any, what: str) -> Tuple[os.stat_result, bytes]:
    """The file's ``fstat`` (taken before reading) and its bytes, reading at most the limit + 1.

    :raises CertificateConfigError: the path is unusable (missing, unreadable, NUL byte) or the
        file is larger than :data:`MAX_CREDENTIAL_LEN`.
    :raises TypeError: ``path`` is not a ``str``, ``bytes`` or ``os.PathLike`` (an ``int`` would
        be taken as a file descriptor by ``open``).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError("the %s path must be str, bytes or os.PathLike, not %s" % (what, type(path).__name__))
    where = os.fsdecode(path)
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            if st.st_size > MAX_CREDENTIAL_LEN:
                raise too_large(what, where)
            # st_size is 0 for /dev/zero and pipes: the bounded read is what holds the line
            data = f.read(MAX_CREDENTIAL_LEN + 1)
    except OSError as e:
        raise CertificateConfigError("cannot read %s %s: %s" % (what, where, e.strerror)) from None
    except ValueError as e:  # a path with a NUL byte
        raise CertificateConfigError("cannot read %s %r: %s" % (what, where, e)) from None
    if len(data) > MAX_CREDENTIAL_LEN:
        raise too_large(what, where)
    return st, data
