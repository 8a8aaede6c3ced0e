"""
The ``wampd`` command: run the router in the foreground with logs on standard output.
"""

import sys

from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    Logger,
    globalLogBeginner,
    textFileLogObserver,
)
from twisted.python import usage

from router.service import RouterService
from router.tap import Options

log = Logger()


def _start_logging(level: str) -> None:
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    observer = FilteringLogObserver(textFileLogObserver(sys.stdout), [predicate])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


def main(argv: list[str] | None = None) -> int:
    """
    Run wampd until SIGINT or SIGTERM; returns the process exit code.
    """
    options = Options()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as e:
        print("wampd: {}".format(e), file=sys.stderr)
        print("Try 'wampd --help'.", file=sys.stderr)
        return 2
    _start_logging(options["loglevel"])

    from twisted.internet import reactor

    service = RouterService(options["config_object"], reactor=reactor)
    outcome = {"code": 0}

    def failed(failure: object) -> None:
        outcome["code"] = 1
        reactor.stop()

    service.ready.addErrback(failed)
    reactor.callWhenRunning(service.startService)
    reactor.addSystemEventTrigger("before", "shutdown", service.stopService)
    reactor.run()
    return outcome["code"]


if __name__ == "__main__":
    sys.exit(main())
