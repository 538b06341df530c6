"""A state machine deleted between ListStateMachines and DescribeStateMachine."""

from __future__ import annotations

import time

from flowscope.model import RunStatus
from tests.aws.sfn_fake import sync_once


def test_a_machine_deleted_while_the_scope_was_listed_is_said_not_failed(_aws_env, store):
    """A machine deleted between ListStateMachines and its DescribeStateMachine failed the item
    (StateMachineDoesNotExist) and held the scope's watermark: the run read partial, and the next
    sync read the whole window again, for a machine nobody can collect any more. It is now a
    warning, and the other machines' window moves on."""
    from tests.aws.sfn_fake import ACCOUNT, described_machine, machine_handlers

    now = time.time()
    arns = {name: f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{name}" for name in ("kept", "deleted")}

    def describe(b: dict) -> dict | tuple:
        if b["stateMachineArn"] == arns["deleted"]:
            return 400, {"__type": "StateMachineDoesNotExist", "message": "State Machine Does Not Exist"}
        return described_machine(arns["kept"], "STANDARD", now - 60)

    handlers = {
        **machine_handlers(arns, "STANDARD", now - 60, describe=describe),
        "ListExecutions": lambda b: {"executions": []},
    }
    result = sync_once(handlers, store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.watermark is not None
    assert any("deleted" in w and "no longer exists" in w for w in result.warnings), result.warnings
    assert [w["name"] for w in store.read_rows("workflows")] == ["kept"]


def test_a_machine_deleted_before_its_executions_were_listed_is_said_not_failed(_aws_env, store):
    """The same when the machine goes between its DescribeStateMachine and its ListExecutions."""
    from tests.aws.sfn_fake import ACCOUNT, machine_handlers

    now = time.time()
    sm = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:deleted"
    handlers = {
        **machine_handlers({"deleted": sm}, "STANDARD", now - 60),
        "ListExecutions": lambda b: (400, {"__type": "StateMachineDoesNotExist", "message": "gone"}),
    }
    result = sync_once(handlers, store)
    assert result.status == RunStatus.SUCCEEDED, result.row()
    assert result.watermark is not None
    assert any("deleted" in w and "no longer exists" in w for w in result.warnings), result.warnings

