"""One line that says which machine a benchmark ran on, printed first by every bench.

The targets are absolute seconds, and the same code read 1.3-1.8x slower on one 2-core host than on
another (session 25: the 30k demo's analysis 4.0-4.8 s against 2.5-2.7 s): a figure without its host
cannot be compared with the last one. The line names the CPU, the cores, the load, and the seconds a
fixed pure-Python loop takes here (a rough speed mark: 0.39-0.59 s on session 25's host).
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

LOOP = 10_000_000


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def loop_seconds() -> float:
    """Seconds for a 10M-iteration integer sum in this interpreter (best of 3)."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        total = 0
        for i in range(LOOP):
            total += i
        best = min(best, time.perf_counter() - began)
    return best


def describe() -> str:
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return (f"host: {cpu_model()}, {os.cpu_count()} cores, load {load}; "
            f"10M-iteration Python loop {loop_seconds():.2f} s")
