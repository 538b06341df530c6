"""Reading an ARM page in which a workflow's definition nests deeper than Python's JSON reader goes."""

from __future__ import annotations

import json

import pytest

from flowscope.collectors.deep_json import definition_spans, loads_keeping_deep_definitions

DEEP = '{"a":' * 3000 + "1" + "}" * 3000


def _page(*definitions: str) -> str:
    items = [f'{{"id": "w{i}", "note": "say \\"definition\\": {{[", "properties": {{"definition" : {d}, '
             f'"parameters": {{"definition": "text"}}}}}}' for i, d in enumerate(definitions)]
    return '{"value": [' + ", ".join(items) + '], "nextLink": "https://x/?a=1"}'


def test_a_page_without_deep_definitions_reads_as_json_does():
    text = _page('{"actions": {"A": {"type": "Http", "definition": {"x": [1]}}}}', '[1, {"b": "}"}]', '{}')
    assert loads_keeping_deep_definitions(text) == json.loads(text)
    assert len(definition_spans(text)) == 3               # outermost only; a string naming one is no key


def test_only_the_deep_definition_is_kept_as_its_text():
    text = _page('{"actions": {}}', DEEP, '{"triggers": {}}')
    with pytest.raises(RecursionError):
        json.loads(text)
    doc = loads_keeping_deep_definitions(text)
    definitions = [item["properties"]["definition"] for item in doc["value"]]
    assert definitions == [{"actions": {}}, DEEP, {"triggers": {}}]
    assert doc["value"][1]["note"] == 'say "definition": {[' and doc["nextLink"] == "https://x/?a=1"


def test_too_deep_outside_a_definition_is_still_a_recursion_error():
    with pytest.raises(RecursionError):
        loads_keeping_deep_definitions('{"value": [{"tags": ' + DEEP + ', "properties": {"definition": {}}}]}')


DEEP_LIST = "[" * 100_000 + "]" * 100_000


def test_a_retry_history_nested_too_deeply_is_read_as_unreadable_text_is():
    """A runtime log row's `RetryHistory` is JSON text; one nested thousands deep raised RecursionError out
    of the whole slice (only ValueError was caught). It reads as text that is no JSON does: no tries."""
    from flowscope.collectors.azure.transform.runtime_log import records_from_rows

    base = {"ResourceId": "/subscriptions/s/resourcegroups/rg/providers/microsoft.logic/workflows/wf",
            "WorkflowName": "wf", "RunId": "r1", "ActionName": "Call", "Status": "Succeeded",
            "OperationName": "Microsoft.Logic/workflows/workflowActionCompleted",
            "StartTime": "2026-11-20T10:00:00Z", "EndTime": "2026-11-20T10:00:01Z"}
    deep, broken = (records_from_rows([{**base, "RetryHistory": text}]) for text in (DEEP_LIST, "[not json"))
    assert deep == broken and "retryHistory" not in deep[0]["properties"]


def test_a_logic_apps_definition_or_connections_nested_too_deeply_is_said_not_raised():
    """`definition_problem` named bad JSON but let RecursionError out for a definition text nested thousands
    deep (its one caller caught it; any other would crash); it is named as AWS names it. The connections a
    definition is read with fall back to none, as for text that is no JSON."""
    from flowscope.collectors.azure.definition import cached_definition, definition_problem

    assert definition_problem(DEEP_LIST) == "nested too deeply to read"
    definition = '{"actions": {"A": {"type": "ApiConnection", "inputs": {}}}}'
    assert cached_definition(definition, DEEP_LIST) == cached_definition(definition, "not json")
