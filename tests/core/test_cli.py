"""The `flowscope` command through Typer's runner: demo, import, errors and exit codes."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.model import Cloud
from flowscope.store import Store

from .conftest import small_sim, write_documents

runner = CliRunner()


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "store"
    result = runner.invoke(app, ["demo", "--store", str(path), "--no-serve", "--executions", "600", "--days", "3"])
    assert result.exit_code == 0, result.output
    return path


def test_demo_fills_three_clouds_with_ground_truth(demo_store):
    store = Store(demo_store)
    per_cloud = store.sql("SELECT cloud, count(*) AS n, count(DISTINCT workflow_id) AS w "
                          "FROM executions GROUP BY cloud ORDER BY cloud")
    assert list(per_cloud["cloud"]) == ["aws", "azure", "gcp"]
    assert per_cloud["n"].sum() >= 600
    assert store.sql("SELECT count(*) AS n FROM workflows")["n"][0] >= 12
    assert store.sql("SELECT count(*) AS n FROM steps")["n"][0] > per_cloud["n"].sum()
    meters = set(store.sql("SELECT DISTINCT meter FROM usage")["meter"])
    assert {"aws.sfn.state_transition", "aws.sfn.express_request", "azure.logic.builtin_action",
            "gcp.workflows.internal_step", "gcp.workflows.external_step"} <= meters
    truth = json.loads((demo_store / "_flowscope" / "demo_truth.json").read_text())
    kinds = {a["kind"] for a in truth["anomalies"]}
    assert {"failing_step", "retry_storm", "synchronized_retries", "polling_loop", "stuck_execution",
            "express_candidate", "collection_gap"} <= kinds
    failed = store.sql("SELECT scope FROM collection_runs WHERE status = 'failed'")
    assert len(failed) == 1


def test_demo_is_deterministic_for_a_seed(tmp_path):
    args = ["demo", "--no-serve", "--executions", "200", "--days", "2", "--seed", "5", "--end", "2026-11-01"]
    for name in ("a", "b"):
        assert runner.invoke(app, [*args, "--store", str(tmp_path / name)]).exit_code == 0
    query = "SELECT execution_id, status, duration_ms FROM executions ORDER BY execution_id"
    first, second = Store(tmp_path / "a").sql(query), Store(tmp_path / "b").sql(query)
    assert len(first) > 0 and first.equals(second)


def test_import_reports_counts_and_is_idempotent(tmp_path):
    paths = write_documents(tmp_path / "files", small_sim(Cloud.GCP, executions=20).documents)
    store_path = tmp_path / "store"
    result = runner.invoke(app, ["import", "--store", str(store_path), *map(str, paths)])
    assert result.exit_code == 0, result.output
    assert "executions" in result.output and "gcp.step_entries" in result.output
    count = Store(store_path).sql("SELECT count(*) AS n FROM steps")["n"][0]
    assert runner.invoke(app, ["import", "--store", str(store_path), *map(str, paths)]).exit_code == 0
    assert Store(store_path).sql("SELECT count(*) AS n FROM steps")["n"][0] == count


def test_import_errors_are_one_clear_line_and_non_zero(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"executions": [')
    result = runner.invoke(app, ["import", "--store", str(tmp_path / "s"), str(bad)])
    assert result.exit_code == 2
    assert "bad.json" in result.output and "nothing was written" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["import", "--store", str(tmp_path / "s"), "--cloud", "oracle", str(bad)])
    assert result.exit_code == 2 and "--cloud" in result.output
    result = runner.invoke(app, ["import", "--store", str(tmp_path / "s"), "--format", "aws.nope", str(bad)])
    assert result.exit_code == 2 and "aws.nope" in result.output


def test_config_file_errors_are_reported(tmp_path):
    config = tmp_path / "flowscope.toml"
    config.write_text("stroe = '/x'\n")
    result = runner.invoke(app, ["import", "--config", str(config), str(config)])
    assert result.exit_code == 2 and "stroe" in result.output
