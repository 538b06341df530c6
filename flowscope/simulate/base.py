"""What every cloud simulator takes and returns: a time range in, native records and ground truth out.

A simulator plans the whole range once (windows, start times, ground truth: cheap), then writes
the native documents one chunk of time at a time, so a million-execution demo never holds more
than a chunk. Each chunk draws from its own random stream, seeded by (seed, workflow, chunk
start), so the workload depends only on the spec, never on how many workers build it or in what
order.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from typing import Any, Protocol

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
    native_share: float = 1.0
    """Share of ORDINARY executions (outside every anomaly window) written as native documents.
    The others are `Clone`s of a native one of the same workflow and chunk, shifted in time: the
    demo's fast path for big volumes. Anomalous executions are always native."""


@dataclass(frozen=True)
class Clone:
    """An ordinary execution given as a copy of a native one (`template`, its execution name)
    under a new name, started at `start_us` (epoch microseconds); its rows keep the template's
    shape, durations and outcome."""

    template: str
    name: str
    start_us: int


@dataclass
class SimulatedCloud:
    """Native documents, in the formats `flowscope import` reads, plus the ground truth.

    `documents` is a list of (format name, parsed document) pairs; format names are those
    the cloud's transform module registers in its FORMATS table. `clones` is empty unless the
    spec's native_share is below 1.
    """

    cloud: Cloud
    documents: list[tuple[str, Any]]
    truth: list[Anomaly]
    workflows: list[str]               # every simulated workflow name
    healthy_workflows: list[str]       # workflows with no injected anomaly
    clones: list[Clone] = field(default_factory=list)


@dataclass
class Chunk:
    """What one chunk of time adds: native documents, and clones of its native executions."""

    documents: list[tuple[str, Any]] = field(default_factory=list)
    clones: list[Clone] = field(default_factory=list)


@dataclass
class SimPlan:
    """The whole range planned: the documents every chunk needs (workflow definitions), the
    ground truth, and the chunk windows (epoch seconds, [lo, hi)). Clouds subclass it with their
    start times and anomaly windows."""

    cloud: Cloud
    spec: SimSpec
    head: list[tuple[str, Any]]
    truth: list[Anomaly]
    workflows: list[str]
    healthy_workflows: list[str]
    chunks: list[tuple[int, int]]


class Simulator(Protocol):
    def plan(self, spec: SimSpec) -> SimPlan: ...

    def chunk(self, plan: Any, index: int) -> Chunk: ...


CHUNK_EXECUTIONS = 4_000
"""About how many executions of one cloud a chunk holds at most (on average over its hours)."""
_CHUNK_HOURS = (24, 12, 8, 6, 4, 3, 2, 1)


def chunk_windows(spec: SimSpec) -> list[tuple[int, int]]:
    """[lo, hi) epoch-second windows covering spec.start..spec.end, aligned to whole hours of the
    UTC day, as long as possible with at most about CHUNK_EXECUTIONS executions each."""
    lo, hi = int(spec.start.timestamp()), int(spec.end.timestamp())
    per_hour = spec.executions / max(1.0, (hi - lo) / 3600)
    hours = next((h for h in _CHUNK_HOURS if h * per_hour <= CHUNK_EXECUTIONS), 1)
    step = hours * 3600
    out = []
    t = lo - lo % step
    while t < hi:
        out.append((max(t, lo), min(t + step, hi)))
        t += step
    return out


def chunk_rng(spec: SimSpec, stream: str, lo: int) -> random.Random:
    """The random stream of one workflow (or other `stream`) in the chunk starting at `lo`."""
    return random.Random(f"{spec.seed}:{stream}:{lo}")


class Sampler:
    """Decides, in order, which ordinary executions of one workflow and chunk stay native
    (native_share of them, the first one always), and gives each of the others a template drawn
    at random among the chunk's native ones. At random, not the last one: a run of copies of the
    same execution would put its retries and failures side by side in time, a storm the workload
    never had."""

    __slots__ = ("share", "seen", "natives", "pending", "rng")

    def __init__(self, share: float, rng: random.Random) -> None:
        self.share = share
        self.seen = 0
        self.natives: list[str] = []
        self.pending: list[tuple[str, int]] = []
        self.rng = rng

    def native(self, name: str, start_us: int) -> bool:
        """True: write the ordinary execution `name` natively; False: it is a clone."""
        k = self.seen
        self.seen += 1
        if k == 0 or self.share >= 1.0 or int(k * self.share) != int((k + 1) * self.share):
            self.natives.append(name)
            return True
        self.pending.append((name, start_us))
        return False

    def clones(self) -> list[Clone]:
        """The clones, once every native execution of the chunk is known."""
        return [Clone(self.rng.choice(self.natives), name, start_us) for name, start_us in self.pending]


def simulate_all(sim: Simulator, spec: SimSpec) -> SimulatedCloud:
    """Every chunk of a cloud at once (tests, local servers, small imports); the demo streams."""
    plan = sim.plan(spec)
    documents = list(plan.head)
    clones: list[Clone] = []
    for index in range(len(plan.chunks)):
        part = sim.chunk(plan, index)
        documents.extend(part.documents)
        clones.extend(part.clones)
    return SimulatedCloud(plan.cloud, documents, list(plan.truth), list(plan.workflows),
                          list(plan.healthy_workflows), clones)
