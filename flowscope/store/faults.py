"""Crash points for the store's kill tests.

`FLOWSCOPE_STORE_CRASH_AT=<point>` makes the writer SIGKILL itself when it reaches that point
(e.g. `staged`, `intent`, `commit:steps`, `manifest`). Read at call time; unset in production,
where `crash_point` is one dict lookup.
"""

from __future__ import annotations

import os
import signal

ENV = "FLOWSCOPE_STORE_CRASH_AT"


def crash_point(name: str) -> None:
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
