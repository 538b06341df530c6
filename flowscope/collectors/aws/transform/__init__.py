"""Pure transforms: AWS Step Functions native records -> unified model rows.

Fulfils the contract of `flowscope.collectors.native`: ``FORMATS``, ``detect`` and
``assemble``. No I/O: the live collectors (GetExecutionHistory, CloudWatch Logs) and the
importer (files the user saved with the `aws` CLI) both call these functions.

Formats, one module each
------------------------
``aws.history``       (`history`) ``aws stepfunctions get-execution-history`` output
                      (``{"events": [...]}``); the execution ARN comes from ``ctx.execution_id``.
``aws.log_records``   (`log_records`) CloudWatch Logs records of executions (Standard or Express,
                      any level), as a list of records or as ``aws logs filter-log-events`` output.
``aws.state_machine`` (`state_machines`) ``describe-state-machine`` output -> one workflows row.
``aws.execution``     (`describe`) ``describe-execution`` / ``list-executions`` output ->
                      executions rows without steps (what is known before, or instead of, the history).

`detect` tells the format of a document, `assemble` finishes one execution's rows (definition
fixes, then usage by the billing rules of `billing`).

How a history becomes rows (`builder`, `rows`)
----------------------------------------------
- One step row per state visit: ``<Type>StateEntered`` opens it, ``<Type>StateExited`` closes
  it. ``step_key`` is the id of the Entered event as a string: ids are assigned by Step
  Functions and never change, so re-collecting an execution replaces the same keys.
- Which branch / iteration a visit belongs to is read from ``previousEventId``: the first
  state of a Map iteration points at ``MapIterationStarted`` (which carries ``index``), the
  first state of a Parallel branch at ``ParallelStateStarted``, and any later state at the
  exit of the state before it in the same branch. Branches run concurrently, so their
  events interleave in id order: following that chain, not the order, is what keeps them
  apart. Where the chain is missing (log levels that drop events) the state is put under the
  innermost open Parallel/Map, and `assemble` settles the branch from the definition.
- Tasks: each ``*Scheduled`` (Lambda, service integration, activity) starts a try; the
  try ends with ``*Succeeded`` / ``*Failed`` / ``*TimedOut`` / ``*StartFailed``. Parallel and
  Map retries show up as a repeated ``*StateStarted`` inside one visit: they count as tries
  of that step too (billing counts each retry as a transition), without attempts rows.
- A failed visit is CAUGHT when the state still exited (a Catch moved on), FAILED / TIMED_OUT
  when the failure ended the execution.
- An event type the table (`events.EVENT_TYPES`) lacks is counted in ``unknown_event_types``;
  a ``<NewType>StateEntered`` / ``StateExited`` among them still opens / closes a step (type
  ``other``), so a newer state type never drops a visit or its billed transition.
"""

from __future__ import annotations

from flowscope.collectors.aws.transform.assemble import assemble
from flowscope.collectors.aws.transform.billing import express_gb_seconds
from flowscope.collectors.aws.transform.describe import transform_execution
from flowscope.collectors.aws.transform.detect import detect
from flowscope.collectors.aws.transform.history import (
    DESCRIBE_SOURCE,
    history_start,
    is_describe_execution,
    pair_histories,
    transform_history,
)
from flowscope.collectors.aws.transform.log_records import stream_key, transform_log_records
from flowscope.collectors.aws.transform.names import (
    CLOUD,
    DEFER_ASSEMBLE,
    EXECUTION,
    HISTORY,
    LOG_RECORDS,
    STATE_MACHINE,
)
from flowscope.collectors.aws.transform.parents import link_parents, stored_children
from flowscope.collectors.aws.transform.state_machines import transform_state_machine
from flowscope.collectors.aws.transform.values import parse_json
from flowscope.collectors.native import FormatHandler, StreamKey

FORMATS: dict[str, FormatHandler] = {
    HISTORY: transform_history,
    LOG_RECORDS: transform_log_records,
    STATE_MACHINE: transform_state_machine,
    EXECUTION: transform_execution,
}
STREAMS: dict[str, StreamKey] = {LOG_RECORDS: stream_key}
"""Formats whose JSON Lines files the importer reads in bounded memory (`collectors/streaming.py`)."""

__all__ = [
    "CLOUD", "DEFER_ASSEMBLE", "DESCRIBE_SOURCE", "EXECUTION", "FORMATS", "HISTORY", "LOG_RECORDS", "STATE_MACHINE",
    "STREAMS",
    "assemble", "detect", "express_gb_seconds", "history_start", "link_parents", "is_describe_execution",
    "pair_histories", "parse_json",
    "stored_children", "stream_key", "transform_execution", "transform_history", "transform_log_records",
    "transform_state_machine",
]
