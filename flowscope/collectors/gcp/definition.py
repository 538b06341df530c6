"""Parse Google Cloud Workflows source (YAML or JSON) into what billing and typing need.

A workflow source is either a list of steps (the `main` routine alone) or a mapping of
routine name -> ``{params, steps}``. Steps nest: ``switch`` conditions, ``for`` loops,
``parallel`` branches / parallel for, ``try`` / ``retry`` / ``except`` blocks and plain
``steps`` groups all carry inner step lists. Every named step of every routine is flattened
into one `StepDef` so a step entry (routine + step name) can be looked up directly.

Classification follows https://cloud.google.com/workflows/pricing:

- internal: requests to ``*.googleapis.com``, ``*.cloud.goog``, ``*.appspot.com``, Cloud Run
  (``*.run.app``) and Cloud Run functions / Cloud Functions (``*.cloudfunctions.net``) hosts,
  assignments, conditions, calls to subworkflows and to built-in functions (standard library
  and ``googleapis.*`` connectors, ``sys.sleep``).
- external: HTTP requests to any other host (custom domains in front of Google Cloud
  included) and steps waiting for a callback (``events.await_callback``).

Calls whose target is unknown follow ONE rule (`call_is_external`): they are billed external,
the dearer meter, so spend is an upper bound and never an undercount. That covers an ``http.*``
call whose URL is an expression with no literal ``https://host`` in it, and every call step of
an execution whose workflow source is not known (not imported yet, or unparsable: the import
then warns, naming the workflow). Connector calls (``STEP_CONNECTOR_CALL``, always
``googleapis.*``) and subworkflow calls (``STEP_SUBWORKFLOW_CALL``) are internal by their step
type alone. A later assemble with a readable source reclassifies every call by its target.

The same source is what the dashboard's graph draws (`workflow_graph`): steps of a subworkflow
are named ``<routine>/<step>`` there, as step rows name them, so their metrics land on them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

import yaml

from flowscope import bounded_yaml
from flowscope.collectors.graph import DefinitionError, Graph
from flowscope.collectors.native import cleaned

INTERNAL_HOST_SUFFIXES = (
    "googleapis.com",
    "cloud.goog",
    "appspot.com",
    "run.app",
    "cloudfunctions.net",
)
EXTERNAL_CALLS = frozenset({"events.await_callback"})
WAIT_CALLS = frozenset({"sys.sleep", "sys.sleep_until", "events.await_callback"})
UNRESOLVED_HOST = "?"
_URL_RE = re.compile(r"https?://([A-Za-z0-9.\-]+)", re.IGNORECASE)


@dataclass(frozen=True)
class StepDef:
    """One named step of a workflow source, as far as typing and billing care."""

    routine: str
    name: str
    kind: str                 # assign | call | switch | for | parallel | try | return | raise | steps | next | other
    call: str | None = None   # call target (`http.get`, `googleapis.bigquery.v2.jobs.query`, a subworkflow, ...)
    resource: str | None = None   # what the model stores in steps.resource
    external: bool = False    # billed as an external step
    assignments: int = 0      # number of variable assignments (billing counts each one)
    has_retry: bool = False
    has_except: bool = False


@dataclass(frozen=True)
class Definition:
    routines: tuple[str, ...]
    steps: dict[tuple[str, str], StepDef]   # (routine, step name) -> StepDef

    def find(self, routine: str | None, name: str) -> StepDef | None:
        if routine is not None:
            found = self.steps.get((routine, name))
            if found is not None:
                return found
        for r in self.routines:                    # routine unknown (call logs): first match
            found = self.steps.get((r, name))
            if found is not None:
                return found
        return None


def is_google_host(host: str | None) -> bool:
    if not host or host == UNRESOLVED_HOST:
        return False
    host = host.lower().rstrip(".")
    return any(host == s or host.endswith("." + s) for s in INTERNAL_HOST_SUFFIXES)


def url_host(url: Any) -> str | None:
    """Host of a literal URL, or of the first literal ``https://host`` inside an expression."""
    if not isinstance(url, str):
        return None
    text = url.strip()
    if not text.startswith("${"):
        try:
            host = urlsplit(text).hostname
        except ValueError:
            host = None
        if host:
            return host
    match = _URL_RE.search(text)
    return match.group(1).lower() if match else None


def call_resource(call: str, url: Any = None) -> str:
    """`steps.resource` for a call: the target, plus ``scheme://host`` for HTTP requests."""
    if call.startswith("http.") and call not in ("http.default_retry_predicate",):
        host = url_host(url) or UNRESOLVED_HOST
        return f"{call} https://{host}" if host != UNRESOLVED_HOST else f"{call} {UNRESOLVED_HOST}"
    return call


@lru_cache(maxsize=4096)
def resource_is_external(resource: str | None) -> bool:
    """Whether a step with this resource is billed external (see module docstring)."""
    if not resource:
        return False
    target, _, rest = resource.partition(" ")
    if target in EXTERNAL_CALLS:
        return True
    if target.startswith("http."):
        host = rest.split("://", 1)[-1] if rest else UNRESOLVED_HOST
        return not is_google_host(host)
    return False


UNKNOWN_RESOURCE = "unknown"
"""`steps.resource` of a call whose target is not known (no readable definition, no call log)."""
INTERNAL_CALL_TYPES = frozenset({"STEP_CONNECTOR_CALL", "STEP_SUBWORKFLOW_CALL"})
"""Step entry types that are Google-internal calls whatever their target."""


def call_is_external(resource: str | None, native_type: str | None) -> bool:
    """The meter rule of the module docstring: unknown targets are external unless the step
    type alone says internal; known targets by `resource_is_external`."""
    if resource == UNKNOWN_RESOURCE:
        return native_type not in INTERNAL_CALL_TYPES
    return resource_is_external(resource)


@lru_cache(maxsize=4096)
def resource_is_wait(resource: str | None) -> bool:
    if not resource:
        return False
    return resource.partition(" ")[0] in WAIT_CALLS


# ---------------------------------------------------------------- parsing

def yaml_problem(exc: yaml.YAMLError) -> str:
    """What the YAML reader found wrong and where (line, column), without the snippet of the source its
    message quotes: a line of the source holds what its author typed there, credentials included, and the
    reader cuts that snippet to its width itself (a URL's `user:password@` kept without its scheme, which
    no rule matches)."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return type(exc).__name__
    mark = exc.problem_mark or exc.context_mark
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    said = ", ".join(str(part) for part in (exc.context, exc.problem) if part)
    return (said or type(exc).__name__) + where


@lru_cache(maxsize=256)
def parse_definition(source: str) -> Definition:
    """Parse workflow source (YAML, or JSON which YAML reads too). Cached: sources repeat."""
    try:
        doc = bounded_yaml.safe_load(source)
    except yaml.YAMLError as exc:
        try:
            doc = json.loads(source)
        except ValueError:
            raise DefinitionError(f"not YAML or JSON: {yaml_problem(exc)}") from None
    routines: dict[str, list[Any]] = {}
    if isinstance(doc, list):
        routines["main"] = doc
    elif isinstance(doc, dict):
        for rname, body in doc.items():
            if isinstance(body, dict) and isinstance(body.get("steps"), list):
                routines[str(rname)] = body["steps"]
        if not routines:
            raise DefinitionError("no routine with a `steps` list")
    else:
        raise DefinitionError("source is neither a list of steps nor a mapping of routines")
    steps: dict[tuple[str, str], StepDef] = {}
    for rname, body in routines.items():
        _walk(rname, body, steps, frozenset(routines))
    return Definition(tuple(routines), steps)


def definition_problem(source: str) -> str | None:
    """Why a workflow source cannot be used (one line, for a warning, credentials out, then cut), or None
    when it parses."""
    try:
        parse_definition(source)
    except (DefinitionError, RecursionError, ValueError, TypeError) as exc:
        return cleaned(" ".join(str(exc).split()) or type(exc).__name__, 300)
    return None


def _walk(routine: str, items: Any, out: dict[tuple[str, str], StepDef], subworkflows: frozenset[str]) -> None:
    if not isinstance(items, list):
        return
    for item in items:
        if not isinstance(item, dict) or len(item) != 1:
            continue
        (name, body), = item.items()
        if not isinstance(body, dict):
            continue
        out.setdefault((routine, str(name)), _step_def(routine, str(name), body, subworkflows))
        _walk_children(routine, body, out, subworkflows)


def _walk_children(routine: str, body: dict[str, Any], out: dict, subworkflows: frozenset[str]) -> None:
    _walk(routine, body.get("steps"), out, subworkflows)
    for cond in body.get("switch") or []:
        if isinstance(cond, dict):
            _walk(routine, cond.get("steps"), out, subworkflows)
    loop = body.get("for")
    if isinstance(loop, dict):
        _walk(routine, loop.get("steps"), out, subworkflows)
    par = body.get("parallel")
    if isinstance(par, dict):
        if isinstance(par.get("for"), dict):
            _walk(routine, par["for"].get("steps"), out, subworkflows)
        branches = par.get("branches")
        if isinstance(branches, list):          # branches are named steps with their own `steps`
            _walk(routine, branches, out, subworkflows)
    tried = body.get("try")
    if isinstance(tried, dict):
        _walk_children(routine, tried, out, subworkflows)
    exc = body.get("except")
    if isinstance(exc, dict):
        _walk(routine, exc.get("steps"), out, subworkflows)


def _step_def(routine: str, name: str, body: dict[str, Any], subworkflows: frozenset[str]) -> StepDef:
    has_retry = "retry" in body
    has_except = "except" in body
    tried = body.get("try")
    inner: dict[str, Any] = tried if isinstance(tried, dict) else body
    kind = "other"
    call = resource = None
    external = False
    assignments = 0
    if "call" in inner:
        kind = "call"
        call = str(inner["call"])
        given = inner.get("args")
        args: dict[str, Any] = given if isinstance(given, dict) else {}
        resource = call_resource(call, args.get("url")) if call not in subworkflows else call
        external = resource_is_external(resource)
    elif "assign" in inner:
        kind = "assign"
        assignments = len(inner["assign"]) if isinstance(inner["assign"], list) else 1
    elif "switch" in inner:
        kind = "switch"
    elif "for" in inner:
        kind = "for"
    elif "parallel" in inner:
        kind = "parallel"
    elif "return" in inner:
        kind = "return"
    elif "raise" in inner:
        kind = "raise"
    elif "steps" in inner:
        kind = "steps" if inner is body else "try"
    elif "next" in inner:
        kind = "next"
    if inner is not body and kind == "other":
        kind = "try"
    return StepDef(routine, name, kind, call, resource, external, assignments, has_retry, has_except)


# ---------------------------------------------------------------- the source as a graph

_JUMPS = ("end", "continue", "break")
"""`next` values that leave a block rather than name a step."""


def workflow_graph(doc: Any) -> Graph:
    """A parsed source (list of steps, or mapping of routines) drawn as nodes and edges: steps
    follow each other unless they jump (`next`, switch conditions) or end (`return`, `raise`);
    blocks hold their inner steps."""
    graph = Graph()
    if isinstance(doc, list):
        routines = {"main": {"steps": doc}}
    elif isinstance(doc, dict):
        routines = doc
    else:
        raise DefinitionError("a Workflows source must be a list of steps or a mapping of routines")
    for routine, body in routines.items():
        steps = body.get("steps") if isinstance(body, dict) else body
        if not isinstance(steps, list):
            continue
        first = _draw_steps(graph, steps, None, "" if routine == "main" else f"{routine}/")
        if routine == "main" and first:
            graph.starts.append(first)
    if not graph.nodes:
        raise DefinitionError("no steps found in the Workflows source")
    return graph


def _graph_kind(body: dict[str, Any]) -> str:
    if "call" in body:
        return "wait" if str(body["call"]).startswith(("sys.sleep", "events.await")) else "task"
    for key, kind in (("switch", "choice"), ("for", "loop"), ("parallel", "parallel"), ("try", "scope"),
                      ("return", "return"), ("raise", "fail"), ("assign", "pass"), ("steps", "scope")):
        if key in body:
            return kind
    return "other"


def _draw_steps(graph: Graph, steps: list[Any], parent: str | None, prefix: str) -> str | None:
    """Add a list of steps (named `prefix` + step name); returns the first step's name."""
    named: list[tuple[str, dict[str, Any]]] = []
    for item in steps:
        if isinstance(item, dict) and len(item) == 1:
            name, body = next(iter(item.items()))
            named.append((prefix + str(name), body if isinstance(body, dict) else {}))
    for name, body in named:
        graph.add(name, _graph_kind(body), parent)
    for index, (name, body) in enumerate(named):
        following = named[index + 1][0] if index + 1 < len(named) else None
        _draw_next(graph, name, body, following, prefix)
        _draw_switch(graph, name, body, prefix)
        _draw_blocks(graph, name, body, prefix)
    return named[0][0] if named else None


def _draw_next(graph: Graph, name: str, body: dict[str, Any], following: str | None, prefix: str) -> None:
    terminal = "return" in body or "raise" in body
    explicit = body.get("next")
    if explicit and explicit not in _JUMPS:
        graph.link(name, prefix + str(explicit))
    elif not terminal and following and explicit not in ("end",):
        graph.link(name, following)


def _draw_switch(graph: Graph, name: str, body: dict[str, Any], prefix: str) -> None:
    switch = body.get("switch")
    if not isinstance(switch, list):
        return
    for cond in switch:
        if not isinstance(cond, dict):
            continue
        if cond.get("next") and cond["next"] not in _JUMPS:
            graph.link(name, prefix + str(cond["next"]), "choice")
        if isinstance(cond.get("steps"), list):
            graph.link(name, _draw_steps(graph, cond["steps"], name, prefix), "branch")


def _draw_blocks(graph: Graph, name: str, body: dict[str, Any], prefix: str) -> None:
    """Inner steps of a block: parallel branches, then `except` (a catch edge), then the steps of
    `steps`, `for`, parallel `for` and `try`."""
    inner: list[list[Any]] = []
    if isinstance(body.get("steps"), list):
        inner.append(body["steps"])
    loop = body.get("for")
    if isinstance(loop, dict) and isinstance(loop.get("steps"), list):
        inner.append(loop["steps"])
    par = body.get("parallel")
    if isinstance(par, dict):
        _draw_branches(graph, name, par, prefix)
        if isinstance(par.get("for"), dict) and isinstance(par["for"].get("steps"), list):
            inner.append(par["for"]["steps"])
    tried = body.get("try")
    if isinstance(tried, dict) and isinstance(tried.get("steps"), list):
        inner.append(tried["steps"])
    exc = body.get("except")
    if isinstance(exc, dict) and isinstance(exc.get("steps"), list):
        graph.link(name, _draw_steps(graph, exc["steps"], name, prefix), "catch")
    for steps_list in inner:
        graph.link(name, _draw_steps(graph, steps_list, name, prefix), "branch")


def _draw_branches(graph: Graph, name: str, par: dict[str, Any], prefix: str) -> None:
    for branch in par.get("branches") or []:
        if not isinstance(branch, dict):
            continue
        for bname, bbody in branch.items():
            if isinstance(bbody, dict) and isinstance(bbody.get("steps"), list):
                branch_name = prefix + str(bname)
                graph.add(branch_name, "scope", name)
                graph.link(name, branch_name, "branch")
                graph.link(branch_name, _draw_steps(graph, bbody["steps"], branch_name, prefix), "branch")
