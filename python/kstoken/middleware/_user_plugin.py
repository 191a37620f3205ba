"""``keystone.token_auth``: the request's credentials as a keystoneauth1 auth plugin, with the
interface of keystonemiddleware's ``UserAuthPlugin``."""

from typing import Any, Dict, Optional

from keystoneauth1 import access, plugin
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import base as base_identity

__all__ = ["UserAuthPlugin"]


def _describe(auth_ref: access.AccessInfo) -> str:
    roles = ",".join(auth_ref.role_names or [])
    return "user_id %s, project_id %s, roles %s" % (auth_ref.user_id, auth_ref.project_id, roles)


class UserAuthPlugin(base_identity.BaseIdentityPlugin):
    """The incoming credentials: ``user`` and ``service`` are ``AccessInfo`` objects (or ``None``).

    Usable as the auth plugin of a keystoneauth session: requests then carry the user's token, and
    the middleware's own service token as ``X-Service-Token`` when it has service credentials.
    """

    def __init__(
        self,
        user_auth_ref: Optional[access.AccessInfo],
        serv_auth_ref: Optional[access.AccessInfo],
        session: Optional[ks_session.Session] = None,
        auth: Optional[plugin.BaseAuthPlugin] = None,
    ) -> None:
        super().__init__(reauthenticate=False)
        self.user = user_auth_ref
        self.service = serv_auth_ref
        self._session = session
        self._auth = auth

    @property
    def has_user_token(self) -> bool:
        """Whether the request carried a user token."""
        return self.user is not None

    @property
    def has_service_token(self) -> bool:
        """Whether the request carried a service token."""
        return self.service is not None

    def get_auth_ref(self, session: ks_session.Session, **kwargs: Any) -> Optional[access.AccessInfo]:  # type: ignore[override]
        return self.user

    @property
    def _log_format(self) -> str:
        parts = []
        if self.user is not None:
            parts.append("user: %s" % _describe(self.user))
        if self.service is not None:
            parts.append("service: %s" % _describe(self.service))
        return " ".join(parts)

    def get_headers(self, session: ks_session.Session, **kwargs: Any) -> Optional[Dict[str, str]]:
        headers = super().get_headers(session, **kwargs)
        if headers is not None and self._session is not None:
            token = self._session.get_token(auth=self._auth)
            if token:
                headers["X-Service-Token"] = token
        return headers
