"""Request histories of a visit inside a loop, imported from files (`az rest` of `{repetition}/requestHistories`).

Such a record names its action and its repetition (`.../actions/testAction/repetitions/000001/requestHistories/...`)
but not the iteration: only the repetition's own record carries `repetitionIndexes` (the live collector copies
them over). Imported, it was keyed to the action alone and waited in `attempts` as attempt 0 until the action's
aggregate record arrived, which then dropped it without a word (or, with no repetitions known, it gave the
aggregate's try its start): the visit it belongs to never got its final try's start, which a sync gives. Now the
repetition's record in the same import names its iteration; without it, the request is a skip with its line.

Built from the official REST examples (WorkflowRunActionRepetitions_List, ..ScopeRepetitions_List,
..RequestHistories_List) through `tests.azure.arm_server.sample_corpus`.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest

from flowscope.collectors.importer import NothingImportedError, import_files
from flowscope.model import EXECUTION_TABLES, C
from flowscope.store import Store
from tests.azure.arm_server import sample_body, sample_corpus
from tests.core.helpers import table_rows

UTC = dt.timezone.utc
FLOW = ("/subscriptions/34adfa4f-cedf-4dc0-ba29-b6d1a69ab345/resourcegroups/testresourcegroup/providers/"
        "microsoft.logic/workflows/testflow")
RUN = f"{FLOW}/runs/08586776228332053161046300351"
RETRY = "2018-04-18T17:05:57.0929911Z"        # repetition 000001's failed first try (its retryHistory)
FINAL = "2018-04-18T17:05:57.0990000Z"        # the request of its final try: the start no record gives


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text[:26]).replace(tzinfo=UTC)


def _records() -> dict[str, list[dict[str, Any]]]:
    """The loop run of the REST examples, by the listing each record comes from; repetition 000001 retried."""
    flow = [r for r in sample_corpus() if r["id"].lower().startswith(FLOW)]
    repetitions = [r for r in flow if "/repetitions/" in r["id"].lower()]
    retried = next(r for r in repetitions if r["id"].endswith("/repetitions/000001"))
    retried["properties"]["retryHistory"] = [{"startTime": RETRY, "endTime": "2018-04-18T17:05:57.0950000Z",
                                              "code": "BadGateway", "error": {"code": "BadGateway", "message": "502"}}]
    return {"run": [r for r in flow if "/runs/" not in r["id"].lower() or r["id"].lower() == RUN],
            "actions": [r for r in flow if r["id"].lower().count("/actions/") == 1 and "repetitions" not in
                        r["id"].lower()],
            "repetitions": repetitions,
            "scope_repetitions": [r for r in flow if "/scoperepetitions/" in r["id"].lower()],
            "histories": _requests(f"{retried['id']}/requestHistories", (RETRY, FINAL))}


def _requests(under: str, starts: tuple[str, ...]) -> list[dict[str, Any]]:
    """Request histories as `az rest` lists them (the REST example's record): no `repetitionIndexes`."""
    example = sample_body("WorkflowRunActionRequestHistories_List")["value"][0]
    out = []
    for i, start in enumerate(starts):
        request = copy.deepcopy(example)
        request["id"] = f"{under}/0858661114273280068{i}"
        request["name"] = request["id"].rsplit("/", 1)[-1]
        request["type"] = ("Microsoft.Logic/workflows/runs/actions/repetitions/requestHistories"
                           if "/repetitions/" in under else "Microsoft.Logic/workflows/runs/actions/requestHistories")
        request["properties"].update({"startTime": start, "endTime": start})
        out.append(request)
    return out


def _files(folder: Path) -> dict[str, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, records in _records().items():
        paths[name] = folder / f"{name}.json"
        paths[name].write_text(json.dumps({"value": records}, indent=2))
    return paths


def _tries(store: Store) -> list[tuple[str, int, str, dt.datetime | None]]:
    return sorted((a[C.step_key], a[C.attempt], a[C.status], a[C.started_at]) for a in store.read_rows("attempts")
                  if a[C.step_key].startswith("testaction"))


EXPECTED = [("testaction#for_each:0", 1, "SUCCEEDED", _at("2018-04-18T17:05:57.217991Z")),
            ("testaction#for_each:1", 1, "FAILED", _at(RETRY)),
            ("testaction#for_each:1", 2, "SUCCEEDED", _at(FINAL))]
"""The final try of the retried visit starts at its request; no request left over as attempt 0."""

ORDERS = {"listed": ["run", "actions", "repetitions", "scope_repetitions", "histories"],
          "histories first": ["histories", "run", "actions", "repetitions", "scope_repetitions"],
          "reversed": ["histories", "scope_repetitions", "repetitions", "actions", "run"],
          "no aggregate record": ["histories", "repetitions", "run"]}


def _rows(store: Store) -> dict[str, list[tuple]]:
    return {table: table_rows(store, table) for table in EXECUTION_TABLES}


@pytest.mark.parametrize("order", list(ORDERS))
def test_a_loop_visits_request_histories_give_its_final_try_its_start_in_any_order(tmp_path, order):
    files = _files(tmp_path / "files")
    store = Store(tmp_path / "store")
    result = import_files(store, [files[name] for name in ORDERS[order]])
    assert not result.skips, result.skips
    assert _tries(store) == EXPECTED
    import_files(store, list(files.values()))                   # the files an order left out, and all again
    stored = _rows(store)
    assert _tries(store) == EXPECTED
    again = import_files(store, list(files.values()))           # a re-import changes nothing
    assert (again.changed_executions, again.unchanged_executions, again.written) == (0, 1, {}), again
    assert _rows(store) == stored


def test_the_same_rows_whatever_the_order_of_the_files(tmp_path):
    files = _files(tmp_path / "files")
    rows = []
    for name, order in ORDERS.items():
        store = Store(tmp_path / name.replace(" ", "-"))
        import_files(store, [files[n] for n in order] + [files[n] for n in files if n not in order])
        rows.append(_rows(store))
    assert all(r == rows[0] for r in rows[1:])


def _record_lines(path: Path) -> list[int]:
    """The lines the records of a `{"value": [...]}` page written with indent 2 start on."""
    return [n for n, line in enumerate(path.read_text().splitlines(), 1) if line == "    {"]


def test_a_loop_visits_request_history_without_its_repetition_is_a_skip_with_its_line(tmp_path):
    """Imported without the repetition's record, nothing names the iteration: each request is a skip naming
    its file, line and why, never an attempt 0 of the action waiting for its aggregate."""
    files = _files(tmp_path / "files")
    store = Store(tmp_path / "store")
    with pytest.raises(NothingImportedError) as alone:
        import_files(store, [files["histories"]])
    skips = alone.value.skips
    assert [(s.source, s.location.split(" ")[:2]) for s in skips] == \
        [(str(files["histories"]), ["line", str(n)]) for n in _record_lines(files["histories"])]
    for skip in skips:
        assert "testAction/repetitions/000001" in skip.reason and "no repetitionIndexes" in skip.reason, skip
        assert "import it with the action's repetitions" in skip.reason, skip.reason

    with_run = import_files(store, [files[n] for n in ("run", "actions", "histories")])
    assert len(with_run.skips) == 2
    assert not [a for a in store.read_rows("attempts") if a[C.attempt] == 0]     # nothing waits as attempt 0
    import_files(store, [files["repetitions"], files["histories"]])             # together: placed
    assert _tries(store) == EXPECTED


def test_a_request_history_read_at_a_looped_actions_own_level_is_a_skip(tmp_path):
    """`{action}/requestHistories` of an action inside loops belongs to no visit its record names: a skip with
    its line when the import holds the action's repetitions; dropped like the action's own record (not left
    waiting as attempt 0) when its visits were stored before."""
    files = _files(tmp_path / "files")
    own = tmp_path / "files" / "own.json"
    own.write_text(json.dumps({"value": _requests(f"{RUN}/actions/testAction/requestHistories", (FINAL,))}))
    store = Store(tmp_path / "store")
    result = import_files(store, [files[n] for n in ("run", "repetitions")] + [own])
    [skip] = result.skips
    assert skip.source == str(own) and skip.location.startswith("line 1"), skip
    assert "inside loops" in skip.reason and "names no iteration" in skip.reason, skip.reason

    import_files(store, [own])                   # its visits are stored: nothing of it waits as attempt 0
    assert not [a for a in store.read_rows("attempts") if a[C.attempt] == 0]
    assert _tries(store) == EXPECTED[:2] + [("testaction#for_each:1", 2, "SUCCEEDED", None)]
