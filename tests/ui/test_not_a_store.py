"""The dashboard is a reader: a path that holds no store is named in a clear message, never created."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.ui.helpers import APP


@pytest.mark.parametrize("kind", ["missing", "empty folder"])
def test_a_path_that_is_not_a_store_gets_a_clear_message(kind, tmp_path, monkeypatch):
    path = tmp_path / "no-such-store"
    if kind == "empty folder":
        path.mkdir()
    monkeypatch.setenv("FLOWSCOPE_STORE", str(path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "not a flowscope store" in errors and str(path) in errors, errors
    assert "flowscope demo" in " ".join(i.value for i in at.info)        # the next step is named
    assert not at.metric and not at.dataframe                              # and nothing else renders
    if kind == "missing":
        assert not path.exists()                                          # a reader never creates a store
    else:
        assert list(path.iterdir()) == []


@pytest.mark.parametrize(("damage", "read_before"), [("deleted", False), ("cut short", False), ("cut short", True)])
def test_a_damaged_store_is_said_as_such_not_as_an_update_in_progress(tmp_path, monkeypatch, damage, read_before):
    """A Parquet file of the store's snapshot deleted or cut short (a bad copy, a disk cleaned by hand): the page
    said "the store is being updated; reload in a few seconds", which no reload ever changed. It says the store is
    damaged, naming it; also when the process had read the store before (its open then reads the footer of that file
    again only because its size changed, `store/file_columns.py`)."""
    from flowscope.store import Store
    from tests.ui.helpers import build

    path = tmp_path / "store"
    Store(path).write(build(40, days=2))
    victim = Path(Store.open(path).snapshot_files()["executions"].files[-1])   # not the one a view binds by
    if read_before:
        Store.open(path).connect().close()
    if damage == "deleted":
        victim.unlink()
    else:
        victim.write_bytes(victim.read_bytes()[: victim.stat().st_size // 2])
    monkeypatch.setenv("FLOWSCOPE_STORE", str(path))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(e.value for e in at.error)
    assert "The store cannot be read" in errors and "is damaged" in errors and str(path) in errors, errors
    assert not [w for w in at.warning if "being updated" in w.value]


@pytest.mark.parametrize(("text", "line", "said"), [
    ('store = "x"\n[thresholds\nfailure_rate = 0.1\n', 2, "line 2"),
    ('storre = "x"\n', 1, "unknown key(s) storre"),
    ('[thresholds]\nfailure_rate = "high"\n', 2, "threshold failure_rate must be a number"),
])
def test_a_config_mistake_under_streamlit_run_is_one_clear_error(text, line, said, tmp_path, monkeypatch):
    """`streamlit run app.py` with a broken flowscope.toml showed an exception page (a traceback of
    load_settings), and bad [thresholds] were replaced by the defaults without a word: the page says
    the file and the line, as the commands do, and shows no data computed with other thresholds."""
    from flowscope.store import Store
    from tests.ui.helpers import build

    store = tmp_path / "store"
    Store(store).write(build(40, days=2))
    cfg = tmp_path / "flowscope.toml"
    cfg.write_text(text)
    monkeypatch.delenv("FLOWSCOPE_STORE", raising=False)
    monkeypatch.setenv("FLOWSCOPE_CONFIG", str(cfg))
    if "thresholds]\nfailure_rate" in text:
        monkeypatch.setenv("FLOWSCOPE_STORE", str(store))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    errors = " ".join(" ".join(e.value.split()) for e in at.error).replace("\\", "")   # markdown escapes
    assert f"config file {cfg}" in errors and said in errors, errors
    if line is not None:
        assert f"line {line}" in errors, errors
    assert not at.metric and not at.dataframe
