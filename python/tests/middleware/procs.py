"""Real processes for the middleware tests: started in their own process group, waited for with a
deadline, always stopped (the whole group), with their output kept in a log file for failures."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Dict, Iterator, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now (the kernel's choice)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05, proc: "Optional[Proc]" = None):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.popen.poll() is not None:
            raise AssertionError("%s: process exited with %s before %s\n%s"
                                 % (proc.name, proc.popen.returncode, what, proc.log_tail()))
        if time.monotonic() > deadline:
            detail = ("\n" + proc.log_tail()) if proc is not None else ""
            raise AssertionError("timed out after %.1fs waiting for %s%s" % (timeout, what, detail))
        time.sleep(interval)


def http_get(url: str, headers: Optional[Dict[str, str]] = None, timeout: float = 10.0):
    """(status, headers, body bytes) of a GET; HTTP errors are answers, not exceptions."""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


class Proc:
    """A child process in its own session (process group); ``stop()`` ends the whole group."""

    def __init__(self, name: str, argv: List[str], log_path: str, env: Optional[Dict[str, str]] = None,
                 cwd: Optional[str] = None) -> None:
        self.name = name
        self.argv = argv
        self.log_path = log_path
        self._log = open(log_path, "ab")
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=full_env, cwd=cwd, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_text(self) -> str:
        self._log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def log_tail(self, n: int = 40) -> str:
        lines = self.log_text().splitlines()
        return "--- %s log (%s), last %d lines ---\n%s" % (self.name, self.log_path, n, "\n".join(lines[-n:]))

    def signal_group(self, sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.popen.pid, sig)

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """SIGTERM the group, wait, then SIGKILL what is left; returns the exit code."""
        if self.popen.poll() is None:
            self.signal_group(signal.SIGTERM)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal_group(signal.SIGKILL)
                self.popen.wait(timeout)
        # workers of a group leader that exited first
        self.signal_group(signal.SIGKILL)
        self._log.close()
        return self.popen.returncode


@contextlib.contextmanager
def running(name: str, argv: List[str], log_path: str, **kwargs) -> Iterator[Proc]:
    proc = Proc(name, argv, log_path, **kwargs)
    try:
        yield proc
    finally:
        proc.stop()


def python_argv(venv_python: Optional[str] = None) -> List[str]:
    return [venv_python or sys.executable]


def bin_path(name: str) -> str:
    """An executable of this venv (gunicorn, uvicorn) or of the system (memcached, wrk)."""
    candidate = os.path.join(os.path.dirname(sys.executable), name)
    if os.path.exists(candidate):
        return candidate
    for d in os.environ.get("PATH", "").split(os.pathsep) + ["/usr/bin", "/usr/sbin", "/usr/local/bin"]:
        p = os.path.join(d, name)
        if os.path.exists(p):
            return p
    raise AssertionError("%s is not installed: scripts/test-middleware.sh installs it (apt or pip)" % name)


class Memcached:
    """A real memcached on 127.0.0.1 (the token cache of the server tests), restartable on its port."""

    def __init__(self, log_dir: str, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.log_dir = log_dir
        self.proc: Optional[Proc] = None

    @property
    def server(self) -> str:
        return "127.0.0.1:%d" % self.port

    def start(self) -> "Memcached":
        argv = [bin_path("memcached"), "-l", "127.0.0.1", "-p", str(self.port), "-U", "0", "-m", "64", "-t", "2"]
        if os.geteuid() == 0:
            argv += ["-u", "root"]
        self.proc = Proc("memcached", argv, os.path.join(self.log_dir, "memcached-%d.log" % self.port))
        wait_until(lambda: port_open(self.port), 10, "memcached on port %d" % self.port, proc=self.proc)
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()
            self.proc = None

    def stats(self) -> Dict[str, str]:
        """memcached's ``stats`` (get_hits, get_misses, curr_items, ...)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
            s.sendall(b"stats\r\n")
            data = b""
            while not data.endswith(b"END\r\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
        out = {}
        for line in data.decode().splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[0] == "STAT":
                out[parts[1]] = parts[2]
        return out
