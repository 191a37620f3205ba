"""Configuration: keystonemiddleware's ``[keystone_authtoken]`` options, read as keystonemiddleware
reads them, plus kstoken's own options.

With oslo.config installed the options are registered and read through it, exactly as
keystonemiddleware does (``keystonemiddleware/_common/config.py``): on the service's global
``cfg.CONF``, or on a private ``ConfigOpts`` loaded for ``oslo_config_project`` (and
``oslo_config_file``), or on the ``ConfigOpts`` given as ``oslo_config_config``; so interpolation
(``$state_path``, ``$$``), ``OS_KEYSTONE_AUTHTOKEN__*`` environment variables, ``set_override``,
``--config-file`` precedence over the default files and ``.conf.d`` directories resolve as they do
for keystonemiddleware. Values in the paste ``conf`` dict win, as upstream. When keystonemiddleware
is importable its own option objects are registered (so both middlewares can share one ``CONF``);
otherwise kstoken's table below, with the same names, types, defaults and deprecated names.
Without oslo.config only the paste ``conf`` dict is read, and the log says so once.

Values arrive as strings (paste) or already typed; strings are converted as oslo.config converts
them. An option keystonemiddleware knows but this middleware cannot honour is a startup error, or a
warning where ignoring it changes nothing about which requests are accepted. Every startup refusal
is a :class:`ConfigurationError` naming the option, the value and what is accepted.
"""

import importlib
import logging
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

# Imported by name: mypy then types it the same with and without oslo.config installed.
_cfg: Any
try:
    _cfg = importlib.import_module("oslo_config.cfg")
except ImportError:  # the paste conf dict alone
    _cfg = None

__all__ = ["ConfigurationError", "Settings", "load", "GROUP"]

GROUP = "keystone_authtoken"

#: Keys paste.deploy (and some services) add to every conf dict.
_PASTE_NOISE = frozenset(["here", "__file__", "configkey", "__name__"])
#: Keys that select where options come from.
_SOURCES = frozenset(["oslo_config_project", "oslo_config_file", "oslo_config_config"])


class ConfigurationError(Exception):
    """The middleware's configuration cannot be used: the message names the option, the value and
    what is accepted."""


def refusal(name: str, value: Any, accepted: str) -> ConfigurationError:
    """The error for option ``name`` set to ``value``, saying what is ``accepted``."""
    return ConfigurationError("[%s] %s = %r is refused: %s" % (GROUP, name, value, accepted))


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
    #: The accepted values, when only some are (oslo.config's ``choices``: exact, case-sensitive).
    choices: Tuple[str, ...] = ()


#: What each converter accepts, for refusals.
_ACCEPTED: Dict[Callable[[Any], Any], str] = {
    _bool: "a boolean (true/false, yes/no, on/off, 1/0)",
    _int: "an integer",
    _float: "a number",
    _list: "a comma-separated list",
    _str: "a string",
}


def _accepted(opt: "_Opt") -> str:
    if opt.choices:
        return "one of " + ", ".join(opt.choices)
    return _ACCEPTED.get(opt.convert, "a value of the option's type")


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
    _Opt("memcache_security_strategy", _str, "None", choices=("None", "MAC", "ENCRYPT")),
    _Opt("memcache_secret_key", _str),
    _Opt("memcache_pool_dead_retry", _int, 300),
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
    _Opt("auth_protocol", _str, "https", choices=("http", "https")),
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

#: Options keystonemiddleware reads from the paste conf dict only, never from oslo.config.
_PASTE_ONLY = frozenset(["log_name"])

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
    memcache_pool_dead_retry: int
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
    #: Seconds memcached is left alone after a failure: ``memcache_pool_dead_retry`` when it is given
    #: or ``memcache_use_advanced_pool`` is on, else python-memcached's 30, as keystonemiddleware's
    #: default client (which ignores the option) does.
    memcache_dead_retry: int = 30

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


_NO_OSLO_LOGGED = threading.Event()


def _oslo_type(opt: _Opt) -> Any:
    """The oslo.config option for a table entry (used when keystonemiddleware is not importable)."""
    assert _cfg is not None
    kinds: Dict[Callable[[Any], Any], Any] = {
        _bool: _cfg.BoolOpt,
        _int: _cfg.IntOpt,
        _float: _cfg.FloatOpt,
        _list: _cfg.ListOpt,
    }
    kind = kinds.get(opt.convert)
    kwargs: Dict[str, Any] = {"default": opt.default}
    if opt.deprecated:
        kwargs["deprecated_opts"] = [_cfg.DeprecatedOpt(d, group=GROUP) for d in opt.deprecated]
    if kind is None:
        kind = _cfg.StrOpt
        if opt.choices:
            kwargs["choices"] = opt.choices
    return kind(opt.name, **kwargs)


def _oslo_opts() -> List[Any]:
    """The oslo.config options of the ``[keystone_authtoken]`` group: keystonemiddleware's own
    objects when it is importable (registering equal objects twice is allowed, different ones with
    the same name are not), then kstoken's for the options it lacks."""
    assert _cfg is not None
    opts: List[Any] = []
    try:
        from keystonemiddleware import auth_token

        for group, group_opts in auth_token.list_opts():
            if group == GROUP:
                opts.extend(group_opts)
    except ImportError:
        from keystoneauth1 import loading

        opts.extend(loading.get_auth_common_conf_options())
    known = {o.dest for o in opts}
    for opt in _KSM_OPTS + _KSTOKEN_OPTS:
        if opt.name not in known and opt.name not in _PASTE_ONLY:
            opts.append(_oslo_type(opt))
    return opts


def _register(obj: Any, opts: List[Any], group: str) -> None:
    for opt in opts:
        try:
            obj.register_opt(opt, group=group)
        except _cfg.DuplicateOptError:
            # The service registered an option of that name itself: read its value all the same.
            continue


def _oslo_source(obj: Any, project: Any, config_file: Any) -> Any:
    """The ``ConfigOpts`` keystonemiddleware would read, with the group's options registered."""
    assert _cfg is not None
    if project and obj is None:
        obj = _cfg.ConfigOpts()
        try:
            obj(
                [],
                project=str(project),
                default_config_files=[str(config_file)] if config_file else None,
                validate_default_values=True,
            )
        except _cfg.Error as e:
            raise ConfigurationError(
                "oslo_config_project = %r, oslo_config_file = %r: %s" % (project, config_file, e)
            ) from None
    if obj is None:
        obj = _cfg.CONF
    _register(obj, _oslo_opts(), GROUP)
    return obj


def _oslo_get(obj: Any, group: str, name: str) -> Any:
    try:
        return obj[group][name]
    except _cfg.NoSuchOptError as e:
        if getattr(e, "opt_name", name) == name:
            return None
        # The value names a variable ($my_limit) that no option defines: refused, not the default.
        raise ConfigurationError("[%s] %s: %s (define it, or write $$ for a literal $)" % (group, name, e)) from None
    except (_cfg.Error, ValueError) as e:
        raise ConfigurationError("[%s] %s: %s" % (group, name, e)) from None


#: python-memcached's dead-server retry, keystonemiddleware's default client's.
PYTHON_MEMCACHED_DEAD_RETRY = 30


def _oslo_given(obj: Any, name: str) -> bool:
    """Whether the option has a value other than its default (a file, the command line, an
    override); ``True`` when oslo.config cannot tell."""
    try:
        location = obj.get_location(name, GROUP)
    except Exception:  # older oslo.config, or an option the object does not know
        return True
    return location is None or location.location != _cfg.Locations.opt_default


def _convert_paste(key: str, opt: _Opt, raw: Any, oslo_opts: Dict[str, Any]) -> Any:
    """A paste value converted as keystonemiddleware converts it (with the oslo.config option's
    type when there is one), then to the table's Python type."""
    try:
        oslo_opt = oslo_opts.get(opt.name)
        value = oslo_opt.type(raw) if oslo_opt is not None and raw is not None else raw
        value = opt.convert(value)
    except (TypeError, ValueError) as e:
        raise ConfigurationError(
            "[%s] %s = %r is refused: %s; expected %s" % (GROUP, key, raw, e, _accepted(opt))
        ) from None
    if opt.choices and value not in opt.choices:
        raise refusal(key, raw, "expected " + _accepted(opt))
    return value


def load(conf: Mapping[str, Any], log: Optional[logging.Logger] = None) -> Settings:
    """Settings from keystonemiddleware's ``conf`` dict and, with oslo.config, the ``ConfigOpts`` it
    names (or the global ``cfg.CONF``)."""
    log = log or logging.getLogger("kstoken.middleware")
    conf = dict(conf)
    given = conf.get("oslo_config_config")
    project = conf.get("oslo_config_project")
    config_file = conf.get("oslo_config_file")
    paste = {k: v for k, v in conf.items() if k not in _PASTE_NOISE and k not in _SOURCES}

    obj: Any = None
    oslo_opts: Dict[str, Any] = {}
    if _cfg is None:
        if given is not None or project:
            raise ConfigurationError(
                "oslo_config_project / oslo_config_config need oslo.config: pip install oslo.config"
            )
        if not _NO_OSLO_LOGGED.is_set():
            _NO_OSLO_LOGGED.set()
            log.warning(
                "oslo.config is not installed: [%s] options are read from the "
                "paste configuration only, not from the service's configuration files",
                GROUP,
            )
    else:
        obj = _oslo_source(given, project, config_file)
        oslo_opts = {o.dest: o for o in _oslo_opts()}

    values: Dict[str, Any] = {}
    extra: Dict[str, Any] = {}
    for key, raw in paste.items():
        opt = _BY_NAME.get(key)
        if opt is None:
            extra[key] = raw
            continue
        if raw is None:
            continue
        # The current name wins over a deprecated one.
        if opt.name in values and key != opt.name:
            continue
        values[opt.name] = _convert_paste(key, opt, raw, oslo_opts)
    for opt in _KSM_OPTS + _KSTOKEN_OPTS:
        if opt.name in values:
            continue
        value = None
        if obj is not None and opt.name not in _PASTE_ONLY:
            value = _oslo_get(obj, GROUP, opt.name)
            if value is None and opt.name == "www_authenticate_uri":
                value = _oslo_get(obj, GROUP, "auth_uri")
        if value is None:
            value = list(opt.default) if isinstance(opt.default, list) else opt.default
        else:
            try:
                value = opt.convert(value)
            except (TypeError, ValueError) as e:
                raise refusal(opt.name, value, "%s; expected %s" % (e, _accepted(opt))) from None
        values[opt.name] = value
    if obj is not None:
        _read_plugin_options(obj, values, extra, paste)

    ksm_conf = {k: v for k, v in conf.items() if not str(k).startswith("kstoken_")}
    settings = Settings(**values, extra=extra, ksm_conf=ksm_conf)
    dead_retry_given = "memcache_pool_dead_retry" in paste or (
        obj is not None and _oslo_given(obj, "memcache_pool_dead_retry")
    )
    if not (dead_retry_given or settings.memcache_use_advanced_pool):
        settings.memcache_dead_retry = PYTHON_MEMCACHED_DEAD_RETRY
    else:
        settings.memcache_dead_retry = settings.memcache_pool_dead_retry
    _validate(settings)
    return settings


def _read_plugin_options(obj: Any, values: Dict[str, Any], extra: Dict[str, Any], paste: Mapping[str, Any]) -> None:
    """``auth_type`` and the auth plugin's options from oslo.config, as keystonemiddleware reads
    them: from the ``auth_section`` group (else ``[keystone_authtoken]``), paste values first, and a
    file's ``auth_type`` before a paste ``auth_plugin``.

    With ``auth_section``, keystoneauth's common options are registered in that group too, as
    keystoneauth's ``load_auth_from_conf_options`` does; keystonemiddleware omits it and fails with
    ``NoSuchOptError`` unless the service registered them."""
    from keystoneauth1 import loading

    group = values.get("auth_section") or GROUP
    if "auth_type" not in paste:
        if group != GROUP:
            _register(obj, loading.get_auth_common_conf_options(), group)
        configured = _oslo_get(obj, group, "auth_type")
        if configured:
            values["auth_type"] = str(configured)
    auth_type = values.get("auth_type")
    if not auth_type:
        return
    try:
        loader: Any = loading.get_plugin_loader(auth_type)
    except Exception as e:
        raise refusal("auth_type", auth_type, "%s; expected an installed keystoneauth1 plugin" % e) from None
    plugin_opts = loading.get_auth_plugin_conf_options(loader)
    _register(obj, plugin_opts, group)
    for opt in plugin_opts:
        names = [opt.dest] + [o.dest for o in getattr(opt, "deprecated", None) or []]
        if any(n in extra for n in names):
            continue
        value = _oslo_get(obj, group, opt.dest)
        if value is not None:
            extra[opt.dest] = value


def plugin_option_names(auth_type: Optional[str]) -> List[str]:
    """The option names (current and deprecated) of a keystoneauth plugin, for unknown-key checks."""
    if not auth_type:
        return []
    from keystoneauth1 import loading

    try:
        loader: Any = loading.get_plugin_loader(auth_type)
    except Exception as e:
        raise refusal("auth_type", auth_type, "%s; expected an installed keystoneauth1 plugin" % e) from None
    names: List[str] = []
    for opt in loader.get_options():
        names.append(opt.dest)
        names.extend(o.dest for o in getattr(opt, "deprecated", []) or [])
    return names


def _check_native(s: Settings) -> None:
    """hash_algorithms and enforce_token_bind, by the core's rules (the native authenticator's
    constructor applies them): a refusal names the option and what the core accepts."""
    from kstoken import _kstoken

    if not s.hash_algorithms:
        raise refusal("hash_algorithms", ",".join(s.hash_algorithms), "expected at least one hash algorithm")
    try:
        _kstoken.Authenticator(hash_algorithms=s.hash_algorithms, cache=False)
    except ValueError as e:
        raise refusal("hash_algorithms", ",".join(s.hash_algorithms), str(e)) from None
    try:
        _kstoken.Authenticator(hash_algorithms=["md5"], bind_mode=s.enforce_token_bind, cache=False)
    except ValueError as e:
        raise refusal("enforce_token_bind", s.enforce_token_bind, str(e)) from None


def _validate(s: Settings) -> None:
    known_extra = set(plugin_option_names(s.auth_type))
    for key in sorted(s.extra):
        if key not in known_extra:
            s.warnings.append('The option "%s" is not known to kstoken.middleware' % key)
    if s.revocation_cache_time <= 0:
        raise refusal("revocation_cache_time", s.revocation_cache_time, "expected a positive number of seconds")
    if s.kstoken_revocation_stale_time < 0:
        raise refusal(
            "kstoken_revocation_stale_time", s.kstoken_revocation_stale_time, "expected 0 or more seconds"
        )
    if s.kstoken_revocation not in ("auto", "enforce", "off"):
        raise refusal("kstoken_revocation", s.kstoken_revocation, "expected auto, enforce or off")
    if s.kstoken_online_validation not in ("auto", "off"):
        raise refusal("kstoken_online_validation", s.kstoken_online_validation, "expected auto or off")
    for name in ("kstoken_cache_max_entries", "kstoken_cache_max_bytes", "kstoken_revocation_list_max_bytes"):
        if getattr(s, name) < 1:
            raise refusal(name, getattr(s, name), "expected a positive integer")
    if s.kstoken_request_fetch_timeout < 0:
        raise refusal("kstoken_request_fetch_timeout", s.kstoken_request_fetch_timeout, "expected 0 or more seconds")
    _check_native(s)
    strategy = str(s.memcache_security_strategy or "None")
    if strategy not in ("None", "MAC", "ENCRYPT"):
        raise refusal("memcache_security_strategy", strategy, "expected None, MAC or ENCRYPT (as spelt here)")
    if strategy != "None" and not s.memcache_secret_key:
        raise refusal(
            "memcache_security_strategy",
            strategy,
            "memcache_secret_key must be set too (the key MAC and ENCRYPT derive theirs from)",
        )
    if s.auth_protocol not in ("http", "https"):
        raise refusal("auth_protocol", s.auth_protocol, "expected http or https")
    if s.cache:
        s.warnings.append(
            "cache = %s (a Swift environ cache) is not supported: kstoken.middleware uses its own "
            "in-process cache and memcached_servers" % s.cache
        )
    if s.memcache_use_advanced_pool:
        s.warnings.append(
            "memcache_use_advanced_pool = true: kstoken.middleware always uses its own pooled, "
            "thread-safe memcached client; the option only keeps a failed server out for "
            "memcache_pool_dead_retry (%d s, as keystonemiddleware's advanced pool) instead of "
            "python-memcached's 30 s" % s.memcache_dead_retry
        )
