"""Real processes: started in their own session, waited for with a deadline, stopped by PID (TERM,
then KILL for what is left of the group), with their output in a log file for failure messages."""

import os
import signal
import socket
import subprocess
import time
from typing import Callable, Dict, List, Optional, TypeVar

T = TypeVar("T")


def free_port(udp_too: bool = False) -> int:
    """A port free on 127.0.0.1 now (the kernel's choice); with ``udp_too``, free for UDP as well
    (the KDC listens on both with one number)."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
            if not udp_too:
                return port
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                try:
                    u.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise AssertionError("no free port on 127.0.0.1")


def port_open(port: int) -> bool:
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(predicate: Callable[[], T], timeout: float, what: str,
               proc: "Optional[Process]" = None) -> T:
    """Polls ``predicate`` until it is truthy; fails after ``timeout`` s or when ``proc`` exits."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc is not None and not proc.alive():
            raise AssertionError("%s exited with %s before %s\n%s"
                                 % (proc.name, proc.popen.returncode, what, proc.log_tail()))
        if time.monotonic() > deadline:
            tail = ("\n" + proc.log_tail()) if proc is not None else ""
            raise AssertionError("timed out after %.0f s waiting for %s%s" % (timeout, what, tail))
        time.sleep(0.05)


def run(argv: List[str], env: Optional[Dict[str, str]] = None, timeout: float = 60,
        stdin: Optional[bytes] = None, check: bool = True) -> subprocess.CompletedProcess:
    """Runs a command to completion within ``timeout`` s; with ``check``, a failure shows its output."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    done = subprocess.run(argv, input=stdin, capture_output=True, env=full_env, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError("%s exited with %d\nstdout: %s\nstderr: %s" % (
            " ".join(argv), done.returncode, done.stdout.decode(errors="replace")[-2000:],
            done.stderr.decode(errors="replace")[-2000:]))
    return done


class Process:
    """A child in its own session (so its workers share its process group); ``stop()`` sends TERM
    to its PID, waits, then KILLs the group."""

    def __init__(self, name: str, argv: List[str], log_path: str, env: Optional[Dict[str, str]] = None,
                 extra_logs: Optional[List[str]] = None) -> None:
        self.name = name
        self.log_path = log_path
        self.extra_logs = extra_logs or []
        full_env = dict(os.environ)
        full_env.update(env or {})
        self._log = open(log_path, "ab")
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                      env=full_env, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, n: int = 30) -> str:
        out = []
        for path in [self.log_path] + self.extra_logs:
            try:
                with open(path, "rb") as f:
                    lines = f.read().decode("utf-8", "replace").splitlines()
            except OSError:
                continue
            out.append("--- %s (%s), last %d lines ---\n%s" % (self.name, path, n, "\n".join(lines[-n:])))
        return "\n".join(out)

    def _signal_group(self, sig: int) -> None:
        try:
            os.killpg(self.popen.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, timeout: float = 10.0) -> Optional[int]:
        """TERM to the PID, up to ``timeout`` s for it to exit, then KILL to its group."""
        if self.popen.poll() is None:
            try:
                os.kill(self.popen.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal_group(signal.SIGKILL)
                self.popen.wait(timeout)
        # workers (httpd children, mod_wsgi daemons) whose parent went first
        self._signal_group(signal.SIGKILL)
        self._log.close()
        return self.popen.returncode
