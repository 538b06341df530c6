"""Distributed Map Runs: ListMapRuns, DescribeMapRun, children via ListExecutions(mapRunArn).

moto cannot list executions by mapRunArn nor answer ListMapRuns / DescribeMapRun, so these run
against a loopback fake (tests/aws/sfn_fake.py) that answers with the response shapes recorded
from AWS in shared/samples/aws/localstack_snapshots/test_sfn_api_map_run.snapshot.json
(`list_map_runs`, `describe_map_run`).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from flowscope.collectors.aws import collector as aws
from flowscope.model import RunStatus
from tests.aws.sfn_fake import ACCOUNT, Answer, FakeSfn, machine_handlers

REGION = "us-east-1"
SM = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:orders-map"
PARENT = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:orders-map:run-1"
MAP_RUN = f"arn:aws:states:{REGION}:{ACCOUNT}:mapRun:orders-map/Fan:0c3a6d3e-3c4c-3e55-9a6b-2f1f6d3c2a10"
CHILD_SM = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:orders-map/Fan"
T0 = 1_700_000_000.0
DEFINITION = {"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "Label": "Fan", "ToleratedFailurePercentage": 25, "End": True,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                      "StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}}}}}
CHILDREN = [f"arn:aws:states:{REGION}:{ACCOUNT}:execution:orders-map/Fan:{i:08d}-0000-0000-0000-000000000000"
            for i in range(4)]
FAILED_CHILD = CHILDREN[3]


def _ev(i: int, prev: int, typ: str, t: float, **details: dict) -> dict:
    event = {"id": i, "previousEventId": prev, "timestamp": T0 + t, "type": typ}
    event.update(details)
    return event


def _parent_history() -> list[dict]:
    return [
        _ev(1, 0, "ExecutionStarted", 0, executionStartedEventDetails={"roleArn": "r"}),
        _ev(2, 0, "MapStateEntered", 0.1, stateEnteredEventDetails={"name": "Fan"}),
        _ev(3, 2, "MapStateStarted", 0.2, mapStateStartedEventDetails={"length": 0}),
        _ev(4, 3, "MapRunStarted", 0.3, mapRunStartedEventDetails={"mapRunArn": MAP_RUN}),
        _ev(5, 4, "MapRunSucceeded", 9.0),
        _ev(6, 5, "MapStateSucceeded", 9.1),
        _ev(7, 6, "MapStateExited", 9.2, stateExitedEventDetails={"name": "Fan"}),
        _ev(8, 7, "ExecutionSucceeded", 9.3, executionSucceededEventDetails={}),
    ]


def _child_history(arn: str) -> list[dict]:
    k = CHILDREN.index(arn)
    start = _ev(1, 0, "ExecutionStarted", 1 + k, executionStartedEventDetails={"roleArn": "r"})
    if arn == FAILED_CHILD:
        return [start, _ev(2, 1, "ExecutionFailed", 2 + k,
                           executionFailedEventDetails={"error": "Item.Bad", "cause": "bad item"})]
    return [start,
            _ev(2, 0, "PassStateEntered", 1.1 + k, stateEnteredEventDetails={"name": "Item"}),
            _ev(3, 2, "PassStateExited", 1.2 + k, stateExitedEventDetails={"name": "Item"}),
            _ev(4, 3, "ExecutionSucceeded", 1.3 + k, executionSucceededEventDetails={})]


# DescribeMapRun as recorded (test_sfn_api_map_run.snapshot.json `describe_map_run`), with one
# of four items failed under a 25 % tolerance.
COUNTS = {"aborted": 0, "failed": 1, "pending": 0, "resultsWritten": 4, "running": 0, "succeeded": 3,
          "timedOut": 0, "total": 4}
DESCRIBE_MAP_RUN = {"executionArn": PARENT, "executionCounts": COUNTS, "itemCounts": COUNTS,
                    "mapRunArn": MAP_RUN, "maxConcurrency": 2, "startDate": T0 + 0.3, "status": "SUCCEEDED",
                    "stopDate": T0 + 9.0, "toleratedFailureCount": 0, "toleratedFailurePercentage": 25.0}


def _handlers() -> dict:
    def list_executions(body: dict) -> dict:
        if body.get("mapRunArn") == MAP_RUN:
            return {"executions": [
                {"executionArn": arn, "mapRunArn": MAP_RUN, "name": arn.rsplit(":", 1)[1],
                 "stateMachineArn": CHILD_SM, "startDate": T0 + 1 + k,
                 "status": "FAILED" if arn == FAILED_CHILD else "SUCCEEDED", "stopDate": T0 + 2 + k}
                for k, arn in reversed(list(enumerate(CHILDREN)))]}
        assert body.get("stateMachineArn") == SM, body
        return {"executions": [{"executionArn": PARENT, "name": "run-1", "stateMachineArn": SM,
                                "startDate": T0, "status": "SUCCEEDED", "stopDate": T0 + 9.3}]}

    def history(body: dict) -> dict:
        assert body.get("includeExecutionData") is False
        arn = body["executionArn"]
        return {"events": _parent_history() if arn == PARENT else _child_history(arn)}

    return {
        **machine_handlers({"orders-map": SM}, "STANDARD", T0 - 60, definition=json.dumps(DEFINITION)),
        "ListExecutions": list_executions,
        "GetExecutionHistory": history,
        # ListMapRuns as recorded (`list_map_runs`)
        "ListMapRuns": lambda b: {"mapRuns": [
            {"executionArn": PARENT, "mapRunArn": MAP_RUN, "startDate": T0 + 0.3,
             "stateMachineArn": CHILD_SM, "stopDate": T0 + 9.0}]} if b["executionArn"] == PARENT else {"mapRuns": []},
        "DescribeMapRun": lambda b: DESCRIBE_MAP_RUN,
    }


@pytest.fixture
def fake(_aws_env):
    with FakeSfn(_handlers()) as server:
        yield server


def test_map_run_children_linked_to_parent_and_counts_stored(fake, store):
    source = {"cloud": "aws", "regions": [REGION], "endpoint_url": fake.endpoint, "metrics": False,
              "max_attempts": 2}
    [result] = aws.sync(source, store)
    assert result.status == RunStatus.SUCCEEDED, result.row()

    executions = {e["execution_id"]: e for e in store.read_rows("executions")}
    assert set(executions) == {PARENT, *CHILDREN}
    for arn in CHILDREN:
        child = executions[arn]
        assert child["parent_execution_id"] == PARENT
        assert child["workflow_id"] == SM                       # billed to the parent machine
        assert json.loads(child["attributes"])["mapRunArn"] == MAP_RUN
    assert executions[FAILED_CHILD]["status"] == "FAILED" and executions[FAILED_CHILD]["error"] == "Item.Bad"
    assert executions[PARENT]["parent_execution_id"] is None

    attributes = json.loads(executions[PARENT]["attributes"])
    assert attributes["map_run_arns"] == [MAP_RUN]
    [summary] = attributes["map_runs"]
    assert summary["map_run_arn"] == MAP_RUN and summary["status"] == "SUCCEEDED"
    assert summary["item_counts"] == COUNTS and summary["execution_counts"] == COUNTS
    assert summary["tolerated_failure_percentage"] == 25.0 and summary["tolerated_failure_count"] == 0
    assert summary["max_concurrency"] == 2
    assert summary["state_name"] == "Fan"
    [map_step] = [s for s in store.read_rows("steps") if s["execution_id"] == PARENT and s["name"] == "Fan"]
    assert summary["step_key"] == map_step["step_key"] and map_step["resource"] == MAP_RUN

    assert fake.count("ListMapRuns", executionArn=PARENT) == 1
    assert fake.count("DescribeMapRun", mapRunArn=MAP_RUN) == 1
    assert fake.count("ListExecutions", mapRunArn=MAP_RUN) == 1
    assert fake.count("GetExecutionHistory") == 1 + len(CHILDREN)
    assert result.counts["map_run_children_listed"] == len(CHILDREN)

    # re-sync: nothing new, no history fetched again, no duplicates
    before = fake.count("GetExecutionHistory")
    [again] = aws.sync(source, store)
    assert again.status == RunStatus.SUCCEEDED
    assert fake.count("GetExecutionHistory") == before
    assert len(store.read_rows("executions")) == 1 + len(CHILDREN)


EXPRESS_CHILDREN = [f"arn:aws:states:{REGION}:{ACCOUNT}:express:orders-map/Fan:{i:08d}-0000-0000-0000-000000000000:"
                    f"{i:08d}-1111-1111-1111-111111111111" for i in range(3)]


@pytest.fixture
def express_fake(_aws_env):
    handlers = _handlers()
    standard_list, standard_history = handlers["ListExecutions"], handlers["GetExecutionHistory"]

    def list_executions(body: dict) -> dict:
        if body.get("mapRunArn") == MAP_RUN:
            return {"executions": [
                {"executionArn": arn, "mapRunArn": MAP_RUN, "name": arn.split(":")[-2],
                 "stateMachineArn": CHILD_SM, "startDate": T0 + 1 + k,
                 "status": "FAILED" if k == 2 else "SUCCEEDED", "stopDate": T0 + 1.25 + k}
                for k, arn in reversed(list(enumerate(EXPRESS_CHILDREN)))]}
        return standard_list(body)

    def history(body: dict) -> dict | tuple:
        if ":express:" in body["executionArn"]:   # no history API for Express executions
            return 400, {"__type": "InvalidArn",
                         "message": "Invalid Arn: 'Resource type not valid in this context: express'"}
        return standard_history(body)

    handlers.update(ListExecutions=list_executions, GetExecutionHistory=history)
    with FakeSfn(handlers) as server:
        yield server


def test_express_map_run_children_stored_from_the_listing_not_failed_history_calls(express_fake, store):
    """A Distributed Map with ExecutionType EXPRESS: GetExecutionHistory does not serve its
    children, so the sync failed once per child, every time (PARTIAL, watermark held). The
    children now come from ListExecutions(mapRunArn): linked, Express, billed per request."""
    source = {"cloud": "aws", "regions": [REGION], "endpoint_url": express_fake.endpoint, "metrics": False,
              "max_attempts": 2}
    [result] = aws.sync(source, store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert express_fake.count("GetExecutionHistory") == 1            # the parent's only
    assert result.counts["map_run_express_children"] == len(EXPRESS_CHILDREN)

    executions = {e["execution_id"]: e for e in store.read_rows("executions")}
    assert set(executions) == {PARENT, *EXPRESS_CHILDREN}
    for k, arn in enumerate(EXPRESS_CHILDREN):
        child = executions[arn]
        assert child["parent_execution_id"] == PARENT and child["kind"] == "sfn-express"
        assert child["workflow_id"] == SM and child["duration_ms"] == 250
        assert child["status"] == ("FAILED" if k == 2 else "SUCCEEDED")
    meters = [u["meter"] for u in store.read_rows("usage") if u["execution_id"] in EXPRESS_CHILDREN]
    assert sorted(meters) == sorted(["aws.sfn.express_request", "aws.sfn.express_gb_second"] * 3)

    [again] = aws.sync(source, store)
    assert again.status == RunStatus.SUCCEEDED and express_fake.count("GetExecutionHistory") == 1


def test_a_denied_list_map_runs_is_reported_as_such_not_as_the_history(_aws_env, store):
    """ListMapRuns denied (states:ListMapRuns missing from the policy): the parent's collection
    fails, and the error said 'GetExecutionHistory failed' though that call had succeeded,
    pointing the user at the wrong permission. It now names ListMapRuns."""
    handlers = _handlers()
    handlers["ListMapRuns"] = lambda b: (400, {"__type": "AccessDeniedException",
                                               "message": "not authorized to perform: states:ListMapRuns"})
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": [REGION], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1}
        [result] = aws.sync(source, store)
    assert result.status == RunStatus.PARTIAL
    [error] = json.loads(result.row()["details"])["errors"]
    assert (error["operation"], error["code"], error["target"]) == ("ListMapRuns", "AccessDeniedException", PARENT)
    assert error["message"].startswith("ListMapRuns failed: AccessDeniedException")


def test_a_child_whose_history_failed_is_fetched_by_the_next_sync(_aws_env, store):
    """One Map Run child's GetExecutionHistory fails (throttled past the retries): the sync is
    PARTIAL, but the parent was stored as finished, so the next sync skipped it as terminal and
    never listed its Map Run's children again: the child was missing for good, with nothing
    said after that sync. Now the parent's collection fails with its child, and the next sync
    fetches the parent again, and the child with it."""
    handlers = _handlers()
    history = handlers["GetExecutionHistory"]
    failures = {FAILED_CHILD: 1}

    def flaky(body: dict) -> dict | tuple:
        if failures.get(body["executionArn"]):
            failures[body["executionArn"]] -= 1
            return 400, {"__type": "ThrottlingException", "message": "Rate exceeded"}
        return history(body)

    handlers["GetExecutionHistory"] = flaky
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": [REGION], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1}
        [first] = aws.sync(source, store)
        assert first.status == RunStatus.PARTIAL
        assert FAILED_CHILD not in {e["execution_id"] for e in store.read_rows("executions")}
        [second] = aws.sync(source, store)
    assert second.status == RunStatus.SUCCEEDED, second.row()
    executions = {e["execution_id"]: e for e in store.read_rows("executions")}
    assert set(executions) == {PARENT, *CHILDREN}
    assert executions[FAILED_CHILD]["parent_execution_id"] == PARENT
    assert executions[FAILED_CHILD]["status"] == "FAILED"
    assert fake.count("GetExecutionHistory", executionArn=FAILED_CHILD) == 2
    # children stored by the first sync are not fetched again
    assert fake.count("GetExecutionHistory", executionArn=CHILDREN[0]) == 1


def test_a_running_child_revisited_with_its_parent_stays_linked_to_the_parent_execution(_aws_env, store):
    """A long Distributed Map: parent and children RUNNING at one sync, finished at the next, when
    the parent has left the listing's window. Both were revisited from the store, the child once
    through its parent's Map Run and once on its own, in a race; the lone revisit filed the
    Map Run's ARN as the child's parent execution (DescribeExecution's `mapRunArn`), unlinking it
    from the parent. Now a child whose parent is revisited comes with it, and a child revisited
    alone keeps the parent it was stored with."""
    state = {"done": False}
    handlers = _handlers()
    parent_history, list_executions = handlers["GetExecutionHistory"], handlers["ListExecutions"]
    child = CHILDREN[0]

    def running(events: list) -> list:
        return [e for e in events if not e["type"].endswith(("Succeeded", "Exited", "Failed"))]

    def history(body: dict) -> dict:
        doc = parent_history(body)
        return doc if state["done"] else {"events": running(doc["events"])}

    def listing(body: dict) -> dict:
        doc = list_executions(body)
        if body.get("mapRunArn"):
            doc = {"executions": [e for e in doc["executions"] if e["executionArn"] == child]}
        if not state["done"]:
            doc = {"executions": [{**e, "status": "RUNNING", "stopDate": None} for e in doc["executions"]]}
        if state["done"] and body.get("stateMachineArn"):
            doc = {"executions": []}          # the parent started before the window
        return doc

    def describe(body: dict) -> dict:
        arn = body["executionArn"]
        base = {"executionArn": arn, "stateMachineArn": SM if arn == PARENT else CHILD_SM, "status": "SUCCEEDED",
                "startDate": T0 if arn == PARENT else T0 + 1, "stopDate": T0 + 9.3}
        return base if arn == PARENT else {**base, "mapRunArn": MAP_RUN}

    handlers.update(GetExecutionHistory=history, ListExecutions=listing, DescribeExecution=describe,
                    DescribeMapRun=lambda b: {**DESCRIBE_MAP_RUN, "status": "RUNNING" if not state["done"] else
                                              "SUCCEEDED"})
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": [REGION], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1, "lag": "1s"}
        [first] = aws.sync(source, store)
        assert first.status == RunStatus.SUCCEEDED, first.row()
        rows = {e["execution_id"]: e for e in store.read_rows("executions")}
        assert (rows[PARENT]["status"], rows[child]["status"]) == ("RUNNING", "RUNNING")
        assert rows[child]["parent_execution_id"] == PARENT
        state["done"] = True
        [second] = aws.sync(source, store)
        assert second.status == RunStatus.SUCCEEDED, second.row()
        assert fake.count("GetExecutionHistory", executionArn=child) == 2     # once per sync, not twice
    rows = {e["execution_id"]: e for e in store.read_rows("executions")}
    assert (rows[PARENT]["status"], rows[child]["status"]) == ("SUCCEEDED", "SUCCEEDED")
    assert rows[child]["parent_execution_id"] == PARENT


def test_a_distributed_map_machine_logging_at_all_still_collects_its_map_runs(_aws_env, store):
    """A Standard machine with a Distributed Map that logs at ALL: the logs path (`auto` chooses it
    for many short executions, or `standard_path = "logs"`) reads no Map Run, so the children
    were never collected and the parent had no `map_runs`, without a word. Its executions now go
    through their history, and the decision says why."""
    from flowscope.collectors.aws.logs import choose_path

    handlers = _handlers()
    describe = handlers["DescribeStateMachine"]
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/states/orders-map:*"
    handlers["DescribeStateMachine"] = lambda b: {**describe(b), "loggingConfiguration": {
        "level": "ALL", "includeExecutionData": False,
        "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]}}
    handlers["FilterLogEvents"] = lambda b: {"events": []}
    doc = handlers["DescribeStateMachine"]({"stateMachineArn": SM})
    assert choose_path(doc, 500, 8.0)[0] == "history"
    assert choose_path({**doc, "definition": json.dumps({"StartAt": "P", "States": {"P": {
        "Type": "Pass", "End": True}}})}, 500, 8.0)[0] == "logs"          # what it chose before
    with FakeSfn(handlers) as fake:
        source = {"cloud": "aws", "regions": [REGION], "endpoint_url": fake.endpoint, "metrics": False,
                  "max_attempts": 1, "standard_path": "logs"}
        [result] = aws.sync(source, store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    decision = json.loads(result.row()["details"])["machines"][SM]
    assert (decision["path"], decision["decision"]["reason"]) == ("history", "Distributed Map")
    executions = {e["execution_id"]: e for e in store.read_rows("executions")}
    assert set(executions) == {PARENT, *CHILDREN}
    assert {executions[c]["parent_execution_id"] for c in CHILDREN} == {PARENT}
    assert [m["map_run_arn"] for m in json.loads(executions[PARENT]["attributes"])["map_runs"]] == [MAP_RUN]


def test_a_retried_map_has_every_map_run_matched_to_its_step(_aws_env, store):
    """A Distributed Map retried after its first Map Run failed runs a second Map Run in the same
    visit: the step's resource is the last run's ARN, and the first run's summary in the parent's
    `map_runs` had no state_name or step_key (only the last run was matched to the step)."""
    retry_run = MAP_RUN.replace("0c3a6d3e", "1d4b7e4f")
    history = [
        _ev(1, 0, "ExecutionStarted", 0, executionStartedEventDetails={"roleArn": "r"}),
        _ev(2, 0, "MapStateEntered", 0.1, stateEnteredEventDetails={"name": "Fan"}),
        _ev(3, 2, "MapStateStarted", 0.2, mapStateStartedEventDetails={"length": 0}),
        _ev(4, 3, "MapRunStarted", 0.3, mapRunStartedEventDetails={"mapRunArn": MAP_RUN}),
        _ev(5, 4, "MapRunFailed", 4.0, mapRunFailedEventDetails={"error": "States.ExceedToleratedFailureThreshold"}),
        _ev(6, 5, "MapStateStarted", 5.0, mapStateStartedEventDetails={"length": 0}),
        _ev(7, 6, "MapRunStarted", 5.1, mapRunStartedEventDetails={"mapRunArn": retry_run}),
        _ev(8, 7, "MapRunSucceeded", 9.0),
        _ev(9, 8, "MapStateSucceeded", 9.1),
        _ev(10, 9, "MapStateExited", 9.2, stateExitedEventDetails={"name": "Fan"}),
        _ev(11, 10, "ExecutionSucceeded", 9.3, executionSucceededEventDetails={}),
    ]
    handlers = _handlers()
    standard_list = handlers["ListExecutions"]
    handlers.update(
        ListExecutions=lambda b: {"executions": []} if b.get("mapRunArn") else standard_list(b),
        GetExecutionHistory=lambda b: {"events": history},
        ListMapRuns=lambda b: {"mapRuns": [
            {"executionArn": PARENT, "mapRunArn": arn, "startDate": T0, "stateMachineArn": CHILD_SM}
            for arn in (retry_run, MAP_RUN)]},
        DescribeMapRun=lambda b: {**DESCRIBE_MAP_RUN, "mapRunArn": b["mapRunArn"]})
    with FakeSfn(handlers) as server:
        source = {"cloud": "aws", "regions": [REGION], "endpoint_url": server.endpoint, "metrics": False,
                  "max_attempts": 1}
        [result] = aws.sync(source, store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    [parent] = [e for e in store.read_rows("executions") if e["execution_id"] == PARENT]
    [fan] = [s for s in store.read_rows("steps") if s["name"] == "Fan"]
    summaries = {m["map_run_arn"]: m for m in json.loads(parent["attributes"])["map_runs"]}
    assert {arn: (m["state_name"], m["step_key"]) for arn, m in summaries.items()} == {
        MAP_RUN: ("Fan", fan["step_key"]), retry_run: ("Fan", fan["step_key"])}


def _child_describe(arn: str) -> dict:
    """DescribeExecution of a Map Run child, as `aws stepfunctions describe-execution` prints it."""
    k = CHILDREN.index(arn)
    return {"executionArn": arn, "stateMachineArn": CHILD_SM, "name": arn.rsplit(":", 1)[1], "mapRunArn": MAP_RUN,
            "status": "FAILED" if arn == FAILED_CHILD else "SUCCEEDED",
            "startDate": T0 + 1 + k, "stopDate": T0 + 2 + k}


def test_a_map_run_child_has_its_parent_execution_whether_collected_or_imported(fake, store, tmp_path):
    """`parent_execution_id` held the parent execution's ARN when collected, and the Map Run's ARN
    when imported from describe-execution: two meanings in one column, and importing a child
    already collected replaced its parent by the Map Run. It is the parent execution's ARN on both
    paths now: an import finds it from the parent's Map Runs (`attributes.map_run_arns`) in the
    same import or in the store, and leaves it empty (the Map Run stays in `attributes.mapRunArn`)
    when neither has the parent yet."""
    from flowscope.collectors.importer import import_files
    from flowscope.store import Store

    source = {"cloud": "aws", "regions": [REGION], "endpoint_url": fake.endpoint, "metrics": False,
              "max_attempts": 2}
    [result] = aws.sync(source, store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    child = CHILDREN[0]
    collected = {e["execution_id"]: e for e in store.read_rows("executions")}[child]
    assert collected["parent_execution_id"] == PARENT

    described = tmp_path / "child.json"
    described.write_text(json.dumps(_child_describe(child)))
    import_files(store, [described])                        # an import over the collected child
    assert {e["execution_id"]: e for e in store.read_rows("executions")}[child]["parent_execution_id"] == PARENT

    history = tmp_path / "parent-history.json"
    history.write_text(json.dumps({"events": _parent_history()}))
    alone = Store(tmp_path / "alone")
    import_files(alone, [described])                        # the parent not known yet
    [row] = alone.read_rows("executions")
    assert row["parent_execution_id"] is None and json.loads(row["attributes"])["mapRunArn"] == MAP_RUN

    together = Store(tmp_path / "together")
    import_files(together, [history], execution_id=PARENT)  # the parent, then its child
    import_files(together, [described])
    imported = {e["execution_id"]: e for e in together.read_rows("executions")}[child]
    assert imported["parent_execution_id"] == collected["parent_execution_id"] == PARENT


def test_a_parent_imported_after_its_map_run_children_links_the_stored_children(store, tmp_path):
    """Children imported first are stored unlinked (their parent is not known yet). Importing the
    parent afterwards left them so until each child happened to be written again: the Map Run's
    children never showed under their parent. The parent's import now links the stored children
    of its Map Runs (their steps kept)."""
    from flowscope.collectors.importer import import_files

    children = tmp_path / "children"
    children.mkdir()
    for k, arn in enumerate(CHILDREN[:2]):
        (children / f"child-{k}.json").write_text(json.dumps({"events": _child_history(arn)}))
    for k, arn in enumerate(CHILDREN[:2]):
        import_files(store, [children / f"child-{k}.json"], execution_id=arn)
    described = tmp_path / "described.json"
    described.write_text(json.dumps({"executions": [_child_describe(arn) for arn in CHILDREN[:2]]}))
    import_files(store, [described])
    before = {e["execution_id"]: e for e in store.read_rows("executions")}
    assert all(before[arn]["parent_execution_id"] is None for arn in CHILDREN[:2])
    steps_before = sorted((s["execution_id"], s["name"]) for s in store.read_rows("steps"))

    history = tmp_path / "parent-history.json"
    history.write_text(json.dumps({"events": _parent_history()}))
    import_files(store, [history], execution_id=PARENT)
    after = {e["execution_id"]: e for e in store.read_rows("executions")}
    assert set(after) == {PARENT, *CHILDREN[:2]}
    assert [after[arn]["parent_execution_id"] for arn in CHILDREN[:2]] == [PARENT, PARENT]
    steps_after = sorted((s["execution_id"], s["name"]) for s in store.read_rows("steps")
                         if s["execution_id"] != PARENT)
    assert steps_after == steps_before


EXPRESS_DEFINITION = {"StartAt": "Fan", "States": {"Fan": {
    "Type": "Map", "Label": "Fan", "End": True,
    "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                      "StartAt": "Item", "States": {"Item": {"Type": "Pass", "End": True}}}}}}
PARENT_GROUP = "/aws/vendedlogs/states/orders-map"


def _log_events(arn: str, t0: float, types: list[str]) -> list[dict]:
    """CloudWatch Logs events of one execution logged at ALL, as FilterLogEvents returns them."""
    records: list[dict[str, Any]] = [
        {"id": str(i + 1), "type": t, "details": {"name": "Item"} if "State" in t else {},
         "previous_event_id": str(i), "event_timestamp": str(int((t0 + i * 0.05) * 1000)),
         "execution_arn": arn} for i, t in enumerate(types)]
    return [{"eventId": f"{arn}-{r['id']}", "logStreamName": "states/orders-map", "message": json.dumps(r),
             "timestamp": int(r["event_timestamp"])} for r in records]


def _log_to_parent_group(fake: FakeSfn) -> None:
    """The parent machine: an Express Distributed Map, logging at ALL to PARENT_GROUP."""
    describe = fake.handlers["DescribeStateMachine"]
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{PARENT_GROUP}:*"

    def logging(b: dict[str, Any]) -> Answer:
        answer = describe(b)
        if isinstance(answer, tuple):       # a refusal stays one
            return answer
        return {**answer, "definition": json.dumps(EXPRESS_DEFINITION),
                "loggingConfiguration": {"level": "ALL", "includeExecutionData": False, "destinations": [
                    {"cloudWatchLogsLogGroup": {"logGroupArn": group_arn}}]}}

    fake.handlers["DescribeStateMachine"] = logging


def test_express_children_of_a_distributed_map_get_their_steps_from_the_parents_log_group(express_fake, store):
    """The Express children of a Distributed Map log to the parent machine's log group. The parent
    is Standard and takes the history path (it has a Distributed Map), so that group was never
    read: the children were stored from ListExecutions(mapRunArn) and never had a step. The group
    is now read for the children only (the parent's own records are left to its history), and
    each child keeps its parent; a second sync reads nothing twice."""
    child_types = ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    events = [e for k, arn in enumerate(EXPRESS_CHILDREN) for e in _log_events(arn, T0 + 1 + k, child_types)]
    events += _log_events(PARENT, T0, ["ExecutionStarted", "MapStateEntered"])    # the parent's own: not read
    _log_to_parent_group(express_fake)
    express_fake.handlers["FilterLogEvents"] = lambda b: {"events": events if b["logGroupName"] == PARENT_GROUP
                                                          else []}
    source = {"cloud": "aws", "regions": [REGION], "endpoint_url": express_fake.endpoint, "metrics": False,
              "max_attempts": 2}
    [result] = aws.sync(source, store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert express_fake.count("FilterLogEvents", logGroupName=PARENT_GROUP) == 1
    executions = {e["execution_id"]: e for e in store.read_rows("executions")}
    assert set(executions) == {PARENT, *EXPRESS_CHILDREN}
    assert all(executions[arn]["parent_execution_id"] == PARENT for arn in EXPRESS_CHILDREN)
    assert executions[PARENT]["status"] == "SUCCEEDED"                 # its history, not its log tail
    steps = sorted((s["execution_id"], s["name"]) for s in store.read_rows("steps")
                   if s["execution_id"] in EXPRESS_CHILDREN)
    assert steps == sorted((arn, "Item") for arn in EXPRESS_CHILDREN)
    parent_steps = [s["name"] for s in store.read_rows("steps") if s["execution_id"] == PARENT]
    assert parent_steps == ["Fan"]

    [again] = aws.sync(source, store)
    assert again.status == RunStatus.SUCCEEDED, again.row()
    assert "executions_from_logs" not in again.counts          # stored with their steps: not read again
    assert len(store.read_rows("executions")) == 1 + len(EXPRESS_CHILDREN)
    assert sorted((s["execution_id"], s["name"]) for s in store.read_rows("steps")
                  if s["execution_id"] in EXPRESS_CHILDREN) == steps


def test_express_children_whose_log_records_come_after_their_listing_get_their_steps_next_sync(
        express_fake, store):
    """CloudWatch Logs delivers records late: children listed (stored from ListExecutions) by one
    sync may have their records read only by the next, when the finished parent is not fetched
    again. Stored from the listing only, they are not read as collected: the next sync adds their
    steps, keeps their parent, and a third adds nothing."""
    child_types = ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    events = [e for k, arn in enumerate(EXPRESS_CHILDREN) for e in _log_events(arn, T0 + 1 + k, child_types)]
    delivered: list[dict] = []
    _log_to_parent_group(express_fake)
    express_fake.handlers["FilterLogEvents"] = lambda b: {"events": delivered}
    source = {"cloud": "aws", "regions": [REGION], "endpoint_url": express_fake.endpoint, "metrics": False,
              "max_attempts": 2}
    [first] = aws.sync(source, store)
    assert first.status == RunStatus.SUCCEEDED, first.row()
    assert not [s for s in store.read_rows("steps") if s["execution_id"] in EXPRESS_CHILDREN]

    delivered.extend(events)
    for _ in range(2):
        [later] = aws.sync(source, store)
        assert later.status == RunStatus.SUCCEEDED, later.row()
        executions = {e["execution_id"]: e for e in store.read_rows("executions")}
        assert set(executions) == {PARENT, *EXPRESS_CHILDREN}
        assert all(executions[arn]["parent_execution_id"] == PARENT for arn in EXPRESS_CHILDREN)
        steps = sorted((s["execution_id"], s["name"]) for s in store.read_rows("steps")
                       if s["execution_id"] in EXPRESS_CHILDREN)
        assert steps == sorted((arn, "Item") for arn in EXPRESS_CHILDREN)
    assert express_fake.count("GetExecutionHistory") == 1


def test_a_log_tail_of_an_express_child_never_replaces_the_steps_it_has(express_fake, store):
    """A child's records are read again while they are in the window (its stored row stays the
    listing's). A later read holding only the tail of its records (its start before the window)
    must not replace the steps already stored by a fragment."""
    child_types = ["ExecutionStarted", "PassStateEntered", "PassStateExited", "ExecutionSucceeded"]
    events = [e for k, arn in enumerate(EXPRESS_CHILDREN) for e in _log_events(arn, T0 + 1 + k, child_types)]
    served = [events]
    _log_to_parent_group(express_fake)
    express_fake.handlers["FilterLogEvents"] = lambda b: {"events": served[0]}
    source = {"cloud": "aws", "regions": [REGION], "endpoint_url": express_fake.endpoint, "metrics": False,
              "max_attempts": 2}
    aws.sync(source, store)
    before = sorted((s["execution_id"], s["name"]) for s in store.read_rows("steps")
                    if s["execution_id"] in EXPRESS_CHILDREN)
    assert before == sorted((arn, "Item") for arn in EXPRESS_CHILDREN)

    served[0] = [e for e in events if json.loads(e["message"])["type"] in ("PassStateExited", "ExecutionSucceeded")]
    [again] = aws.sync(source, store)
    assert again.status == RunStatus.SUCCEEDED, again.row()
    after = sorted((s["execution_id"], s["name"]) for s in store.read_rows("steps")
                   if s["execution_id"] in EXPRESS_CHILDREN)
    assert after == before
    assert all(e["parent_execution_id"] == PARENT for e in store.read_rows("executions")
               if e["execution_id"] in EXPRESS_CHILDREN)
