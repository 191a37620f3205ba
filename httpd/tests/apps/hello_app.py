"""The benchmark's backend (benches/httpd/run.py): the same small answer to every request, so that
what differs between the measured setups is only what checks the token in front of it."""

from typing import Any, Callable, Dict, Iterable, List, Tuple

BODY = b"hello\n"


def application(environ: Dict[str, Any],
                start_response: Callable[[str, List[Tuple[str, str]]], Any]) -> Iterable[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))])
    return [BODY]
