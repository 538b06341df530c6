"""The JSON Lines files of a streamable format, read in bounded memory: chunks of whole executions
transformed and handed to the writer while the rest of the file is read.

One job: which files stream (`_stream_plan`) and reading one (`_FileStream`), with its knobs (`CHUNK_RECORDS`,
`COLLECT_EVERY`: read here, so a patch of either goes here). The grouping of records into executions is
`streaming.py`'s; docs/import.md says why a big export is streamed.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowscope.collectors.import_formats import detect_format, handler_for
from flowscope.collectors.import_parse import _without_lone_surrogates
from flowscope.collectors.import_result import ImportResult
from flowscope.collectors.import_transform import _call_handler, _with_line
from flowscope.collectors.import_writer import _Writer
from flowscope.collectors.native import ImportContext, NativeFormatError, StreamKey, cloud_of
from flowscope.collectors.registry import transforms_for
from flowscope.collectors.streaming import Chunk, ExecutionGroups, read_records, sniff_json_lines
from flowscope.model import Skip

# ---------------------------------------------------------------- streamed files

Progress = Callable[[str], None]
"""Where an import says how far it is, a line at a time ("orders.jsonl: line 1,200,000 read, 14,000 executions
stored"): the CLI's spinner. Paths and counts only, never a record's content."""


def _silent(_text: str) -> None:
    """The default `Progress`: says nothing."""


CHUNK_RECORDS = 100_000
"""Records of whole executions transformed, assembled and committed together when streaming."""
COLLECT_EVERY = 10
"""Chunks between two collections of cyclic garbage (each costs about as much as one per chunk)."""


@dataclass
class _Streamed:
    path: Path
    fmt: str
    key: StreamKey
    sample: list[Any]


def _stream_plan(path: Path, *, cloud: str | None, fmt: str | None) -> _Streamed | None:
    """A JSON Lines file of a format its cloud can stream (`STREAMS`), or None: read it whole."""
    sample = sniff_json_lines(path)
    if sample is None:
        return None
    try:
        found = fmt or detect_format(sample, str(path), cloud)
    except NativeFormatError:
        return None                      # the whole-document path detects from every record and says why
    streams: dict[str, StreamKey] = getattr(transforms_for(cloud_of(found)), "STREAMS", {})
    key = streams.get(found)
    return _Streamed(path, found, key, sample) if key is not None else None


class _FileStream:
    """One streamed file: chunks of whole executions through the format's handler to the writer."""

    def __init__(self, plan: _Streamed, ctx: ImportContext, result: ImportResult, writer: _Writer,
                 progress: Progress = _silent) -> None:
        self.plan, self.ctx, self.result, self.writer = plan, ctx, result, writer
        self.progress = progress
        self.handler = handler_for(plan.fmt)
        self.reported: set[tuple[str, str]] = set()
        self.chunks = 0

    def run(self) -> None:
        plan, name = self.plan, self.ctx.source_name
        _call_handler(self.handler, plan.sample, self.ctx, plan.fmt)   # the format's own whole-file checks
        groups = ExecutionGroups(plan.key)
        replaced = 0
        for block in read_records(plan.path, name, _without_lone_surrogates):
            replaced += block.replaced
            for number in groups.add_all(block):
                self._skip(Skip(name, f"line {number}", "not a record of an execution (no readable execution id)"))
            if groups.ready_records >= CHUNK_RECORDS:
                self._transform(groups.take_ready())
            if block.lines:
                self.progress(f"{name}: line {block.lines[-1]:,} read, {self.writer.executions_written:,} "
                              "execution(s) stored")
        self._transform(groups.take_all())
        if groups.revisit:
            # records of executions already written came later: read them again, whole
            again = Chunk()
            for block in read_records(plan.path, name, _without_lone_surrogates):
                for number, record in zip(block.lines, block.records, strict=True):
                    found = plan.key(record)
                    if found is not None and found[0] in groups.revisit:
                        again.records.append(record)
                        again.lines.append(number)
            self._transform(again)
        if replaced:
            self.result.warnings.append(f"{name}: {replaced} lone UTF-16 surrogate(s) replaced by U+FFFD")

    def _transform(self, chunk: Chunk) -> None:
        if not chunk.records:
            return
        self._transform_chunk(chunk)
        # the cyclic collector is paused for the whole import (it would rescan the open records
        # again and again); the little cyclic garbage a chunk leaves (the store's writers) is
        # collected every few chunks, so memory does not grow with the file
        self.chunks += 1
        if self.chunks % COLLECT_EVERY == 0:
            gc.collect(1)

    def _transform_chunk(self, chunk: Chunk) -> None:
        part = _call_handler(self.handler, chunk.records, self.ctx, self.plan.fmt,
                             where=f"lines {min(chunk.lines)}-{max(chunk.lines)}")
        for skip in part.skips:
            self._skip(_with_line(skip, chunk.line_of))
        for event_type, n in part.unknown_event_types.items():
            self.result.unknown_event_types[event_type] = self.result.unknown_event_types.get(event_type, 0) + n
        self.result.warnings.extend(w for w in part.warnings if w not in self.result.warnings)
        self.writer.add(part, whole=self.plan.key is not None)

    def _skip(self, skip: Skip) -> None:
        """Report a skip once (a chunk read again after a late record reports its skips again)."""
        seen = (skip.location, skip.reason)
        if seen not in self.reported:
            self.reported.add(seen)
            self.result.skips.append(skip)
