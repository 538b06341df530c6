"""The notebook API over a small demo store: filters run in the engine, columns are the model's."""

from __future__ import annotations

import datetime as dt
import re
import warnings

import pandas as pd
import pytest

import flowscope
from flowscope.model import TABLES, UTC, C
from flowscope.simulate.demo import build_demo
from flowscope.store import Store

END = dt.datetime(2026, 11, 20, tzinfo=UTC)


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    path = tmp_path_factory.mktemp("nb") / "store"
    build_demo(Store(path), days=3, executions=500, seed=2, end=END)
    return flowscope.open(str(path))


def test_tables_have_the_model_columns(session):
    for name in ("workflows", "executions", "steps", "attempts", "usage", "metrics", "collection_runs"):
        if name == "metrics":   # the demo carries no metrics: said, not silently empty
            with pytest.warns(UserWarning, match="flowscope sync"):
                frame = session.metrics()
        else:
            frame = getattr(session, name)()
        assert list(frame.columns) == TABLES[name].schema.names, name
    assert str(session.executions()[C.started_at].dt.tz) == "UTC"


def test_filters(session):
    everything = session.executions()
    recent = session.executions(since=END - dt.timedelta(days=1))
    assert 0 < len(recent) < len(everything)
    assert (recent[C.started_at] >= END - dt.timedelta(days=1)).all()
    aws = session.executions(cloud="aws")
    assert set(aws[C.cloud]) == {"aws"}
    by_id = [C.execution_id]       # runs that start in the same millisecond come in either order
    pd.testing.assert_frame_equal(session.executions(cloud=[" AWS"]).sort_values(by_id, ignore_index=True),
                                  aws.sort_values(by_id, ignore_index=True))   # any case: the model's spelling
    by_name = session.executions(workflow="payments-standard")
    assert len(by_name) and set(by_name[C.workflow_name]) == {"payments-standard"}
    by_id = session.executions(workflow=by_name[C.workflow_id].iloc[0])
    assert len(by_id) == len(by_name)
    steps = session.steps(workflow="payments-standard")
    assert set(steps[C.workflow_id]) == set(by_name[C.workflow_id])
    failed = session.executions(status=["FAILED", "TIMED_OUT"])
    assert set(failed[C.status]) <= {"FAILED", "TIMED_OUT"}
    one = everything[C.execution_id].iloc[0]
    assert set(session.steps(execution_id=one)[C.execution_id]) == {one}


def test_ibis_and_sql(session):
    steps = session.table("steps")
    count = steps.count().to_pyarrow().as_py()
    assert count == session.sql("SELECT count(*) AS n FROM steps")["n"][0] > 0
    with pytest.raises(ValueError, match="unknown table"):
        session.table("nope")


@pytest.mark.parametrize(("table", "filters", "message"), [
    ("usage", {"status": "FAILED"}, "usage has no status column to filter by status; its filters: since, until, "
                                    "cloud, workflow, execution_id"),
    ("metrics", {"workflow": "payments-standard"}, "metrics has no workflow_id column"),
    ("collection_runs", {"workflow": "payments-standard"}, "collection_runs has no workflow_id column"),
    ("workflows", {"execution_id": "x"}, "workflows has no execution_id column"),
    ("executions", {"status": "FAILD"}, "unknown status 'FAILD' for executions; statuses: RUNNING, SUCCEEDED, FAILED"),
    ("collection_runs", {"status": "PARTLY"}, "unknown status 'PARTLY' for collection_runs; statuses: running, "
                                              "succeeded, partial, failed"),
    ("steps", {"since": "2026-11-20", "until": "2026-11-19"}, "the window is empty: since 2026-11-20"),
])
def test_a_filter_that_cannot_apply_is_an_error_not_every_row_or_none(session, table, filters, message):
    """A filter the table has no column for used to be dropped (usage(status=...) returned every
    row, as if filtered), a status typo or a window ending before it starts returned no row, and a
    workflow filter on a table without workflows failed inside Ibis."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        getattr(session, table)(**filters)


def test_status_in_any_case_is_the_table_own_spelling(session):
    assert session.executions(status="failed").equals(session.executions(status="FAILED"))
    assert len(session.executions(status=" Failed ")) == len(session.executions(status="FAILED")) > 0
    runs = session.collection_runs()
    assert len(runs) > 0
    assert session.collection_runs(status="SUCCEEDED").equals(session.collection_runs(status="succeeded"))
    assert len(session.collection_runs(status="SUCCEEDED")) == (runs[C.status] == "succeeded").sum() > 0


@pytest.mark.slow  # five analyses
def test_analyze_takes_the_readers_filters(session):
    """`cloud=` / `workflow=` as the table readers take them (one value or a list); a string given as
    `clouds` is one cloud, not its letters ('unknown cloud 'a'')."""
    window = {"since": END - dt.timedelta(days=3), "until": END}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        listed = flowscope.analyze(session, clouds=["aws"], **window)
        assert len(listed) > 0 and set(listed[C.cloud]) == {"aws"}
        for same in ({"cloud": "aws"}, {"cloud": ["aws"]}, {"clouds": "aws"}, {"cloud": "AWS"}):
            assert flowscope.analyze(session, **same, **window).equals(listed), same
        one = flowscope.analyze(session, workflow="payments-standard", **window)
        assert one.equals(flowscope.analyze(session, workflows=["payments-standard"], **window))
    with pytest.raises(TypeError, match="takes cloud or clouds, not both"):
        flowscope.analyze(session, cloud="aws", clouds=["aws"], **window)
    with pytest.raises(ValueError, match="unknown workflow 'paymnts'"):
        flowscope.analyze(session, workflow="paymnts", **window)


@pytest.mark.slow  # two analyses
def test_analyze_without_an_end_ends_where_the_data_ends(session):
    """A store whose data ended before now (an old import, a stopped sync): the window ended now, so the
    months after the data counted as days without spend and every projected monthly figure shrank
    (a 30-day demo analysed 8 months later: NormalizeRecord's $5.25/month read $0.57). It ends where the
    data ends, as on the dashboard (`timewindow.default_end`), and says so."""
    from flowscope.analysis.tables import store_summary
    from flowscope.timewindow import default_end

    summary = store_summary(session.store.connect().cursor())
    assert summary["known_to"] >= summary["last"], "a sync's watermark past the last run counts"
    end, at_data = default_end(summary["known_to"])
    assert at_data and end <= END + dt.timedelta(minutes=5)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always", UserWarning)
        found = flowscope.analyze(session, since="3d")
    assert any(re.search(r"the store's data ends at .* the window ends at .*not now", str(w.message)) for w in said)
    assert any("last collection of" in str(w.message) for w in said), "a sync that failed after the data is said"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert found.equals(flowscope.analyze(session, since="3d", until=end))
    costs = found[found["monthly_usd"] > 0]
    assert len(costs) > 0 and (found["window_end"] <= end).all()


def test_a_try_whose_start_is_not_recorded_is_in_the_window_of_its_end(tmp_path):
    """A Logic Apps action retried twice gives three tries; Azure records no start for the last
    (transform/records.attempts_for leaves it null). `s.attempts(since=...)` used to filter on the
    start alone, so any window dropped that last try (the one carrying the final error): the file
    said 3 tries, the notebook showed 2."""
    import json

    from flowscope.collectors.importer import import_files

    run = "/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Logic/workflows/orders/runs/R1"
    retry = {"startTime": "2026-11-20T10:00:01Z", "endTime": "2026-11-20T10:00:02Z",
             "error": {"error": {"code": "InternalServerError", "message": "try"}}}
    doc = {"value": [{"id": f"{run}/actions/Call", "name": "Call", "properties": {
        "startTime": "2026-11-20T10:00:01Z", "endTime": "2026-11-20T10:00:09Z", "status": "Failed",
        "error": {"code": "InternalServerError", "message": "last"},
        "retryHistory": [retry, {**retry, "startTime": "2026-11-20T10:00:04Z", "endTime": "2026-11-20T10:00:05Z"}]}}]}
    path = tmp_path / "actions.json"
    path.write_text(json.dumps(doc))
    import_files(tmp_path / "store", [path])
    s = flowscope.open(str(tmp_path / "store"))
    assert len(s.attempts()) == 3
    frame = s.attempts(since="2026-11-20", until="2026-11-21")
    assert list(frame[C.attempt]) == [1, 2, 3]
    assert frame[C.cause].iloc[-1] == "last"
    assert len(s.attempts(since="2026-11-20T10:00:09.5Z", until="2026-11-21")) == 0


def test_a_column_has_one_dtype_whatever_the_rows(session):
    """Integers are the nullable Int64 / Int32 in a full frame, a frame with nulls and an empty one: through
    plain pandas `duration_ms` was float64 once a RUNNING run was in the frame, `billed_duration_ms` object
    (all null) and both int64 when the filters left no row."""
    import pyarrow as pa

    kinds = {pa.int64(): "Int64", pa.int32(): "Int32"}
    for name in ("executions", "steps", "attempts", "usage", "collection_runs"):
        full = getattr(session, name)()
        empty = getattr(session, name)(since="2020-01-01", until="2020-01-02")
        assert empty.empty and not full.empty, name
        assert full.dtypes.astype(str).to_dict() == empty.dtypes.astype(str).to_dict(), name
        for field in TABLES[name].schema:
            if field.type in kinds:
                assert str(full[field.name].dtype) == kinds[field.type], (name, field.name)
    running = session.executions(status="RUNNING")
    assert running[C.duration_ms].isna().all() and str(running[C.duration_ms].dtype) == "Int64"
    assert str(session.executions()[C.start_date].dtype) == "datetime64[s]"


def test_findings_have_one_dtype_whatever_the_findings(session):
    """flowscope.analyze's text columns are `str` in a frame with findings and in an empty one (they were
    `object` when empty, or when every finding left a column missing: a collection gap has no workflow)."""
    from flowscope.analysis.base import Finding, FindingKind, Severity, findings_frame
    from flowscope.session import with_dollars_meaning

    some = flowscope.analyze(session, since=END - dt.timedelta(days=3), until=END)
    with pytest.warns(UserWarning, match="empty"):
        none = flowscope.analyze(session, since="2020-01-01", until="2020-01-02")
    assert len(some) and none.empty
    assert some.dtypes.astype(str).to_dict() == none.dtypes.astype(str).to_dict()
    gap = with_dollars_meaning(findings_frame([Finding(
        FindingKind("collection_gap"), Severity("critical"), "gcp", None, "gcp:p", None, None, None,
        "Last collection failed", {}, "")]))
    assert gap.dtypes.astype(str).to_dict() == some.dtypes.astype(str).to_dict()
    assert gap["workflow"].isna().all()


@pytest.mark.parametrize("call", [
    lambda s: s.executions(workflow=[]), lambda s: s.steps(cloud=[]), lambda s: s.executions(status=[]),
    lambda s: s.attempts(execution_id=[]), lambda s: flowscope.analyze(s, workflow=[]),
    lambda s: flowscope.analyze(s, clouds=[]),
])
def test_an_empty_list_filter_is_an_error_not_none_or_all(session, call):
    """`workflow=[]` (a list that came out empty upstream) returned no row from the readers and every
    finding from analyze, both without a word."""
    with pytest.raises(ValueError, match=r"=\[\] selects nothing"):
        call(session)


@pytest.mark.parametrize("statement", [
    "CREATE OR REPLACE VIEW executions AS SELECT * FROM executions_aws",
    "SELECT 1; DROP VIEW usage", "SET TimeZone = 'Europe/Paris'", "CREATE TABLE mine AS SELECT 1 AS x",
])
def test_sql_runs_queries_and_never_changes_what_the_readers_share(session, statement):
    """s.sql() ran on the connection the readers and flowscope.analyze share: a view replaced there changed
    every later s.executions() and analysis without a word. Now refused, naming the way to a private one."""
    before = len(session.executions())
    with pytest.raises(ValueError, match="s.store.connect"):
        session.sql(statement)
    assert len(session.executions()) == before
    assert len(session.sql("EXPLAIN SELECT * FROM steps")) and session.sql("SELECT 1 AS x")["x"][0] == 1
    con = session.store.connect()
    con.execute("CREATE TABLE mine AS SELECT count(*) AS n FROM executions")
    assert con.execute("SELECT n FROM mine").fetchone()[0] == before


@pytest.mark.parametrize("filters, error, message", [
    ({"status": 5}, TypeError, "status takes a string or a list of strings, not 5"),
    ({"cloud": [5]}, TypeError, r"cloud takes a string or a list of strings, not \[5\]"),
    ({"limit": -1}, ValueError, "limit must be a number of rows"),
    ({"limit": "5"}, ValueError, "limit must be a number of rows"),
])
def test_a_filter_of_the_wrong_kind_names_itself(session, filters, error, message):
    """status=5 said "'int' object is not iterable" and limit='5' "More than one row returned by a subquery"."""
    with pytest.raises(error, match=message):
        session.executions(**filters)


def test_a_numpy_integer_is_a_limit(session):
    """`limit=counts.max()` (a numpy int64 from a frame) was refused: "limit must be a number of rows (0 or more),
    not np.int64(5)", as if it were no number."""
    import numpy as np

    assert len(session.executions(limit=np.int64(5))) == 5
    assert session.executions(limit=np.int32(2)).equals(session.executions(limit=2))
    with pytest.raises(ValueError, match="limit must be a number of rows"):
        session.executions(limit=np.int64(-1))


def test_a_generator_as_a_filter_is_read_once(session):
    wanted = session.executions(limit=3)[C.execution_id]
    assert len(session.executions(execution_id=(e for e in wanted))) == 3


def test_a_window_without_rows_says_where_the_data_is(session):
    """`s.executions(since=...)` over a window the data does not reach returned an empty frame without a
    word (flowscope.analyze warned, the readers did not); a window with rows that the other filters
    leave out stays quiet: that emptiness is the answer."""
    with pytest.warns(UserWarning, match=r"no executions since 2020-01-01 00:00 and before 2020-01-02 00:00 UTC; "
                                         r"the store's executions run from 2026-11-1\d"):
        assert session.executions(since="2020-01-01", until="2020-01-02").empty
    with pytest.warns(UserWarning, match="no steps before 2020-01-02"):
        session.steps(until="2020-01-02")
    first = session.executions()[C.started_at].min()
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        assert session.executions(since=first, until=first + dt.timedelta(hours=1), status="ABORTED",
                                  cloud="gcp").shape[1] == len(TABLES["executions"].schema)


def test_sql_and_the_window_end_reuse_the_snapshot_connection(session, monkeypatch):
    """Each s.sql() opened a throwaway DuckDB only to check the statement (60-140 ms, three times the
    query's own 20 ms), and each flowscope.analyze() without `until` built a whole snapshot connection
    for the window's end (~350 ms, never closed) beside the one the analysis reads. Both now use the
    store's connection of the current snapshot: no DuckDB is opened while the snapshot holds."""
    import duckdb

    session.sql("SELECT 1")                    # the snapshot's connection, built once
    opened: list[object] = []
    real = duckdb.connect

    def counting(*args, **kwargs):
        opened.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(duckdb, "connect", counting)
    assert session.sql("SELECT count(*) AS n FROM executions")["n"][0] > 0
    with pytest.raises(ValueError, match="not CREATE"):
        session.sql("CREATE VIEW x AS SELECT 1")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert session.window_end() <= END + dt.timedelta(minutes=5)
    assert opened == []


def test_the_notebook_api_says_its_own_arguments_not_the_commands_flags(session):
    """flowscope.analyze's warnings and the readers' errors told a notebook user to "use --since 2026-11-17
    --until 2026-11-20" or "leave --since out", flags a Python call has none of: they name the call's
    arguments (since='2026-11-17', until=..., cloud=...)."""
    said = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        flowscope.analyze(session, since="2020-01-01", until="2020-01-08", cloud="aws")
        flowscope.analyze(session, since=END - dt.timedelta(days=3), until=END + dt.timedelta(days=20))
    said += [str(w.message) for w in caught if w.category is UserWarning]
    for call in (lambda: session.executions(since=""), lambda: flowscope.analyze(session, since="7d", until=" ")):
        with pytest.raises(ValueError) as raised:
            call()
        said.append(str(raised.value))
    text = "\n".join(said)
    assert "use since='2026-11-17', until='2026-11-20'" in text, text
    assert "no executions for cloud='aws'" in text and "use until='2026-11-20' to end it" in text, text
    assert "pass since=None for its default" in text and "pass until=None for its default" in text, text
    assert "--" not in text, text


@pytest.mark.slow  # four analyses
def test_analyze_reads_the_configured_thresholds_as_the_commands_do(session, tmp_path, monkeypatch):
    """flowscope.analyze(s) used the default thresholds where `flowscope analyze` read flowscope.toml's
    [thresholds]: the same store and window gave other findings in a notebook than on the command line."""
    import json

    from typer.testing import CliRunner

    from flowscope.cli import app

    cfg = tmp_path / "flowscope.toml"
    cfg.write_text("[thresholds]\nfailure_rate = 0.9\ncostly_step_share = 0.99\n")
    monkeypatch.setenv("FLOWSCOPE_CONFIG", str(cfg))
    window = {"since": END - dt.timedelta(days=3), "until": END}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        found = flowscope.analyze(session, **window)
        defaults = flowscope.analyze(session, thresholds={}, **window)
    result = CliRunner().invoke(app, ["analyze", "--store", str(session.store.path), "--format", "json",
                                      "--since", window["since"].isoformat(), "--until", END.isoformat()])
    cli = json.loads(result.stdout)["findings"]
    assert [f["id"] for f in cli] == list(found["id"]), "the notebook and the command agree"
    assert len(found) < len(defaults), "the configured thresholds are in force"
    cfg.write_text("[thresholds]\nfailure_rate = \"high\"\n")
    with pytest.raises(ValueError, match=f"config file {cfg}, line 2: threshold failure_rate must be a number"):
        flowscope.analyze(session, **window)


def test_findings_say_what_their_dollars_are_as_the_exports_do(session):
    """`flowscope analyze --format json` and the CSV/Excel tables say beside `monthly_usd` what it is (a
    saving, a monthly cost, an episode's cost once, spend); the notebook's findings had no such column, so
    `found.monthly_usd.sum()` added what a change would save to what a problem costs and to spend."""
    from flowscope.analysis.checks import dollars_is

    found = flowscope.analyze(session, since=END - dt.timedelta(days=3), until=END)
    columns = list(found.columns)
    assert columns[columns.index("monthly_usd") + 1] == "monthly_usd_is"
    assert len(found) and list(found["monthly_usd_is"].fillna("")) == [dollars_is(k) or "" for k in found["kind"]]
    assert found["monthly_usd_is"].dtype == found["kind"].dtype, "a text column like the others"


def test_a_store_without_rows_says_so_without_a_window(tmp_path):
    """A store a writer made but filled with nothing (a first sync whose credentials failed) gave empty frames
    without a word when no window was passed: `s.executions()` read as "no executions happened". Only a
    window's emptiness was said."""
    Store(tmp_path / "store")
    s = flowscope.open(str(tmp_path / "store"))
    for call, table in ((lambda: s.executions(), "executions"), (lambda: s.steps(cloud="aws"), "steps"),
                        (lambda: s.workflows(), "workflows"), (lambda: s.collection_runs(), "collection_runs")):
        with pytest.warns(UserWarning, match=f"the store holds no {table}"):
            assert call().empty


def test_a_time_from_numpy_or_pandas_is_read_as_a_datetime_is(session):
    """`frame.started_at.values[0]` is a numpy datetime64: every reader and flowscope.analyze refused it
    ("cannot read time np.datetime64(...): use a duration like 7d"), while the same instant as a pandas
    Timestamp or a datetime was read (naive as UTC). NaT was "out of range", not a missing time."""
    import numpy as np

    start = END - dt.timedelta(days=1)
    expected = session.executions(since=start, until=END)
    assert len(expected)
    for since, until in ((np.datetime64(start.replace(tzinfo=None)), np.datetime64(END.replace(tzinfo=None))),
                         (np.datetime64("2026-11-19"), np.datetime64("2026-11-20T00:00:00.000000000"))):
        assert session.executions(since=since, until=until).equals(expected)
    with pytest.raises(ValueError, match=r"since=NaT is no time \(a missing value\?\)"):
        session.steps(since=pd.NaT)
    with pytest.raises(ValueError, match=r"until=NaT is no time"):
        session.steps(until=np.datetime64("NaT"))
    with pytest.raises(ValueError, match=r"until=NaT is no time"):
        flowscope.analyze(session, until=np.datetime64("NaT"))


@pytest.mark.slow  # three analyses
def test_analyze_reads_now_as_it_reads_since_and_until(session):
    """`now=` (the instant a window given no end, or a relative start, counts from) failed on a string
    ("'str' object has no attribute 'timestamp'") and on a naive datetime ("can't compare offset-naive and
    offset-aware datetimes"), where since and until take both."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        aware = flowscope.analyze(session, since="2d", now=END)
        assert len(aware)
        for now in ("2026-11-20", "2026-11-20T00:00:00Z", END.replace(tzinfo=None)):
            assert flowscope.analyze(session, since="2d", now=now).equals(aware), now
    with pytest.raises(ValueError, match="now=NaT is no time"):
        flowscope.analyze(session, since="2d", now=pd.NaT)


@pytest.mark.parametrize("thresholds", [5, "failure_rate=0.5", [("failure_rate", 0.5)]])
def test_thresholds_of_the_wrong_kind_name_themselves(session, thresholds):
    """`thresholds=5` failed inside the analyses with "'int' object is not iterable", naming no argument."""
    with pytest.raises(TypeError, match=r"thresholds takes a dict of thresholds \(\{'failure_rate': 0.5\}\)"):
        flowscope.analyze(session, since=END - dt.timedelta(days=1), until=END, thresholds=thresholds)


def test_a_long_list_of_ids_is_not_written_into_the_query(session):
    """`s.steps(execution_id=failed.execution_id)` wrote every id into the SQL text: 100,000 ids took 12 s to
    build and run the query for no row, 30,330 (3,033 repeated) 2.4 s. A long list is a table the engine
    joins (0.07 s); the rows are the same."""
    import ibis

    wanted = list(session.executions(limit=3)[C.execution_id])
    ids = [f"x{i}" for i in range(5_000)] + wanted * 2
    query = session._query("steps", execution_id=ids)[0]
    assert len(ibis.to_sql(query)) < 5_000
    assert set(session.steps(execution_id=ids)[C.execution_id]) == set(wanted)
    assert session.steps(execution_id=ids).equals(session.steps(execution_id=wanted))


def test_a_selection_is_said_as_the_call_writes_it():
    """The notebook's "no executions for cloud=aws, azure and workflow=payments, orders" read as neither Python
    nor one list: it is "cloud=['aws', 'azure'] and workflow=['payments', 'orders']" (one value: cloud='aws')."""
    from flowscope.dialect import CLI, PYTHON

    assert PYTHON.selection("cloud", ["aws"]) == "cloud='aws'"
    assert PYTHON.selection("cloud", ["aws", "azure"]) == "cloud=['aws', 'azure']"
    assert CLI.selection("cloud", ["aws", "azure"]) == "--cloud aws, azure"


READERS = ("workflows", "executions", "steps", "attempts", "usage", "metrics", "collection_runs")


def test_each_reader_shows_its_filters_and_names_itself(session):
    """The readers took `since, **filters`: Jupyter's signature help showed no filter, four readers had no
    docstring, and a wrong keyword (`clouds=`, flowscope.analyze's name) was "Session._select() got an
    unexpected keyword argument 'clouds'", naming a private function."""
    import inspect

    for name in READERS:
        reader = getattr(session, name)
        assert list(inspect.signature(reader).parameters) == ["since", "until", "cloud", "workflow", "status",
                                                              "execution_id", "limit"], name
        assert reader.__doc__ and "since" in reader.__doc__, name
        from flowscope.session import table_filters

        said = reader.__doc__.split("filter")[1]
        assert all(f in said for f in table_filters(name)[2:]), (name, said)
    with pytest.raises(TypeError, match=r"executions\(\) got an unexpected keyword argument 'clouds'") as raised:
        session.executions(clouds="aws")
    assert "_select" not in str(raised.value) and "_query" not in str(raised.value)


def test_findings_carry_their_coverage_when_warnings_are_silenced(session):
    """Notebooks silence warnings (`warnings.filterwarnings("ignore")` against the engines' noise): then
    flowscope.analyze over a window without data was an empty frame and nothing else, an all-clear. The
    frame carries the coverage `flowscope analyze --format json` prints (`attrs["coverage"]`: status,
    counts, message in the call's words)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        none = flowscope.analyze(session, since="2020-01-01", until="2020-01-02")
        some = flowscope.analyze(session, since=END - dt.timedelta(days=3), until=END)
    said = none.attrs["coverage"]
    assert none.empty and said["status"] == "no_data" and said["counts"]["executions"] == 0
    assert "since='2026-11-17'" in said["message"] and "--" not in said["message"]
    counted = some.attrs["coverage"]
    assert counted["counts"]["executions"] == len(session.executions(since=END - dt.timedelta(days=3), until=END))
    assert counted["counts"]["findings"] == len(some) and counted["window"]["until"] == "2026-11-20T00:00:00Z"


def test_an_empty_frame_says_why_when_warnings_are_silenced(session):
    """A reader's empty window is said in a warning; with warnings silenced the frame was bare. Its
    `attrs["empty"]` holds what the warning said; a frame emptied by the other filters has none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        empty = session.executions(since="2020-01-01", until="2020-01-02")
        filtered = session.executions(status="ABORTED", cloud="gcp", limit=0)
    assert empty.empty and empty.attrs["empty"].startswith("no executions since 2020-01-01 00:00")
    assert "empty" not in filtered.attrs and "empty" not in session.executions(limit=1).attrs


def test_analyze_lists_each_filter_once_as_the_command_does(session):
    """`flowscope analyze --cloud aws --cloud AWS --workflow a --workflow a` lists "clouds": ["aws"] and
    "workflows": ["a"] in its JSON header; flowscope.analyze(clouds=["aws", "AWS"], ...) listed the
    repeats in `attrs["coverage"]["filters"]`: one rule (`session.once_each`) for both."""
    from flowscope.cli import _clouds_spelt, _workflows_given

    name = session.workflows(cloud="aws")["name"].iloc[0]     # the filter names aws: an AWS workflow
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        findings = flowscope.analyze(session, since=END - dt.timedelta(days=3), until=END,
                                     clouds=["aws", "AWS", "aws"], workflows=[name, name])
        one = flowscope.analyze(session, since=END - dt.timedelta(days=3), until=END, cloud="aws", workflow=name)
    assert findings.attrs["coverage"]["filters"] == {"clouds": ["aws"], "workflows": [name]}
    assert findings.attrs["coverage"] == one.attrs["coverage"]
    assert _clouds_spelt(["aws", "AWS", "aws"]) == ["aws"] and _workflows_given([name, name]) == [name]
