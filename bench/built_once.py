"""A bench's store, built the first time it is wanted and kept (in bench/out/) for the runs after."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path


def built_once(store: Path, what: str, build: Callable[[Path], None]) -> None:
    """Build `store` with `build` unless it holds executions already, saying what is built and how long it took."""
    if (store / "executions").exists():
        return
    print(f"building {store} with {what}", flush=True)
    t0 = time.perf_counter()
    build(store)
    print(f"built in {time.perf_counter() - t0:.0f}s", flush=True)
