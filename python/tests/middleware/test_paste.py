"""paste.deploy pipelines, as operators configure them (``api-paste.ini``): keystonemiddleware's
``filter_factory``, ``kstoken.middleware:filter_factory`` in its place, and the config-only swap-in
``kstoken.compat:filter_factory`` placed before keystonemiddleware's ``authtoken``."""

import os

import pytest

from conftest import pairs, require_side
from harness import Side, run_matrix, write_report
from test_differential import KNOWN_DIFFERENCES, base_conf, plain_cases, print_reports

pytestmark = pytest.mark.ksm6

NAMES = {"v3-project-pki", "v2-project-pkiz", "v3-expired-pki", "v3-tampered-pkiz", "pkiz-corrupt-zlib",
         "v3-bind-kerberos-pki", "uuid-unknown"}


def write_ini(path, filters, conf):
    """An api-paste.ini: ``filters`` is a list of (name, factory); the last one gets ``conf``."""
    parts = ["[pipeline:main]", "pipeline = %s app" % " ".join(n for n, _ in filters), "",
             "[app:app]", "paste.app_factory = harness:recorder_app_factory", ""]
    for i, (name, factory) in enumerate(filters):
        parts += ["[filter:%s]" % name, "paste.filter_factory = %s" % factory]
        if i == len(filters) - 1:
            parts += ["%s = %s" % kv for kv in sorted(conf.items())]
        parts.append("")
    with open(path, "w") as f:
        f.write("\n".join(parts))
    return path


def load(path):
    from paste.deploy import loadapp

    import harness

    pipeline = loadapp("config:%s" % path, relative_to=os.path.dirname(path))
    return pipeline, harness.LAST_RECORDER[0]


def kstoken_in_run():
    return [k for k in ("kstoken",) if any(p.endswith("kstoken") for p in pairs())]


@pytest.mark.parametrize("kind", kstoken_in_run())
def test_kstoken_filter_factory_matches_keystonemiddleware(kind, tokens, standin, pki, tmp_path):
    require_side(kind)
    conf = base_conf(standin, pki.signing_dir(str(tmp_path / "sd-stock")))
    stock_ini = write_ini(str(tmp_path / "stock.ini"), [("authtoken", "keystonemiddleware.auth_token:filter_factory")],
                          conf)
    conf_b = dict(conf, signing_dir=pki.signing_dir(str(tmp_path / "sd-kstoken")))
    ks_ini = write_ini(str(tmp_path / "kstoken.ini"), [("authtoken", "kstoken.middleware:filter_factory")], conf_b)
    a = Side.wrapping("stock", *load(stock_ini))
    b = Side.wrapping("kstoken", *load(ks_ini))
    rep = run_matrix("paste pipeline", a, b, plain_cases(tokens, NAMES), KNOWN_DIFFERENCES)
    write_report([rep], "differential-ksm6")
    print_reports([rep])
    assert not rep.failures, "\n".join(rep.failures)


@pytest.mark.parametrize("kind", kstoken_in_run())
def test_compat_filter_factory(kind, tokens, standin, pki, tmp_path):
    """``kstoken.compat:filter_factory`` before ``authtoken`` patches kstoken in when the pipeline
    loads: no ``openssl`` spawn, and a corrupted PKIZ token is 401 instead of upstream's 500."""
    import subprocess

    import kstoken.compat

    from harness import unpatched

    with unpatched():  # (a kstoken.middleware built earlier in this process patched keystoneclient)
        _compat_pipeline(tokens, standin, pki, tmp_path)


def _compat_pipeline(tokens, standin, pki, tmp_path):
    import subprocess

    import kstoken.compat

    assert not kstoken.compat.is_patched()
    conf = base_conf(standin, pki.signing_dir(str(tmp_path / "sd-compat")))
    ini = write_ini(str(tmp_path / "compat.ini"), [("kstoken_compat", "kstoken.compat:filter_factory"),
                                                   ("authtoken", "keystonemiddleware.auth_token:filter_factory")],
                    conf)
    try:
        b = Side.wrapping("compat", *load(ini))
        assert kstoken.compat.is_patched()
        spawned = []
        real_popen = subprocess.Popen

        def recording_popen(argv, *args, **kwargs):
            spawned.append(argv)
            return real_popen(argv, *args, **kwargs)

        subprocess.Popen = recording_popen
        try:
            outcomes = {}
            for case in plain_cases(tokens, NAMES, spoof=False):
                outcomes[case.name.split(" ")[0]] = b.call(case)
        finally:
            subprocess.Popen = real_popen
        assert not [a for a in spawned if "openssl" in str(a)], spawned
        assert outcomes["v3-project-pki"].status == 200
        assert outcomes["v2-project-pkiz"].status == 200
        for name in ("v3-expired-pki", "v3-tampered-pkiz", "pkiz-corrupt-zlib", "uuid-unknown"):
            assert outcomes[name].status == 401, (name, outcomes[name].brief())
    finally:
        kstoken.compat.unpatch()
    assert not kstoken.compat.is_patched()
