"""A store `flowscope demo` builds is written by today's rules, so it is marked as needing none of the one-off
upgrades of stored rows (`collectors/store_upgrades.py`), as a store `import` creates is: unmarked, the first
sync or import into it scanned every row it held for each upgrade (seconds on a 1M-execution demo)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.collectors import stored_dates, stored_encoding, stored_texts
from flowscope.simulate.demo import build_demo
from flowscope.store import Store, StoreError
from tests.analysis.helpers import T0, World
from tests.aws.test_transform_aws import ARN, history


def _marks(path: Path) -> set[str]:
    """The upgrades the store at `path` notes done (`Store.mark_upgrade_done`)."""
    folder = path / "_flowscope" / "upgrades"
    return {p.name for p in folder.iterdir()} if folder.is_dir() else set()


def _import(exported: Path, store: Path) -> None:
    run = CliRunner().invoke(app, ["import", str(exported), "--store", str(store), "--execution-arn", ARN])
    assert run.exit_code == 0, run.output


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("upgrades") / "demo"
    run = CliRunner().invoke(app, ["demo", "--store", str(path), "--no-serve", "--days", "2", "--executions", "60"])
    assert run.exit_code == 0, run.output
    return path


@pytest.fixture
def exported(tmp_path) -> Path:
    path = tmp_path / "history.json"
    path.write_text(json.dumps(history("scenarios_test_base_scenarios.snapshot.json", "test_map_state")))
    return path


def test_a_demo_store_is_marked_as_a_new_store_of_an_import_is(demo_store, exported, tmp_path):
    _import(exported, tmp_path / "imported")
    assert {stored_texts.STEP, stored_dates.STEP, stored_encoding.STEP} <= _marks(tmp_path / "imported")
    assert _marks(demo_store) == _marks(tmp_path / "imported")
    store = Store(demo_store)
    assert store.upgrade_done(stored_texts.STEP) and store.upgrade_done(stored_dates.STEP)


def test_the_first_import_into_a_demo_store_scans_nothing(demo_store, exported, tmp_path, monkeypatch):
    def scanned(*_args: object) -> None:
        raise AssertionError("a store the demo built was scanned for an upgrade")

    monkeypatch.setattr(stored_dates, "off_dated", scanned)
    monkeypatch.setattr(stored_texts, "_stale_executions", scanned)
    monkeypatch.setattr(Store, "reencode", scanned)
    _import(exported, demo_store)


def test_an_import_into_an_older_store_rewrites_its_files_once_and_says_so(exported, tmp_path, monkeypatch):
    """A store whose files hold timestamps as a dictionary (an earlier flowscope's writer): the first import
    rewrites them and says so; the second has nothing left to rewrite."""
    from tests.store.test_reencode import old_files, old_store

    store = old_store(tmp_path / "old", monkeypatch)
    before = store.sql("SELECT count(*) AS n FROM steps")["n"][0]
    run = CliRunner().invoke(app, ["import", str(exported), "--store", str(store.path), "--execution-arn", ARN])
    assert run.exit_code == 0, run.output
    assert "with their timestamps as deltas" in run.output
    assert old_files(Store(store.path)) == 0
    assert Store(store.path).sql("SELECT count(*) AS n FROM steps")["n"][0] > before
    again = CliRunner().invoke(app, ["import", str(exported), "--store", str(store.path), "--execution-arn", ARN])
    assert again.exit_code == 0 and "timestamps as deltas" not in again.output


def test_a_demo_refused_for_stored_rows_marks_nothing(tmp_path):
    """A store holding rows an earlier flowscope may have written keeps its upgrades to run."""
    w = World()
    w.execution(w.workflow("orders"), T0)
    store = Store(tmp_path / "s")
    store.write({t: rows for t, rows in w.rows.items() if rows})
    with pytest.raises(StoreError, match="already holds"):
        build_demo(store, days=2, executions=60, seed=3, workers=1)
    assert _marks(tmp_path / "s") == set()
