"""A workflow is selected by its name as flowscope shows it: a stored name holding control characters
(`evil<ESC>]0;x<BEL>red-wf`, from a hostile account or a crafted import) is shown cleaned (`evilred-wf`,
`textsafety.terminal_text`), and `--workflow evilred-wf` was refused as unknown, the refusal listing
`evilred-wf` as the closest name: the workflow could not be selected by any name."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

import flowscope
from flowscope.cli import app
from flowscope.exitcodes import ExitCode

from .test_no_silent_all_clear import WINDOW, make_store, rows

runner = CliRunner()
HOSTILE = "evil\x1b]0;x\x07red-wf"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> str:
    """The hostile workflow (failing) beside a healthy one."""
    path = tmp_path_factory.mktemp("hostile") / "store"
    return make_store(path, rows(HOSTILE), rows("payments", failing=False))


@pytest.fixture(autouse=True)
def _no_env_store(monkeypatch):
    monkeypatch.delenv("FLOWSCOPE_STORE", raising=False)
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)


def test_the_shown_name_selects_the_workflow_in_analyze(hostile):
    result = runner.invoke(app, ["analyze", "--store", hostile, *WINDOW, "--workflow", "evilred-wf",
                                 "--format", "json", "--fail-on", "high"])
    assert result.exit_code == ExitCode.FINDINGS, result.output
    doc = json.loads(result.stdout)
    assert doc["counts"]["executions"] == 20 and doc["counts"]["workflows"] == 1, doc["counts"]
    assert doc["findings"] and {f["workflow_id"] for f in doc["findings"] if f["workflow_id"]} == {f"aws/{HOSTILE}"}


def test_the_healthy_workflow_beside_it_stays_apart(hostile):
    result = runner.invoke(app, ["analyze", "--store", hostile, *WINDOW, "--workflow", "payments", "--fail-on", "low"])
    assert result.exit_code == ExitCode.OK, result.output


def test_the_notebook_selects_it_by_the_same_rule(hostile):
    frame = flowscope.open(hostile).executions(workflow="evilred-wf")
    assert len(frame) == 20 and set(frame["workflow_name"]) == {HOSTILE}
    findings = flowscope.analyze(hostile, workflow="evilred-wf", since="2026-11-09", until="2026-11-12")
    assert findings.attrs["coverage"]["counts"]["executions"] == 20, findings.attrs["coverage"]
    assert set(findings["workflow_id"]) == {f"aws/{HOSTILE}"}


def test_two_names_shown_alike_are_refused_naming_their_ids(tmp_path):
    """Two stored names that show alike cannot be told apart by name: selecting both would merge two
    workflows' findings without a word; the refusal names their ids, which select one."""
    path = make_store(tmp_path / "store", rows(HOSTILE), rows("evil\x1b[31mred-wf"))
    result = runner.invoke(app, ["analyze", "--store", path, *WINDOW, "--workflow", "evilred-wf"])
    assert result.exit_code == ExitCode.USAGE, result.output
    said = " ".join(result.output.split())
    assert "2 workflows show as 'evilred-wf'" in said and r"(id 'aws/evil\x1b]0;x\x07red-wf')" in said, said
    assert "\x1b" not in result.output
    with pytest.raises(ValueError, match="show as 'evilred-wf'") as raised:
        flowscope.open(path).executions(workflow="evilred-wf")
    assert "\x1b" not in str(raised.value)


def test_an_exact_name_wins_over_a_shown_one(tmp_path):
    path = make_store(tmp_path / "store", rows(HOSTILE), rows("evilred-wf", failing=False))
    result = runner.invoke(app, ["analyze", "--store", path, *WINDOW, "--workflow", "evilred-wf", "--fail-on", "low"])
    assert result.exit_code == ExitCode.OK, result.output


def test_a_report_of_the_shown_name_holds_that_workflow_alone(hostile, tmp_path):
    """The report's tables select their workflows by the same rule as its findings: 20 executions, not the
    store's 40 (a rule of their own would have selected none, and so every workflow)."""
    out = tmp_path / "r.md"
    result = runner.invoke(app, ["report", "--store", hostile, *WINDOW, "--workflow", "evilred-wf", "--out", str(out),
                                 "--format", "md", "--no-history", "--fail-on", "high"])
    assert result.exit_code == ExitCode.FINDINGS, result.output
    text = out.read_text()
    assert "| total | 20 | 100.0% |" in text and "payments" not in text, text


def test_the_shown_name_in_another_case_is_named_as_differing_in_case_alone(hostile):
    """`--workflow EVILRED-WF` got no "differs only in case" hint, which `--workflow PAYMENTS` gets: the
    case was compared with the name as stored, escapes and all."""
    result = runner.invoke(app, ["analyze", "--store", hostile, *WINDOW, "--workflow", "EVILRED-WF"])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert "('evilred-wf' differs only in case" in " ".join(result.output.split()), result.output


def test_a_workflow_named_twice_is_one_workflow(hostile):
    """`--workflow payments --workflow payments` (a script adding its default to the user's) listed
    "workflows": ["payments", "payments"] in the JSON filters, as `--cloud` did."""
    result = runner.invoke(app, ["analyze", "--store", hostile, *WINDOW, "--workflow", "payments", "--workflow",
                                 "evilred-wf", "--workflow", "payments", "--format", "json"])
    assert json.loads(result.stdout)["filters"]["workflows"] == ["payments", "evilred-wf"], result.output


def test_a_name_typed_in_another_unicode_form_selects_it(tmp_path):
    """A name stored decomposed (`cafe` + U+0301, as some exports and macOS tools write it) reads `café` like
    the composed one a keyboard types: `--workflow café` was "unknown workflow 'café'; ... closest first: café"."""
    path = make_store(tmp_path / "store", rows("cafe\u0301-orders"))
    result = runner.invoke(app, ["analyze", "--store", path, *WINDOW, "--workflow", "caf\u00e9-orders",
                                 "--fail-on", "high"])
    assert result.exit_code == ExitCode.FINDINGS, result.output
