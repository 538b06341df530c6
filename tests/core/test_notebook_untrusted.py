"""The notebook API's errors and warnings carry cloud text (workflow names, a collection's error): it reaches
a terminal IPython or a Jupyter cell raw unless it is made safe, as the commands make it (`terminal_text`)."""

from __future__ import annotations

import datetime as dt
import warnings

import pytest

import flowscope
from flowscope.model import Batch
from flowscope.store import Store

from .test_no_silent_all_clear import NASTY, T0, make_store, rows, run_row


@pytest.fixture(scope="module")
def nasty(tmp_path_factory) -> str:
    """A workflow whose name holds a terminal escape, and a collection that failed with one in its error."""
    path = tmp_path_factory.mktemp("nasty") / "store"
    after = T0 + dt.timedelta(days=2)
    return make_store(path, rows("pay\x1b]0;pwned\x07ments"),
                      Batch(collection_runs=[run_row("aws:1/r1", "failed", error=NASTY, at=after)]))


def test_analyze_warnings_strip_terminal_escapes(nasty):
    """flowscope.analyze warned "last collection of aws:1/r1 failed: " followed by the cloud's error as stored,
    escape sequences and all (the commands strip them: `cli.note`)."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", UserWarning)
        flowscope.analyze(nasty, since="3d", now=T0 + dt.timedelta(days=2, hours=1))
    text = "\n".join(str(w.message) for w in said)
    assert "last collection of aws:1/r1 failed" in text and "[bold]x[/bold]" in text, text
    assert "\x1b" not in text and "\x07" not in text, repr(text)


@pytest.mark.parametrize("call", [lambda p: flowscope.open(p).executions(workflow="pay"),
                                  lambda p: flowscope.analyze(p, workflow="pay", since="2026-11-09",
                                                              until="2026-11-12")])
def test_a_typo_names_the_store_workflows_without_their_escapes(nasty, call):
    """'unknown workflow 'pay'; workflows in the store (closest first): pay<ESC>]0;pwned<BEL>ments' set a
    terminal's title from a notebook's traceback."""
    with pytest.raises(ValueError, match="unknown workflow 'pay'") as raised:
        call(nasty)
    assert "\x1b" not in str(raised.value) and "\x07" not in str(raised.value), repr(str(raised.value))
    assert "pay]0;pwnedments" in str(raised.value) or "payments" in str(raised.value)


def test_a_failed_collection_without_an_error_says_so(tmp_path):
    """A failed collection with no error recorded (a killed sync) was warned as "failed: None"."""
    after = T0 + dt.timedelta(days=2)
    path = make_store(tmp_path / "store", rows("payments"),
                      Batch(collection_runs=[run_row("aws:1/r1", "failed", at=after)]))
    said_as = "last collection of aws:1/r1 failed at 2026-11-12 00:01 UTC: no error recorded"
    with pytest.warns(UserWarning, match=said_as) as said:
        flowscope.analyze(path, since="3d", now=after + dt.timedelta(hours=1))
    assert not any("None" in str(w.message) for w in said)


@pytest.mark.parametrize("filters", [{"cloud": "awz"}, {"workflow": "paymnts"}])
def test_a_typo_is_the_only_thing_said(tmp_path, filters):
    """flowscope.analyze(s, cloud="awz") over a store whose data ended before now warned where the window ends
    ("the store's data ends at ...") before it raised the typo's ValueError: two messages, one of them
    about a window that was never read."""
    path = make_store(tmp_path / "store", rows("payments"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        with pytest.raises(ValueError, match="unknown"):
            flowscope.analyze(path, since="3d", **filters)


def test_a_store_path_of_another_kind_is_read_or_named(tmp_path):
    """flowscope.open(b"/path") looked for a folder named "b'/path'" in the working directory, and open(5) for
    one named "5": "<cwd>/b'/path' is not a flowscope store". Bytes are a path (os.fsdecode); a number or a
    list is a TypeError naming what the call takes."""
    path = make_store(tmp_path / "store", rows("payments"))
    assert flowscope.open(path.encode()).store.path == flowscope.open(path).store.path
    for wrong in (5, [path]):
        with pytest.raises(TypeError, match=r"flowscope.open\(\) takes the store's folder \(a str or a Path\)"):
            flowscope.open(wrong)
    with pytest.raises(TypeError, match=r"flowscope.analyze\(\) takes"):
        flowscope.analyze(5)


def test_a_session_shows_its_store_path_as_typed(tmp_path):
    """A session's repr in a cell was `flowscope.Session(PosixPath('/path'))`: the path as the store's own repr
    shows it (`Store('/path')`), one short line, no query run for it."""
    path = make_store(tmp_path / "store", rows("payments"))
    s = flowscope.open(path)
    assert repr(s) == str(s) == f"flowscope.Session({path!r})"


def test_a_session_kept_open_reads_what_was_written_since(tmp_path):
    """The README's promise: each call reads the newest snapshot, while `s.store.connect()` keeps its own."""
    path = make_store(tmp_path / "store", rows("payments"))
    s = flowscope.open(path)
    pinned = s.store.connect()
    assert len(s.executions()) == 20
    Store(path).write(rows("orders", failing=False))
    assert len(s.executions()) == 40 and len(s.sql("SELECT * FROM executions")) == 40
    assert pinned.execute("SELECT count(*) FROM executions").fetchone()[0] == 20


def test_analyze_without_since_reads_the_commands_window(tmp_path):
    """`flowscope analyze` and the dashboard read the last 7 days by default; `flowscope.analyze(s)` read the
    whole store: the same store gave 11 findings on the command line and 20 in a notebook. It reads 7 days
    too (counted back from where the window ends); since=None asks for the whole store."""
    path = make_store(tmp_path / "store", rows("old", start=T0), rows("recent", start=T0 + dt.timedelta(days=20)))
    now = T0 + dt.timedelta(days=22)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        default = flowscope.analyze(path, now=now)
        assert default.equals(flowscope.analyze(path, since="7d", now=now))
        everything = flowscope.analyze(path, since=None, now=now)
    assert set(default["workflow"].dropna()) == {"recent"}
    assert {"old", "recent"} <= set(everything["workflow"].dropna())


def test_a_window_end_minutes_before_now_is_not_news(tmp_path):
    """Every flowscope.analyze(s) over a store synced an hour ago warned "the store's data ends at 13:00 UTC:
    the window ends at 13:05 UTC, not now": a pink box in every cell over healthy data, which teaches to read
    past warnings. It is said when the data ends a day or more before now (`timewindow.STALE_AFTER`)."""
    path = make_store(tmp_path / "store", rows("payments", failing=False))
    last = T0 + dt.timedelta(hours=38)                 # rows(): 20 runs, 2 h apart
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        flowscope.analyze(path, since="1d", now=last + dt.timedelta(hours=2))
        flowscope.open(path).window_end(now=last + dt.timedelta(hours=2))
    with pytest.warns(UserWarning, match="the store's data ends at"):
        flowscope.analyze(path, since="1d", now=last + dt.timedelta(days=3))


def test_a_store_object_is_a_store(tmp_path):
    """flowscope.analyze(Store(path)) and flowscope.open(Store(path)) refused the store object a writer holds
    (it was looked for as a folder named "Store('/path')"): it is read as its path is."""
    path = make_store(tmp_path / "store", rows("payments"))
    store = Store.open(path)
    assert flowscope.open(store).store is store
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert flowscope.analyze(store, since=None).equals(flowscope.analyze(path, since=None))


def test_a_store_deleted_under_an_open_session_is_said(tmp_path):
    """`rm -r STORE` under a notebook's session: s.executions() returned an empty frame, s.sql() a count of 0
    and flowscope.analyze(s) no finding, as if the store held nothing. Each is a NotAStoreError saying the
    store is gone (a store built again at the path is read, as docs/store.md says)."""
    import shutil

    from flowscope.store import NotAStoreError

    path = make_store(tmp_path / "store", rows("payments"))
    s = flowscope.open(path)
    assert len(s.executions()) == 20
    shutil.rmtree(path)
    for call in (lambda: s.executions(), lambda: s.sql("SELECT count(*) FROM executions"),
                 lambda: s.table("steps"), lambda: flowscope.analyze(s, since=None), lambda: s.window_end()):
        with pytest.raises(NotAStoreError, match="deleted since it was opened") as raised:
            call()
        assert "--store" not in str(raised.value) and "flowscope.open(" in str(raised.value)   # a notebook's words
    make_store(tmp_path / "store", rows("orders", runs=3))
    assert len(s.executions()) == 3
