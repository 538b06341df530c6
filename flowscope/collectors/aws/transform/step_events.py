"""History events of state visits: states entered, exited and aborted, and the tries of a Task."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flowscope.collectors.aws.transform.names import ABORTED, FAILED, SUCCEEDED, TIMED_OUT, UNLOGGED_TASK
from flowscope.collectors.aws.transform.visits import Fork, Scope, Visit

if TYPE_CHECKING:
    from flowscope.collectors.aws.transform.builder import HistoryBuilder


# ---------------------------------------------------------------- states entered and exited

def on_entered(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    anchor = b.owner.get(prev)
    prev_step = None
    if anchor.__class__ is Visit:
        scope = anchor.scope
        prev_step = anchor
    elif anchor.__class__ is Scope:
        scope = anchor
        prev_step = scope.last
    elif anchor.__class__ is Fork:
        box = anchor.step
        scope = Scope(box, box.branches)
        box.branches += 1
    elif prev == 0 and not b.containers:
        scope = b.root
        prev_step = scope.last
    else:
        scope = b.fallback_scope()
    ntype = etype[:-12]
    name = details.get("name") or ""
    if name.__class__ is not str:
        name = str(name)
    step = Visit(str(eid), name, ntype, scope, prev_step.key if prev_step is not None else None, ts)
    scope.last = step
    b.steps.append(step)
    b.owner[eid] = step
    if ntype == "Fail":
        step.fail = FAILED
        return
    lst = b.open_by_name.get(name)
    if lst is None:
        b.open_by_name[name] = [step]
    else:
        lst.append(step)
    if ntype == "Parallel" or ntype == "Map":
        b.containers.append(step)


def on_exited(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    name = details.get("name") or ""
    if name.__class__ is not str:
        name = str(name)
    anchor = b.owner.get(prev)
    lst = b.open_by_name.get(name)
    if anchor.__class__ is Visit and anchor.name == name and anchor.exited is None:
        step: Visit | None = anchor
    else:
        step = lst[-1] if lst else None
    if step is None:
        b.orphans += 1
        return
    if lst:
        if lst[-1] is step:
            lst.pop()
        elif step in lst:
            lst.remove(step)
    step.exited = ts
    if step.fail is not None:
        step.exit_output = details.get("output")
    if step.ntype == "Parallel" or step.ntype == "Map":
        step.closed = True
        if step in b.containers:
            b.containers.remove(step)
    b.owner[eid] = step


def on_state_aborted(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    step = b.aborted_step(etype[:-12], b.owner.get(prev))
    if step is None:
        b.orphans += 1
        return
    b.owner[eid] = step
    step.aborted = True
    step.exited = None
    step.aborted_at = ts
    tries = step.tries
    if tries and tries[-1][2] is None:
        tries[-1][1] = ts
        tries[-1][2] = ABORTED


# ---------------------------------------------------------------- task tries

def _try_step(b: HistoryBuilder, eid: int, prev: int) -> Visit | None:
    """The Task a try event belongs to (owner of its previous event), or None (an orphan)."""
    step = b.step_of(prev)
    if step is None:
        b.orphans += 1
        return None
    b.owner[eid] = step
    return step


def on_try_scheduled(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    step = _try_step(b, eid, prev)
    if step is None:
        return
    step.tries.append([ts, None, None, None, None])
    if step.resource is None:
        step.resource = _resource(details)


def on_try_started(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    """Started or submitted: a try begins unless the scheduled one is still open."""
    step = _try_step(b, eid, prev)
    if step is None:
        return
    tries = step.tries
    if not tries or tries[-1][2] is not None:
        tries.append([ts, None, None, None, None])
    if step.resource is None:
        step.resource = _resource(details)


def _end_try(b: HistoryBuilder, eid: int, prev: int, ts: Any) -> tuple[Visit, list[Any]] | None:
    step = _try_step(b, eid, prev)
    if step is None:
        return None
    tries = step.tries
    if not tries or tries[-1][2] is not None:
        tries.append([ts, None, None, None, None])
    t = tries[-1]
    t[1] = ts
    return step, t


def on_try_succeeded(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    ended = _end_try(b, eid, prev, ts)
    if ended is not None:
        step, t = ended
        t[2] = SUCCEEDED
        step.fail = None


def _resource(details: dict) -> str | None:
    """A Task event's resource as an ARN (`lambda` + `invoke` -> `arn:aws:states:::lambda:invoke`).
    One that is no text raises ValueError (the builder skips the event, named): it went into the
    steps row and failed the whole import at the store."""
    res = details.get("resource")
    if res is None or res == "":
        return None
    if res.__class__ is not str:
        raise ValueError(f"resource is {type(res).__name__}, not text")
    rtype = details.get("resourceType")
    return f"arn:aws:states:::{rtype}:{res}" if rtype and not res.startswith("arn:") else res


def _unlogged_task(b: HistoryBuilder, eid: int, prev: int, details: dict) -> Visit:
    """The Task a failure belongs to when nothing before it was logged (level ERROR logs TaskFailed,
    never the TaskStateEntered it chains from): a step of its own, so the failing step and its error
    are seen, rather than an orphan event and a failed run without steps. Failures of one resource in
    a row are a Retry's tries of one visit; the state's name is the definition's (`assemble`)."""
    resource = _resource(details)
    last = b.steps[-1] if b.steps else None
    if last is not None and last.unlogged and last.resource == resource:
        step = last
    else:
        step = Visit(str(eid), UNLOGGED_TASK, "Task", b.fallback_scope(), None, None)
        step.unlogged = True
        step.resource = resource
        step.scope.last = step
        b.steps.append(step)
    b.owner[eid] = step
    return step


def _fail_try(b: HistoryBuilder, eid: int, prev: int, ts: Any, details: dict, status: str) -> None:
    if b.step_of(prev) is None:
        step = _unlogged_task(b, eid, prev, details)
        step.tries.append([None, ts, None, None, None])
        ended: tuple[Visit, list[Any]] | None = step, step.tries[-1]
    else:
        ended = _end_try(b, eid, prev, ts)
    if ended is not None:
        step, t = ended
        t[2] = status
        t[3] = details.get("error")
        t[4] = details.get("cause")
        step.fail = status
        step.error = t[3]
        step.cause = t[4]


def on_try_failed(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    """Failed, or failed before starting (ScheduleFailed / StartFailed / SubmitFailed)."""
    _fail_try(b, eid, prev, ts, details, FAILED)


def on_try_timed_out(b: HistoryBuilder, eid: int, prev: int, ts: Any, etype: str, details: dict) -> None:
    _fail_try(b, eid, prev, ts, details, TIMED_OUT)
