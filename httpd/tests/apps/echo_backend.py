"""The backend behind httpd's mod_proxy: answers every GET with the request line and the headers it
received, as JSON ``{"method", "path", "headers": [[name, value], ...]}`` (in order, repeats kept),
with status 200, or the status a path ending in ``/status/NNN`` asks for.

Run: ``python echo_backend.py PORT_FILE``; it listens on 127.0.0.1 on a port of the kernel's choice
and writes that port to PORT_FILE (atomically) when it is ready.
"""

import http.server
import json
import os
import socketserver
import sys
from typing import Any


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt: str, *args: Any) -> None:
        sys.stderr.write("echo-backend: %s\n" % (fmt % args))

    def do_GET(self) -> None:  # noqa: N802 (BaseHTTPRequestHandler's name)
        body = json.dumps({"method": self.command, "path": self.path,
                           "headers": [[k, v] for k, v in self.headers.items()]}).encode()
        last = self.path.rstrip("/").rsplit("/", 2)
        status = int(last[2]) if len(last) == 3 and last[1] == "status" and last[2].isdigit() else 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def main() -> None:
    server = Server(("127.0.0.1", 0), Handler)
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, sys.argv[1])
    server.serve_forever(poll_interval=0.1)


if __name__ == "__main__":
    main()
