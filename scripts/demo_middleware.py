"""`make demo`, step 6: kstoken.middleware in front of a WSGI application, served over HTTP on
127.0.0.1 (wsgiref), with the demo's PKI as the signing directory and its kerberos-bound token.

Usage: demo_middleware.py SIGNING_CERT CA_CERT WORKDIR (WORKDIR holds token.pki)
"""
import http.client
import json
import logging
import os
import shutil
import sys
import threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

from kstoken.middleware import AuthProtocol

cert, ca, work = sys.argv[1:4]
token = open(f"{work}/token.pki").read().strip()
signing_dir = os.path.join(work, "signing")
os.makedirs(signing_dir, mode=0o700, exist_ok=True)
shutil.copy(cert, os.path.join(signing_dir, "signing_cert.pem"))  # keystonemiddleware's file names
shutil.copy(ca, os.path.join(signing_dir, "cacert.pem"))
logging.basicConfig(level=logging.INFO, format="   log: %(message)s", stream=sys.stdout)


def service(environ, start_response):
    """The protected application: reports what the middleware told it."""
    seen = {k: environ.get(k) for k in ("HTTP_X_IDENTITY_STATUS", "HTTP_X_USER_NAME", "HTTP_X_PROJECT_ID", "HTTP_X_ROLES")}
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(seen).encode()]


def kerberos_front(app):
    """What Apache's mod_auth_gssapi would do: the client authenticated as demo@EXAMPLE.ORG."""
    def front(environ, start_response):
        if environ.get("HTTP_X_DEMO_KERBEROS"):
            environ["REMOTE_USER"], environ["AUTH_TYPE"] = environ["HTTP_X_DEMO_KERBEROS"], "Negotiate"
        return app(environ, start_response)
    return front


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


conf = {"signing_dir": signing_dir, "www_authenticate_uri": "https://keystone.example:5000/v3",
        "enforce_token_bind": "permissive"}
app = kerberos_front(AuthProtocol(service, conf))
server = make_server("127.0.0.1", 0, app, handler_class=Quiet)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]


def get(headers, label):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request("GET", "/", headers=headers)
    r = conn.getresponse()
    body = r.read().decode()
    extra = r.getheader("WWW-Authenticate")
    print(f"   {label}: {r.status}" + (f" {body}" if r.status == 200 else f" (WWW-Authenticate: {extra})"),
          flush=True)
    return r.status


assert get({"X-Auth-Token": token, "X-Demo-Kerberos": "demo@EXAMPLE.ORG"}, "the token, kerberos user demo") == 200
assert get({"X-Auth-Token": token, "X-Demo-Kerberos": "mallory@EXAMPLE.ORG"}, "the token, kerberos user mallory") == 401
assert get({"X-Auth-Token": token, "X-Demo-Kerberos": "demo@EXAMPLE.ORG", "X-Roles": "admin"},
           "the token with a spoofed X-Roles: admin (stripped first)") == 200
assert get({"X-User-Name": "admin", "X-Identity-Status": "Confirmed"}, "no token, spoofed identity") == 401
server.shutdown()
