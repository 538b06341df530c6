"""A process's peak resident memory, as the benchmarks report it.

Read from `/proc/<pid>/status` (VmHWM), not from `getrusage().ru_maxrss`: Linux carries a process's
ru_maxrss across fork and exec, so a child that a big parent started (a bench that generated its
store in-process, or Python starting Chromium) reports at least the parent's size at the fork.
Measured: a parent holding 1.5 GB starts `python -c ...`, whose ru_maxrss says 1,513 MB and its
VmHWM 13 MB; `bench_analysis.py` printed 2,840 MB for both contenders after generating its store
in the same run. VmHWM belongs to the process's own address space, which exec replaces.
"""

from __future__ import annotations

import math
import os
import threading
from pathlib import Path


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory of `pid` (default: this process), in MB; nan when it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def parent_pids() -> dict[int, int]:
    """Every live process's parent, from one pass over /proc/*/stat (the field after the state)."""
    out = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(stat.parent.name)] = int(fields[1])
    return out


def children(pid: int) -> list[int]:
    """The direct child processes of `pid`."""
    return [child for child, parent in parent_pids().items() if parent == pid]


def descendants(pid: int, parents: dict[int, int] | None = None) -> list[int]:
    """Every process below `pid` (children, their children, ...), from one read of the process table
    (`parents`, else `parent_pids()`)."""
    below: dict[int, list[int]] = {}
    for child, parent in (parents if parents is not None else parent_pids()).items():
        below.setdefault(parent, []).append(child)
    found, todo = [], [pid]
    while todo:
        kids = below.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


class DescendantsPeak:
    """The largest VmHWM of any process below this one while it runs (sampled in a thread every
    `every_s`): for a command that starts Chromium, whose own processes getrusage cannot tell apart
    from the Python that started them. A process that lives less than `every_s` may be missed."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.peak_mb = 0.0
        self._pid = os.getpid()
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            for pid in descendants(self._pid):
                mb = peak_rss_mb(pid)
                if not math.isnan(mb):         # nan: the process ended meanwhile
                    self.peak_mb = max(self.peak_mb, mb)
            self._stop.wait(self._every_s)

    def __enter__(self) -> DescendantsPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
