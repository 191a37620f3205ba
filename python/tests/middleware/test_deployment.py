"""docs/deployment.md's samples, started with the real servers: gunicorn (sync with --preload,
gthread), uWSGI (Debian's uwsgi-core + uwsgi-plugin-python3) and Apache httpd with mod_wsgi (Debian's
apache2-bin + libapache2-mod-wsgi-py3, a private instance on 127.0.0.1 with its own configuration).

The samples are read from the document (blocks marked ``<!-- doc-test: deploy NAME -->``); only
``/srv/service``, the port and the Apache instance's own paths are replaced. Each server gets a 9 KB
PKI token in ``X-Auth-Token``: the application answers with the token's user, a tampered token gets
401, and the same sample without its header-size setting refuses the token before the middleware.
"""

import os
import pathlib
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request

import pytest

import procs
import tokens

pytestmark = pytest.mark.servers

ROOT = pathlib.Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "deployment.md"
SAMPLES = {"service.py", "gunicorn-sync.conf.py", "gunicorn-gthread.conf.py", "uwsgi.ini", "apache-service.conf"}


def samples():
    """NAME -> text of each ``deploy`` block of docs/deployment.md."""
    found = {}
    lines = DOC.read_text().splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"<!--\s*doc-test:\s*deploy\s+(\S+)\s*-->", line)
        if not m:
            continue
        assert lines[i + 1].startswith("```"), "a deploy marker must precede its block"
        end = next(j for j in range(i + 2, len(lines)) if lines[j].startswith("```"))
        found[m.group(1)] = "\n".join(lines[i + 2:end]) + "\n"
    return found


def test_the_document_has_exactly_the_samples_started_here():
    assert set(samples()) == SAMPLES


@pytest.fixture(scope="module")
def site():
    """A /srv/service stand-in readable by other users (Apache's daemon runs as www-data), with the
    entry point from the document, a PKI in its signing_dir and a 9 KB PKI token."""
    top = tempfile.mkdtemp(prefix="kstoken-deploy-")
    os.chmod(top, 0o755)
    srv = os.path.join(top, "service")
    os.makedirs(srv)
    pki = tokens.Pki(os.path.join(top, "pki"))
    pki.signing_dir(os.path.join(srv, "signing"))
    text = samples()["service.py"].replace("/srv/service", srv)
    pathlib.Path(srv, "service.py").write_text(text)
    token = pki.sign(tokens.v3_body("deploy", catalog=45, user="alice"), "pki")
    assert len(token) > 9000, len(token)  # past every default limit (8190, uWSGI 4096)
    yield {"top": top, "srv": srv, "token": token, "tampered": tokens.tamper(token)}
    shutil.rmtree(top, ignore_errors=True)


def render(name, site, port, drop=None):
    text = samples()[name].replace("/srv/service", site["srv"]).replace("8080", str(port))
    if drop:
        assert drop in text
        text = "\n".join(line for line in text.splitlines() if drop not in line) + "\n"
    return text


def get(port, token, timeout=20):
    """(status, body) of GET / with ``X-Auth-Token``; status 0 when the server dropped the request."""
    request = urllib.request.Request("http://127.0.0.1:%d/" % port, headers={"X-Auth-Token": token})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, ConnectionError, OSError):
        return 0, ""


def check(proc, port, site, header_limit_raised=True):
    procs.wait_until(lambda: procs.port_open(port), 60, "listening on %d" % port, proc=proc)
    status, body = get(port, site["token"])
    if not header_limit_raised:
        assert status not in (200, 401), (status, body, proc.log_tail())
        return
    assert (status, body) == (200, "hello alice\n"), (status, body, proc.log_tail())
    assert get(port, site["tampered"])[0] == 401
    assert get(port, site["token"]) == (200, "hello alice\n")  # cached, same answer


@pytest.mark.parametrize("sample,argv_extra", [
    ("gunicorn-sync.conf.py", ["--preload"]),
    ("gunicorn-gthread.conf.py", []),
])
@pytest.mark.parametrize("raised", [True, False], ids=["limit-raised", "default-limit"])
def test_gunicorn(site, tmp_path, sample, argv_extra, raised):
    port = procs.free_port()
    conf = tmp_path / "gunicorn.conf.py"
    conf.write_text(render(sample, site, port, drop=None if raised else "limit_request_field_size"))
    argv = [procs.bin_path("gunicorn"), "-c", str(conf)] + argv_extra + ["service:application"]
    with procs.running("gunicorn", argv, str(tmp_path / "gunicorn.log")) as proc:
        check(proc, port, site, raised)


@pytest.fixture(scope="module")
def system_venv(site):
    """A virtualenv of the system python3 (what uwsgi-plugin-python3 and mod_wsgi embed) with the
    kstoken wheel and the middleware extra; pip runs from this venv against it (``--python``)."""
    wheel = os.environ.get("KSTOKEN_MW_WHEEL")
    if not wheel:
        pytest.fail("KSTOKEN_MW_WHEEL (set by scripts/test-middleware.sh) names the wheel to install")
    venv = os.path.join(site["top"], "venv")
    subprocess.run(["/usr/bin/python3", "-m", "venv", "--without-pip", venv], check=True, timeout=120)
    subprocess.run([sys.executable, "-m", "pip", "--python", os.path.join(venv, "bin", "python"), "install", "-q",
                    "--disable-pip-version-check", wheel + "[middleware]"], check=True, timeout=600)
    os.symlink(venv, os.path.join(site["srv"], "venv"))
    return venv


@pytest.mark.parametrize("raised", [True, False], ids=["limit-raised", "default-limit"])
def test_uwsgi(site, system_venv, tmp_path, raised):
    port = procs.free_port()
    ini = tmp_path / "uwsgi.ini"
    ini.write_text(render("uwsgi.ini", site, port, drop=None if raised else "buffer-size"))
    argv = [procs.bin_path("uwsgi"), "--ini", str(ini)]
    with procs.running("uwsgi", argv, str(tmp_path / "uwsgi.log")) as proc:
        check(proc, port, site, raised)


APACHE_INSTANCE = """\
ServerRoot {run}
ServerName 127.0.0.1
PidFile {run}/httpd.pid
DefaultRuntimeDir {run}
Mutex file:{run} default
ErrorLog {run}/error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_event_module /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module /usr/lib/apache2/modules/mod_authz_core.so
LoadModule wsgi_module /usr/lib/apache2/modules/mod_wsgi.so
WSGISocketPrefix {run}/wsgi
"""


@pytest.mark.parametrize("raised", [True, False], ids=["limit-raised", "default-limit"])
def test_mod_wsgi(site, system_venv, raised):
    try:
        www = pwd.getpwnam("www-data")
    except KeyError:
        pytest.fail("no www-data user: apache2-bin's Debian setup creates it")
    run = tempfile.mkdtemp(prefix="kstoken-httpd-", dir=site["top"])
    os.chmod(run, 0o755)
    # The daemon processes run as www-data: kstoken.middleware needs its signing_dir writable.
    for dirpath, _dirs, files in os.walk(os.path.join(site["srv"], "signing")):
        os.chown(dirpath, www.pw_uid, www.pw_gid)
        for f in files:
            os.chown(os.path.join(dirpath, f), www.pw_uid, www.pw_gid)
    port = procs.free_port()
    conf = pathlib.Path(run, "httpd.conf")
    conf.write_text(APACHE_INSTANCE.format(run=run)
                    + render("apache-service.conf", site, port, drop=None if raised else "LimitRequestFieldSize"))
    argv = [procs.bin_path("apache2"), "-f", str(conf), "-DFOREGROUND"]
    with procs.running("apache2", argv, os.path.join(run, "stdout.log")) as proc:
        try:
            check(proc, port, site, raised)
        except AssertionError:
            print(pathlib.Path(run, "error.log").read_text()[-3000:])
            raise
