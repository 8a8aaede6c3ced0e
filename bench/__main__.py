"""
Run the benchmark cases against wampd (or another router), the floor and an
optional second router, alternating between them, and print a table (and write JSON).
"""

import argparse
import datetime
import os
import platform
import signal
import subprocess
import sys
import time
from typing import Any

from bench import profile, report
from bench.cases import TRANSPORTS, Case, CaseError, Settings, parse_cases, run_case
from bench.messages import SERIALIZERS
from bench.targets import Target, TargetError, floor_target, wampd_target

DEFAULT_CASES = ["rpc", "rpcseq", "pub:1", "pub:4", "pub:20", "pub:1000", "sessions:2000", "sessions:10000"]
#: the cases the issue compares with Crossbar.io
REFERENCE_CASES = ["rpc:4x50", "pub:4", "pub:20", "sessions:2000", "rpcseq@ws-json"]
QUICK_CASES = ["rpc", "rpcseq@ws-json", "rpcseq@rs-msgpack", "pub:20@ws-json", "pub:20@rs-cbor",
               "pub:1000@ws-msgpack", "sessions:1000@ws-json", "sessions:1000@rs-msgpack"]


def _list(text: str) -> list[str]:
    return [item for item in text.replace(",", " ").split() if item]


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.strip().split("\n\n")[0].replace("\n", " "),
        epilog="Case specs: rpc[:CxW] (default 4x50), rpcseq, pub:F[:PxW] (default 2x50), sessions:N; "
               "append @ws-json, @rs-cbor... to run a spec on one transport and serializer only. "
               "See bench/README.md.")
    parser.add_argument("--cases", nargs="+", help="case specs (default: {})".format(" ".join(DEFAULT_CASES)))
    parser.add_argument("--transports", default=",".join(TRANSPORTS), help="ws,rs (default: both)")
    parser.add_argument("--serializers", default=",".join(SERIALIZERS), help="json,msgpack,cbor (default: all)")
    parser.add_argument("--duration", type=float, help="measured seconds per case run (default 5)")
    parser.add_argument("--warmup", type=float, help="seconds of load before measuring (default 1)")
    parser.add_argument("--repeats", type=int, help="runs per case and target; medians are reported (default 1, "
                                                    "2 with --compare)")
    parser.add_argument("--reference", action="store_true",
                        help="the reference cases: {}".format(" ".join(REFERENCE_CASES)))
    parser.add_argument("--quick", action="store_true",
                        help="a small run (about a minute): fewer cases, 1.5 s windows, sessions:1000")
    parser.add_argument("--processes", type=int, default=2, help="generator processes for callers, fan-outs "
                                                                 "over 20 and session ramps (default 2)")
    parser.add_argument("--realm", default="realm1")
    parser.add_argument("--json", metavar="FILE", help="also write the full results as JSON")
    parser.add_argument("--profile", metavar="DIR", help="record a py-spy profile of each router during each "
                                                         "measured window into DIR (pip install py-spy)")
    router = parser.add_argument_group("the router under test (default: wampd started by the benchmark)")
    router.add_argument("--router-cmd", metavar="CMD",
                        help="command starting the router; {port} and {port2} become free ports")
    router.add_argument("--url", action="append", metavar="URL",
                        help="ws://host:port/path and/or rs://host:port of the router (repeatable; may use {port})")
    router.add_argument("--ready-line", metavar="REGEX", help="output line meaning ready (else probe the ports)")
    router.add_argument("--router-pid", type=int, metavar="PID",
                        help="with --url alone: the router process to read CPU and memory from")
    compare = parser.add_argument_group("a second router, run alternately with the first (A B A B)")
    compare.add_argument("--compare", "--compare-cmd", dest="compare_cmd", metavar="CMD",
                         help="command starting it; {port} and {port2} become free ports")
    compare.add_argument("--compare-url", action="append", metavar="URL", help="its ws:// and/or rs:// URLs")
    compare.add_argument("--compare-ready-line", metavar="REGEX", help="output line meaning ready")
    compare.add_argument("--compare-ready-probe", action="store_true",
                         help="ready once every URL accepts a TCP connection (the default without a ready line)")
    compare.add_argument("--compare-pid", type=int, metavar="PID", help="with --compare-url alone: its process")
    parser.add_argument("--floor", default="forward",
                        help="floor servers to run: forward, serde, both (forward,serde) or none (default forward)")
    args = parser.parse_args(argv)
    if args.reference:
        args.cases = args.cases or REFERENCE_CASES
    if args.quick:
        args.cases = args.cases or QUICK_CASES
        args.duration = args.duration or 1.5
        args.warmup = args.warmup if args.warmup is not None else 0.5
    args.cases = [c for spec in (args.cases or DEFAULT_CASES) for c in _list(spec)]
    args.duration = args.duration or 5.0
    args.warmup = args.warmup if args.warmup is not None else 1.0
    args.repeats = args.repeats or (2 if (args.compare_cmd or args.compare_url) else 1)
    if args.compare_cmd and not args.compare_url:
        parser.error("--compare-cmd needs --compare-url (the URLs it serves, with {port} if it takes a port)")
    if args.router_cmd and not args.url:
        parser.error("--router-cmd needs --url")
    floors = [] if args.floor == "none" else ["forward", "serde"] if args.floor == "both" else _list(args.floor)
    if any(mode not in ("forward", "serde") for mode in floors):
        parser.error("--floor: forward, serde, both or none")
    args.floors = floors
    if args.profile and not profile.available():
        parser.error("--profile needs py-spy (pip install py-spy)")
    try:
        args.case_list = parse_cases(args.cases, _list(args.transports), _list(args.serializers))
    except ValueError as e:
        parser.error(str(e))
    return args


def build_targets(args: argparse.Namespace) -> list[Target]:
    targets = [wampd_target(args.router_cmd, args.url, args.realm)]
    if args.ready_line:
        targets[0].ready = args.ready_line
    if args.router_pid:
        targets[0].pid = args.router_pid
    if args.compare_cmd or args.compare_url:
        targets.append(Target("compare", list(args.compare_url), args.compare_cmd,
                              None if args.compare_ready_probe else args.compare_ready_line,
                              pid=args.compare_pid, realm=args.realm))
    targets += [floor_target(mode) for mode in args.floors]
    return targets


def _progress(done: int, total: int, case: Case, target: Target, result: dict[str, Any]) -> None:
    head = "[{}/{}] {} {} {}:".format(done, total, case.title, case.combo, target.name)
    if "error" in result:
        print(head, "FAILED:", result["error"].splitlines()[0], file=sys.stderr, flush=True)
    elif case.kind == "sessions":
        print(head, "{:,.0f} joins/s, {} KiB/session, router {} us/join".format(
            result["joins_per_s"], _fmt(result["kib_per_session"], "{:.1f}"), _fmt(result["router_us_per_op"], "{:.0f}")),
            file=sys.stderr, flush=True)
    else:
        print(head, "{:,.0f} ops/s, p50 {} ms, p99 {} ms, router {} us/op ({} of a core), gen {} us/op".format(
            result["ops_per_s"], _fmt(result["lat_p50_ms"], "{:.2f}"), _fmt(result["lat_p99_ms"], "{:.2f}"),
            _fmt(result["router_us_per_op"], "{:.1f}"), _fmt(result["router_util"], "{:.0%}"),
            _fmt(result["gen_us_per_op"], "{:.1f}")), file=sys.stderr, flush=True)


def _fmt(value: float | None, fmt: str) -> str:
    return "-" if value is None else fmt.format(value)


def _meta(args: argparse.Namespace) -> dict[str, Any]:
    import autobahn

    import twisted

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        commit = subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=5).stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        commit = None
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), None)
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python": platform.python_version(), "autobahn": autobahn.__version__, "twisted": twisted.__version__,
            "cpu": cpu, "cpus": os.cpu_count(), "commit": commit, "argv": sys.argv[1:]}


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = Settings(duration=args.duration, warmup=args.warmup, processes=args.processes,
                        profile_dir=args.profile)
    targets = build_targets(args)
    runs: list[dict[str, Any]] = []
    total = len(args.case_list) * args.repeats * len(targets)
    done = 0
    started = time.monotonic()
    try:
        for target in targets:
            target.start()
            print("{} ready in {:.3f} s: {}".format(target.name, target.startups[-1].ready_s if target.startups else 0,
                                                   ", ".join(e.url for e in target.endpoints.values())),
                  file=sys.stderr, flush=True)
        for case in args.case_list:
            for repeat in range(args.repeats):
                for target in targets:  # alternate: A B floor A B floor ...
                    done += 1
                    try:
                        label = "{}-{}-{}-{}".format(case.slug, case.combo, target.name, repeat)
                        result = run_case(case, target, settings, label)
                    except (CaseError, TargetError, OSError) as e:
                        result = {"error": str(e)}
                        _recover(target)
                    result.update(case=case.title, kind=case.kind, combo=case.combo, transport=case.transport,
                                  serializer=case.serializer, target=target.name, repeat=repeat)
                    runs.append(result)
                    _progress(done, total, case, target, result)
    finally:
        for target in targets:
            target.stop()
    summary = report.summarize(runs)
    return {
        "meta": _meta(args),
        "settings": {"duration": args.duration, "warmup": args.warmup, "repeats": args.repeats,
                     "processes": args.processes, "cases": args.cases, "elapsed_s": round(time.monotonic() - started, 1)},
        "targets": [{"name": t.name, "describe": t.describe(), "urls": [e.url for e in t.endpoints.values()],
                     "startups": [s.__dict__ for s in t.startups]} for t in targets],
        "summary": summary,
        "ratios": report.ratios(summary, targets[0].name),
        "runs": runs,
    }


def _recover(target: Target) -> None:
    try:
        target.check()
    except TargetError as e:
        print("{} died; restarting it. {}".format(target.name, e), file=sys.stderr, flush=True)
        try:
            target.restart()
        except TargetError as again:
            print("{} does not restart: {}".format(target.name, again), file=sys.stderr, flush=True)


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # stop the routers we started on SIGTERM too (and on SIGINT in a background job, where it is ignored)
    signal.signal(signal.SIGTERM, _interrupted)
    signal.signal(signal.SIGINT, _interrupted)
    try:
        result = run(args)
    except TargetError as e:
        print("bench: {}".format(e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("bench: interrupted", file=sys.stderr)
        return 130
    print(report.render(result))
    if args.json:
        report.write_json(result, args.json)
        print("wrote {}".format(args.json))
    failed = sum(1 for r in result["runs"] if "error" in r)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
