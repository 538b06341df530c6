"""Run a benchmark, and every process it starts, on fewer cores than the host has (`--cpus`).

Why: this host's speed changes up to 1.7x within an hour (`which_host`'s speed mark read 0.29 to 0.55 s in
session 57), and the dashboard's first draw keeps both cores busy (the browser, the server, the analyses
process), so its figures moved with the host, not with the code. A CPU cgroup with a quota of N cores for the
bench (children inherit it) sets one condition that every run meets again: a figure at `--cpus 1.5` compares
with the last one at `--cpus 1.5`, and a margin can be measured on purpose instead of waited for. A quota caps
throughput, not one thread's speed: it is a slower host in the sense that counts when every core is busy.

Needs a writable cgroup hierarchy with the cpu controller (root on this machine: cgroup v1's `cpu`, or v2's
`cpu.max`); without one the bench stops with a clear error rather than running unlimited.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PERIOD_US = 10_000
"""A short period (10 ms, the kernel's default is 100 ms) spreads the quota evenly: a process throttled for
the rest of a 100 ms period after a burst reads as a stall, not as a slower host."""

MOUNTS = Path("/proc/self/mounts")


class QuotaUnavailable(RuntimeError):
    """No writable CPU cgroup: the bench cannot run limited, and says so."""


@dataclass(frozen=True)
class Hierarchy:
    """Where CPU cgroups are made: the mount's folder, and whether it is cgroup v2 (`cpu.max`) or v1."""

    root: Path
    v2: bool


def quota_us(cores: float, period_us: int = PERIOD_US) -> int:
    """Microseconds of CPU per period for `cores` cores (at least the kernel's 1 ms minimum)."""
    if not cores > 0:
        raise ValueError(f"--cpus must be a positive number of cores, not {cores!r}")
    return max(1_000, round(cores * period_us))


def find_hierarchy(mounts: str) -> Hierarchy | None:
    """The CPU controller's hierarchy from /proc/self/mounts' text: v1's `cpu` mount first (a hybrid host
    such as this one mounts v2 without controllers), else a v2 mount that offers `cpu`."""
    v2_roots = []
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        folder, kind, options = fields[1], fields[2], fields[3].split(",")
        if kind == "cgroup" and "cpu" in options:
            return Hierarchy(Path(folder), v2=False)
        if kind == "cgroup2":
            v2_roots.append(Path(folder))
    for root in v2_roots:
        with contextlib.suppress(OSError):
            if "cpu" in (root / "cgroup.controllers").read_text().split():
                return Hierarchy(root, v2=True)
    return None


def _limit(group: Path, v2: bool, cores: float) -> None:
    if v2:
        (group / "cpu.max").write_text(f"{quota_us(cores)} {PERIOD_US}\n")
    else:
        (group / "cpu.cfs_period_us").write_text(f"{PERIOD_US}\n")
        (group / "cpu.cfs_quota_us").write_text(f"{quota_us(cores)}\n")


@contextlib.contextmanager
def limited_to(cores: float, mounts: Path = MOUNTS) -> Iterator[Path]:
    """Put this process (and so every process it starts from now on) in a new CPU cgroup of `cores` cores;
    on exit move it back and remove the group. Raises QuotaUnavailable when no group can be made."""
    quota_us(cores)                                     # a bad number is a ValueError before anything is made
    try:
        hierarchy = find_hierarchy(mounts.read_text())
    except OSError as exc:
        raise QuotaUnavailable(f"cannot read {mounts}: {exc}") from exc
    if hierarchy is None:
        raise QuotaUnavailable("no cgroup hierarchy with the cpu controller is mounted")
    group = hierarchy.root / f"flowscope-bench-{os.getpid()}"
    try:
        group.mkdir()
        _limit(group, hierarchy.v2, cores)
        (group / "cgroup.procs").write_text(f"{os.getpid()}\n")
    except OSError as exc:
        with contextlib.suppress(OSError):
            group.rmdir()
        raise QuotaUnavailable(f"cannot make a CPU cgroup under {hierarchy.root} ({exc.strerror or exc}); "
                               "--cpus needs root or a delegated cgroup") from exc
    try:
        yield group
    finally:
        with contextlib.suppress(OSError):
            (hierarchy.root / "cgroup.procs").write_text(f"{os.getpid()}\n")
        with contextlib.suppress(OSError):        # a process still inside (a server not yet reaped) keeps it
            group.rmdir()
