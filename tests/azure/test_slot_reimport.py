"""A deployment slot's runs imported before workflow ids kept `slots/<slot>` were stored under the production
workflow's id (the id reader skipped the segment). Importing the same export again writes them under the
slot's id: the store held each such run twice, once as production's. The import now moves the stored copy to
the slot's id in the same write (its steps too, so a re-import of the runs alone loses none), when it is that
run: the same name and the same start. A production run that shares only a run name stays."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from flowscope.collectors.importer import import_files
from flowscope.model import C
from flowscope.store import Store

SITE = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Web/sites/la-std"
SLOT_WF = f"{SITE}/slots/Staging/workflows/orders"
PROD_WF = f"{SITE}/workflows/orders"
T0 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.timezone.utc)


def _at(minutes: float) -> str:
    return (T0 + dt.timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _run(wf: str, name: str, minute: float) -> dict:
    return {"id": f"{wf}/runs/{name}", "name": name, "type": "Microsoft.Logic/workflows/runs",
            "properties": {"status": "Succeeded", "startTime": _at(minute), "endTime": _at(minute + 1),
                           "trigger": {"name": "manual", "startTime": _at(minute), "endTime": _at(minute),
                                       "status": "Succeeded"}}}


def _action(wf: str, run: str, minute: float) -> dict:
    rid = f"{wf}/runs/{run}/actions/Compose"
    return {"id": rid, "name": "Compose", "type": "Microsoft.Logic/workflows/runs/actions",
            "properties": {"status": "Succeeded", "code": "OK", "startTime": _at(minute + 0.1),
                           "endTime": _at(minute + 0.2)}}


def _poll(wf: str, name: str, minute: float) -> dict:
    return {"id": f"{wf}/triggers/every_minute/histories/{name}", "name": name,
            "type": "Microsoft.Logic/workflows/triggers/histories",
            "properties": {"status": "Skipped", "code": "OK", "fired": False, "startTime": _at(minute),
                           "endTime": _at(minute)}}


def _files(folder: Path, records: dict[str, list[dict]], *, as_old_ids: bool = False) -> list[Path]:
    """One file per record kind. `as_old_ids`: as the id reader before the slot change read them, which skipped
    `slots/<slot>`: the same records without it."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, recs in records.items():
        text = json.dumps({"value": recs})
        if as_old_ids:
            text = text.replace("/slots/Staging", "")
        paths.append(folder / f"{name}.json")
        paths[-1].write_text(text)
    return paths


SLOT_EXPORT = {"runs": [_run(SLOT_WF, "0858", 0), _run(SLOT_WF, "0859", 5)],
               "actions": [_action(SLOT_WF, "0858", 0), _action(SLOT_WF, "0859", 5)],
               "polls": [_poll(SLOT_WF, "0857", -1)]}


def _legacy_store(tmp_path: Path) -> Store:
    """A store as the import before the slot change left it: the slot's export under production ids, and a
    production run `0900` of its own."""
    store = Store(tmp_path / "store")
    import_files(store, _files(tmp_path / "old", SLOT_EXPORT, as_old_ids=True))
    import_files(store, _files(tmp_path / "prod", {"runs": [_run(PROD_WF, "0900", 120)],
                                                   "actions": [_action(PROD_WF, "0900", 120)]}))
    return store


def _ids(store: Store, table: str) -> list[str]:
    prefix = SITE.lower()
    return sorted(r[C.execution_id][len(prefix):] for r in store.read_rows(table))


def test_reimporting_a_slots_export_moves_its_runs_stored_under_production_ids(tmp_path):
    store = _legacy_store(tmp_path)
    assert _ids(store, "executions") == ["/workflows/orders/runs/0858", "/workflows/orders/runs/0859",
                                         "/workflows/orders/runs/0900"]
    again = {**SLOT_EXPORT, "runs": [*SLOT_EXPORT["runs"], _run(SLOT_WF, "0900", 10)]}   # a slot's 0900 too
    result = import_files(store, _files(tmp_path / "again", again))
    assert _ids(store, "executions") == ["/slots/staging/workflows/orders/runs/0858",
                                         "/slots/staging/workflows/orders/runs/0859",
                                         "/slots/staging/workflows/orders/runs/0900",
                                         "/workflows/orders/runs/0900"]        # production's own 0900 stays
    steps = _ids(store, "steps")
    assert [s for s in steps if "/triggers/" in s] == [
        "/slots/staging/workflows/orders/triggers/every_minute/histories/0857"]
    assert steps.count("/workflows/orders/runs/0900") == 2                   # its trigger and its action
    assert steps.count("/slots/staging/workflows/orders/runs/0858") == 2
    usage = _ids(store, "usage")
    assert not [u for u in usage if u.startswith("/workflows/") and not u.endswith("/0900")]
    assert [w for w in result.warnings if w.startswith("3 azure execution(s)") and "/slots/staging/" in w], \
        result.warnings


def test_a_reimport_of_the_runs_alone_keeps_the_steps_stored_with_them(tmp_path):
    store = _legacy_store(tmp_path)
    import_files(store, _files(tmp_path / "again", {"runs": SLOT_EXPORT["runs"]}))
    steps = _ids(store, "steps")
    assert steps.count("/slots/staging/workflows/orders/runs/0858") == 2        # the trigger and Compose
    assert "/workflows/orders/runs/0858" not in _ids(store, "executions") + steps
    import_files(store, _files(tmp_path / "again2", SLOT_EXPORT))                # nothing left to move
    assert len(_ids(store, "executions")) == 3


def test_a_store_that_already_holds_both_copies_is_mended_by_the_next_import(tmp_path, monkeypatch):
    """A store re-imported between the slot change and this one holds each slot run twice: the next import
    of the slot's export leaves one."""
    import flowscope.collectors.moved as moved

    store = _legacy_store(tmp_path)
    with monkeypatch.context() as patched:
        patched.setattr(moved, "moved_executions_of", lambda _transforms: None)   # as that flowscope imported
        import_files(store, _files(tmp_path / "between", SLOT_EXPORT))
    assert len(_ids(store, "executions")) == 5
    import_files(store, _files(tmp_path / "again", SLOT_EXPORT))
    assert _ids(store, "executions") == ["/slots/staging/workflows/orders/runs/0858",
                                         "/slots/staging/workflows/orders/runs/0859", "/workflows/orders/runs/0900"]
    assert _ids(store, "steps").count("/slots/staging/workflows/orders/runs/0858") == 2
