"""kstoken.middleware's configuration against keystonemiddleware's own resolution of the same files:
real files in a temporary directory, real oslo.config, keystonemiddleware 6.1.0's ``Config.get``
(``AuthProtocol._conf``) as the oracle. Each scenario runs in a fresh interpreter
(``config_oracle.py``), since oslo.config's global ``CONF`` is process state.

Before kstoken read its options through oslo.config (it parsed the files itself), `$$` and `$var`
came out literally, environment variables and ``set_override`` were ignored, and files of
``default_config_files`` were merged even when ``--config-file`` was given; these scenarios are
those operator reports.
"""

import json
import logging
import os
import pathlib
import subprocess
import sys

import pytest

pytestmark = pytest.mark.unit

pytest.importorskip("oslo_config")
pytest.importorskip("keystoneauth1")
pytest.importorskip("keystonemiddleware.auth_token")

from kstoken.middleware import ConfigurationError, _config  # noqa: E402

ORACLE = pathlib.Path(__file__).with_name("config_oracle.py")

#: Every option of kstoken's table that keystonemiddleware 6.1.0 reads from [keystone_authtoken].
NAMES = [
    "www_authenticate_uri", "auth_version", "interface", "delay_auth_decision", "http_connect_timeout",
    "http_request_max_retries", "cache", "certfile", "keyfile", "cafile", "insecure", "region_name",
    "signing_dir", "memcached_servers", "token_cache_time", "memcache_security_strategy",
    "memcache_secret_key", "memcache_pool_dead_retry", "memcache_pool_maxsize",
    "memcache_pool_socket_timeout", "memcache_pool_unused_timeout", "memcache_pool_conn_get_timeout",
    "memcache_use_advanced_pool", "include_service_catalog", "enforce_token_bind", "hash_algorithms",
    "service_token_roles", "service_token_roles_required", "auth_admin_prefix", "auth_host", "auth_port",
    "auth_protocol", "identity_uri", "admin_token", "admin_user", "admin_password", "admin_tenant_name",
    "auth_type", "auth_section",
]
PLUGIN = ["auth_url", "username", "password", "user_domain_name", "project_name"]
AUTH = ("auth_type = password\nauth_url = http://127.0.0.1:9/v3\nusername = nova\n"
        "www_authenticate_uri = http://127.0.0.1:9/public\n")


def run(tmp_path, spec, env=None):
    """Both sides' values for one scenario; asserts they agree on every option."""
    spec = dict(spec, names=NAMES, plugin_names=PLUGIN)
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    environ = {k: v for k, v in os.environ.items() if not k.startswith("OS_")}
    environ["HOME"] = str(tmp_path / "home")
    environ["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
    environ.update(env or {})
    proc = subprocess.run([sys.executable, str(ORACLE), str(path)], capture_output=True, text=True,
                          cwd=str(tmp_path), env=environ, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    differ = {k: v for k, v in result.items() if isinstance(v, list) and v[0] != v[1]}
    assert not differ, "keystonemiddleware vs kstoken: %s" % differ
    return result


def write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def test_dollar_escape_in_a_password(tmp_path):
    conf = write(tmp_path / "nova.conf", "[keystone_authtoken]\n" + AUTH + "password = svc$$pass\n"
                 "admin_password = a$$b\n")
    r = run(tmp_path, {"paste": {"oslo_config_project": "nova", "oslo_config_file": conf}})
    assert r["plugin:password"][1] == "svc$pass"
    assert r["admin_password"][1] == "a$b"
    assert r["plugin:username"][1] == "nova"


def test_interpolation_of_the_services_options(tmp_path):
    state = tmp_path / "state"
    conf = write(tmp_path / "nova.conf", "[DEFAULT]\nstate_path = %s\n[keystone_authtoken]\n" % state + AUTH
                 + "signing_dir = $state_path/keystone-signing\n")
    r = run(tmp_path, {"register_state_path": True, "global_argv": ["--config-file", conf], "project": "nova"})
    assert r["signing_dir"][1] == str(state / "keystone-signing")


def test_environment_variables_override_files(tmp_path):
    conf = write(tmp_path / "nova.conf", "[keystone_authtoken]\n" + AUTH + "delay_auth_decision = false\n")
    env = {"OS_KEYSTONE_AUTHTOKEN__DELAY_AUTH_DECISION": "true",
           "OS_KEYSTONE_AUTHTOKEN__HASH_ALGORITHMS": "sha256,md5"}
    r = run(tmp_path, {"global_argv": ["--config-file", conf], "project": "nova"}, env)
    assert r["delay_auth_decision"][1] is True
    assert r["hash_algorithms"][1] == ["sha256", "md5"]
    # the same through a private ConfigOpts (oslo_config_project)
    r = run(tmp_path, {"paste": {"oslo_config_project": "nova", "oslo_config_file": conf}}, env)
    assert r["delay_auth_decision"][1] is True


def test_set_override(tmp_path):
    conf = write(tmp_path / "nova.conf", "[keystone_authtoken]\n" + AUTH + "token_cache_time = 60\n")
    r = run(tmp_path, {"global_argv": ["--config-file", conf], "project": "nova",
                       "overrides": [["token_cache_time", 42], ["delay_auth_decision", True]]})
    assert r["token_cache_time"][1] == 42
    assert r["delay_auth_decision"][1] is True


def test_config_file_replaces_the_default_files(tmp_path):
    home_conf = write(tmp_path / "home" / ".nova" / "nova.conf",
                      "[keystone_authtoken]\n" + AUTH + "delay_auth_decision = true\n")
    other = write(tmp_path / "other.conf", "[keystone_authtoken]\n" + AUTH)
    r = run(tmp_path, {"global_argv": ["--config-file", other], "project": "nova",
                       "default_config_files": [home_conf]})
    assert r["delay_auth_decision"][1] is False
    # without --config-file the default file is read
    r = run(tmp_path, {"global_argv": [], "project": "nova", "default_config_files": [home_conf]})
    assert r["delay_auth_decision"][1] is True


def test_conf_d_directories(tmp_path):
    write(tmp_path / "home" / ".nova" / "nova.conf", "[keystone_authtoken]\n" + AUTH + "token_cache_time = 100\n")
    write(tmp_path / "home" / ".nova" / "nova.conf.d" / "50-auth.conf",
          "[keystone_authtoken]\ntoken_cache_time = 7\nmemcached_servers = 127.0.0.1:1,127.0.0.1:2\n")
    r = run(tmp_path, {"paste": {"oslo_config_project": "nova"}})
    assert r["token_cache_time"][1] == 7
    assert r["memcached_servers"][1] == ["127.0.0.1:1", "127.0.0.1:2"]
    d = tmp_path / "etc" / "nova.conf.d"
    write(d / "10-a.conf", "[keystone_authtoken]\n" + AUTH + "token_cache_time = 11\n")
    write(d / "20-b.conf", "[keystone_authtoken]\ntoken_cache_time = 22\n")
    r = run(tmp_path, {"global_argv": ["--config-dir", str(d)], "project": "nova"})
    assert r["token_cache_time"][1] == 22


def test_paste_values_win(tmp_path):
    conf = write(tmp_path / "nova.conf", "[keystone_authtoken]\n" + AUTH + "delay_auth_decision = true\n"
                 "hash_algorithms = sha512\n")
    r = run(tmp_path, {"global_argv": ["--config-file", conf], "project": "nova",
                       "paste": {"delay_auth_decision": "false", "password": "from-paste"}})
    assert r["delay_auth_decision"][1] is False
    assert r["hash_algorithms"][1] == ["sha512"]
    assert r["plugin:password"][1] == "from-paste"


def test_config_object_and_kstoken_loaded_first(tmp_path):
    conf = write(tmp_path / "nova.conf", "[keystone_authtoken]\n" + AUTH + "include_service_catalog = false\n")
    r = run(tmp_path, {"config_object": ["--config-file", conf], "project": "nova"})
    assert r["include_service_catalog"][1] is False
    # kstoken registering the options before keystonemiddleware is imported: no DuplicateOptError
    r = run(tmp_path, {"kstoken_first": True, "global_argv": ["--config-file", conf], "project": "nova"})
    assert "ksm_error" not in r and "kstoken_error" not in r


def test_a_bad_value_in_a_file_is_refused_by_both(tmp_path):
    conf = write(tmp_path / "nova.conf", "[keystone_authtoken]\n" + AUTH + "delay_auth_decision = perhaps\n")
    r = run(tmp_path, {"global_argv": ["--config-file", conf], "project": "nova"})
    assert "ksm_error" in r
    assert "delay_auth_decision" in r["kstoken_error"] and "perhaps" in r["kstoken_error"]


def test_auth_section_is_read_where_keystonemiddleware_fails(tmp_path):
    """keystonemiddleware 6.1.0 reads auth_type from the auth_section group without registering it
    there (NoSuchOptError unless the service did); kstoken registers keystoneauth's options there, as
    keystoneauth's own loader does."""
    conf = write(tmp_path / "nova.conf", "[keystone_authtoken]\nauth_section = sa\n"
                 "www_authenticate_uri = http://127.0.0.1:9/public\n"
                 "[sa]\nauth_type = password\nauth_url = http://ks/v3\nusername = n\npassword = p$$w\n")
    s = _config.load({"oslo_config_project": "nova", "oslo_config_file": conf})
    assert s.auth_type == "password"
    assert s.extra["username"] == "n" and s.extra["password"] == "p$w"


REFUSALS = [
    ({"hash_algorithms": "sha3_256"}, "hash_algorithms", "sha3_256", "supported: md5, sha1, sha224, sha256"),
    ({"delay_auth_decision": "perhaps"}, "delay_auth_decision", "perhaps", "a boolean"),
    ({"token_cache_time": "5m"}, "token_cache_time", "5m", "an integer"),
    ({"revocation_cache_time": "0"}, "revocation_cache_time", "0", "positive"),
    ({"enforce_token_bind": "Strict"}, "enforce_token_bind", "Strict", "disabled, permissive, strict, required"),
    ({"enforce_token_bind": "kerberos,x509"}, "enforce_token_bind", "kerberos,x509", "kerberos, x509"),
    ({"memcache_security_strategy": "rot13", "memcache_secret_key": "k"}, "memcache_security_strategy", "rot13",
     "None, MAC, ENCRYPT"),
    ({"memcache_security_strategy": "mac", "memcache_secret_key": "k"}, "memcache_security_strategy", "mac",
     "None, MAC, ENCRYPT"),
    ({"memcache_security_strategy": "MAC"}, "memcache_security_strategy", "MAC", "memcache_secret_key"),
    ({"auth_protocol": "ftp"}, "auth_protocol", "ftp", "http, https"),
    ({"kstoken_revocation": "sometimes"}, "kstoken_revocation", "sometimes", "auto, enforce or off"),
    ({"kstoken_online_validation": "on"}, "kstoken_online_validation", "on", "auto or off"),
    ({"kstoken_cache_max_entries": "0"}, "kstoken_cache_max_entries", "0", "positive"),
    ({"auth_type": "no-such-plugin"}, "auth_type", "no-such-plugin", "installed keystoneauth1 plugin"),
]


@pytest.mark.parametrize("conf,option,value,accepted", REFUSALS, ids=[r[1] + "=" + r[2] for r in REFUSALS])
def test_every_refusal_names_option_value_and_what_is_accepted(conf, option, value, accepted):
    with pytest.raises(ConfigurationError) as e:
        _config.load(conf)
    message = str(e.value)
    assert option in message and value in message and accepted in message, message


def test_without_oslo_config_paste_only_said_once(monkeypatch, caplog):
    monkeypatch.setattr(_config, "_cfg", None)
    monkeypatch.setattr(_config, "_NO_OSLO_LOGGED", type(_config._NO_OSLO_LOGGED)())
    caplog.set_level(logging.INFO)
    s = _config.load({"delay_auth_decision": "yes", "hash_algorithms": "sha256"})
    _config.load({})
    assert s.delay_auth_decision is True and s.hash_algorithms == ["sha256"]
    lines = [r for r in caplog.records if "oslo.config is not installed" in r.getMessage()]
    assert len(lines) == 1 and "paste configuration only" in lines[0].getMessage()
    with pytest.raises(ConfigurationError, match="need oslo.config"):
        _config.load({"oslo_config_project": "nova"})


def test_kstokens_own_options_are_read_through_oslo_config(tmp_path, monkeypatch):
    """The options keystonemiddleware does not have (kstoken_*, revocation_cache_time,
    check_revocations_for_cached) resolve like the others: from the service's file with
    interpolation, from OS_KEYSTONE_AUTHTOKEN__* over the file, paste over both; a bad value in the
    file is refused naming the option."""
    conf = write(tmp_path / "nova.conf", "[keystone_authtoken]\n" + AUTH
                 + "kstoken_revocation = off\nrevocation_cache_time = 17\ncheck_revocations_for_cached = true\n"
                 "kstoken_revocation_list_max_bytes = 1048576\nkstoken_request_fetch_timeout = 1.5\n"
                 "kstoken_cache_max_entries = $token_cache_time\ntoken_cache_time = 77\n")
    paste = {"oslo_config_project": "nova", "oslo_config_file": conf}
    for key in [k for k in os.environ if k.startswith("OS_")]:
        monkeypatch.delenv(key)
    s = _config.load(paste)
    assert (s.kstoken_revocation, s.revocation_cache_time, s.check_revocations_for_cached) == ("off", 17.0, True)
    assert s.kstoken_revocation_list_max_bytes == 1048576
    assert s.kstoken_request_fetch_timeout == 1.5
    assert s.kstoken_cache_max_entries == 77
    monkeypatch.setenv("OS_KEYSTONE_AUTHTOKEN__KSTOKEN_REQUEST_FETCH_TIMEOUT", "0.5")
    assert _config.load(paste).kstoken_request_fetch_timeout == 0.5
    assert _config.load(dict(paste, kstoken_request_fetch_timeout="2")).kstoken_request_fetch_timeout == 2.0
    monkeypatch.delenv("OS_KEYSTONE_AUTHTOKEN__KSTOKEN_REQUEST_FETCH_TIMEOUT")
    bad = write(tmp_path / "bad.conf", "[keystone_authtoken]\n" + AUTH + "kstoken_revocation = sometimes\n")
    with pytest.raises(ConfigurationError) as e:
        _config.load({"oslo_config_project": "nova", "oslo_config_file": bad})
    assert "kstoken_revocation" in str(e.value) and "sometimes" in str(e.value)
    # A variable no option defines is refused naming the option, never read as the default.
    unknown = write(tmp_path / "unknown.conf", "[DEFAULT]\nmy_limit = 5\n[keystone_authtoken]\n" + AUTH
                    + "kstoken_cache_max_entries = $my_limit\n")
    with pytest.raises(ConfigurationError) as e:
        _config.load({"oslo_config_project": "nova", "oslo_config_file": unknown})
    assert "kstoken_cache_max_entries" in str(e.value) and "my_limit" in str(e.value)


def test_the_advanced_pool_warning_says_what_the_option_does(caplog):
    s = _config.load({"memcached_servers": "127.0.0.1:1", "memcache_use_advanced_pool": "true",
                      "identity_uri": "http://127.0.0.1:9"})
    assert s.memcache_dead_retry == 300
    assert any("memcache_pool_dead_retry (300 s" in w and "30 s" in w for w in s.warnings), s.warnings
