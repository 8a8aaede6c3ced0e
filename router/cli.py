"""
The ``wampd`` command: run the router in the foreground with logs on standard output, or
``wampd cert`` to write a development TLS certificate.
"""

import os
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

from router.cert import CertOptions, spki_sha256, write_certificate
from router.service import RouterService
from router.tap import Options

log = Logger()


class WampdOptions(Options):
    """
    ``wampd``'s options: the router's (shared with ``twistd wampd``) and the ``cert`` subcommand.
    """

    subCommands = [["cert", None, CertOptions, "Write a self-signed TLS certificate for development."]]

    def postOptions(self) -> None:
        if self.subCommand is None:
            Options.postOptions(self)


def _cert(options: CertOptions) -> int:
    try:
        written = write_certificate(options["out"], options["host"], options["days"], overwrite=options["force"])
    except FileExistsError as e:
        print("wampd cert: {} exists; use --force to replace it".format(e), file=sys.stderr)
        return 2
    except OSError as e:
        print("wampd cert: cannot write to {} ({})".format(options["out"], e.strerror or e), file=sys.stderr)
        return 1
    certificate = written.certificate
    print("Wrote {} and {} (self-signed, for {}; valid until {}).".format(
        written.cert_path, written.key_path, ", ".join(options["host"]),
        certificate.not_valid_after_utc.date().isoformat()))
    print("Listener configuration:  tls: {{cert: {}, key: {}}}".format(
        os.path.abspath(written.cert_path), os.path.abspath(written.key_path)))
    print("Trust it: Node NODE_EXTRA_CA_CERTS={0}, curl --cacert {0}, Python ssl cafile={0};".format(
        os.path.abspath(written.cert_path)))
    print("Chromium: --ignore-certificate-errors-spki-list={}".format(spki_sha256(certificate)))
    return 0


def _start_logging(level: str) -> None:
    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    observer = FilteringLogObserver(textFileLogObserver(sys.stdout), [predicate])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


def main(argv: list[str] | None = None) -> int:
    """
    Run wampd until SIGINT or SIGTERM (SIGHUP reloads TLS certificates), or run ``wampd cert``;
    returns the process exit code.
    """
    options = WampdOptions()
    try:
        options.parseOptions(sys.argv[1:] if argv is None else argv)
    except usage.UsageError as e:
        command = "wampd " + options.subCommand if options.subCommand else "wampd"
        print("{}: {}".format(command, e), file=sys.stderr)
        print("Try '{} --help'.".format(command), file=sys.stderr)
        return 2
    if options.subCommand == "cert":
        return _cert(options.subOptions)
    _start_logging(options["loglevel"])

    from twisted.internet import reactor

    service = RouterService(options["config_object"], reactor=reactor, reload_on_sighup=True)
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
