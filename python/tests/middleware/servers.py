"""gunicorn and uvicorn as real processes around ``apps.py`` (used by the server tests and the benchmark)."""

import json
import os
import sys
from typing import Any, Dict, List, Optional

from procs import HERE, Proc, free_port, http_get, port_open, wait_until

# gunicorn refuses header fields over 8190 bytes by default: a 9 KB PKI token needs more.
RAISED_FIELD_SIZE = "32768"


class AppServer:
    """One server process (its own process group) serving apps.py with the given middleware
    (``metrics``: ``GET /_metrics`` answers the worker's Prometheus scrape, outside the middleware)."""

    def __init__(self, name: str, workdir: str, middleware: str, conf: Dict[str, Any], *, server: str = "gunicorn",
                 worker_class: str = "sync", workers: int = 2, threads: int = 4, preload: bool = True,
                 limit_field_size: Optional[str] = RAISED_FIELD_SIZE, python: Optional[str] = None,
                 access_log: bool = True, extra_args: Optional[List[str]] = None, metrics: bool = False) -> None:
        self.name = name
        self.port = free_port()
        self.url = "http://127.0.0.1:%d" % self.port
        os.makedirs(workdir, exist_ok=True)
        conf_path = os.path.join(workdir, "%s-app.json" % name)
        with open(conf_path, "w") as f:
            json.dump({"middleware": middleware, "conf": conf, "asgi": server == "uvicorn", "metrics": metrics}, f)
        bindir = os.path.dirname(python or sys.executable)
        if server == "gunicorn":
            argv = [os.path.join(bindir, "gunicorn"), "--bind", "127.0.0.1:%d" % self.port, "--workers", str(workers),
                    "--worker-class", worker_class, "--timeout", "60", "--graceful-timeout", "3"]
            argv += ["--log-level", "info", "--access-logfile", "-"] if access_log else ["--log-level", "warning"]
            if worker_class == "gthread":
                argv += ["--threads", str(threads)]
            if preload:
                argv.append("--preload")
            if limit_field_size is not None:
                argv += ["--limit-request-field_size", limit_field_size]
            argv += (extra_args or []) + ["apps:application"]
        elif server == "uvicorn":
            argv = [os.path.join(bindir, "uvicorn"), "--host", "127.0.0.1", "--port", str(self.port),
                    "--workers", str(workers), "--log-level", "info" if access_log else "warning", "--http", "h11"]
            argv += ([] if access_log else ["--no-access-log"]) + (extra_args or []) + ["apps:asgi_application"]
        else:
            raise ValueError(server)
        env = {"KSTOKEN_MW_APP_CONF": conf_path, "PYTHONPATH": HERE, "PYTHONUNBUFFERED": "1"}
        self.proc = Proc(name, argv, os.path.join(workdir, "%s.log" % name), env=env, cwd=HERE)
        wait_until(lambda: port_open(self.port), 60, "%s listening on %d" % (name, self.port), proc=self.proc)
        # the app answers (the middleware was built; with --preload before the fork)
        wait_until(lambda: self._answers(), 60, "%s answering" % name, proc=self.proc)

    def _answers(self) -> bool:
        try:
            status, _, _ = http_get(self.url + "/", timeout=10)
        except OSError:
            return False
        return status in (200, 401, 503)

    def get(self, token: Optional[str] = None, headers: Optional[Dict[str, str]] = None, path: str = "/",
            timeout: float = 30.0):
        """(status, headers, decoded JSON body or raw bytes)."""
        h = dict(headers or {})
        if token is not None:
            h["X-Auth-Token"] = token
        status, resp_headers, body = http_get(self.url + path, h, timeout=timeout)
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body
        return status, resp_headers, parsed

    def log(self) -> str:
        return self.proc.log_text()

    def stop(self) -> None:
        self.proc.stop()
