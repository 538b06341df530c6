"""Turn whole executions' log records into model tables in a worker process.

The log path is CPU-bound in one interpreter (parse, history transform, assembly and the
conversion to Arrow cost ~30 us per record against the 20 us a 5 TPS x 10,000-record
FilterLogEvents quota leaves). `LogChunkPool` runs the pure part of that work, for executions
that are whole and not stored yet, in a process on another core; the reading, the existence
checks and the writes stay in the collector. Results come back as Arrow tables, which cross the
process boundary as buffers, not as Python objects.
"""

from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from flowscope.model import Skip, Source

Row = dict[str, Any]


@dataclass
class ChunkTables:
    """One chunk transformed and assembled: model tables, ready to write as they are."""

    tables: dict[str, pa.Table]
    executions: int
    skips: list[Skip] = field(default_factory=list)
    unknown_event_types: dict[str, int] = field(default_factory=dict)


def transform_chunk(messages: list[str], source_name: str, seen_at: dt.datetime,
                    workflows: list[Row]) -> ChunkTables:
    """Log messages of whole executions -> assembled, validated model tables (pure; no I/O).

    `workflows` are the rows of the state machines concerned (their definitions settle Parallel
    branches and Task resources); they are used, not returned.
    """
    import gc

    gc.disable()        # this process only builds and drops these rows: no cycles to collect
    try:
        return _transform_chunk(messages, source_name, seen_at, workflows)
    finally:
        gc.enable()


def _transform_chunk(messages: list[str], source_name: str, seen_at: dt.datetime,
                     workflows: list[Row]) -> ChunkTables:
    import orjson

    from flowscope.collectors.assemble import assemble_batch
    from flowscope.collectors.aws.transform import DEFER_ASSEMBLE, transform_log_records
    from flowscope.collectors.native import ImportContext
    from flowscope.store.validate import validate_batch

    records: list[Any] = []
    skips: list[Skip] = []
    for i, message in enumerate(messages):
        try:
            records.append(orjson.loads(message))
        except orjson.JSONDecodeError as exc:      # the collector parsed these already: a bug path
            skips.append(Skip(source_name, f"record {i}", f"malformed log record: {exc}"))
    ctx = ImportContext(source_name=source_name, seen_at=seen_at, source=Source.LOGS,
                        options={DEFER_ASSEMBLE: True})
    batch = transform_log_records(records, ctx)
    del records
    batch.workflows = list(workflows)
    assembled = assemble_batch(batch, None)
    assembled.workflows = []
    executions = len(assembled.executions)
    tables = validate_batch(assembled)
    return ChunkTables(tables, executions, skips + batch.skips, dict(batch.unknown_event_types))


def spare_cores() -> int:
    """Cores this process may use beyond the one it runs on."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count() or 1
    return max(0, usable - 1)


class LogChunkPool:
    """Worker processes for log chunks, shared by a scope's log groups.

    Spawned (the collector runs threads, so no fork) by `start`, which the log path calls when
    it begins reading: the ~0.3 s start then overlaps the first FilterLogEvents pages.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def start(self) -> None:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                             mp_context=multiprocessing.get_context("spawn"))
            for _ in range(self.workers):
                self._pool.submit(_warm)

    def submit(self, messages: list[str], source_name: str, seen_at: dt.datetime,
               workflows: list[Row]) -> "Future[ChunkTables]":
        self.start()
        assert self._pool is not None
        return self._pool.submit(transform_chunk, messages, source_name, seen_at, workflows)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


_WARM_ARN = "arn:aws:states:us-east-1:000000000000:express:warm:w:00000000-0000-0000-0000-000000000000"
_WARM_RECORDS = [
    {"id": "1", "type": "ExecutionStarted", "details": {}, "previous_event_id": "0",
     "event_timestamp": "1700000000000", "execution_arn": _WARM_ARN},
    {"id": "2", "type": "PassStateEntered", "details": {"name": "P"}, "previous_event_id": "1",
     "event_timestamp": "1700000000001", "execution_arn": _WARM_ARN},
    {"id": "3", "type": "PassStateExited", "details": {"name": "P"}, "previous_event_id": "2",
     "event_timestamp": "1700000000002", "execution_arn": _WARM_ARN},
    {"id": "4", "type": "ExecutionSucceeded", "details": {}, "previous_event_id": "3",
     "event_timestamp": "1700000000003", "execution_arn": _WARM_ARN},
]


def _warm() -> None:
    """Run one tiny execution through `transform_chunk` before the first chunk arrives: the
    imports and Arrow's first conversions cost a cold process ~0.25 s."""
    import json

    transform_chunk([json.dumps(r) for r in _WARM_RECORDS], "warm-up", dt.datetime.now(dt.timezone.utc), [])


__all__ = ["ChunkTables", "LogChunkPool", "spare_cores", "transform_chunk"]
