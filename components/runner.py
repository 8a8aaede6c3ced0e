"""
Running one sample component on its own, against any WAMP router.

Each component module ends with ``if __name__ == "__main__": run(TheClass)``, so::

    python -m components.ticker --url ws://127.0.0.1:8080/ws --realm realm1 --extra '{"interval": 0.5}'

connects (and reconnects, when the router goes away) until Ctrl-C.
"""

import argparse
import json
import sys
from typing import Any

from autobahn.twisted.wamp import ApplicationRunner

DEFAULT_URL = "ws://127.0.0.1:8080/ws"
DEFAULT_REALM = "realm1"
LOG_LEVELS = ("debug", "info", "warn", "error", "critical")


def _extra(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError("not valid JSON ({})".format(e)) from e
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("must be a JSON object")
    return value


def _module_name(session_class: type) -> str:
    module = session_class.__module__
    if module == "__main__":
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        module = spec.name if spec is not None else "components.<name>"
    return module


def parse_args(session_class: type, argv: list[str] | None = None) -> argparse.Namespace:
    """
    The command line of ``python -m <module of session_class>``.
    """
    doc = (session_class.__doc__ or "").strip().split("\n\n")[0]
    parser = argparse.ArgumentParser(prog="python -m {}".format(_module_name(session_class)),
                                     description=" ".join(doc.split()))
    parser.add_argument("--url", default=DEFAULT_URL,
                        help="the router: ws:// or wss:// (WebSocket), rs:// (RawSocket); default %(default)s")
    parser.add_argument("--realm", default=DEFAULT_REALM, help="the realm to join; default %(default)s")
    parser.add_argument("--extra", type=_extra, default={},
                        help="the component's settings as a JSON object, e.g. '{\"interval\": 0.5}'")
    parser.add_argument("--loglevel", default="info", choices=LOG_LEVELS, help="default %(default)s")
    return parser.parse_args(argv)


def run(session_class: type, argv: list[str] | None = None) -> None:
    """
    Parse the command line and run ``session_class`` until interrupted, reconnecting when the
    connection drops.
    """
    args = parse_args(session_class, argv)
    runner = ApplicationRunner(args.url, args.realm, extra=args.extra)
    runner.run(session_class, auto_reconnect=True, log_level=args.loglevel)
