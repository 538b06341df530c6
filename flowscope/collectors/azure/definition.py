"""Logic Apps workflow definitions: which action is what, where it sits, and how it is billed.

Run-action records from the management API name an action but carry neither its type, its
connector, nor the container it sits in: all of that lives only in the workflow definition
(`properties.definition`). This module walks a definition once and indexes every trigger and
action by name, so `transform.assemble` can type steps, link parents and choose meters; and it
draws the same definition as the dashboard's graph (`workflow_graph`), walking the same nesting
(`_children`).

Pure: no I/O. Names are matched case-insensitively (Logic Apps action names are), so every
index here is keyed by the lower-cased name and keeps the definition's own spelling.

Billing classification follows "Usage metering, billing, and pricing for Azure Logic Apps"
(learn.microsoft.com/azure/logic-apps/logic-apps-pricing) and "Connectors overview":

- built-in operations (Http, Function, control flow, variables, data operations, Standard
  `ServiceProvider` built-in connectors, ...) are metered as actions / triggers;
- managed connector operations (`ApiConnection`, `ApiConnectionWebhook`, ...) are metered as
  Standard or Enterprise connector executions by the managed API they call. The Enterprise
  tier is the documented short list of enterprise systems (SAP, IBM MQ, IBM 3270); every
  other managed API, custom connectors included, is Standard. IBM DB2 / Informix / Host Files
  are Standard-tier managed connectors and are deliberately not in the list.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from flowscope.collectors.graph import DefinitionError, Graph
from flowscope.collectors.native import json_or_problem
from flowscope.model import Meter, StepType, json_object

ENTERPRISE_CONNECTORS = frozenset({
    "sap", "saperp",          # SAP (managed connector)
    "mq", "ibmmq",            # IBM MQ
    "si3270", "ibm3270",      # IBM 3270
})
"""Managed API names billed at the Enterprise connector rate (lower-case)."""

LOOP_TYPES = frozenset({"foreach", "until"})
CONTAINER_TYPES = frozenset({"foreach", "until", "if", "switch", "scope"})
CONNECTOR_TYPES = frozenset({"apiconnection", "apiconnectionwebhook", "apiconnectionnotification"})

_STEP_TYPES: dict[str, StepType] = {
    # work
    "http": StepType.TASK, "httpwebhook": StepType.TASK, "function": StepType.TASK,
    "workflow": StepType.TASK, "apimanagement": StepType.TASK, "apiconnection": StepType.TASK,
    "apiconnectionwebhook": StepType.TASK, "apiconnectionnotification": StepType.TASK,
    "serviceprovider": StepType.TASK, "javascriptcode": StepType.TASK, "invokefunction": StepType.TASK,
    "sendtobatch": StepType.TASK, "liquid": StepType.TASK, "xslt": StepType.TASK,
    "xmlvalidation": StepType.TASK, "flatfiledecoding": StepType.TASK, "flatfileencoding": StepType.TASK,
    "integrationaccountartifactlookup": StepType.TASK, "csharpscriptcode": StepType.TASK,
    "powershellcode": StepType.TASK,
    # data operations and variables
    "compose": StepType.PASS, "parsejson": StepType.PASS, "query": StepType.PASS,
    "select": StepType.PASS, "table": StepType.PASS, "join": StepType.PASS,
    "initializevariable": StepType.PASS, "setvariable": StepType.PASS,
    "incrementvariable": StepType.PASS, "decrementvariable": StepType.PASS,
    "appendtoarrayvariable": StepType.PASS, "appendtostringvariable": StepType.PASS,
    "expression": StepType.PASS, "xmlcompose": StepType.PASS, "xmlparse": StepType.PASS,
    # control flow
    "if": StepType.CHOICE, "switch": StepType.CHOICE,
    "foreach": StepType.LOOP, "until": StepType.LOOP,
    "scope": StepType.SCOPE, "wait": StepType.WAIT, "response": StepType.RETURN,
}


@dataclass(frozen=True)
class ActionInfo:
    """One trigger or action of a definition."""

    name: str                          # the definition's own spelling
    native_type: str                   # e.g. "Http", "ApiConnection", "Foreach"
    step_type: StepType
    meter: Meter
    resource: str | None = None        # managed API name, function / workflow id, host, provider
    parent: str | None = None          # lower-cased name of the containing action, None at top level
    run_after: dict[str, tuple[str, ...]] = field(default_factory=dict)  # lower name -> statuses
    is_trigger: bool = False

    @property
    def is_loop(self) -> bool:
        return self.native_type.lower() in LOOP_TYPES

    @property
    def is_container(self) -> bool:
        return self.native_type.lower() in CONTAINER_TYPES


@dataclass
class Definition:
    """Index of a workflow definition by lower-cased trigger / action name."""

    actions: dict[str, ActionInfo]
    triggers: dict[str, ActionInfo]
    handlers: dict[str, list[tuple[str, tuple[str, ...]]]]
    """lower name -> [(lower name of an action that runs after it, runAfter statuses)]."""

    def get(self, name: str) -> ActionInfo | None:
        key = name.lower()
        return self.actions.get(key) or self.triggers.get(key)

    def loop_ancestors(self, name: str) -> list[str]:
        """Lower-cased names of the loops enclosing an action, outermost first."""
        out: list[str] = []
        info = self.actions.get(name.lower())
        while info is not None and info.parent is not None:
            parent = self.actions.get(info.parent)
            if parent is None:
                break
            if parent.is_loop:
                out.append(info.parent)
            info = parent
        out.reverse()
        return out

    def ancestors(self, name: str) -> list[str]:
        out: list[str] = []
        info = self.actions.get(name.lower())
        while info is not None and info.parent is not None:
            out.append(info.parent)
            info = self.actions.get(info.parent)
        return out


_CONN_EXPR = re.compile(r"\$connections'\)\['([^']+)'\]")
_SUFFIX = re.compile(r"_\d+$")


def managed_api_name(inputs: Any, connections: dict[str, str] | None = None) -> str | None:
    """The managed API an ApiConnection action calls ("office365", "sql", "sap", ...).

    Looked up, in order: the workflow's `$connections` parameter (connection key -> managed
    API id), the key itself without a numeric suffix (`office365_1` -> `office365`), Standard's
    `host.connection.referenceName`, and the legacy `host.api.runtimeUrl`.
    """
    if not isinstance(inputs, dict):
        return None
    host = inputs.get("host")
    if not isinstance(host, dict):
        return None
    connections = connections or {}
    conn = host.get("connection")
    key: str | None = None
    if isinstance(conn, dict):
        ref = conn.get("referenceName")
        name = conn.get("name")
        if isinstance(ref, str) and ref:
            key = ref
        elif isinstance(name, str):
            match = _CONN_EXPR.search(name)
            key = match.group(1) if match else None
    if key:
        lowered = key.lower()
        if lowered in connections:
            return connections[lowered]
        return _SUFFIX.sub("", lowered)
    api = host.get("api")
    if isinstance(api, dict) and isinstance(api.get("runtimeUrl"), str):
        tail = api["runtimeUrl"].rstrip("/").rsplit("/", 1)[-1]
        return tail.lower() or None
    return None


def _http_host(inputs: Any) -> str | None:
    """Only the host of a literal HTTP uri: never its path or query (which may hold a SAS sig)."""
    uri = inputs.get("uri") if isinstance(inputs, dict) else None
    if not isinstance(uri, str) or not uri.lower().startswith(("http://", "https://")) or "@" in uri:
        return None
    try:
        return urlsplit(uri).hostname
    except ValueError:
        return None


def _resource(native_lc: str, inputs: Any, connections: dict[str, str]) -> str | None:
    if native_lc in CONNECTOR_TYPES:
        return managed_api_name(inputs, connections)
    if not isinstance(inputs, dict):
        return None
    if native_lc == "serviceprovider":
        cfg = inputs.get("serviceProviderConfiguration") or {}
        provider = cfg.get("serviceProviderId") if isinstance(cfg, dict) else None
        return provider.rstrip("/").rsplit("/", 1)[-1].lower() if isinstance(provider, str) else None
    if native_lc == "function":
        fn = inputs.get("function") or {}
        return fn.get("id", "").lower() or None if isinstance(fn, dict) else None
    if native_lc == "workflow":
        host = inputs.get("host") or {}
        wf = host.get("workflow") if isinstance(host, dict) else None
        return wf.get("id", "").lower() or None if isinstance(wf, dict) else None
    if native_lc in ("http", "httpwebhook"):
        return _http_host(inputs)
    return None


def classify(native_type: str, inputs: Any, *, trigger: bool,
             connections: dict[str, str] | None = None) -> tuple[StepType, Meter, str | None]:
    """StepType, billing meter and resource of one trigger or action."""
    native_lc = (native_type or "").lower()
    resource = _resource(native_lc, inputs, connections or {})
    if native_lc in CONNECTOR_TYPES:
        meter = (Meter.AZURE_LOGIC_ENTERPRISE_CONNECTOR if resource in ENTERPRISE_CONNECTORS
                 else Meter.AZURE_LOGIC_STANDARD_CONNECTOR)
    else:
        meter = Meter.AZURE_LOGIC_BUILTIN_TRIGGER if trigger else Meter.AZURE_LOGIC_BUILTIN_ACTION
    if trigger:
        return StepType.TRIGGER, meter, resource
    if native_lc == "terminate":
        status = (inputs or {}).get("runStatus", "") if isinstance(inputs, dict) else ""
        step_type = StepType.SUCCEED if str(status).lower() == "succeeded" else StepType.FAIL
    else:
        step_type = _STEP_TYPES.get(native_lc, StepType.OTHER)
    return step_type, meter, resource


def _children(body: dict[str, Any]) -> list[dict[str, Any]]:
    """Nested action maps of a container: actions, else.actions, cases.*.actions, default.actions."""
    out = []
    if isinstance(body.get("actions"), dict):
        out.append(body["actions"])
    branches: list[Any] = [body.get("else")]
    cases = body.get("cases")
    if isinstance(cases, dict):
        branches.extend(cases.values())
    branches.append(body.get("default"))
    for branch in branches:
        if isinstance(branch, dict) and isinstance(branch.get("actions"), dict):
            out.append(branch["actions"])
    return out


def definition_object(definition: Any) -> dict[str, Any]:
    """A definition given as a dict or JSON text, as a dict; anything unreadable is empty."""
    return json_object(definition)


def parse_definition(definition: Any, connections: dict[str, str] | None = None) -> Definition:
    """Index a definition (dict or JSON text). Malformed parts are ignored, never raised."""
    definition = definition_object(definition)
    connections = {k.lower(): v.lower() for k, v in (connections or {}).items()}
    actions: dict[str, ActionInfo] = {}
    triggers: dict[str, ActionInfo] = {}
    handlers: dict[str, list[tuple[str, tuple[str, ...]]]] = {}

    for name, body in (definition.get("triggers") or {}).items():
        if not isinstance(body, dict):
            continue
        native = str(body.get("type") or "")
        step_type, meter, resource = classify(native, body.get("inputs"), trigger=True,
                                              connections=connections)
        triggers[name.lower()] = ActionInfo(name, native, step_type, meter, resource, is_trigger=True)

    stack: list[tuple[dict[str, Any], str | None]] = [(definition.get("actions") or {}, None)]
    while stack:
        level, parent = stack.pop()
        if not isinstance(level, dict):
            continue
        for name, body in level.items():
            if not isinstance(body, dict):
                continue
            native = str(body.get("type") or "")
            step_type, meter, resource = classify(native, body.get("inputs"), trigger=False,
                                                  connections=connections)
            run_after: dict[str, tuple[str, ...]] = {}
            raw_after = body.get("runAfter")
            if isinstance(raw_after, dict):
                for pred, statuses in raw_after.items():
                    st = tuple(str(s).lower() for s in statuses) if isinstance(statuses, list) else ("succeeded",)
                    run_after[pred.lower()] = st
                    handlers.setdefault(pred.lower(), []).append((name.lower(), st))
            lower = name.lower()
            actions[lower] = ActionInfo(name, native, step_type, meter, resource, parent, run_after)
            for child in _children(body):
                stack.append((child, lower))
    return Definition(actions, triggers, handlers)


def definition_problem(definition: Any) -> str | None:
    """Why a definition cannot be read whole (one line, for a warning), or None when it can.

    `parse_definition` skips what it cannot read; its actions are then metered
    `azure.logic.unclassified_action`, so the user must hear which workflow that happened to.
    """
    if isinstance(definition, str):
        definition, problem = json_or_problem(definition)
        if problem:
            return problem
    if not isinstance(definition, dict):
        return f"not a JSON object but {type(definition).__name__}"
    stack: list[tuple[str, Any]] = [("triggers", definition.get("triggers")), ("actions", definition.get("actions"))]
    while stack:
        where, level = stack.pop()
        if level is None:
            continue
        if not isinstance(level, dict):
            return f"`{where}` is not an object"
        for name, body in level.items():
            if not isinstance(body, dict):
                return f"{where} `{name}` is not an object"
            if where != "triggers":
                stack.extend((f"actions of `{name}`", child) for child in _children(body))
    return None


@functools.lru_cache(maxsize=256)
def cached_definition(definition_json: str, connections_json: str = "{}") -> Definition:
    """`parse_definition` memoised on the stored JSON text (assemble runs once per execution)."""
    connections = json_object(connections_json)      # none when unreadable, nested too deeply included
    return parse_definition(definition_json, connections)


# ---------------------------------------------------------------- the definition as a graph

_GRAPH_TYPES = {"if": "choice", "switch": "choice", "foreach": "loop", "until": "loop", "scope": "scope",
                "wait": "wait", "delay": "wait", "compose": "pass", "initializevariable": "pass",
                "setvariable": "pass", "terminate": "fail", "response": "return"}
"""Node type of an action by its lower-cased type; any other action is drawn as a task."""


def workflow_graph(doc: Any) -> Graph:
    """A definition (as a dict) drawn as nodes and edges: triggers start it, `runAfter` links
    actions (after a failure only: a catch edge), containers hold their nested actions."""
    if not isinstance(doc, dict):
        raise DefinitionError("a Logic Apps definition must be a JSON object")
    graph = Graph()
    triggers = doc.get("triggers") or {}
    for name in triggers:
        graph.add(name, "trigger")
        graph.starts.append(name)
    _draw_actions(graph, doc.get("actions") or {}, None, list(triggers))
    return graph


def _draw_actions(graph: Graph, actions: dict[str, Any], parent: str | None, entry: list[str]) -> None:
    for name, action in actions.items():
        if not isinstance(action, dict):
            continue
        native = str(action.get("type", "")).lower()
        graph.add(name, _GRAPH_TYPES.get(native, "task"), parent)
    for name, action in actions.items():
        if not isinstance(action, dict):
            continue
        run_after = action.get("runAfter") or {}
        if not run_after:
            for source in entry:
                graph.link(source, name, "branch" if parent else "next")
            if not entry:
                graph.starts.append(name)
        for source, statuses in run_after.items():
            words = {str(s).lower() for s in (statuses or ["Succeeded"])}
            kind = "catch" if words and "succeeded" not in words else "next"
            graph.link(source, name, kind)
        for inner in _children(action):
            _draw_actions(graph, inner, name, [name])
