"""One configuration scenario in a fresh interpreter (oslo.config's global CONF is process state):
sets up oslo.config as a service would, then builds keystonemiddleware's AuthProtocol and
kstoken.middleware's settings from the same paste conf, and prints both sides' values as JSON.

Run by test_config.py as ``python config_oracle.py SPEC.json``; SPEC keys:
``global_argv`` (call the global ``cfg.CONF(argv, project=, default_config_files=)``), ``project``,
``default_config_files``, ``register_state_path`` (the service's own ``[DEFAULT] state_path``),
``overrides`` (``[name, value]`` pairs for ``CONF.set_override`` in ``[keystone_authtoken]``),
``config_object`` (pass a private ``ConfigOpts`` loaded with these argv as ``oslo_config_config``),
``paste`` (the conf dict), ``kstoken_first`` (load kstoken's settings before this script imports
keystonemiddleware), ``names`` and ``plugin_names`` (what to print).
"""

import json
import sys


class App:
    def __call__(self, environ, start_response):
        start_response("200 OK", [])
        return [b""]


def main() -> None:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    from oslo_config import cfg

    if spec.get("register_state_path"):
        cfg.CONF.register_opt(cfg.StrOpt("state_path", default="/var/lib/service"))
    paste = dict(spec.get("paste", {}))
    if "global_argv" in spec:
        cfg.CONF(
            spec["global_argv"],
            project=spec.get("project"),
            default_config_files=spec.get("default_config_files"),
        )
    mine = None
    if spec.get("kstoken_first"):
        from kstoken.middleware import _config

        mine = _config.load(dict(paste))
    from keystonemiddleware import auth_token

    for name, value in spec.get("overrides", []):
        cfg.CONF.set_override(name, value, group="keystone_authtoken")
    if "config_object" in spec:
        private = cfg.ConfigOpts()
        private(spec["config_object"], project=spec.get("project"), default_config_files=[])
        paste["oslo_config_config"] = private

    result = {}
    try:
        ksm = auth_token.AuthProtocol(App(), dict(paste))
    except Exception as e:
        result["ksm_error"] = "%s: %s" % (type(e).__name__, e)
        ksm = None
    from kstoken.middleware import _config

    try:
        if mine is None:
            mine = _config.load(dict(paste))
    except _config.ConfigurationError as e:
        result["kstoken_error"] = str(e)
    if ksm is not None and mine is not None:
        for name in spec["names"]:
            theirs = ksm._conf.get(name)
            if name == "www_authenticate_uri":
                theirs = theirs or ksm._conf.get("auth_uri")
            result[name] = [theirs, getattr(mine, name)]
        group = ksm._conf.get("auth_section") or "keystone_authtoken"
        for name in spec.get("plugin_names", []):
            result["plugin:" + name] = [ksm._conf.get(name, group=group), mine.extra.get(name)]
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
