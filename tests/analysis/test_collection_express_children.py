"""A Standard machine's Distributed Map Express children log to its log group: their steps' only source.
Logging below ALL there is a gap of its children, not of the machine's own executions."""

from __future__ import annotations

import json

import pandas as pd

from flowscope.analysis import analyze
from flowscope.model import Kind, RunStatus
from tests.analysis.helpers import T0, World, at

ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:parent"


def test_a_standard_parent_whose_express_children_log_below_all_is_not_called_an_express_machine():
    """A Standard machine with a Distributed Map of Express children logging at ERROR (the run's
    `machines[arn].express_children`): the gap read "Express state machine parent logs at ERROR: its
    executions and failures are only partly visible", though its own executions are read whole from
    their history; what is partial is its Express children's steps, which come from its log group."""
    w = World()
    arn = w.workflow("parent", kind=Kind.SFN_STANDARD, wf_id=ARN)
    w.collection_run("aws:123456789012:us-east-1", at(minutes=1), RunStatus.SUCCEEDED, details=json.dumps({
        "machines": {arn: {"state_machine_arn": arn, "kind": "standard", "path": "history",
                           "express_children": {"log_group": "/aws/states/parent", "logging_level": "ERROR"}}}}))
    until = T0 + pd.Timedelta(days=2)
    df = analyze(w.tables(), since=T0, until=until, now=until)
    [gap] = df[df["kind"] == "collection_gap"].itertuples()
    assert gap.workflow_id == arn and gap.evidence["level"] == "ERROR"
    assert not gap.title.startswith("Express state machine")
    assert "Express child executions" in gap.title and "Distributed Map" in gap.recommendation


def test_a_missing_log_group_of_a_standard_parent_of_express_children_is_a_gap():
    """The log group a Standard parent's Express children log to does not exist: the sync warned
    that their Express executions are not collected, and analyze said nothing (a group only Standard
    machines log to is no gap, their runs having a history; the children's steps have none)."""
    group = "/aws/states/parent-never-created"
    w = World()
    arn = w.workflow("parent", kind=Kind.SFN_STANDARD, wf_id=ARN)
    w.collection_run("aws:123456789012:us-east-1", at(minutes=1), RunStatus.SUCCEEDED, details=json.dumps({
        "machines": {arn: {"state_machine_arn": arn, "kind": "standard", "path": "history",
                           "express_children": {"log_group": group, "logging_level": "ALL"}}},
        "log_groups_missing": {group: ["parent"]}}))
    until = T0 + pd.Timedelta(days=2)
    df = analyze(w.tables(), since=T0, until=until, now=until)
    [gap] = df[df["kind"] == "collection_gap"].itertuples()
    assert gap.severity == "high" and group in gap.title and "Distributed Map" in gap.title
    assert gap.evidence["state_machines"] == ["parent"]
