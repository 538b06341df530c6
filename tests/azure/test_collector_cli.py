"""`flowscope sync` and `flowscope doctor` with an Azure source, end to end through the CLI."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.store import Store
from tests.azure.arm_server import SAMPLE_SUB, ArmServer, sample_corpus

runner = CliRunner()


@pytest.fixture
def config(tmp_path):
    def write(endpoint: str, **extra: str) -> str:
        lines = [f'store = "{tmp_path / "store"}"', "[[sources]]", 'cloud = "azure"',
                 f'subscription_id = "{SAMPLE_SUB}"', f'arm_endpoint = "{endpoint}"', 'lag = "4000d"']
        lines += [f"{k} = {v}" for k, v in extra.items()]
        path = tmp_path / "flowscope.toml"
        path.write_text("\n".join(lines) + "\n")
        return str(path)
    return write


def test_sync_then_doctor_show_the_azure_scope(config, tmp_path, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "test-token")
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        path = config(server.endpoint)
        result = runner.invoke(app, ["sync", "--config", path, "--cloud", "azure"])
        assert result.exit_code == ExitCode.OK, result.output
        assert f"azure:{SAMPLE_SUB}: succeeded, wrote 3 workflows, 3 executions" in result.output.replace("\n", " ")
    doctor = runner.invoke(app, ["doctor", "--config", path])
    assert f"last sync of azure:{SAMPLE_SUB}: succeeded" in doctor.output, doctor.output
    assert "azure" in doctor.output and "not available in this version" not in \
        next(line for line in doctor.output.splitlines() if line.strip().startswith("azure"))
    assert len(Store(tmp_path / "store").read_rows("executions")) == 3


def test_bad_azure_source_is_a_config_error_before_any_call(config, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "test-token")
    with ArmServer() as server:
        result = runner.invoke(app, ["sync", "--config", config("http://10.0.0.1:80")])
        assert result.exit_code == ExitCode.USAGE, result.output
        assert "plain http on a non-loopback host" in result.output
        result = runner.invoke(app, ["sync", "--config", config(server.endpoint, regions='["x"]')])
        assert result.exit_code == ExitCode.USAGE and "unknown key(s) regions" in result.output
        assert server.requests == 0


def test_expired_token_exits_no_data_with_a_clear_line(config, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "stale")
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        result = runner.invoke(app, ["sync", "--config", config(server.endpoint)])
    assert result.exit_code == ExitCode.NO_DATA
    assert "failed" in result.output and "HTTP 401" in result.output and "stale" not in result.output


def test_a_workflow_glob_matching_nothing_is_said_and_is_no_data(config, tmp_path, monkeypatch):
    """`workflows = ["ordrs-*"]` (a typo) matched none of the subscription's workflows and the sync said
    "succeeded", exit 0: the line now says how many were listed and that none matched, exit 3 (nothing
    of the scope collected). A glob that matches is unchanged."""
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "test-token")
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        result = runner.invoke(app, ["sync", "--config", config(server.endpoint, workflows='["ordrs-*"]')])
        assert result.exit_code == ExitCode.NO_DATA, result.output
        assert "succeeded - 0 of 3 workflows match ['ordrs-*']: nothing collected" in " ".join(result.output.split())
        result = runner.invoke(app, ["sync", "--config", config(server.endpoint, workflows='["*"]')])
        assert result.exit_code == ExitCode.OK, result.output
        assert "match" not in result.output


def test_a_subscription_that_lists_no_workflow_is_said_not_a_silent_success(config, monkeypatch):
    """An identity that may read nothing of the subscription's Logic Apps sees it empty (ARM lists only
    what it may read): the sync said "succeeded" and nothing else. It now says that no workflow was
    listed and what to check, as the AWS collector does for a region without state machines."""
    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "test-token")
    with ArmServer() as server:
        result = runner.invoke(app, ["sync", "--config", config(server.endpoint)])
    said = " ".join(result.output.split())
    assert result.exit_code == ExitCode.OK, result.output
    assert f"warning: no Logic Apps workflows in subscription {SAMPLE_SUB}: nothing to collect" in said


def test_a_cloud_error_quoting_credentials_and_escapes_is_printed_and_stored_without_them(config, tmp_path,
                                                                                           monkeypatch):
    """ARM's error message is cloud text: it quoted a callback URL with its `sig` and a bearer token (printed by
    `sync` and kept in collection_runs), and could hold terminal escapes (a retitled terminal)."""
    import json

    monkeypatch.setenv("FLOWSCOPE_AZURE_TOKEN", "test-token")
    message = ("denied for https://prod-07.westeurope.logic.azure.com/run?sv=1.0&sig=S1GNATURE "
               "with Bearer T0KENT0KEN \x1b]0;pwned\x07\x1b[2J")
    with ArmServer() as server:
        server.load_documents(sample_corpus())
        server.fault(r"/runs$", 403, times=10**6, body={"error": {"code": "AuthorizationFailed", "message": message}})
        result = runner.invoke(app, ["sync", "--config", config(server.endpoint)])
    assert result.exit_code == ExitCode.NO_DATA, result.output
    assert "AuthorizationFailed" in result.output and "sig=REDACTED" in result.output
    assert not [s for s in ("S1GNATURE", "T0KENT0KEN", "\x1b", "\x07") if s in result.output]
    (run,) = Store(tmp_path / "store").read_rows("collection_runs")
    stored = json.dumps([run["error"], run["details"]])
    assert "S1GNATURE" not in stored and "T0KENT0KEN" not in stored
