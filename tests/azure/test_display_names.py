"""Azure names keep their original case for display, while ids stay lower-cased keys.

ARM ids compare case-insensitively, so flowscope keys rows by lower-cased ids; but people search
the portal by the name as written. The run of shared/samples/azure/WorkflowRuns_Get.json is
named `08586676746934337772206998657CU22`; its workflow is renamed `Test-Workflow` here so the
workflow name carries upper-case letters too.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from flowscope.collectors.importer import import_files
from flowscope.model import C
from flowscope.store import Store

SAMPLES = Path(__file__).resolve().parents[2].parent / "shared" / "samples" / "azure"
if not SAMPLES.exists():
    SAMPLES = Path("/work/shared/samples/azure")
RUN_NAME = "08586676746934337772206998657CU22"
WORKFLOW_NAME = "Test-Workflow"


def _run() -> dict[str, Any]:
    body = json.loads((SAMPLES / "WorkflowRuns_Get.json").read_text())["responses"]["200"]["body"]
    body["id"] = body["id"].replace("/workflows/test-workflow/", f"/workflows/{WORKFLOW_NAME}/")
    assert RUN_NAME in body["id"] and body["name"] == RUN_NAME
    return body


def _lower_cased() -> dict[str, Any]:
    """The same run as another tool exports it: id and name lower-cased."""
    run = copy.deepcopy(_run())
    run["id"], run["name"] = run["id"].lower(), run["name"].lower()
    return run


def _nameless() -> dict[str, Any]:
    run = copy.deepcopy(_run())
    del run["name"]
    return run


def _write(folder: Path, name: str, doc: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


ORDERS = {
    "original first": lambda orig, other: [[orig], [other]],
    "original last": lambda orig, other: [[other], [orig]],
    "one import": lambda orig, other: [[orig, other]],
    "one import, reversed": lambda orig, other: [[other, orig]],
}


@pytest.mark.parametrize("order", list(ORDERS))
def test_run_and_workflow_names_keep_their_case_and_a_recased_run_is_not_a_second_run(tmp_path, order):
    orig = _write(tmp_path / "files", "original", _run())
    other = _write(tmp_path / "files", "lower", _lower_cased())
    store = Store(tmp_path / "store")
    for paths in ORDERS[order](orig, other):
        import_files(store, paths)
    rows = store.read_rows("executions")
    assert len(rows) == 1, [r[C.execution_id] for r in rows]
    row = rows[0]
    assert row[C.execution_id] == row[C.execution_id].lower()        # the key stays normalised
    assert row[C.name] == RUN_NAME
    assert row[C.workflow_name] == WORKFLOW_NAME


def test_a_run_without_a_name_field_takes_its_name_from_the_id_as_written(tmp_path):
    store = Store(tmp_path / "store")
    import_files(store, [_write(tmp_path, "nameless", _nameless())])
    row = store.read_rows("executions")[0]
    assert row[C.name] == RUN_NAME
    assert row[C.workflow_name] == WORKFLOW_NAME


def test_a_workflow_reread_under_a_lower_cased_id_keeps_its_name(tmp_path):
    store = Store(tmp_path / "store")
    original = {"id": f"/subscriptions/34adfa4f-cedf-4dc0-ba29-b6d1a69ab345/resourceGroups/test-resource-group/"
                      f"providers/Microsoft.Logic/workflows/{WORKFLOW_NAME}",
                "name": WORKFLOW_NAME, "type": "Microsoft.Logic/workflows", "location": "westeurope",
                "properties": {"version": "08586676754160363885", "definition": {"actions": {}, "triggers": {}}}}
    recased = copy.deepcopy(original)
    recased["id"], recased["name"] = original["id"].lower(), original["name"].lower()
    import_files(store, [_write(tmp_path, "workflow", original)])
    import_files(store, [_write(tmp_path, "workflow-lower", recased)])
    assert [r[C.name] for r in store.read_rows("workflows")] == [WORKFLOW_NAME]
