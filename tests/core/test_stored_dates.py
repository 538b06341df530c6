"""Steps, attempts and usage an earlier flowscope stored under another start date than their execution's row are
moved to it once, by `sync` and `import` (`collectors/stored_dates.py`): a run's page reads its day alone
(`tables.execution_detail`), and finds every row of the run again; every other value and every row stays."""

from __future__ import annotations

import datetime as dt
import json
import signal
from pathlib import Path

import pandas as pd
import pytest

from flowscope.analysis import tables as q
from flowscope.collectors import stored_dates
from flowscope.model import EXECUTION_TABLES, TABLES, C, Meter
from flowscope.store import Store, validate
from tests.analysis.helpers import T0, World
from tests.store.helpers import killed_in_third_chunk

DAY = dt.timedelta(days=1)
CLOUDS = {"aws": Meter.AWS_SFN_STATE_TRANSITION, "gcp": Meter.GCP_WORKFLOWS_EXTERNAL_STEP}
CHILDREN = ("steps", "attempts", "usage")
REPO = Path(__file__).resolve().parents[2]
OFF_DATED = 10
"""Per cloud: four runs whose retry went past midnight, dated by itself, and one run whose rows are all a day late."""


def _old_world() -> tuple[World, dict]:
    """Two clouds, four days, two runs a day; rows dated as an earlier flowscope could store them. The usage of a
    trigger poll (no executions row) is dated by itself and stays so."""
    w = World()
    for cloud, meter in CLOUDS.items():
        wf = w.workflow(f"orders-{cloud}", cloud=cloud)
        for d in range(4):
            for start in (dt.timedelta(hours=3), dt.timedelta(hours=23, minutes=59, seconds=59)):
                ex = w.execution(wf, T0 + d * DAY + start, cloud=cloud)
                first = w.step(ex, "Charge", ex[C.started_at], meter=meter)
                w.attempt(first, 1, ex[C.started_at])
                late = w.step(ex, "Ship", ex[C.started_at] + dt.timedelta(seconds=1), attempts=2, meter=meter)
                w.attempt(late, 1, late[C.started_at])
                w.attempt(late, 2, late[C.started_at] + dt.timedelta(seconds=1))
        moved = w.rows["executions"][-6][C.execution_id]      # day 1's first run: every row a day late
        for table in CHILDREN:
            for row in w.rows[table]:
                if row[C.execution_id] == moved or (table != "usage" and row[C.started_at].date() > row[C.start_date]):
                    row[C.start_date] = row[C.start_date] + DAY
    poll = {C.cloud: "aws", C.region: "us-east-1", C.workflow_id: "orders-poll", C.execution_id: "poll-1",
            C.started_at: T0 + dt.timedelta(hours=5)}
    w.usage(poll, None, CLOUDS["aws"], 1)
    w.rows["usage"][-1][C.start_date] = T0.date() + 2 * DAY
    return w, poll


def _write_old(path: Path, monkeypatch: pytest.MonkeyPatch) -> Store:
    """The world written as an older flowscope wrote it: each row kept its own start_date."""
    w, _poll = _old_world()
    with monkeypatch.context() as m:
        m.setattr(validate, "with_execution_dates", lambda tables: tables)
        Store(path).write({t: rows for t, rows in w.rows.items() if rows})
    return Store(path)


def _tables(store: Store) -> dict[str, pd.DataFrame]:
    return {t: store.df(t).sort_values(list(TABLES[t].key)).reset_index(drop=True) for t in EXECUTION_TABLES}


def _off_dated(store: Store) -> int:
    return sum(len(ids) for _cloud, ids in stored_dates.off_dated(store))


def _details(store: Store) -> dict[tuple[str, str], dict[str, pd.DataFrame]]:
    con = q.prepare(store.connect().cursor())
    out = {}
    for cloud, eid in con.execute(f"SELECT {C.cloud}, {C.execution_id} FROM executions").fetchall():
        detail = q.execution_detail(con, cloud, eid)
        assert detail is not None
        out[cloud, eid] = detail
    return out


def _missed(store: Store) -> dict[str, int]:
    """Per table, the rows of stored runs that their run's page does not show."""
    shown = _details(store)
    stored = _tables(store)
    return {t: sum(len(stored[t][(stored[t][C.cloud] == cloud) & (stored[t][C.execution_id] == eid)])
                   - len(detail[t]) for (cloud, eid), detail in shown.items()) for t in CHILDREN}


@pytest.fixture
def old_store(tmp_path, monkeypatch) -> Store:
    store = _write_old(tmp_path / "s", monkeypatch)
    assert _off_dated(store) == OFF_DATED
    assert all(_missed(store).values()), "the run page misses rows of an old store"
    return store


def test_rows_move_to_their_runs_date_once_and_nothing_else_changes(old_store):
    store = old_store
    before = _tables(store)
    assert stored_dates.upgrade_dates(store) == OFF_DATED
    after = _tables(store)
    for table, frame in before.items():
        assert len(after[table]) == len(frame), f"{table}: rows lost or duplicated"
        others = [c for c in frame.columns if c != C.start_date]
        pd.testing.assert_frame_equal(after[table][others], frame[others], obj=table)
    runs = after["executions"]
    dates = dict(zip(zip(runs[C.cloud], runs[C.execution_id], strict=True), runs[C.start_date], strict=True))
    for table in CHILDREN:
        rows = after[table]
        for key, day in zip(zip(rows[C.cloud], rows[C.execution_id], strict=True), rows[C.start_date], strict=True):
            assert day == dates.get(key, day), f"{table} {key}"
    poll = after["usage"][after["usage"][C.execution_id] == "poll-1"]
    assert [d.date() for d in poll[C.start_date]] == [T0.date() + 2 * DAY], "no executions row: no date to take, kept"
    assert _missed(store) == dict.fromkeys(CHILDREN, 0)
    version = store.version()
    assert stored_dates.upgrade_dates(store) == 0 and store.version() == version, "once per store"


def test_import_upgrades_a_store_and_the_run_page_shows_every_row(old_store, tmp_path):
    """`flowscope import` of any file into a store an earlier flowscope wrote moves its rows once (a sync does
    the same, before its scopes: `sync_store`); each run's page then shows every step, attempt and usage row."""
    from typer.testing import CliRunner

    from flowscope.cli import app
    from tests.aws.test_transform_aws import ARN, history

    store = old_store
    stored = _tables(store)
    exported = tmp_path / "history.json"
    exported.write_text(json.dumps(history("scenarios_test_base_scenarios.snapshot.json", "test_map_state")))
    run = CliRunner().invoke(app, ["import", str(exported), "--store", str(store.path), "--execution-arn", ARN])
    assert run.exit_code == 0, run.output
    assert f"moved the steps, attempts or usage of {OFF_DATED} execution(s) stored by an earlier flowscope" \
        in run.output
    store = Store(store.path)
    assert _off_dated(store) == 0
    shown = _details(store)
    for table in CHILDREN:
        for (cloud, eid), detail in shown.items():
            if eid == ARN:
                continue
            want = stored[table][(stored[table][C.cloud] == cloud) & (stored[table][C.execution_id] == eid)]
            assert len(want) and len(detail[table]) == len(want), f"{table} of {eid}"
            assert sorted(detail[table][C.step_key]) == sorted(want[C.step_key]), f"{table} of {eid}"
    again = CliRunner().invoke(app, ["import", str(exported), "--store", str(store.path), "--execution-arn", ARN])
    assert again.exit_code == 0 and "moved the steps" not in again.output


def test_a_store_written_today_is_not_rewritten(tmp_path):
    """Every row dated by its run already (today's writes): nothing found, nothing written, the upgrade noted."""
    w, _poll = _old_world()
    store = Store(tmp_path / "s")
    store.write({t: rows for t, rows in w.rows.items() if rows})
    version = store.version()
    assert stored_dates.upgrade_dates(store) == 0 and store.version() == version
    assert store.upgrade_done(stored_dates.STEP)



def test_an_import_into_a_new_store_scans_nothing_it_wrote(tmp_path, monkeypatch):
    """The import's upgrades run before its first write: a store the import creates is marked upgraded without a
    scan (they ran after the writes and read every row just written by today's rules: 1.2 s on a 1M store)."""
    from typer.testing import CliRunner

    from flowscope.cli import app
    from flowscope.collectors import stored_texts
    from tests.aws.test_transform_aws import ARN, history

    def scanned(*_args: object) -> None:
        raise AssertionError("a store the import created was scanned for an upgrade")

    monkeypatch.setattr(stored_dates, "off_dated", scanned)
    monkeypatch.setattr(stored_texts, "_stale_executions", scanned)
    exported = tmp_path / "history.json"
    exported.write_text(json.dumps(history("scenarios_test_base_scenarios.snapshot.json", "test_map_state")))
    run = CliRunner().invoke(app, ["import", str(exported), "--store", str(tmp_path / "new"), "--execution-arn", ARN])
    assert run.exit_code == 0, run.output
    store = Store(tmp_path / "new")
    assert store.upgrade_done(stored_dates.STEP) and store.upgrade_done(stored_texts.STEP)
    assert store.sql("SELECT count(*) AS n FROM steps").iloc[0, 0] > 0



def test_an_upgrade_killed_half_way_loses_and_duplicates_nothing(tmp_path, monkeypatch):
    store = _write_old(tmp_path / "s", monkeypatch)
    expected = _write_old(tmp_path / "expected", monkeypatch)
    assert stored_dates.upgrade_dates(expected) == OFF_DATED

    proc = killed_in_third_chunk("from flowscope.collectors import stored_dates\nstored_dates.CHUNK = 3", "write",
                                 "stored_dates.upgrade_dates(Store(sys.argv[1]))", str(store.path))
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    store = Store(tmp_path / "s")
    assert not store.upgrade_done(stored_dates.STEP)
    assert _off_dated(store) == OFF_DATED - 5, "aws's two chunks moved, gcp's still to do"
    half = _tables(store)
    for table, frame in _tables(expected).items():
        assert len(half[table]) == len(frame), f"{table}: rows lost or duplicated"

    assert stored_dates.upgrade_dates(store) == 2, "the killed chunk is finished by the next writer, then the rest"
    assert store.upgrade_done(stored_dates.STEP)
    for table, frame in _tables(expected).items():
        pd.testing.assert_frame_equal(_tables(store)[table], frame, obj=table)
