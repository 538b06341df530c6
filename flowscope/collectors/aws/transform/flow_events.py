"""History events of the flow around visits: Parallel and Map states, Map Runs, the execution itself."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowscope.collectors.aws.transform.names import ABORTED, FAILED
from flowscope.collectors.aws.transform.values import redrive_count
from flowscope.collectors.aws.transform.visits import Fork, Scope, Visit, container_of

if TYPE_CHECKING:
    from flowscope.collectors.aws.transform.builder import HistoryBuilder


# ---------------------------------------------------------------- Parallel and Map

def _container_started(b: HistoryBuilder, eid: int, prev: int, ntype: str) -> Visit | None:
    box = container_of(b.owner.get(prev), ntype) or b.innermost(ntype)
    if box is None:
        b.orphans += 1
        return None
    box.starts += 1
    box.branches = 0
    box.fail = None
    return box


def on_parallel_started(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    box = _container_started(b, eid, prev, "Parallel")
    if box is not None:
        b.owner[eid] = Fork(box)


def on_map_started(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    box = _container_started(b, eid, prev, "Map")
    if box is not None:
        b.owner[eid] = box


def on_iteration_started(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    box = container_of(b.owner.get(prev), "Map", details.get("name")) or b.innermost("Map")
    if box is None:
        b.orphans += 1
        return
    idx = details.get("index")
    b.owner[eid] = Scope(box, int(idx) if idx is not None else None)


def on_iteration_ended(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    b.owner[eid] = container_of(b.owner.get(prev), "Map", details.get("name")) or b.innermost("Map")


def _ended_container(b: HistoryBuilder, eid: int, prev: int, etype: str) -> Visit | None:
    """The Parallel / Map a ``<Type>State{Succeeded,Failed,Aborted}`` closes."""
    ntype = "Parallel" if etype.startswith("Parallel") else "Map"
    box = container_of(b.owner.get(prev), ntype) or b.innermost(ntype)
    if box is None:
        b.orphans += 1
        return None
    b.owner[eid] = box
    box.closed = True
    return box


def on_container_succeeded(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    box = _ended_container(b, eid, prev, etype)
    if box is not None:
        box.fail = None


def on_container_failed(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    box = _ended_container(b, eid, prev, etype)
    if box is not None:
        box.fail = FAILED


def on_container_aborted(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    box = _ended_container(b, eid, prev, etype)
    if box is not None:
        box.aborted = True
        box.aborted_at = ts
        box.fail = None


def _map_of_run(b: HistoryBuilder, eid: int, prev: int) -> Visit | None:
    """The Map a Map Run event belongs to."""
    box = container_of(b.owner.get(prev), "Map") or b.innermost("Map")
    if box is None:
        b.orphans += 1
        return None
    b.owner[eid] = box
    return box


def on_map_run_started(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    box = _map_of_run(b, eid, prev)
    arn = details.get("mapRunArn")
    if arn is not None and not isinstance(arn, str):
        raise ValueError(f"mapRunArn is {type(arn).__name__}, not text")   # the builder skips the event
    if box is not None and arn:
        box.resource = arn          # a retried Map's resource is its last run's
        b.map_runs.append(arn)
        b.map_run_steps[arn] = box.key


def on_map_run_ended(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    _map_of_run(b, eid, prev)


def on_map_run_failed(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    box = _map_of_run(b, eid, prev)
    if box is not None:
        box.fail = ABORTED if etype.endswith("Aborted") else FAILED
        box.error = details.get("error", box.error)
        box.cause = details.get("cause", box.cause)


# ---------------------------------------------------------------- the execution

def on_exec_started(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    b.has_started_event = True
    b.started_at = ts
    b.input = details.get("input")
    b.owner[eid] = b.root


def on_exec_redriven(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    b.native_status = "RUNNING"
    b.ended_at = None
    b.error = b.cause = None
    rc = details.get("redriveCount")
    if rc is not None:
        b.redrive_count = max(b.redrive_count, redrive_count(rc))   # no count: the event is skipped
    b.owner[eid] = b.root


def on_evaluation_failed(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    state = details.get("state")
    named = b.open_by_name.get(state) if isinstance(state, str) else None
    step = named[-1] if named else b.step_of(prev)
    if step is not None:
        step.fail = FAILED
        step.error = details.get("error")
        step.cause = details.get("cause")
        b.owner[eid] = step


def _end_execution(b: HistoryBuilder, eid: int, prev: int, ts: Any, details: dict, native: str) -> None:
    b.ended_at = ts
    b.native_status = native
    b.error = details.get("error")
    b.cause = details.get("cause")
    if native == "SUCCEEDED":
        b.output = details.get("output")
    else:
        b.culprit = b.owner.get(prev) if prev else None
        if b.culprit.__class__ is not Visit:
            b.culprit = b.named_in_cause(b.cause) or b.culprit
    b.owner[eid] = b.root


def on_exec_succeeded(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    _end_execution(b, eid, prev, ts, details, "SUCCEEDED")


def on_exec_failed(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    _end_execution(b, eid, prev, ts, details, "FAILED")


def on_exec_timed_out(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    _end_execution(b, eid, prev, ts, details, "TIMED_OUT")


def on_exec_aborted(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    _end_execution(b, eid, prev, ts, details, "ABORTED")
