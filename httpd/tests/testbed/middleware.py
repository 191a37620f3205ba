"""``kstoken.middleware`` under mod_wsgi in the test bed's httpd: its WSGI script, its options and its
signing directory (owned by the daemon processes' user, mode 0700, as keystonemiddleware wants it),
and the locations that route to it."""

import json
import os
import shutil
from typing import Any, Dict, Optional

from testbed.client import Response
from testbed.httpd import gssapi
from testbed.kdc import Realm

#: what the middleware names in WWW-Authenticate
WWW_AUTHENTICATE = "https://keystone.test:5000/v3"


def signing_dir(root: str, user: str, files: Optional[Dict[str, str]] = None) -> str:
    """``root/signing``, owned by ``user``, mode 0700, holding copies of ``files`` (name -> path)."""
    path = os.path.join(root, "signing")
    os.makedirs(path, exist_ok=True)
    os.chmod(root, 0o755)
    for name, source in (files or {}).items():
        shutil.copy(source, os.path.join(path, name))
        shutil.chown(os.path.join(path, name), user, user)
    shutil.chown(path, user, user)
    os.chmod(path, 0o700)
    return path


def write_app(root: str, signing: str, app: str = "echo_app", **options: str) -> str:
    """The middleware's WSGI script in ``root``, in front of module ``app``'s application (options:
    keystonemiddleware's names); its path."""
    conf = os.path.join(root, "conf.json")
    with open(conf, "w") as f:
        json.dump(dict({"signing_dir": signing, "www_authenticate_uri": WWW_AUTHENTICATE,
                        "enforce_token_bind": "permissive"}, **options), f)
    wsgi = os.path.join(root, "middleware.wsgi")
    with open(wsgi, "w") as f:
        f.write("from middleware_app import make_application\n\napplication = make_application(%r, %r)\n"
                % (conf, app))
    return wsgi


def locations(wsgi: str, realm: Realm) -> str:
    """Virtual host directives: the middleware at /mw/krb (behind SPNEGO) and /mw/cert (the virtual
    host's optional client certificate only)."""
    return """
    <Directory "{dir}">
        Require all granted
    </Directory>
    WSGIScriptAlias /mw/krb "{wsgi}"
    WSGIScriptAlias /mw/cert "{wsgi}"
    <Location /mw/krb>
        {gssapi}
    </Location>
""".format(dir=os.path.dirname(wsgi), wsgi=wsgi, gssapi=gssapi(realm))


def accepted(r: Response, user: str = "alice") -> Dict[str, Any]:
    """Asserts the middleware accepted the request: 200 from the echo application with the
    identity headers of ``user``'s token (project demo, roles member and reader); its environ."""
    assert r.status == 200, r
    env: Dict[str, Any] = r.json()
    h = env["headers"]
    assert h["HTTP_X_IDENTITY_STATUS"] == "Confirmed", env
    assert h["HTTP_X_USER_NAME"] == user
    assert h["HTTP_X_PROJECT_NAME"] == "demo"
    assert h["HTTP_X_ROLES"] == "member,reader"
    return env


def refused(r: Response) -> None:
    """Asserts the middleware refused the request: its 401 (not mod_auth_gssapi's challenge)."""
    assert r.status == 401, r
    assert r.header("WWW-Authenticate") == 'Keystone uri="%s"' % WWW_AUTHENTICATE, r
    assert r.json()["error"]["code"] == 401
