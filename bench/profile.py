"""
Optional sampling profiles of a router during the measured windows (``--profile DIR``), with py-spy.

py-spy (``pip install py-spy``) samples the router process (and its children) from outside, so any
Python router can be profiled; each sample briefly stops the process, so profiled runs are marked
and their figures are slightly pessimistic. For each run it writes ``<run>.txt`` (py-spy's raw
collapsed stacks, for flamegraph tools or speedscope) and ``<run>.top.txt``: the functions with the
most samples on top of the stack (self time) and anywhere in it (inclusive time).
"""

import collections
import os
import re
import shutil
import subprocess
from typing import Any

#: samples per second
RATE = 200


def available() -> bool:
    """
    Whether py-spy is installed.
    """
    return shutil.which("py-spy") is not None


class Profile:
    """
    One py-spy recording of ``pid`` for ``seconds``, written under ``directory`` as ``name``.
    """

    def __init__(self, directory: str, name: str, pid: int, seconds: float) -> None:
        os.makedirs(directory, exist_ok=True)
        base = os.path.join(directory, re.sub(r"[^A-Za-z0-9_.-]+", "_", name))
        self.raw = base + ".txt"
        self.top = base + ".top.txt"
        self._process = subprocess.Popen(
            ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--rate", str(RATE),
             "--duration", str(max(1, round(seconds))), "--format", "raw", "--output", self.raw],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def finish(self, timeout: float = 30.0) -> str | None:
        """
        Wait for the recording and write the summary; its path, or None if py-spy failed.
        """
        try:
            self._process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.communicate()
            return None
        if self._process.returncode != 0 or not os.path.exists(self.raw):
            return None
        with open(self.top, "w") as f:
            f.write(summarize(self.raw))
        return self.top


def _read(raw: str) -> tuple[collections.Counter[str], collections.Counter[str], int]:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    with open(raw) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            frames = [_function(frame) for frame in stack.split(";")]
            own[frames[-1]] += n
            for frame in set(frames):
                inclusive[frame] += n
    return own, inclusive, total


def _function(frame: str) -> str:
    # "name (path/to/file.py:123)" -> "name (path/to/file.py)": lines of one function add up
    return re.sub(r":\d+\)$", ")", frame)


def summarize(raw: str, top: int = 30) -> str:
    """
    The top functions by self and by inclusive samples of a py-spy raw file, as text.
    """
    own, inclusive, total = _read(raw)
    if not total:
        return "no samples\n"
    lines: list[Any] = ["{} samples".format(total), "", "self %   function (file)"]
    lines += ["{:6.1f}   {}".format(100 * n / total, f) for f, n in own.most_common(top)]
    lines += ["", "incl %   function (file)"]
    lines += ["{:6.1f}   {}".format(100 * n / total, f) for f, n in inclusive.most_common(top + 20)]
    return "\n".join(lines) + "\n"
