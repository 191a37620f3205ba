"""The WSGI application of the test bed: answers 200 with what httpd (and any middleware in front)
put in its environ, as JSON: the identity keys and every ``HTTP_*`` header."""

import json
from typing import Any, Callable, Dict, Iterable, List, Tuple

#: environ keys httpd's authentication and mod_ssl set
IDENTITY_KEYS = ("REMOTE_USER", "AUTH_TYPE", "GSS_NAME", "SSL_CLIENT_CERT", "SSL_CLIENT_VERIFY", "SSL_CLIENT_S_DN",
                 "SSL_PROTOCOL")


def application(environ: Dict[str, Any],
                start_response: Callable[[str, List[Tuple[str, str]]], Any]) -> Iterable[bytes]:
    out = {k: environ.get(k) for k in IDENTITY_KEYS}
    out["headers"] = {k: v for k, v in environ.items() if k.startswith("HTTP_")}
    out["path"] = environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", "")
    body = json.dumps(out, sort_keys=True).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
