"""``kstoken.middleware`` in front of the echo application (or another of these apps), for mod_wsgi:
the middleware's options (keystonemiddleware's ``[keystone_authtoken]`` names, string values) come
from a JSON file."""

import importlib
import json
import logging
import sys
from typing import Any

from kstoken.middleware import AuthProtocol


def make_application(conf_path: str, app: str = "echo_app") -> Any:
    """The ``application`` of module ``app`` (the echo application unless named) behind
    ``kstoken.middleware`` configured from ``conf_path``."""
    with open(conf_path) as f:
        conf = json.load(f)
    # The middleware's INFO lines (why a token was refused) into httpd's error log.
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")
    return AuthProtocol(importlib.import_module(app).application, conf)
