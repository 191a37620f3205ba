"""The httpd benchmark's configuration (benches/httpd/run.py, run by scripts/bench-httpd.sh in
`make bench`, not here) against the module built here: httpd accepts it with mod_kstoken's
directives in both of the module's locations, so a directive the module renames or drops fails in
`make test` rather than in the middle of a benchmark."""

import importlib.util
import os
import sysconfig
from types import ModuleType

from testbed.httpd import APACHE
from testbed.procs import run

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def bench_run() -> ModuleType:
    """benches/httpd/run.py as a module (its name, run, is taken by nothing here)."""
    spec = importlib.util.spec_from_file_location("bench_httpd_run", os.path.join(REPO, "benches", "httpd", "run.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_benchmark_configuration_is_accepted_with_the_module(workdir, kstoken_module):
    bench = bench_run()
    root = os.path.join(workdir, "bench-config")
    signing = os.path.join(root, "signing")
    os.makedirs(signing, exist_ok=True)
    middleware = os.path.join(root, "middleware.wsgi")
    with open(middleware, "w") as f:
        f.write("application = None\n")
    user = os.environ.get("KSTOKEN_HTTPD_USER", "www-data")
    instance = bench.BenchHttpd(os.path.join(root, "httpd"), user, sysconfig.get_paths()["purelib"],
                                kstoken_module, signing, {"uncached": middleware, "cached": middleware})
    instance.write()
    done = run([APACHE, "-t", "-f", instance.conf], timeout=30, check=False)
    out = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == 0 and "Syntax OK" in out, out
    with open(instance.conf) as f:
        conf = f.read()
    # both module locations carry the directives; uncached disables the cache, cached keeps 300 s
    assert conf.count('KstokenSigningDir "%s"' % signing) == 2, conf
    assert "<Location /module-uncached>" in conf and "KstokenTokenCacheTime -1" in conf, conf
    assert "<Location /module-cached>" in conf and "KstokenTokenCacheTime 300" in conf, conf
    assert "LoadModule kstoken_module %s" % kstoken_module in conf
    assert "mpm_event_module" in conf
