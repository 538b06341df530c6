"""A collection run's details name state machines by name: two machines of one name (two regions or
accounts of one cloud) are told apart by the run's scope, and never one silently picked."""

from __future__ import annotations

import json

import pandas as pd

from flowscope.analysis import analyze
from flowscope.model import Kind, RunStatus
from tests.analysis.helpers import T0, World, at

ACCOUNT = "123456789012"
EAST = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:orders"
WEST = f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:orders"


def _gaps(w: World) -> pd.DataFrame:
    until = T0 + pd.Timedelta(days=2)
    df = analyze(w.tables(), since=T0, until=until, now=until)
    return df[df["kind"] == "collection_gap"]


def _two_orders(east_kind: str = Kind.SFN_EXPRESS) -> World:
    w = World()
    w.workflow("orders", kind=Kind.SFN_EXPRESS, wf_id=WEST, region="eu-west-1")
    w.workflow("orders", kind=east_kind, wf_id=EAST, region="us-east-1")
    return w


def _logging_error_run(w: World, scope: str) -> None:
    w.collection_run(scope, at(minutes=1), RunStatus.SUCCEEDED,
                     details=json.dumps({"express_logging": {"orders": "ERROR"}}))


def test_a_logging_level_named_by_a_run_lands_on_the_machine_of_its_scope():
    """Two Express machines "orders", in eu-west-1 and us-east-1; the eu-west-1 run says its "orders"
    logs at ERROR. The name was resolved to whichever machine of that name came last (here
    us-east-1's): the gap named the machine that logs at ALL, and the one that does not went unsaid."""
    w = _two_orders()
    _logging_error_run(w, f"aws:{ACCOUNT}:eu-west-1")
    g = _gaps(w)
    assert g["workflow_id"].tolist() == [WEST]
    assert g.iloc[0].evidence["level"] == "ERROR" and g.iloc[0].evidence["source"] == "collection_run"


def test_a_logging_level_whose_scope_does_not_tell_the_machine_lands_on_every_machine_of_that_name():
    """A run whose scope holds neither machine (another account's, or named after a profile): both
    are said, not one picked."""
    w = _two_orders()
    _logging_error_run(w, "aws:default:ap-south-1")
    assert sorted(_gaps(w)["workflow_id"]) == sorted([EAST, WEST])


def test_two_runs_naming_their_own_orders_each_say_theirs():
    """Each region's run names its own "orders": the second run's level was dropped (both keyed by
    the name alone), so one machine's gap went unsaid."""
    w = _two_orders()
    w.collection_run(f"aws:{ACCOUNT}:eu-west-1", at(minutes=1), RunStatus.SUCCEEDED,
                     details=json.dumps({"express_logging": {"orders": "ERROR"}}))
    w.collection_run(f"aws:{ACCOUNT}:us-east-1", at(minutes=1), RunStatus.SUCCEEDED,
                     details=json.dumps({"express_logging": {"orders": "OFF"}}))
    levels = {r.workflow_id: r.evidence["level"] for r in _gaps(w).itertuples()}
    assert levels == {WEST: "ERROR", EAST: "OFF"}


def test_a_missing_log_group_named_by_a_run_is_read_against_the_machines_of_its_scope():
    """The us-east-1 run found the log group of its Standard "orders" missing (its runs are read by
    their history: no gap); an Express "orders" in eu-west-1 made it read as an Express gap."""
    w = _two_orders(east_kind=Kind.SFN_STANDARD)
    w.collection_run(f"aws:{ACCOUNT}:us-east-1", at(minutes=1), RunStatus.SUCCEEDED,
                     details=json.dumps({"log_groups_missing": {"/aws/states/orders": ["orders"]}}))
    assert _gaps(w).empty

