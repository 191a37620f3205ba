"""Swap kstoken into existing keystoneclient / keystonemiddleware code.

``patch()`` replaces ``keystoneclient.common.cms.cms_verify`` and ``cms_sign_data`` with
:mod:`kstoken.cms`'s. Upstream's ``verify_token``, ``pkiz_verify``, ``cms_sign_text``,
``cms_sign_token`` and ``pkiz_sign`` call those two by module-global lookup, so all seven stop
spawning ``openssl``. It also sets ``keystoneclient.common.cms.subprocess`` to the standard
``subprocess`` module when it is still ``None`` (keystonemiddleware's ``except`` clauses read
``cms.subprocess.CalledProcessError``). Options:

* ``helpers=True`` also replaces the pure helpers (``token_to_cms``, ``cms_to_token``,
  ``pkiz_uncompress``, ``cms_hash_token``) with the native ones;
* ``bind=True`` replaces keystonemiddleware's ``BaseAuthProtocol._confirm_token_bind`` with
  :func:`kstoken.check_bind` (which adds the ``x509`` bind type, checked against the request's
  ``SSL_CLIENT_CERT``).

``patch()`` also makes keystoneclient's ``pkiz_uncompress`` report a corrupt zlib stream as an error
keystonemiddleware turns into 401 (upstream answers such a token with a 500: it catches
``binascii.Error`` and ``TypeError`` but not ``zlib.error``). The error raised is a
:class:`PKIZInflateError`, both a ``zlib.error`` and a ``binascii.Error``, so other callers see no
change.

For paste pipelines, :func:`filter_factory` applies ``patch()`` when the pipeline loads::

    [pipeline:main]
    pipeline = kstoken authtoken myapp

    [filter:kstoken]
    paste.filter_factory = kstoken.compat:filter_factory
    # optional: helpers = true, bind = true

Deliberate difference with ``bind=True``: a ``kerberos`` bind whose principal is JSON ``null``
never matches. Stock keystonemiddleware (5.3.0 and 6.1.0) and keystone's ``validate_token_bind``
compare ``REMOTE_USER != identifier``, so a request with ``AUTH_TYPE: Negotiate`` and no
``REMOTE_USER`` passes a ``{"kerberos": null}`` bind (``None != None`` is false) in every
enforcement mode. keystone only writes a kerberos bind from an authenticated ``REMOTE_USER`` (or the
user's name), so a null principal is never legitimate, and a bind that an unauthenticated request
satisfies would fail open. kstoken rejects it; every other case decides as upstream does
(``tests/test_compat.py`` drives both middlewares with and without the patch).

``patch()`` is all or nothing: it imports and looks up every target before setting the first
attribute (``bind=True`` without keystonemiddleware raises ``ImportError`` and patches nothing), and
undoes what it set if setting fails. It is idempotent and records the originals; ``unpatch()``
restores them; ``patched()`` is a context manager that undoes only what it did. The module's lock
is renewed in a forked child.

What a patch cannot reach: a name bound before the patch, as in
``from keystoneclient.common.cms import cms_verify`` executed before ``patch()``; a
``functools.partial(cms.cms_verify, ...)`` or a default argument (``def f(verify=cms.cms_verify)``)
created before it; code that spawns ``openssl`` itself. Every caller in keystoneclient,
keystonemiddleware and keystone uses ``from keystoneclient.common import cms`` and ``cms.name(...)``,
which the patch reaches, even in modules imported before it.
"""

import binascii
import contextlib
import functools
import importlib
import logging
import os
import subprocess
import threading
import zlib
from typing import Any, Callable, Dict, Iterator, List, Tuple

from kstoken import cms as _cms

__all__ = [
    "patch",
    "unpatch",
    "patched",
    "is_patched",
    "confirm_token_bind",
    "filter_factory",
    "PKIZInflateError",
]

_CORE = ("cms_verify", "cms_sign_data")
_HELPERS = ("token_to_cms", "cms_to_token", "pkiz_uncompress", "cms_hash_token")

_KSC_CMS = "keystoneclient.common.cms"
_KSM_AUTH_TOKEN = "keystonemiddleware.auth_token"

_MISSING = object()
#: Where patch() says what it changed.
_LOG = logging.getLogger("kstoken.compat")
_lock = threading.RLock()
# (module name, object path, attribute) -> original value
_originals: Dict[Tuple[str, str, str], Any] = {}


def _reset_lock_in_child() -> None:
    # A thread of the parent may have held the lock at fork; it does not exist in the child.
    global _lock
    _lock = threading.RLock()


os.register_at_fork(after_in_child=_reset_lock_in_child)


def confirm_token_bind(self: Any, auth_ref: Any, req: Any) -> None:
    """kstoken's replacement for keystonemiddleware's ``BaseAuthProtocol._confirm_token_bind``.

    Decides as upstream does, except that a ``{"kerberos": null}`` bind never matches (upstream
    accepts it from a Negotiate request without ``REMOTE_USER``; see the module docstring).
    """
    from kstoken import BindError, check_bind

    environ = getattr(req, "environ", None) or {}
    try:
        check_bind(
            self._enforce_token_bind,
            auth_ref.bind,
            req.auth_type,
            req.remote_user,
            environ.get("SSL_CLIENT_CERT"),
        )
    except BindError as e:
        self.log.info("Token bind rejected: %s", e)
        self._invalid_user_token()


def _target(module_name: str, owner: str) -> Any:
    module = importlib.import_module(module_name)
    return getattr(module, owner) if owner else module


def _set(key: Tuple[str, str, str], obj: Any, value: Any, done: List[Tuple[str, str, str]]) -> None:
    _, owner, attr = key
    current = obj.__dict__.get(attr, _MISSING) if owner else getattr(obj, attr, _MISSING)
    if key in _originals and current is value:
        return
    setattr(obj, attr, value)
    _originals.setdefault(key, current)
    done.append(key)


def patch(*, helpers: bool = False, bind: bool = False) -> List[Tuple[str, str, str]]:
    """Patch kstoken in; returns the attributes this call changed (empty when already patched).

    All or nothing: every target is imported and looked up before the first attribute is set, and
    a failure while setting undoes what this call set.

    :raises ImportError: keystoneclient (or, with ``bind=True``, keystonemiddleware) is missing;
        nothing was patched.
    """
    done: List[Tuple[str, str, str]] = []
    with _lock:
        plan: List[Tuple[Tuple[str, str, str], Any]] = []
        ksc_cms = importlib.import_module(_KSC_CMS)
        if getattr(ksc_cms, "subprocess", None) is None:
            plan.append(((_KSC_CMS, "", "subprocess"), subprocess))
        for name in _CORE + (_HELPERS if helpers else ()):
            plan.append(((_KSC_CMS, "", name), getattr(_cms, name)))
        if not helpers:
            plan.extend(_pkiz_fix_plan(ksc_cms))
        if bind:
            plan.append(
                ((_KSM_AUTH_TOKEN, "BaseAuthProtocol", "_confirm_token_bind"), confirm_token_bind)
            )
        targets = [(key, _target(key[0], key[1]), value) for key, value in plan]
        try:
            for key, obj, value in targets:
                _set(key, obj, value, done)
        except BaseException:
            unpatch(done)
            raise
    if done:
        # Once per change: a patch() that finds everything patched already changes and says nothing.
        _LOG.info(
            "kstoken.compat: patched %s (keystoneclient/keystonemiddleware now verify PKI and PKIZ "
            "tokens with kstoken, no openssl process)",
            ", ".join("%s.%s" % (".".join(p for p in key[:2] if p), key[2]) for key in done),
        )
    return done


def unpatch(keys: Any = None) -> None:
    """Restore the originals (all of them, or only ``keys`` as returned by :func:`patch`).

    :raises TypeError: ``keys`` is one key rather than a list of them.
    """
    if isinstance(keys, tuple) and keys and isinstance(keys[0], str):
        raise TypeError("keys must be a list of keys as patch() returns, not one key (wrap it: [key])")
    with _lock:
        for key in list(_originals) if keys is None else list(keys):
            if key not in _originals:
                continue
            original = _originals.pop(key)
            module_name, owner, attr = key
            obj = _target(module_name, owner)
            if original is _MISSING:
                with contextlib.suppress(AttributeError):
                    delattr(obj, attr)
            else:
                setattr(obj, attr, original)


def is_patched() -> bool:
    """Whether ``keystoneclient.common.cms.cms_verify`` is kstoken's."""
    try:
        ksc_cms = importlib.import_module(_KSC_CMS)
    except ImportError:
        return False
    return getattr(ksc_cms, "cms_verify", None) is _cms.cms_verify


@contextlib.contextmanager
def patched(*, helpers: bool = False, bind: bool = False) -> Iterator[None]:
    """Patch for the duration of a ``with`` block, then undo what this patch changed."""
    done = patch(helpers=helpers, bind=bind)
    try:
        yield
    finally:
        unpatch(done)


class PKIZInflateError(zlib.error, binascii.Error):
    """A PKIZ token whose payload does not inflate: a ``zlib.error`` for keystoneclient's callers and
    a ``binascii.Error`` for keystonemiddleware, which then answers 401 instead of 500."""


_pkiz_wrappers: Dict[int, Callable[[str], bytes]] = {}


def _pkiz_fix_plan(ksc_cms: Any) -> List[Tuple[Tuple[str, str, str], Any]]:
    """The patch that wraps keystoneclient's ``pkiz_uncompress`` so a corrupt zlib stream raises
    :class:`PKIZInflateError` (one wrapper per original, so repeated patches are no-ops)."""
    key = (_KSC_CMS, "", "pkiz_uncompress")
    original = _originals.get(key, getattr(ksc_cms, "pkiz_uncompress", None))
    if original is None or original is _MISSING:
        return []
    wrapper = _pkiz_wrappers.get(id(original))
    if wrapper is None:

        @functools.wraps(original)
        def pkiz_uncompress(signed_text: str) -> bytes:
            try:
                return original(signed_text)  # type: ignore[no-any-return]
            except zlib.error as e:
                raise PKIZInflateError(str(e)) from e

        wrapper = _pkiz_wrappers[id(original)] = pkiz_uncompress
    return [(key, wrapper)]


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def filter_factory(global_conf: Dict[str, Any], **local_conf: Any) -> Callable[[Any], Any]:
    """paste.deploy filter placed before keystonemiddleware's ``authtoken``: applies :func:`patch`
    when the pipeline loads (``helpers`` and ``bind`` options as in :func:`patch`) and passes every
    request through untouched (the filter returns the application itself)."""
    conf = dict(global_conf)
    conf.update(local_conf)
    patch(helpers=_flag(conf.get("helpers", False)), bind=_flag(conf.get("bind", False)))

    def compat_filter(app: Any) -> Any:
        return app

    return compat_filter
