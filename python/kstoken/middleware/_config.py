"""Configuration: keystonemiddleware's ``[keystone_authtoken]`` options, read as keystonemiddleware
reads them (the paste ``conf`` dict first, then oslo.config files), plus kstoken's own options.

Values arrive as strings (paste, ini files) or already typed; they are converted the way
oslo.config converts them. An option keystonemiddleware knows but this middleware cannot honour is a
startup error, or a warning where ignoring it changes nothing about which requests are accepted.
"""

import configparser
import logging
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, MutableMapping, Optional, Sequence, Tuple

__all__ = ["ConfigurationError", "Settings", "load", "GROUP"]

GROUP = "keystone_authtoken"

#: Keys paste.deploy (and some services) add to every conf dict.
_PASTE_NOISE = frozenset(["here", "__file__", "configkey", "__name__"])
#: Keys that select where options come from.
_SOURCES = frozenset(["oslo_config_project", "oslo_config_file", "oslo_config_config"])


class ConfigurationError(Exception):
    """The middleware's configuration cannot be used."""


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "on", "yes"):
        return True
    if text in ("false", "0", "off", "no"):
        return False
    raise ValueError("Unexpected boolean value %r" % (value,))


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("not an integer: %r" % (value,))
    if isinstance(value, int):
        return value
    return int(str(value).strip())


def _float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError("not a number: %r" % (value,))
    return float(str(value).strip()) if not isinstance(value, (int, float)) else float(value)


def _list(value: Any) -> List[str]:
    if isinstance(value, (list, tuple)):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    if not text:
        return []
    return [item.strip().strip("'\"") for item in text.split(",") if item.strip()]


def _str(value: Any) -> str:
    return str(value)


@dataclass(frozen=True)
class _Opt:
    name: str
    convert: Callable[[Any], Any]
    default: Any = None
    deprecated: Tuple[str, ...] = ()


# keystonemiddleware 5.3.0 / 6.1.0 option names, types and defaults.
_KSM_OPTS = [
    _Opt("www_authenticate_uri", _str, None, ("auth_uri",)),
    _Opt("auth_version", _str),
    _Opt("interface", _str, "admin"),
    _Opt("delay_auth_decision", _bool, False),
    _Opt("http_connect_timeout", _int),
    _Opt("http_request_max_retries", _int, 3),
    _Opt("cache", _str),
    _Opt("certfile", _str),
    _Opt("keyfile", _str),
    _Opt("cafile", _str),
    _Opt("insecure", _bool, False),
    _Opt("region_name", _str),
    _Opt("signing_dir", _str),
    _Opt("memcached_servers", _list, None, ("memcache_servers",)),
    _Opt("token_cache_time", _int, 300),
    _Opt("revocation_cache_time", _float, 10.0),
    _Opt("memcache_security_strategy", _str, "None"),
    _Opt("memcache_secret_key", _str),
    # Unset: 300 with memcache_use_advanced_pool, else python-memcached's 30 (keystonemiddleware's
    # default client ignores the option).
    _Opt("memcache_pool_dead_retry", _int),
    _Opt("memcache_pool_maxsize", _int, 10),
    _Opt("memcache_pool_socket_timeout", _int, 3),
    _Opt("memcache_pool_unused_timeout", _int, 60),
    _Opt("memcache_pool_conn_get_timeout", _int, 10),
    _Opt("memcache_use_advanced_pool", _bool, False),
    _Opt("include_service_catalog", _bool, True),
    _Opt("enforce_token_bind", _str, "permissive"),
    _Opt("check_revocations_for_cached", _bool, False),
    _Opt("hash_algorithms", _list, ["md5"]),
    _Opt("service_token_roles", _list, ["service"]),
    _Opt("service_token_roles_required", _bool, False),
    # The pre-plugin credentials (keystonemiddleware's _auth.OPTS).
    _Opt("auth_admin_prefix", _str, ""),
    _Opt("auth_host", _str, "127.0.0.1"),
    _Opt("auth_port", _int, 35357),
    _Opt("auth_protocol", _str, "https"),
    _Opt("identity_uri", _str),
    _Opt("admin_token", _str),
    _Opt("admin_user", _str),
    _Opt("admin_password", _str),
    _Opt("admin_tenant_name", _str, "admin"),
    # keystoneauth's common options.
    _Opt("auth_type", _str, None, ("auth_plugin",)),
    _Opt("auth_section", _str),
    _Opt("log_name", _str, "kstoken.middleware"),
]

_KSTOKEN_OPTS = [
    _Opt("kstoken_revocation", _str, "auto"),
    _Opt("kstoken_revocation_stale_time", _float, 300.0),
    _Opt("kstoken_cache_max_entries", _int, 10000),
    _Opt("kstoken_cache_max_bytes", _int, 64 << 20),
    _Opt("kstoken_online_validation", _str, "auto"),
    _Opt("kstoken_client_cert_key", _str, "SSL_CLIENT_CERT"),
    _Opt("kstoken_request_fetch_timeout", _float, 3.0),
    _Opt("kstoken_accept_new_ca", _bool, False),
    _Opt("kstoken_revocation_list_max_bytes", _int, 64 << 20),
]

_BY_NAME: Dict[str, _Opt] = {}
for _opt in _KSM_OPTS + _KSTOKEN_OPTS:
    _BY_NAME[_opt.name] = _opt
    for _old in _opt.deprecated:
        _BY_NAME[_old] = _opt


@dataclass
class Settings:
    """The middleware's configuration, typed; field names are the option names."""

    www_authenticate_uri: Optional[str]
    auth_version: Optional[str]
    interface: str
    delay_auth_decision: bool
    http_connect_timeout: Optional[int]
    http_request_max_retries: int
    cache: Optional[str]
    certfile: Optional[str]
    keyfile: Optional[str]
    cafile: Optional[str]
    insecure: bool
    region_name: Optional[str]
    signing_dir: Optional[str]
    memcached_servers: Optional[List[str]]
    token_cache_time: int
    revocation_cache_time: float
    memcache_security_strategy: str
    memcache_secret_key: Optional[str]
    memcache_pool_dead_retry: Optional[int]
    memcache_pool_maxsize: int
    memcache_pool_socket_timeout: int
    memcache_pool_unused_timeout: int
    memcache_pool_conn_get_timeout: int
    memcache_use_advanced_pool: bool
    include_service_catalog: bool
    enforce_token_bind: str
    check_revocations_for_cached: bool
    hash_algorithms: List[str]
    service_token_roles: List[str]
    service_token_roles_required: bool
    auth_admin_prefix: str
    auth_host: str
    auth_port: int
    auth_protocol: str
    identity_uri: Optional[str]
    admin_token: Optional[str]
    admin_user: Optional[str]
    admin_password: Optional[str]
    admin_tenant_name: str
    auth_type: Optional[str]
    auth_section: Optional[str]
    log_name: str
    kstoken_revocation: str
    kstoken_revocation_stale_time: float
    kstoken_cache_max_entries: int
    kstoken_cache_max_bytes: int
    kstoken_online_validation: str
    kstoken_client_cert_key: str
    kstoken_request_fetch_timeout: float
    kstoken_accept_new_ca: bool
    kstoken_revocation_list_max_bytes: int
    #: Raw values of options no table knows (auth plugin options, unknown keys), by name.
    extra: Dict[str, Any] = field(default_factory=dict)
    #: The conf dict to hand keystonemiddleware (kstoken options removed).
    ksm_conf: Dict[str, Any] = field(default_factory=dict)
    #: Warnings to log at startup.
    warnings: List[str] = field(default_factory=list)

    @property
    def has_credentials(self) -> bool:
        """Whether service credentials are configured (what keystonemiddleware 5.x needs for lists)."""
        return bool(self.auth_type or self.admin_token or (self.admin_user and self.admin_password))

    @property
    def revocation_enforced(self) -> bool:
        """Whether revocation lists are fetched and enforced."""
        if self.kstoken_revocation == "auto":
            return self.has_credentials
        return self.kstoken_revocation == "enforce"


def _oslo_files(conf: Mapping[str, Any]) -> List[str]:
    """The ini files oslo.config would read for this conf, as keystonemiddleware resolves them."""
    obj = conf.get("oslo_config_config")
    project = conf.get("oslo_config_project")
    if obj is None and project:
        if conf.get("oslo_config_file"):
            return [str(conf["oslo_config_file"])]
        try:
            from oslo_config import cfg
        except ImportError:
            raise ConfigurationError("oslo_config_project needs oslo.config (pip install oslo.config)") from None
        return list(cfg.find_config_files(project=str(project)))
    if obj is None:
        # keystonemiddleware falls back to oslo.config's global CONF: read the files it was loaded with.
        oslo_cfg = sys.modules.get("oslo_config.cfg")
        if oslo_cfg is None:
            return []
        obj = getattr(oslo_cfg, "CONF", None)
    files: List[str] = []
    for attr in ("default_config_files", "config_file"):
        try:
            files.extend(getattr(obj, attr, None) or [])
        except Exception:  # oslo raises NoSuchOptError before CONF() was called
            continue
    try:
        dirs = getattr(obj, "config_dir", None) or []
    except Exception:
        dirs = []
    for d in [dirs] if isinstance(dirs, str) else list(dirs):
        if os.path.isdir(d):
            files.extend(sorted(os.path.join(d, f) for f in os.listdir(d) if f.endswith(".conf")))
    seen: List[str] = []
    for f in files:
        if f not in seen:
            seen.append(f)
    return seen


def _read_sections(files: Sequence[str]) -> Dict[str, Dict[str, str]]:
    parser = configparser.RawConfigParser(strict=False, interpolation=None, default_section="\0none")
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                parser.read_file(f, source=path)
        except (OSError, configparser.Error) as e:
            raise ConfigurationError("cannot read %s: %s" % (path, e)) from None
    return {s: dict(parser.items(s)) for s in parser.sections()}


def load(conf: Mapping[str, Any], log: Optional[logging.Logger] = None) -> Settings:
    """Settings from keystonemiddleware's ``conf`` dict (and the oslo.config files it points to)."""
    log = log or logging.getLogger("kstoken.middleware")
    conf = dict(conf)
    sections = _read_sections(_oslo_files(conf))
    file_values: Dict[str, Any] = dict(sections.get(GROUP, {}))
    # Paste values override file values, as in keystonemiddleware's Config.get.
    paste = {k: v for k, v in conf.items() if k not in _PASTE_NOISE and k not in _SOURCES}
    auth_section = paste.get("auth_section") or file_values.get("auth_section")
    merged: MutableMapping[str, Any] = {}
    merged.update(file_values)
    if auth_section and auth_section in sections:
        merged.update(sections[auth_section])
    merged.update(paste)

    values: Dict[str, Any] = {}
    extra: Dict[str, Any] = {}
    for key, raw in merged.items():
        opt = _BY_NAME.get(key)
        if opt is None:
            extra[key] = raw
            continue
        if raw is None:
            continue
        # The current name wins over a deprecated one.
        if opt.name in values and key != opt.name:
            continue
        try:
            values[opt.name] = opt.convert(raw)
        except (TypeError, ValueError) as e:
            raise ConfigurationError(
                'Unable to convert the value of option "%s" into correct type: %s' % (key, e)
            ) from None
    for opt in _KSM_OPTS + _KSTOKEN_OPTS:
        values.setdefault(opt.name, list(opt.default) if isinstance(opt.default, list) else opt.default)

    ksm_conf = {k: v for k, v in conf.items() if not str(k).startswith("kstoken_")}
    settings = Settings(**values, extra=extra, ksm_conf=ksm_conf)
    _validate(settings)
    return settings


def plugin_option_names(auth_type: Optional[str]) -> List[str]:
    """The option names (current and deprecated) of a keystoneauth plugin, for unknown-key checks."""
    if not auth_type:
        return []
    from keystoneauth1 import loading

    try:
        loader: Any = loading.get_plugin_loader(auth_type)
    except Exception as e:
        raise ConfigurationError("unknown auth_type %r: %s" % (auth_type, e)) from None
    names: List[str] = []
    for opt in loader.get_options():
        names.append(opt.dest)
        names.extend(o.dest for o in getattr(opt, "deprecated", []) or [])
    return names


def _validate(s: Settings) -> None:
    known_extra = set(plugin_option_names(s.auth_type))
    for key in sorted(s.extra):
        if key not in known_extra:
            s.warnings.append('The option "%s" is not known to kstoken.middleware' % key)
    if s.revocation_cache_time <= 0:
        raise ConfigurationError("revocation_cache_time must be positive")
    if s.kstoken_revocation_stale_time < 0:
        raise ConfigurationError("kstoken_revocation_stale_time must not be negative")
    if s.kstoken_revocation not in ("auto", "enforce", "off"):
        raise ConfigurationError("kstoken_revocation must be auto, enforce or off")
    if s.kstoken_online_validation not in ("auto", "off"):
        raise ConfigurationError("kstoken_online_validation must be auto or off")
    if s.kstoken_cache_max_entries < 1 or s.kstoken_cache_max_bytes < 1:
        raise ConfigurationError("the kstoken_cache_max_* bounds must be positive")
    if s.kstoken_request_fetch_timeout < 0:
        raise ConfigurationError("kstoken_request_fetch_timeout must not be negative")
    if s.kstoken_revocation_list_max_bytes < 1:
        raise ConfigurationError("kstoken_revocation_list_max_bytes must be positive")
    if not s.hash_algorithms:
        raise ConfigurationError("hash_algorithms is empty")
    strategy = str(s.memcache_security_strategy or "None")
    if strategy.lower() not in ("none", "mac", "encrypt"):
        raise ConfigurationError(
            "memcache_security_strategy must be None, MAC or ENCRYPT, not %r" % strategy
        )
    if strategy.lower() != "none" and not s.memcache_secret_key:
        raise ConfigurationError(
            "memcache_secret_key must be defined when a memcache_security_strategy is defined"
        )
    if s.auth_protocol not in ("http", "https"):
        raise ConfigurationError("auth_protocol must be http or https")
    if s.cache:
        s.warnings.append(
            "cache = %s (a Swift environ cache) is not supported: kstoken.middleware uses its own "
            "in-process cache and memcached_servers" % s.cache
        )
    if s.memcache_use_advanced_pool:
        s.warnings.append(
            "memcache_use_advanced_pool is ignored: kstoken.middleware always uses a pooled, "
            "thread-safe memcached client"
        )
