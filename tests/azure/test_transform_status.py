"""Logic Apps statuses -> the model's: what a run or action record with each native status reads as."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from flowscope.collectors.azure.transform import transform
from flowscope.model import C

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "samples"
if not SAMPLES.is_dir():
    SAMPLES = Path("/work/shared/samples")


def _run(status: str, *, ended: bool) -> dict[str, Any]:
    doc = json.loads((SAMPLES / "azure" / "WorkflowRuns_Get.json").read_text())["responses"]["200"]["body"]
    run = copy.deepcopy(doc)
    props = run["properties"]
    props.update(startTime="2026-11-02T10:00:00Z", status=status)
    props.pop("error", None)
    if ended:
        props["endTime"] = "2026-11-02T10:05:30Z"
    else:
        props.pop("endTime", None)
    return run


def test_a_run_ended_with_status_not_specified_is_finished_not_running_for_ever():
    """`NotSpecified` mapped to RUNNING whatever the record said: a run with an endTime stayed in
    flight in every page and was revisited by every sync. Ended, it is a finished run whose outcome
    Azure did not give (FAILED, as any unknown status that ended; native_status keeps the word);
    without an end it is still running."""
    [ended] = transform(_run("NotSpecified", ended=True)).executions
    assert (ended[C.status], ended[C.native_status]) == ("FAILED", "NotSpecified")
    assert ended[C.ended_at] is not None
    [running] = transform(_run("NotSpecified", ended=False)).executions
    assert running[C.status] == "RUNNING"
