"""Checks of the arguments the Python API takes, so mistakes raise a clear, typed error.

* An ``Iterable[str]`` parameter refuses a bare ``str``/``bytes`` (which would be iterated one
  character at a time, so ``is_revoked("<hash>")`` would look up single characters) and a mapping
  (which would be iterated by key); parameters documented as ``str | Iterable[str]`` take a bare
  ``str`` as one item.
* A parameter that must be a kstoken object raises ``TypeError`` naming what was expected.
* ``kstoken.cms`` transforms token text in Python before the native module sees it: :func:`token`
  checks its length and UTF-8 first there (the native module checks every token it is given).
"""

import collections.abc
from typing import Iterable, List, Optional, Type, TypeVar, Union

from kstoken import _kstoken
from kstoken.exceptions import InvalidArgumentError, LimitExceededError, MalformedTokenError

T = TypeVar("T")


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
    """A ``str | Iterable[str]`` parameter as a list (a bare ``str`` is one item)."""
    return [value] if isinstance(value, str) else str_items(value, name)


def instance(value: object, cls: Type[T], name: str) -> T:
    """``value`` when it is a ``cls``, else a ``TypeError``."""
    if not isinstance(value, cls):
        raise TypeError(
            "%s must be a kstoken.%s, not %s" % (name, cls.__name__, type(value).__name__)
        )
    return value


def token(value: T, max_len: Optional[int]) -> T:
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


def valid_days(value: Optional[int]) -> Optional[int]:
    """``generate_pki``'s ``valid_days``: an ``int`` (not a ``bool``) from 1 to the core's maximum.

    The core refuses the same values (``PkiOptions::validate``, ``InvalidArgumentError``); this
    pre-check stays for its wording, which names the accepted range, and for refusing ``True``
    (an ``int`` to the native module). Delete it when that wording is the core's.
    """
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("valid_days must be an int, not %s" % type(value).__name__)
    longest = _kstoken.max_valid_days()
    if not 1 <= value <= longest:
        raise InvalidArgumentError(
            "valid_days must be between 1 and %d (certificates cannot end after 9999-12-31), not %d"
            % (longest, value)
        )
    return value
