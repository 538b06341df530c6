"""Request histories imported on their own, again, and in any order with their action and run.

A request history read before its action is stored as a piece (`attempt` 0) until the action
arrives. Re-importing the same file kept the stored piece and the incoming one side by side: one
more identical attempts row per import, reported "changed". The same request is now one row, and
the order the files come in does not change the rows stored.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from pathlib import Path
from typing import Any

import pytest

from flowscope.collectors.importer import import_files
from flowscope.model import EXECUTION_TABLES, C
from flowscope.store import Store
from tests.core.helpers import table_rows

UTC = dt.timezone.utc
T0 = dt.datetime(2025, 1, 6, 9, 0, tzinfo=UTC)
RUN = "/subscriptions/s1/resourceGroups/RG/providers/Microsoft.Logic/workflows/Orders/runs/R1"


def _iso(seconds: float) -> str:
    return (T0 + dt.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def _request(action: str, name: str, start: float, end: float | None, code: int) -> dict[str, Any]:
    props: dict[str, Any] = {"startTime": _iso(start), "response": {"statusCode": code}}
    if end is not None:
        props["endTime"] = _iso(end)
    return {"id": f"{RUN}/actions/{action}/requestHistories/{name}", "name": name,
            "type": "Microsoft.Logic/workflows/runs/actions/requestHistories", "properties": props}


def _histories(webhook_unsubscribed: float | None = 9.5) -> dict[str, Any]:
    """A webhook's subscription and unsubscription (one try), and a retried call's two requests."""
    return {"value": [_request("Webhook", "s", 1, 1.5, 302), _request("Webhook", "u", 9, webhook_unsubscribed, 200),
                      _request("Risky", "a", 31, 31.5, 429), _request("Risky", "b", 35, 35.5, 400)]}


def _actions() -> dict[str, Any]:
    def action(name: str, start: float, end: float, status: str, **props: Any) -> dict[str, Any]:
        return {"id": f"{RUN}/actions/{name}", "name": name, "type": "Microsoft.Logic/workflows/runs/actions",
                "properties": {"startTime": _iso(start), "endTime": _iso(end), "status": status, **props}}
    retry = [{"startTime": _iso(31), "endTime": _iso(31.5), "code": "TooManyRequests",
              "error": {"code": "TooManyRequests", "message": "429"}}]
    return {"value": [action("Webhook", 1, 10, "Succeeded"),
                      action("Risky", 31, 40, "Failed", error={"code": "BadRequest", "message": "boom"},
                             retryHistory=retry)]}


def _run() -> dict[str, Any]:
    return {"value": [{"id": RUN, "name": "R1", "type": "Microsoft.Logic/workflows/runs",
                       "properties": {"startTime": _iso(0), "endTime": _iso(50), "status": "Failed"}}]}


def _write(folder: Path, name: str, doc: dict[str, Any]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps(doc))
    return path


def _rows(store: Store) -> dict[str, list[tuple]]:
    return {table: table_rows(store, table) for table in EXECUTION_TABLES}


def test_reimporting_request_histories_changes_nothing(tmp_path):
    path = _write(tmp_path / "files", "histories", _histories())
    store = Store(tmp_path / "store")
    first = import_files(store, [path])
    assert first.new_executions == 1 and first.written == {"attempts": 4}, first
    stored = _rows(store)
    for _ in range(2):
        again = import_files(store, [path])
        assert (again.new_executions, again.changed_executions, again.unchanged_executions) == (0, 0, 1), again
        assert not again.written, again.written
        assert _rows(store) == stored
    assert len(store.read_rows("attempts")) == 4


def test_a_request_read_running_then_finished_is_one_row_and_stays_finished(tmp_path):
    running = _write(tmp_path / "files", "running", _histories(webhook_unsubscribed=None))
    finished = _write(tmp_path / "files", "finished", _histories())
    store = Store(tmp_path / "store")
    for path in (running, finished, running):
        import_files(store, [path])
    unsubscribe = [a for a in store.read_rows("attempts") if a[C.started_at] == T0 + dt.timedelta(seconds=9)]
    assert len(store.read_rows("attempts")) == 4
    assert [(a[C.status], a[C.ended_at]) for a in unsubscribe] == [("SUCCEEDED", T0 + dt.timedelta(seconds=9.5))]


def _orders() -> dict[str, list[list[str]]]:
    names = ["histories", "actions", "run"]
    orders = {" > ".join(p): [[n] for n in p] for p in itertools.permutations(names)}
    orders["one import"] = [names]
    return orders


@pytest.mark.parametrize("order", list(_orders()))
def test_request_histories_action_and_run_in_any_order_give_the_same_rows(tmp_path, order):
    files = {"histories": _write(tmp_path / "files", "histories", _histories()),
             "actions": _write(tmp_path / "files", "actions", _actions()),
             "run": _write(tmp_path / "files", "run", _run())}
    reference = Store(tmp_path / "reference")
    import_files(reference, list(files.values()))
    store = Store(tmp_path / "store")
    for names in _orders()[order]:
        import_files(store, [files[n] for n in names])
    assert _rows(store) == _rows(reference)
    attempts = sorted((a[C.step_key], a[C.attempt], a[C.started_at]) for a in store.read_rows("attempts"))
    # the requests gave Risky's final try its start and added no try; none is left over as a piece
    assert attempts == [("risky", 1, T0 + dt.timedelta(seconds=31)), ("risky", 2, T0 + dt.timedelta(seconds=35)),
                        ("webhook", 1, T0 + dt.timedelta(seconds=1))]
    again = import_files(store, list(files.values()))
    assert (again.changed_executions, again.unchanged_executions) == (0, 1) and not again.written
