"""
CPU time and memory of processes, from their own accounting in ``/proc``.

CPU is ``utime + stime`` of ``/proc/<pid>/stat`` (all threads, in clock ticks); memory is
``VmRSS`` of ``/proc/<pid>/status``. A router may run as a process tree (a launcher and workers),
so both are summed over a process and its descendants.
"""

import os
from typing import Iterable

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open("/proc/{}/stat".format(pid), "rb") as f:
            data = f.read().decode()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: split after its last ')'
    return data[data.rindex(")") + 2:].split()


def cpu_seconds(pid: int) -> float | None:
    """
    User plus system CPU seconds the process has used so far (None if it is gone).
    """
    fields = _stat_fields(pid)
    if fields is None:
        return None
    # fields[0] is the state (field 3): utime and stime are fields 14 and 15
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kib(pid: int) -> int | None:
    """
    Resident set size in KiB (None if the process is gone).
    """
    try:
        with open("/proc/{}/status".format(pid)) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return 0


def descendants(root: int) -> list[int]:
    """
    ``root`` and every process below it, found through the parent ids in ``/proc``.
    """
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        fields = _stat_fields(int(name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def cpu_snapshot(pids: Iterable[int]) -> dict[int, float]:
    """
    CPU seconds per live process.
    """
    snapshot = {}
    for pid in pids:
        seconds = cpu_seconds(pid)
        if seconds is not None:
            snapshot[pid] = seconds
    return snapshot


def cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    """
    CPU seconds used between two snapshots (a process born in between counts from zero).
    """
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def total_rss_kib(pids: Iterable[int]) -> int:
    """
    Summed resident set size of the live processes among ``pids``.
    """
    return sum(rss_kib(pid) or 0 for pid in pids)
