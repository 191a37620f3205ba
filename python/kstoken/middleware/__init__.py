"""``kstoken.middleware``: keystonemiddleware's ``auth_token`` for PKI and PKIZ tokens, validated
in-process with kstoken (one native call per request, the GIL released).

* :class:`AuthProtocol` - WSGI middleware, ``AuthProtocol(app, conf)`` with keystonemiddleware's
  ``conf`` (``[keystone_authtoken]`` option names, string values);
* :func:`filter_factory` - for paste pipelines (``paste.filter_factory =
  kstoken.middleware:filter_factory``);
* :class:`ASGIAuthProtocol` - the same for ASGI applications.

The application sees what keystonemiddleware 6.1.0 gives it: the ``X-*`` identity headers (current
and deprecated names, service-token headers, ``X-Service-Catalog``), ``keystone.token_info`` and
``keystone.token_auth``. See ``CONTRACT.md`` in this package for the options, the log lines and the
documented differences. Needs the ``middleware`` extra: ``pip install kstoken[middleware]``.
"""

try:
    import keystoneauth1  # noqa: F401
except ImportError as e:  # pragma: no cover - exercised in a venv without the extra
    raise ImportError(
        "kstoken.middleware needs keystoneauth1 and pymemcache: pip install 'kstoken[middleware]'"
    ) from e

from kstoken.middleware._asgi import ASGIAuthProtocol
from kstoken.middleware._config import ConfigurationError
from kstoken.middleware._user_plugin import UserAuthPlugin
from kstoken.middleware._wsgi import AuthProtocol, filter_factory

__all__ = ["AuthProtocol", "ASGIAuthProtocol", "filter_factory", "ConfigurationError", "UserAuthPlugin"]
