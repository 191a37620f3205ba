"""pytest plugin: run a test suite with kstoken patched into keystoneclient.

Enable it with ``pytest -p kstoken.pytest_plugin`` (it is not auto-loaded, so installing kstoken
never changes other test runs). It calls :func:`kstoken.compat.patch` in ``pytest_configure`` and
undoes it when pytest exits. Options: ``--kstoken-helpers`` (also replace the pure helpers) and
``--kstoken-bind`` (also replace keystonemiddleware's ``_confirm_token_bind``).
"""

from typing import Any


def pytest_addoption(parser: Any) -> None:
    group = parser.getgroup("kstoken")
    group.addoption(
        "--kstoken-helpers",
        action="store_true",
        default=False,
        help="kstoken: also replace token_to_cms, cms_to_token, pkiz_uncompress, cms_hash_token",
    )
    group.addoption(
        "--kstoken-bind",
        action="store_true",
        default=False,
        help="kstoken: also replace keystonemiddleware's BaseAuthProtocol._confirm_token_bind",
    )


def pytest_configure(config: Any) -> None:
    from kstoken import compat

    done = compat.patch(
        helpers=bool(config.getoption("kstoken_helpers")),
        bind=bool(config.getoption("kstoken_bind")),
    )
    config.add_cleanup(lambda: compat.unpatch(done))


def pytest_report_header(config: Any) -> str:
    from kstoken import compat

    return "kstoken: keystoneclient.common.cms patched: %s" % compat.is_patched()
