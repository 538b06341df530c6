"""The one reader of Amazon States Language (ASL) definitions.

Everything that looks inside a state machine's definition goes through here: the text stored
for it, why it cannot be read, the indexes `transform.assemble` fills missing history details
from (Parallel branch of a state, resource of a Task), the history length guessed before any
execution is stored, and the graph the dashboard draws. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from flowscope.collectors.graph import DefinitionError, Graph
from flowscope.collectors.native import canonical_json, json_or_problem
from flowscope.textsafety import json_without_secrets, without_secrets

BranchIndex = dict[tuple[str, str], int]
"""(Parallel state name, inner state name) -> branch index."""
TaskResources = dict[str, str]
"""Task state name -> its Resource."""

ASL_GRAPH_TYPES = {"task": "task", "choice": "choice", "wait": "wait", "pass": "pass", "parallel": "parallel",
                   "map": "map", "succeed": "succeed", "fail": "fail"}
"""ASL state Type (lower case) -> the graph's node type."""

_INDEX_CACHE_MAX = 256
_INDEXES: dict[str, tuple[BranchIndex, TaskResources]] = {}


# ---------------------------------------------------------------- reading

def definition_text(definition: Any) -> str | None:
    """The definition as stored: JSON text without the credentials it quotes. A Task's Parameters may
    hold a URL with its token or user:password, or a bearer token: the same rules as the store's error
    texts (`textsafety.SECRET_RULES`) take them out, since the definition is shown on the dashboard and
    exported with the workflows table. The cloud's text is kept as it came (its author's spacing); a parsed
    object (a file some tool rewrote) is written compact, its key order and characters kept, each string
    cleaned on its own: no larger than the text the cloud kept, the same text each time. Never cut: one over
    the model's limit is not stored at all (`native.definition_too_large`), as on the other clouds; a cut one
    was broken JSON."""
    if definition is None:
        return None
    if isinstance(definition, str):
        return without_secrets(definition)
    return json.dumps(json_without_secrets(definition), separators=(",", ":"), ensure_ascii=False)


def definition_digest(text: str) -> str:
    """The SHA-256 (hex) a revision is named by when Step Functions gives no `revisionId`: of the stored text's
    JSON value in one form (`native.canonical_json`), so a definition is one revision whether it arrived as
    text, with any spacing, or as an object; of the text itself when it is not JSON."""
    value, problem = json_or_problem(text)
    try:
        form = text if problem else canonical_json(value)
    except RecursionError:                   # read, but too deep to write again
        form = text
    return hashlib.sha256(form.encode()).hexdigest()


def definition_object(definition: Any) -> dict | None:
    """The definition as a JSON object, or None when it is not one (or not JSON)."""
    if isinstance(definition, dict):
        return definition
    if isinstance(definition, str):
        try:
            obj = json.loads(definition)
        except (ValueError, RecursionError):
            return None
        return obj if isinstance(obj, dict) else None
    return None


def definition_problem(definition: Any) -> str | None:
    """Why an ASL definition cannot be read whole (one line, for a warning), or None when it can.

    An unreadable definition is still stored, but `assemble` cannot settle branches or Task
    resources from it and the dashboard cannot draw it: the user must hear which state machine.
    """
    if isinstance(definition, str):
        definition, problem = json_or_problem(definition)
        if problem:
            return problem
    if not isinstance(definition, dict):
        return f"not a JSON object but {type(definition).__name__}"
    stack: list[tuple[str, Any]] = [("the definition", definition)]
    while stack:
        where, machine = stack.pop()
        if not isinstance(machine, dict):
            return f"{where} is not an object"
        states = machine.get("States")
        if not isinstance(states, dict):
            return f"States of {where} is " + ("missing" if states is None else "not an object")
        for name, state in states.items():
            if not isinstance(state, dict):
                return f"state `{name}` is not an object"
            branches = state.get("Branches")
            if branches is not None and not isinstance(branches, list):
                return f"Branches of `{name}` is not a list"
            stack.extend((f"branch {i} of `{name}`", b) for i, b in enumerate(branches or []))
            for key in ("ItemProcessor", "Iterator"):
                if state.get(key) is not None:
                    stack.append((f"{key} of `{name}`", state[key]))
    return None


def _states(machine: Any) -> dict:
    """The States of a (nested) state machine; {} where the definition is malformed (reported by
    `definition_problem` when the state machine is imported)."""
    states = machine.get("States") if isinstance(machine, dict) else None
    return states if isinstance(states, dict) else {}


def _nested(state: dict) -> list[tuple[int | None, Any]]:
    """(branch index, machine) of each state machine inside a state: Parallel branches, the Map's
    processor (branch index None)."""
    branches = state.get("Branches")
    out: list[tuple[int | None, Any]] = list(enumerate(branches)) if isinstance(branches, list) else []
    proc = state.get("ItemProcessor") or state.get("Iterator")
    if proc is not None:
        out.append((None, proc))
    return out


# ---------------------------------------------------------------- indexes for assembly

def branch_index(definition: dict | None) -> BranchIndex:
    """(parallel state name, inner state name) -> branch index, from an ASL definition."""
    out: BranchIndex = {}

    def walk(states: dict) -> None:
        for name, state in states.items():
            if not isinstance(state, dict) or state.get("Type") not in ("Parallel", "Map"):
                continue
            for i, machine in _nested(state):
                if state.get("Type") == "Parallel" and i is not None:
                    for inner in _states(machine):
                        out[(name, inner)] = i
                walk(_states(machine))
    walk(_states(definition))
    return out


def task_resources(definition: dict | None) -> TaskResources:
    """Task state name -> its Resource (the first Task of that name wins)."""
    out: TaskResources = {}

    def walk(states: dict) -> None:
        for name, state in states.items():
            if not isinstance(state, dict):
                continue
            if state.get("Type") == "Task" and isinstance(state.get("Resource"), str):
                out.setdefault(name, state["Resource"])
            for _, machine in _nested(state):
                walk(_states(machine))
    walk(_states(definition))
    return out


def definition_indexes(definition: Any) -> tuple[BranchIndex, TaskResources]:
    """(branch index, task resources) of a definition; parsed once per definition text (one
    workflow's thousands of executions share it). Callers must not mutate the result."""
    if definition is None:
        return {}, {}
    if not isinstance(definition, str):
        obj = definition_object(definition)
        return (branch_index(obj), task_resources(obj)) if obj else ({}, {})
    cached = _INDEXES.get(definition)
    if cached is None:
        obj = definition_object(definition)
        cached = (branch_index(obj), task_resources(obj)) if obj else ({}, {})
        if len(_INDEXES) >= _INDEX_CACHE_MAX:
            _INDEXES.clear()
        _INDEXES[definition] = cached
    return cached


def has_distributed_map(definition: Any, *, execution_type: str | None = None) -> bool:
    """Whether a definition has a Distributed Map at any depth (`ProcessorConfig.Mode` DISTRIBUTED):
    its Map Runs and their child executions are read only through the parent's history.
    `execution_type` ("EXPRESS" / "STANDARD", the default of `ExecutionType`): only such a Map's
    (Express children log to the parent machine's log group, their only source of steps)."""
    machine = definition_object(definition)

    def matches(config: dict) -> bool:
        kind = str(config.get("ExecutionType") or "STANDARD").upper()
        return config.get("Mode") == "DISTRIBUTED" and (execution_type is None or kind == execution_type)

    def walk(states: dict) -> bool:
        for state in states.values():
            if not isinstance(state, dict):
                continue
            processor = state.get("ItemProcessor")
            config = processor.get("ProcessorConfig") if isinstance(processor, dict) else None
            if state.get("Type") == "Map" and isinstance(config, dict) and matches(config):
                return True
            if any(walk(_states(inner)) for _, inner in _nested(state)):
                return True
        return False

    return machine is not None and walk(_states(machine))


# ---------------------------------------------------------------- history length guess

def estimate_events(definition: str | None) -> float:
    """Rough events per execution from a definition: ~2 per state, 3 per task, + start/end (an unreadable
    definition, one nested too deeply included, counts no state: `definition_problem` says which)."""
    try:
        states = _count_states(json.loads(definition or "{}"))
    except (TypeError, ValueError, RecursionError):
        states = (0, 0)
    plain, tasks = states
    return 2.0 + 2.0 * plain + 5.0 * tasks


def _count_states(node: Any) -> tuple[int, int]:
    plain = tasks = 0
    if isinstance(node, dict):
        for state in (node.get("States") or {}).values():
            if not isinstance(state, dict):
                continue
            if state.get("Type") == "Task":
                tasks += 1
            else:
                plain += 1
            for child in [*(state.get("Branches") or []), state.get("ItemProcessor"), state.get("Iterator")]:
                p, t = _count_states(child)
                plain, tasks = plain + p, tasks + t
    return plain, tasks


# ---------------------------------------------------------------- the graph

def workflow_graph(doc: Any) -> Graph:
    """Nodes (states, nested under their Parallel / Map) and edges (Next, Default, Choices,
    Catch, branch starts) of a parsed ASL definition."""
    if not isinstance(doc, dict) or not isinstance(doc.get("States"), dict):
        raise DefinitionError("an ASL definition needs a States object")
    graph = Graph()
    graph.starts.append(str(doc.get("StartAt")))
    _draw_states(graph, doc, None)
    return graph


def _draw_states(graph: Graph, machine: dict[str, Any], parent: str | None) -> None:
    states = machine.get("States") or {}
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        graph.add(name, ASL_GRAPH_TYPES.get(str(state.get("Type", "")).lower(), "other"), parent)
    for name, state in states.items():
        if not isinstance(state, dict):
            continue
        for target, kind in _exits(state):
            graph.link(name, target, kind)
        for branch in _inner_machines(state):
            _draw_states(graph, branch, name)
            graph.link(name, branch.get("StartAt"), "branch")


def _exits(state: dict[str, Any]) -> Iterator[tuple[Any, str]]:
    """(target, edge kind) of each transition a state declares, in drawing order."""
    yield state.get("Next"), "next"
    yield state.get("Default"), "default"
    for choice in state.get("Choices") or []:
        if isinstance(choice, dict):
            yield choice.get("Next"), "choice"
    for catch in state.get("Catch") or []:
        if isinstance(catch, dict):
            yield catch.get("Next"), "catch"


def _inner_machines(state: dict[str, Any]) -> list[dict[str, Any]]:
    """Parallel branches and the Map's processor that are objects (the graph skips the rest)."""
    inner = [b for b in state.get("Branches") or [] if isinstance(b, dict)]
    for key in ("ItemProcessor", "Iterator"):
        if isinstance(state.get(key), dict):
            inner.append(state[key])
    return inner
