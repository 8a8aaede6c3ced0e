"""
Command-line options and the service maker shared by ``wampd`` and ``twistd wampd``.
"""

from typing import Any

from twisted.application.service import IService
from twisted.internet import defer
from twisted.python import usage

from router.config import Config, ConfigError, ListenerConfig, check_endpoint, default_config, load_config
from router.core import RealmOptions, RouterOptions
from router.service import RouterService
from router.uri import is_valid_uri

LOG_LEVELS = ("debug", "info", "warn", "error", "critical")


class Options(usage.Options):
    """
    wampd's options; validated before the reactor runs.
    """

    synopsis = "Usage: wampd [--config FILE] [--listen ENDPOINT]... [--realm NAME]... [--loglevel LEVEL]"
    longdesc = (
        "Run the wampd WAMP v2 router. Without options: realm realm1, anonymous access, and HTTP, "
        "WebSocket (/ws) and RawSocket on 127.0.0.1:8080."
    )

    optParameters = [
        ["config", "c", None, "Configuration file (YAML, or JSON if it ends in .json)."],
        ["loglevel", None, "info", "Least important log level shown: " + ", ".join(LOG_LEVELS) + "."],
    ]

    def __init__(self) -> None:
        usage.Options.__init__(self)
        self["listen"] = []
        self["realm"] = []

    def opt_listen(self, endpoint: str) -> None:
        """
        Listen on this Twisted endpoint (universal listener), e.g. tcp:8080:interface=127.0.0.1 or
        unix:/run/wampd.sock. Repeatable; replaces the configured listeners.
        """
        self["listen"].append(endpoint)

    def opt_realm(self, name: str) -> None:
        """
        Serve this realm. Repeatable; replaces the default realm, adds to a config file's realms.
        """
        self["realm"].append(name)

    def postOptions(self) -> None:
        if self["loglevel"] not in LOG_LEVELS:
            raise usage.UsageError("--loglevel: must be one of {}".format(", ".join(LOG_LEVELS)))
        try:
            self["config_object"] = build_config(self)
        except ConfigError as e:
            raise usage.UsageError(str(e))


def build_config(options: Any) -> Config:
    """
    The configuration the options describe: the file (or the built-in default) with flags applied.

    :raises ConfigError: naming the file or flag and the key path.
    """
    if options["config"]:
        config = load_config(options["config"])
        source = options["config"]
        realms = dict(config.router.realms)
    else:
        config = default_config()
        source = "built-in default"
        realms = {} if options["realm"] else dict(config.router.realms)
    for name in options["realm"]:
        if not is_valid_uri(name):
            raise ConfigError("--realm", name, "not a valid realm URI")
        realms.setdefault(name, RealmOptions())
    listeners = config.listeners
    if options["listen"]:
        # --listen replaces where wampd listens, not what it serves: keep the configured web root
        web_root = next((listener.web_root for listener in listeners if listener.web_root), None)
        listeners = tuple(ListenerConfig(endpoint, web_root=web_root) for endpoint in options["listen"])
        source = "--listen"
    for i, listener in enumerate(listeners):
        check_endpoint(listener.endpoint, source, "listeners[{}].endpoint".format(i))
    router_options = RouterOptions(realms=realms, auto_create_realms=config.router.auto_create_realms)
    # the built-in default's sample components run on realm1, which --realm may replace
    components = tuple(c for c in config.components if c.realm in realms or router_options.auto_create_realms)
    return Config(router_options, listeners, components)


class TwistdRouterService(RouterService):
    """
    The router service as twistd runs it: a listener that cannot listen fails startup, and a
    graceful shutdown on SIGTERM/SIGINT exits 0.
    """

    def startService(self) -> None:
        RouterService.startService(self)
        # twistd starts services before the reactor runs; TCP and Unix listening fails at once, and
        # raising here makes twistd exit non-zero instead of running without listeners
        failures: list[Any] = []
        self.ready.addErrback(failures.append)
        if failures:
            failures[0].raiseException()

    @defer.inlineCallbacks
    def stopService(self) -> Any:
        yield RouterService.stopService(self)
        # twistd re-raises the signal that stopped the reactor once it has shut down, so a graceful
        # stop would end "killed by SIGTERM"; the shutdown was complete, so report success
        if getattr(self._reactor, "_exitSignal", None) is not None:
            self._reactor._exitSignal = None


def makeService(options: Any) -> IService:
    """
    The router service for parsed options (twistd's entry point).
    """
    return TwistdRouterService(options["config_object"], reload_on_sighup=True)
