"""What an import reads from its documents together, before transforming any: `--execution-arn` checked
against the formats read, each bare get-execution-history paired with its describe-execution, and each
cloud's `import_options` hook given every document of that cloud.

One job: the links between documents of one import (a history and its describe in two files, a loop visit
named in another file, a workflow's newest revision), so each document's transform then reads one document.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from flowscope.collectors.import_load import Loaded
from flowscope.collectors.native import NativeFormatError, StoredRows, cloud_of, import_options_of
from flowscope.collectors.registry import transforms_for
from flowscope.model import Cloud

NAMED_BY_EXECUTION_ID = frozenset({"aws.history", "gcp.step_entries"})
"""The formats whose documents may not name their execution and read it from `--execution-arn`
(`ImportContext.execution_id`): a bare get-execution-history, GCP step entries without their resource names."""


def _check_execution_id_read(formats: list[str]) -> None:
    """ValueError, before anything is read further or written, for an `--execution-arn` no document reads:
    given with CloudWatch log records or an Azure runs list (a history meant, the wrong file passed), it
    was ignored without a word, and "1 new execution" read as that history imported. Empty files alone
    are "nothing imported" (exit 3), said as such."""
    if not formats or NAMED_BY_EXECUTION_ID.intersection(formats):
        return
    read = ", ".join(f"{formats.count(f)} {f}" for f in sorted(set(formats)))
    raise ValueError("--execution-arn names the execution of a bare get-execution-history (aws stepfunctions "
                     f"get-execution-history output), and no file here is one (read: {read}): it would change "
                     "nothing; leave it out, or add the history it names")


def _pair_aws_histories(loaded: list[Loaded]) -> None:
    """Give each bare get-execution-history the describe-execution imported with it (by start time).
    NativeFormatError for histories of different executions (started at other times) under one
    --execution-arn: each was stored as that one execution, the last read replacing the others, and
    "1 new execution" said nothing of it. Snapshots of one execution (fetched while it ran, then after)
    start alike and are settled as ever."""
    aws = transforms_for(Cloud.AWS)
    named = [item for item in loaded if item.fmt == aws.HISTORY and item.ctx.execution_id]
    starts = {start: item for item in named if (start := aws.history_start(item.doc)) is not None}
    if len(starts) > 1:
        names = ", ".join(f"{item.ctx.source_name} (started {start.isoformat()})" for start, item in starts.items())
        raise NativeFormatError(list(starts.values())[1].ctx.source_name, "document",
                                f"--execution-arn names one execution, and these get-execution-history documents "
                                f"are of {len(starts)} executions: {names}; import each history with its own "
                                "--execution-arn, or together with its describe-execution JSON and without "
                                "--execution-arn")
    histories = [item for item in loaded if item.fmt == aws.HISTORY and not item.ctx.execution_id]
    if not histories:
        return
    describes = [item for item in loaded if item.fmt == aws.EXECUTION and aws.is_describe_execution(item.doc)]
    pairs = aws.pair_histories([(h.ctx.source_name, h.doc) for h in histories],
                               [(d.ctx.source_name, d.doc) for d in describes])
    used = {id(doc) for doc in pairs.values()}
    source_of = {id(d.doc): d.ctx.source_name for d in describes}
    for item in histories:
        describe = pairs[item.ctx.source_name]
        item.ctx = replace(item.ctx, options={**item.ctx.options, "describe_execution": describe,
                                              aws.DESCRIBE_SOURCE: source_of[id(describe)]})
    for item in describes:
        item.paired = id(item.doc) in used


def _share_import_options(loaded: list[Loaded], stored: Callable[[str], StoredRows]) -> None:
    """Give each cloud's documents the options its `import_options` hook reads from all of them together
    (Azure: the loop visit a repetition record in one file names, for a request history in another; GCP: each
    workflow's current revision, the newest of all its files and the store, so the others are dated as past
    ones). `stored(cloud)`: what the hook may read of that cloud's stored rows (`_Writer.stored_rows_of`)."""
    by_cloud: dict[str, list[Loaded]] = {}
    for item in loaded:
        by_cloud.setdefault(cloud_of(item.fmt), []).append(item)
    for cloud, items in by_cloud.items():
        hook = import_options_of(transforms_for(cloud))
        options = hook([(item.fmt, item.doc) for item in items], stored(cloud)) if hook is not None else {}
        if options:
            for item in items:
                item.ctx = replace(item.ctx, options={**item.ctx.options, **options})
