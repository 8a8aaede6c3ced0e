"""
The benchmark's output: medians over repeats, ratios between routers, a text table and a JSON file.

Ratios compare the first router (wampd, or the ``--router-cmd``/``--url`` one) with each other
target in the same case:

- against the floor: ``cost`` = router CPU per operation / the floor's (the target is <= 1.5) and
  ``throughput`` = operations per second / the floor's;
- against a second router (``--compare-*``): ``throughput`` as above and ``per core`` = its CPU per
  operation / ours, i.e. how many times more operations we route per CPU-second.
"""

import json
import statistics
from typing import Any

#: the fields summarized as medians over repeats
NUMERIC = (
    "ops_per_s", "lat_p50_ms", "lat_p99_ms", "router_us_per_op", "router_util", "gen_us_per_op", "gen_util",
    "gen_max_process_util", "publishes_per_s", "lag", "errors", "joins_per_s", "kib_per_session",
    "rss_before_kib", "rss_after_kib",
)


def _median(values: list[Any]) -> Any:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarize(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """
    One row per case, transport/serializer and target: the medians of its successful runs.
    """
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for run in runs:
        groups.setdefault((run["case"], run["combo"], run["target"]), []).append(run)
    rows = []
    for (case, combo, target), group in groups.items():
        ok = [r for r in group if "error" not in r]
        row: dict[str, Any] = {"case": case, "kind": group[0]["kind"], "combo": combo, "target": target,
                               "runs": len(ok), "failed": len(group) - len(ok),
                               "profiles": [r["profile"] for r in ok if r.get("profile")]}
        for name in NUMERIC:
            row[name] = _median([r.get(name) for r in ok])
        if not ok:
            row["error"] = group[-1]["error"]
        rows.append(row)
    return rows


def ratios(rows: list[dict[str, Any]], reference: str) -> list[dict[str, Any]]:
    """
    The reference target against every other target, per case and transport/serializer.
    """
    index = {(r["case"], r["combo"], r["target"]): r for r in rows}
    result = []
    for (case, combo, target), other in index.items():
        ours = index.get((case, combo, reference))
        if target == reference or ours is None:
            continue
        entry = {"case": case, "combo": combo, "reference": reference, "other": target,
                 "throughput": _ratio(ours.get("ops_per_s"), other.get("ops_per_s"))}
        if ours["kind"] == "sessions":
            entry["throughput"] = _ratio(ours.get("joins_per_s"), other.get("joins_per_s"))
            entry["memory"] = _ratio(ours.get("kib_per_session"), other.get("kib_per_session"))
        if target.startswith("floor"):
            entry["cost"] = _ratio(ours.get("router_us_per_op"), other.get("router_us_per_op"))
        else:
            entry["per_core"] = _ratio(other.get("router_us_per_op"), ours.get("router_us_per_op"))
        result.append(entry)
    return result


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def _num(value: float | None, fmt: str = "{:,.0f}") -> str:
    return "-" if value is None else fmt.format(value)


def _pct(value: float | None) -> str:
    return "-" if value is None else "{:.0f}%".format(100 * value)


def _notes(row: dict[str, Any]) -> str:
    notes = []
    if row.get("error"):
        notes.append("FAILED: " + row["error"].splitlines()[0][:60])
    if row["kind"] in ("rpc", "pub") and row.get("router_util") is not None and row["router_util"] < 0.85:
        notes.append("router not saturated")
    if (row.get("gen_max_process_util") or 0) > 0.9:
        notes.append("a generator process at 100%")
    if (row.get("lag") or 0) > 0.05:
        notes.append("subscribers behind by {:.0%}".format(row["lag"]))
    if row.get("errors"):
        notes.append("{:.0f} errors".format(row["errors"]))
    if row.get("profiles"):
        notes.append("profiled")
    return "; ".join(notes)


def _table(header: list[str], lines: list[list[str]]) -> str:
    widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h) for i, h in enumerate(header)]
    out = []
    for line in [header] + lines:
        cells = [c.ljust(w) if i < 3 or i == len(header) - 1 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
    return "\n".join(out)


def traffic_table(rows: list[dict[str, Any]]) -> str:
    """
    RPC and pub/sub: throughput, latency, router and generator CPU per operation.
    """
    header = ["case", "transport", "target", "ops/s", "p50 ms", "p99 ms", "router us/op", "ops/core-s",
              "router cpu", "gen us/op", "gen cpu", "notes"]
    lines = []
    for r in rows:
        if r["kind"] == "sessions":
            continue
        us = r.get("router_us_per_op")
        lines.append([r["case"], r["combo"], r["target"], _num(r.get("ops_per_s")), _num(r.get("lat_p50_ms"), "{:.2f}"),
                      _num(r.get("lat_p99_ms"), "{:.2f}"), _num(us, "{:.1f}"), _num(1e6 / us if us else None),
                      _pct(r.get("router_util")), _num(r.get("gen_us_per_op"), "{:.1f}"), _pct(r.get("gen_util")),
                      _notes(r)])
    return _table(header, lines)


def sessions_table(rows: list[dict[str, Any]]) -> str:
    """
    Session ramps: join rate, router CPU per join, memory per session.
    """
    header = ["case", "transport", "target", "joins/s", "router us/join", "gen us/join", "RSS before MiB",
              "RSS after MiB", "KiB/session", "notes"]
    lines = []
    for r in rows:
        if r["kind"] != "sessions":
            continue
        lines.append([r["case"], r["combo"], r["target"], _num(r.get("joins_per_s")),
                      _num(r.get("router_us_per_op"), "{:.0f}"), _num(r.get("gen_us_per_op"), "{:.0f}"),
                      _num(_mib(r.get("rss_before_kib")), "{:.1f}"), _num(_mib(r.get("rss_after_kib")), "{:.1f}"),
                      _num(r.get("kib_per_session"), "{:.1f}"), _notes(r)])
    return _table(header, lines)


def _mib(kib: float | None) -> float | None:
    return kib / 1024 if kib is not None else None


def startup_table(targets: list[dict[str, Any]]) -> str:
    """
    Time from spawning each router to ready, and its RSS then.
    """
    header = ["target", "starts", "ready s (median)", "ready s (min)", "RSS idle MiB", "command"]
    lines = []
    for t in targets:
        starts = t["startups"]
        ready = [s["ready_s"] for s in starts]
        lines.append([t["name"], str(len(starts)), _num(_median(ready), "{:.3f}"), _num(min(ready) if ready else None, "{:.3f}"),
                      _num(_mib(_median([s["rss_idle_kib"] for s in starts])), "{:.1f}"), t["describe"]])
    header_lines = _table(header, lines)
    return header_lines


def ratios_table(entries: list[dict[str, Any]]) -> str:
    header = ["case", "transport", "vs", "throughput", "cost (CPU/op)", "per core", "KiB/session"]
    lines = [[e["case"], e["combo"], "{} / {}".format(e["reference"], e["other"]), _num(e.get("throughput"), "{:.2f}x"),
              _num(e.get("cost"), "{:.2f}x"), _num(e.get("per_core"), "{:.2f}x"), _num(e.get("memory"), "{:.2f}x")]
             for e in entries]
    return _table(header, lines)


def render(report: dict[str, Any]) -> str:
    """
    The whole report as text.
    """
    parts = []
    if any(r["kind"] != "sessions" for r in report["summary"]):
        parts += ["RPC and pub/sub (medians of {} repeat(s); ops = completed calls or delivered events; "
                  "'router us/op' and 'gen us/op' are CPU microseconds per op from /proc; "
                  "'router cpu' is the share of one core)".format(report["settings"]["repeats"]),
                  traffic_table(report["summary"]), ""]
    if any(r["kind"] == "sessions" for r in report["summary"]):
        parts += ["Sessions (each joined and subscribed to a topic of its own, on a fresh router process)",
                  sessions_table(report["summary"]), ""]
    parts += ["Startup", startup_table(report["targets"]), ""]
    if report["ratios"]:
        parts += ["Ratios ({}: throughput = ours/theirs; cost = our CPU per op / theirs, target <= 1.5 vs the "
                  "floor; per core = how many times more ops we route per CPU-second)".format(
                      report["ratios"][0]["reference"]),
                  ratios_table(report["ratios"]), ""]
    return "\n".join(parts)


def write_json(report: dict[str, Any], path: str) -> None:
    with open(path, "w") as f:
        json.dump(report, f, indent=1, sort_keys=False)
        f.write("\n")
