"""Names the AWS transform modules share: format names, the cloud, and native -> model vocabularies."""

from __future__ import annotations

from flowscope.model import Cloud, Kind, Meter, Status, StepType

CLOUD = Cloud.AWS.value

HISTORY = "aws.history"
LOG_RECORDS = "aws.log_records"
STATE_MACHINE = "aws.state_machine"
EXECUTION = "aws.execution"

DEFER_ASSEMBLE = "defer_assemble"
"""ImportContext option: leave `assemble` (usage, definition fixes) to the caller's
`assemble_batch`, which the live collector's writer runs on every chunk: assembling twice costs
a fifth of the log path's CPU."""

UNLOGGED_TASK = "(unlogged Task)"
"""Name of a Task step known only by its failure (logging level ERROR logs a TaskFailed without the
TaskStateEntered that names the state); `assemble` names it from the definition when one Task
state calls its resource."""

STEP_TYPES: dict[str, str] = {
    "Task": StepType.TASK.value,
    "Choice": StepType.CHOICE.value,
    "Wait": StepType.WAIT.value,
    "Pass": StepType.PASS.value,
    "Parallel": StepType.PARALLEL.value,
    "Map": StepType.MAP.value,
    "Succeed": StepType.SUCCEED.value,
    "Fail": StepType.FAIL.value,
}
STEP_OTHER = StepType.OTHER.value

NATIVE_STATUS: dict[str, str] = {
    "RUNNING": Status.RUNNING.value,
    "SUCCEEDED": Status.SUCCEEDED.value,
    "FAILED": Status.FAILED.value,
    "TIMED_OUT": Status.TIMED_OUT.value,
    "ABORTED": Status.ABORTED.value,
    "PENDING_REDRIVE": Status.RUNNING.value,   # a redrive was accepted and has not started yet
}

# Status values as plain strings: compared in the history builder's hot loop.
RUNNING = Status.RUNNING.value
SUCCEEDED = Status.SUCCEEDED.value
FAILED = Status.FAILED.value
CAUGHT = Status.CAUGHT.value
TIMED_OUT = Status.TIMED_OUT.value
ABORTED = Status.ABORTED.value
FAILURES = frozenset({FAILED, TIMED_OUT, ABORTED})

KIND_STANDARD = Kind.SFN_STANDARD.value
KIND_EXPRESS = Kind.SFN_EXPRESS.value
METER_TRANSITION = Meter.AWS_SFN_STATE_TRANSITION.value
METER_REQUEST = Meter.AWS_SFN_EXPRESS_REQUEST.value
METER_GB_SECOND = Meter.AWS_SFN_EXPRESS_GB_SECOND.value
