"""Under a workflow filter the collection gaps are the unfiltered analysis' of those workflows (plus
the scope-level ones), as `select_findings` takes them for the dashboard: the CLI's
`--workflow` and the dashboard's selection say the same."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from flowscope.analysis import analyze
from flowscope.analysis.suite import select_findings
from flowscope.model import Kind, RunStatus
from tests.analysis.helpers import T0, World, at

SCOPE = "aws:123456789012:us-east-1"
UNTIL = T0 + pd.Timedelta(days=2)


def _gaps(w: World, workflows: list[str] | None = None) -> list[tuple[str, str]]:
    df = analyze(w.tables(), since=T0, until=UNTIL, now=UNTIL, workflows=workflows)
    return sorted((r.workflow_id, r.title) for r in df[df["kind"] == "collection_gap"].itertuples())


def _selected(w: World, ids: list[str]) -> list[tuple[str, str]]:
    df = select_findings(analyze(w.tables(), since=T0, until=UNTIL, now=UNTIL), workflow_ids=ids)
    return sorted((r.workflow_id, r.title) for r in df[df["kind"] == "collection_gap"].itertuples())


def _world(a_kind: str, details: dict) -> tuple[World, dict[str, str]]:
    w = World()
    ids = {"a": w.workflow("a", kind=a_kind), "b": w.workflow("b", kind=Kind.SFN_EXPRESS)}
    for wf in ids.values():
        w.execution(wf, at(minutes=5))
    w.collection_run(SCOPE, at(minutes=1), RunStatus.SUCCEEDED, details=json.dumps(details))
    return w, ids


@pytest.mark.parametrize("selected", ["a", "b"])
def test_a_logging_level_a_run_names_is_said_only_under_its_own_workflow(selected):
    """`--workflow b`: the gap of machine a (logging at ERROR, named by the run by its ARN) was said
    too, a finding of a workflow left out, which the dashboard's selection of b did not show."""
    w, ids = _world(Kind.SFN_EXPRESS, {})
    w.rows["collection_runs"][0]["details"] = json.dumps({"machines": {ids["a"]: {
        "state_machine_arn": ids["a"], "kind": "express", "logging_level": "ERROR"}}})
    assert _gaps(w, [selected]) == _selected(w, [ids[selected]])
    assert [wf for wf, _ in _gaps(w, [selected])] == ([ids["a"]] if selected == "a" else [])


@pytest.mark.parametrize("selected", ["a", "b"])
def test_a_missing_log_group_of_a_standard_machine_left_out_is_not_an_express_gap(selected):
    """`--workflow b`: a log group only Standard machine a logs to, found missing, read as an Express
    gap ("the Express executions of a are not collected"): a's kind was looked up among the selected
    workflows only, where the unfiltered analysis (and so the dashboard) says nothing."""
    w, ids = _world(Kind.SFN_STANDARD, {"log_groups_missing": {"/aws/states/a": ["a"]}})
    assert _gaps(w, [selected]) == _selected(w, [ids[selected]]) == []
