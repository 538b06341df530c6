"""What every cloud simulator takes and returns: a time range in, native records and ground truth out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from flowscope.model import Cloud


class AnomalyKind:
    """Labels of injected anomalies; they match the finding kinds the analyses report."""

    FAILING_STEP = "failing_step"
    RETRY_STORM = "retry_storm"
    SYNCHRONIZED_RETRIES = "synchronized_retries"
    POLLING_LOOP = "polling_loop"
    SLOW_STEP = "slow_step"
    STUCK_EXECUTION = "stuck_execution"
    EXPRESS_CANDIDATE = "express_candidate"
    PLAN_WHAT_IF = "plan_what_if"
    COSTLY_STEP = "costly_step"
    COLLECTION_GAP = "collection_gap"


@dataclass(frozen=True)
class Anomaly:
    """One injected, labelled anomaly: what an analysis should find, where and when."""

    kind: str
    cloud: Cloud
    workflow: str                      # workflow name as the model stores it
    step: str | None                   # step / action name, None for workflow-level anomalies
    window_start: dt.datetime
    window_end: dt.datetime
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SimSpec:
    start: dt.datetime                 # aware UTC
    end: dt.datetime                   # aware UTC
    executions: int                    # approximate number of executions for this cloud
    seed: int = 7


@dataclass
class SimulatedCloud:
    """Native documents, in the formats `flowscope import` reads, plus the ground truth.

    `documents` is a list of (format name, parsed document) pairs; format names are those
    the cloud's transform module registers in its FORMATS table.
    """

    cloud: Cloud
    documents: list[tuple[str, Any]]
    truth: list[Anomaly]
    workflows: list[str]               # every simulated workflow name
    healthy_workflows: list[str]       # workflows with no injected anomaly
