"""Checks of the arguments the Python API takes, so mistakes raise a clear, typed error.

* An ``Iterable[str]`` parameter refuses a bare ``str``/``bytes`` (which would be iterated one
  character at a time, so ``is_revoked("<hash>")`` would look up single characters) and a mapping
  (which would be iterated by key); parameters documented as ``str | Iterable[str]`` take a bare
  ``str`` as one item.
* A token given as ``str`` longer than the verifier's ``max_token_len`` is refused before it is
  encoded or copied, and one that cannot be encoded as UTF-8 (a lone surrogate) is a malformed token.
* A parameter that must be a kstoken object raises ``TypeError`` naming what was expected.
"""

import collections.abc
import datetime
from typing import Any, Iterable, List, Optional, Union, cast

from kstoken.exceptions import InvalidArgumentError, LimitExceededError, MalformedTokenError


def str_items(value: Iterable[str], name: str) -> List[str]:
    """``value`` as a list of ``str``; a bare ``str``, ``bytes`` or mapping is a ``TypeError``."""
    if isinstance(value, (str, bytes, bytearray, memoryview)):
        raise TypeError(
            "%s must be an iterable of str, not a bare %s (wrap one value in a list: [value])"
            % (name, type(value).__name__)
        )
    if isinstance(value, collections.abc.Mapping):
        raise TypeError("%s must be an iterable of str, not a mapping" % name)
    try:
        items = list(value)
    except TypeError:
        raise TypeError("%s must be an iterable of str, not %s" % (name, type(value).__name__)) from None
    for item in items:
        if not isinstance(item, str):
            raise TypeError("%s must hold only str, not %s" % (name, type(item).__name__))
    return items


def str_or_items(value: Union[str, Iterable[str]], name: str) -> List[str]:
    """A ``str | Iterable[str]`` parameter as a non-empty list (a bare ``str`` is one item)."""
    items = [value] if isinstance(value, str) else str_items(value, name)
    if not items:
        raise InvalidArgumentError("%s: at least one is needed" % name)
    return items


def kstoken_object(value: Any, cls: type, name: str) -> Any:
    """``value._native`` when ``value`` is a ``cls``, else a ``TypeError``."""
    if not isinstance(value, cls):
        raise TypeError(
            "%s must be a kstoken.%s, not %s" % (name, cls.__name__, type(value).__name__)
        )
    return cast(Any, value)._native


def token(value: Any, max_len: Optional[int]) -> Any:
    """Checks a token before any copy: its length against ``max_len``, and that a ``str`` is UTF-8.

    Counting characters is enough to refuse: UTF-8 never has fewer bytes than characters.
    """
    if max_len is not None and isinstance(value, (str, bytes, bytearray)) and len(value) > max_len:
        raise LimitExceededError(
            "token length exceeds the limit of %d" % max_len, "token length"
        )
    if isinstance(value, str) and not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as e:
            raise MalformedTokenError(
                "token is not UTF-8 text: %s at position %d" % (e.reason, e.start)
            ) from None
    return value


def pipeline_token(value: Any) -> Any:
    """A ``str`` token for the validation pipeline, with every lone surrogate replaced by ``?``.

    The pipeline reports a bad token as the step that rejects it; ``?`` is in no token alphabet, so
    the token is still rejected, at the step the core's rules give (``detect`` for a text that does
    not look like a PKI/PKIZ token, ``signature`` with a malformed-token cause for one that does).
    """
    if isinstance(value, str) and not value.isascii():
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


# RFC 5280 dates end with the year 9999.
_LAST_DATE = datetime.datetime(9999, 12, 31, 23, 59, 59, tzinfo=datetime.timezone.utc)


def valid_days(value: Optional[int]) -> Optional[int]:
    """``generate_pki``'s ``valid_days``: at least 1, and the certificates must end by 9999-12-31."""
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("valid_days must be an int, not %s" % type(value).__name__)
    longest = (_LAST_DATE - datetime.datetime.now(datetime.timezone.utc)).days
    if not 1 <= value <= longest:
        raise InvalidArgumentError(
            "valid_days must be between 1 and %d (certificates cannot end after 9999-12-31), not %d"
            % (longest, value)
        )
    return value
