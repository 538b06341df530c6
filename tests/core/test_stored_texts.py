"""Error texts an earlier flowscope stored (GCP exception JSON, AWS `.sync` causes with the job's payloads)
are rewritten once by today's rules, by `sync` and `import`; every other value and every row stays."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest

from flowscope.collectors import stored_texts
from flowscope.model import EXECUTION_TABLES, C, Cloud
from flowscope.store import Store
from tests.ui.helpers import build

GCP_OLD = '{"message":"HTTP server responded with error code 503","code":503,"tags":["HttpError"]}'
GCP_WHERE = "classify: call http.post (line 12)"
AWS_OLD = json.dumps({"Cause": "Card declined", "Error": "PaymentFailed", "Input": '{"card": "hunter2"}',
                      "ExecutionArn": "arn:aws:states:eu-west-1:1:execution:charge:run-1", "Output": None})
LAMBDA = json.dumps({"errorMessage": "boom", "errorType": "ValueError", "requestId": "r-1"})


def _old_batch():
    """A three-cloud batch whose first two failed GCP and AWS executions carry the old texts."""
    batch = build(120, days=3, failed_scope=False)
    stale = {Cloud.GCP.value: [], Cloud.AWS.value: []}
    for ex in batch.executions:
        cloud = ex[C.cloud]
        if cloud in stale and len(stale[cloud]) < 2:
            stale[cloud].append(ex[C.execution_id])
    lambda_run = next(ex[C.execution_id] for ex in batch.executions
                      if ex[C.cloud] == Cloud.AWS.value and ex[C.execution_id] not in stale[Cloud.AWS.value])
    for table in ("executions", "steps", "attempts"):
        for row in getattr(batch, table):
            if row[C.execution_id] in stale[Cloud.GCP.value]:
                row[C.error], row[C.cause] = GCP_OLD, GCP_WHERE
            elif row[C.execution_id] in stale[Cloud.AWS.value]:
                row[C.error], row[C.cause] = "States.TaskFailed", AWS_OLD
            elif row[C.execution_id] == lambda_run:
                row[C.error], row[C.cause] = "ValueError", LAMBDA
    return batch, stale


def _tables(store: Store) -> dict[str, pd.DataFrame]:
    return {t: store.df(t).sort_values([C.cloud, C.execution_id, *([C.step_key] if t != "executions" else []),
                                        *([C.attempt] if t == "attempts" else []),
                                        *([C.meter] if t == "usage" else [])]).reset_index(drop=True)
            for t in EXECUTION_TABLES}


@pytest.fixture
def old_store(tmp_path):
    batch, stale = _old_batch()
    store = Store(tmp_path / "s")
    store.write(copy.deepcopy(batch))
    return store, stale


def test_old_texts_are_rewritten_once_and_nothing_else_changes(old_store):
    store, stale = old_store
    before = _tables(store)
    assert stored_texts.upgrade_texts(store) == 4
    after = _tables(store)
    for table, frame in before.items():
        assert len(after[table]) == len(frame), f"{table}: rows lost or duplicated"
        others = [c for c in frame.columns if c not in (C.error, C.cause)]
        pd.testing.assert_frame_equal(after[table][others], frame[others], check_dtype=False)
    for table in ("executions", "steps", "attempts"):
        rows = after[table]
        gcp = rows[rows[C.execution_id].isin(stale[Cloud.GCP.value])]
        assert set(gcp[C.error]) == {"HttpError 503"}
        assert set(gcp[C.cause]) == {f"HTTP server responded with error code 503; {GCP_WHERE}"}
        aws = rows[rows[C.execution_id].isin(stale[Cloud.AWS.value])]
        assert set(aws[C.cause]) == {"PaymentFailed: Card declined (arn:aws:states:eu-west-1:1:execution:charge:run-1)"}
        assert LAMBDA in set(rows[C.cause]), "a Lambda error's JSON is current: left as it is"
        assert not rows[C.cause].astype(str).str.contains("hunter2").any()
        untouched = ~rows[C.execution_id].isin([*stale[Cloud.GCP.value], *stale[Cloud.AWS.value]])
        pd.testing.assert_frame_equal(rows.loc[untouched, [C.error, C.cause]],
                                      before[table].loc[untouched, [C.error, C.cause]])
    version = store.version()
    assert stored_texts.upgrade_texts(store) == 0 and store.version() == version, "once per store"


def test_import_upgrades_a_store_and_the_cli_says_so(old_store, tmp_path, capsys):
    """`flowscope import` of any file into a store an earlier flowscope wrote rewrites its old texts once
    (a sync does the same, before its scopes: `sync_store`)."""
    from typer.testing import CliRunner

    from flowscope.cli import app
    from tests.aws.test_transform_aws import ARN, history

    store, _stale = old_store
    exported = tmp_path / "history.json"
    exported.write_text(json.dumps(history("scenarios_test_base_scenarios.snapshot.json", "test_map_state")))
    run = CliRunner().invoke(app, ["import", str(exported), "--store", str(store.path), "--execution-arn", ARN])
    assert run.exit_code == 0, run.output
    assert "rewrote the error texts of 4 execution(s) stored by an earlier flowscope" in run.output
    again = CliRunner().invoke(app, ["import", str(exported), "--store", str(store.path), "--execution-arn", ARN])
    assert again.exit_code == 0 and "rewrote" not in again.output


def test_current_texts_are_their_own_upgrade():
    """Both rules give back what they made, so a row written today is never changed by the upgrade."""
    for cloud, error, cause in [("gcp", "HttpError 503", "HTTP server responded with error code 503; x"),
                                ("gcp", '{"code": 1}', "where"), ("gcp", "boom", None),
                                ("aws", "States.TaskFailed", "PaymentFailed: Card declined (arn)"),
                                ("aws", "ValueError", LAMBDA), ("aws", "X", '{"Unknown":{"Size":3}}'),
                                ("azure", "BadGateway", '{"message": "x"}')]:
        assert stored_texts.current_texts(cloud, error, cause) == (error, cause)
    first = stored_texts.current_texts("gcp", GCP_OLD, GCP_WHERE)
    assert stored_texts.current_texts("gcp", *first) == first
    first = stored_texts.current_texts("aws", "States.TaskFailed", AWS_OLD)
    assert stored_texts.current_texts("aws", *first) == first


def test_a_store_written_today_is_not_said_to_be_upgraded(tmp_path):
    """Candidates the query finds but today's rules leave as they are (a GCP exception that is a map of
    the workflow's own, an AWS cause that is JSON of no known job) are not rewritten nor counted."""
    batch, stale = _old_batch()
    for table in ("executions", "steps", "attempts"):
        for row in getattr(batch, table):
            if row[C.execution_id] in stale[Cloud.GCP.value]:
                row[C.error], row[C.cause] = '{"code":7}', GCP_WHERE
            elif row[C.execution_id] in stale[Cloud.AWS.value]:
                row[C.cause] = '{"Unknown":{"Size":3}}'
    store = Store(tmp_path / "s")
    store.write(batch)
    version = store.version()
    assert stored_texts.upgrade_texts(store) == 0 and store.version() == version
    assert store.upgrade_done(stored_texts.STEP)

