"""An Azure workflow definition that cannot be read is reported, naming the workflow and the
error; its actions stay `azure.logic.unclassified_action` (docs/model.md) until a readable one."""

from __future__ import annotations

import datetime as dt

import pytest

from flowscope.collectors.azure import transform as t
from flowscope.collectors.native import ImportContext
from flowscope.model import UTC

WF_ID = ("/subscriptions/34adfa4f-cedf-4dc0-ba29-b6d1a69ab345/resourceGroups/test-resource-group/"
         "providers/Microsoft.Logic/workflows/Order-Router")
CTX = ImportContext(source_name="workflow.json", seen_at=dt.datetime(2026, 11, 2, tzinfo=UTC))


def _workflow(definition) -> dict:
    return {"id": WF_ID, "name": "Order-Router", "type": "Microsoft.Logic/workflows",
            "properties": {"version": "1", "definition": definition}}


@pytest.mark.parametrize("definition, words", [
    ('{"actions": {"HTTP": ', "not JSON"),                           # JSON text, truncated
    ({"actions": ["HTTP"], "triggers": {}}, "actions"),              # actions not an object
    ({"actions": {"HTTP": "Http"}, "triggers": {}}, "HTTP"),         # an action not an object
])
def test_an_unreadable_definition_is_reported_naming_the_workflow(definition, words):
    batch = t.transform(_workflow(definition), CTX)
    assert len(batch.workflows) == 1 and not batch.skips
    (warning,) = batch.warnings
    assert "Order-Router" in warning and words in warning and "unclassified" in warning


def test_a_definition_given_as_json_text_is_read():
    batch = t.transform(_workflow('{"actions": {"HTTP": {"type": "Http"}}, "triggers": {}}'), CTX)
    assert batch.warnings == [] and '"Http"' in batch.workflows[0]["definition"]


def test_a_readable_definition_gives_no_warning():
    assert t.transform(_workflow({"actions": {"HTTP": {"type": "Http"}}, "triggers": {}}), CTX).warnings == []


def _nested(depth: int) -> dict:
    inputs: object = 1
    for _ in range(depth):
        inputs = {"a": inputs}
    return {"triggers": {}, "actions": {"Compose": {"type": "Compose", "inputs": inputs}}}


@pytest.mark.parametrize("as_text", [False, True])
def test_a_definition_nested_thousands_deep_is_reported_not_a_recursion_error(as_text):
    """A definition 3,000 levels deep raised RecursionError out of the transform: the import stopped
    ("nested too deeply" for the whole file) and a live sync lost the scope. The workflow is kept without
    its definition, said as any unreadable definition is, and the record beside it is read."""
    deep = _workflow(_nested(3000))
    if as_text:
        deep["properties"]["definition"] = ('{"triggers": {}, "actions": {"C": {"type": "Compose", "inputs": '
                                            + '{"a":' * 3000 + "1" + "}" * 3000 + "}}}")
    other = {**_workflow({"triggers": {}, "actions": {}}), "id": WF_ID.replace("Order-Router", "Other"),
             "name": "Other"}
    batch = t.transform({"value": [deep, other]}, CTX)
    assert not batch.skips and [w["name"] for w in batch.workflows] == ["Order-Router", "Other"]
    assert batch.workflows[0]["definition"] is None and batch.workflows[0]["revision"] == "1"
    (warning,) = batch.warnings
    assert "Order-Router" in warning and "nested too deeply" in warning


def test_an_exported_listing_with_one_definition_too_deep_to_read_imports_the_others(tmp_path):
    """A workflows listing file (`az logic workflow list` output) in which one definition nests 3,000 levels
    deep failed as a whole file ("nested too deeply to read"): the other workflows were not imported. It is
    read as the live collector reads such a page: that workflow kept without its definition and said, the
    others imported."""
    import json

    from flowscope.collectors.importer import import_files
    from flowscope.store import Store

    other = {**_workflow({"triggers": {}, "actions": {}}), "id": WF_ID.replace("Order-Router", "Other"),
             "name": "Other"}
    text = json.dumps({"value": [_workflow("DEEP"), other]}).replace(
        '"definition": "DEEP"', '"definition": ' + '{"a":' * 3000 + "1" + "}" * 3000)
    path = tmp_path / "workflows.json"
    path.write_text(text)
    store = Store(tmp_path / "s")
    result = import_files(store, [path])
    rows = {r["name"]: r for r in store.read_rows("workflows")}
    assert sorted(rows) == ["Order-Router", "Other"] and rows["Order-Router"]["definition"] is None
    assert [w for w in result.warnings if "Order-Router" in w and "nested too deeply" in w]


def test_stored_attributes_nested_too_deeply_leave_the_definition_readable():
    """A stored workflow's `attributes` nested 3,000 deep raised RecursionError out of the assembly (its
    `connections` are read there); it reads as attributes that say nothing, the definition still indexed."""
    from flowscope.collectors.azure.transform.assemble import _definition_of
    from flowscope.model import C

    deep = '{"a":' * 3000 + "1" + "}" * 3000
    definition = _definition_of({C.definition: '{"triggers": {}, "actions": {"H": {"type": "Http"}}}',
                                 C.attributes: deep})
    assert definition is not None and "h" in definition.actions


def test_a_definition_over_the_models_limit_is_not_stored_and_said():
    """A definition over the model's 2,000,000 characters was dropped without a word: the workflow's actions
    then read as unclassified with no reason given. It is still not stored, and a warning says why."""
    from flowscope.model import MAX_DEFINITION_CHARS

    definition = {"triggers": {}, "actions": {"C": {"type": "Compose", "inputs": "x" * MAX_DEFINITION_CHARS}}}
    batch = t.transform(_workflow(definition), CTX)
    assert batch.workflows[0]["definition"] is None and not batch.skips
    (warning,) = batch.warnings
    assert "workflow.json" in warning and "Order-Router" in warning and "not stored" in warning, warning
    assert f"{MAX_DEFINITION_CHARS:,}" in warning
