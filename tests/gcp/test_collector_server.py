"""The local GCP server answers in the shapes of Google's discovery documents (shared/samples/gcp).

The collector tests are only as good as the server they run against: every response the
collector reads is checked here against the official schema of its method (unknown fields,
types, enums, timestamps, durations), with a checker that is itself shown to catch bad shapes.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from flowscope.simulate.base import SimSpec
from flowscope.simulate.gcp import PROJECT, simulate
from tests.gcp.gcp_server import TOKEN, GcpServer

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples" / "gcp"
if not SAMPLES.is_dir():  # a checkout elsewhere than beside shared/
    SAMPLES = Path("/work/shared/samples/gcp")
UTC = dt.timezone.utc
SPEC = SimSpec(dt.datetime(2026, 11, 1, tzinfo=UTC), dt.datetime(2026, 11, 2, tzinfo=UTC), 30, seed=9)
_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?(Z|[+-]\d\d:\d\d)$")


def discovery(name: str) -> dict[str, Any]:
    return json.loads((SAMPLES / f"{name}.v1.json").read_text())


def problems(doc: dict[str, Any], schema: dict[str, Any], value: Any, where: str = "$") -> list[str]:
    """Where `value` departs from a discovery-document schema (empty: it fits)."""
    if "$ref" in schema:
        return problems(doc, doc["schemas"][schema["$ref"]], value, where)
    kind = schema.get("type")
    if kind == "any":
        return []
    if kind == "object":
        return _object_problems(doc, schema, value, where)
    if kind == "array":
        if not isinstance(value, list):
            return [f"{where}: not an array"]
        return [p for i, item in enumerate(value) for p in problems(doc, schema["items"], item, f"{where}[{i}]")]
    if kind == "integer":
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{where}: not an integer"]
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{where}: not a boolean"]
    if kind == "string":
        return _string_problems(schema, value, where)
    return [f"{where}: schema type {kind!r} unknown to the checker"]


def _object_problems(doc: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> list[str]:
    if not isinstance(value, dict):
        return [f"{where}: not an object"]
    out: list[str] = []
    props, extra = schema.get("properties", {}), schema.get("additionalProperties")
    for key, item in value.items():
        if key in props:
            out += problems(doc, props[key], item, f"{where}.{key}")
        elif extra is not None:
            out += problems(doc, extra, item, f"{where}.{key}")
        else:
            out.append(f"{where}.{key}: not in schema {schema.get('id', '')}")
    return out


_STRING_FORMATS = {
    "google-datetime": _TIME,
    "google-duration": re.compile(r"^-?\d+(\.\d{1,9})?s$"),
    "int64": re.compile(r"^-?\d+$"),
}


def _string_problems(schema: dict[str, Any], value: Any, where: str) -> list[str]:
    if not isinstance(value, str):
        return [f"{where}: not a string"]
    out = []
    if "enum" in schema and value not in schema["enum"]:
        out.append(f"{where}: {value!r} not in enum")
    pattern = _STRING_FORMATS.get(schema.get("format", ""))
    if pattern is not None and not pattern.match(value):
        out.append(f"{where}: {value!r} is not {schema['format']}")
    return out


@pytest.fixture(scope="module")
def server() -> Iterator[GcpServer]:
    srv = GcpServer()
    srv.load(simulate(SPEC).documents)
    yield srv
    srv.close()


def get(server: GcpServer, path: str, **params: Any) -> tuple[int, Any]:
    r = requests.get(f"{server.endpoint}/{path}", params=params, headers={"Authorization": f"Bearer {TOKEN}"},
                     timeout=10)
    return r.status_code, r.json()


def response_schema(doc: dict[str, Any], method_id: str) -> dict[str, Any]:
    def walk(resources: dict[str, Any]) -> Iterator[dict[str, Any]]:
        for res in resources.values():
            yield from res.get("methods", {}).values()
            yield from walk(res.get("resources", {}))
    [method] = [m for m in walk(doc["resources"]) if m["id"] == method_id]
    return method["response"]


def test_the_checker_catches_bad_shapes():
    doc = discovery("workflowexecutions")
    schema = {"$ref": "Execution"}
    good = {"name": "projects/p/locations/l/workflows/w/executions/e", "state": "SUCCEEDED",
            "startTime": "2026-11-01T10:00:00.123456789Z", "duration": "1.5s"}
    assert problems(doc, schema, good) == []
    assert problems(doc, schema, {**good, "status": "ok"})          # an object expected
    assert problems(doc, schema, {**good, "state": "DONE"})         # not in the enum
    assert problems(doc, schema, {**good, "startTime": "yesterday"})
    assert problems(doc, schema, {**good, "duration": "1500ms"})
    assert problems(doc, schema, {**good, "surprise": 1})           # not in the schema


def test_workflows_api_responses_fit_the_discovery_document(server):
    doc = discovery("workflows")
    status, locations = get(server, f"v1/projects/{PROJECT}/locations")
    assert status == 200 and locations["locations"]
    assert problems(doc, response_schema(doc, "workflows.projects.locations.list"), locations) == []
    status, listed = get(server, f"v1/projects/{PROJECT}/locations/us-central1/workflows", pageSize=2)
    assert status == 200 and len(listed["workflows"]) == 2 and listed["nextPageToken"]
    assert problems(doc, response_schema(doc, "workflows.projects.locations.workflows.list"), listed) == []
    name = listed["workflows"][0]["name"]
    status, one = get(server, f"v1/{name}", revisionId=listed["workflows"][0]["revisionId"])
    assert status == 200 and one["sourceContents"]
    assert problems(doc, response_schema(doc, "workflows.projects.locations.workflows.get"), one) == []


def test_executions_api_responses_fit_the_discovery_document(server):
    doc = discovery("workflowexecutions")
    wf = f"projects/{PROJECT}/locations/us-central1/workflows/status-checker"
    list_schema = response_schema(doc, "workflowexecutions.projects.locations.workflows.executions.list")
    for view in ("BASIC", "FULL"):
        status, page = get(server, f"v1/{wf}/executions", view=view, pageSize=3)
        assert status == 200 and len(page["executions"]) == 3 and page["nextPageToken"]
        assert problems(doc, list_schema, page) == []
    assert set(page["executions"][0]) > {"name", "state", "argument"}             # FULL
    status, basic = get(server, f"v1/{wf}/executions", view="BASIC")
    assert all(set(e) <= {"name", "startTime", "endTime", "duration", "state", "workflowRevisionId"}
               for e in basic["executions"])
    starts = [e["startTime"] for e in basic["executions"]]
    status, later = get(server, f"v1/{wf}/executions", filter=f'startTime>="{starts[len(starts) // 2]}"')
    assert 0 < len(later["executions"]) < len(starts)
    name = basic["executions"][0]["name"]
    status, one = get(server, f"v1/{name}", view="FULL")
    assert problems(doc, response_schema(doc, "workflowexecutions.projects.locations.workflows.executions.get"),
                    one) == []
    status, entries = get(server, f"v1/{name}/stepEntries", pageSize=4)
    assert status == 200 and len(entries["stepEntries"]) == 4 and entries["nextPageToken"]
    schema = response_schema(doc, "workflowexecutions.projects.locations.workflows.executions.stepEntries.list")
    assert problems(doc, schema, entries) == []


def test_errors_use_googles_envelope(server):
    status, body = get(server, f"v1/projects/{PROJECT}/locations/us-central1/workflows/nope/executions")
    assert status == 404 and body["error"]["status"] == "NOT_FOUND" and body["error"]["code"] == 404
    r = requests.get(f"{server.endpoint}/v1/projects/{PROJECT}/locations", timeout=10)
    assert r.status_code == 401 and r.json()["error"]["status"] == "UNAUTHENTICATED"
