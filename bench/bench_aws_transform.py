"""Benchmark: AWS Step Functions history events transformed per second (one core).

Builds GetExecutionHistory documents (API shape, ISO timestamps as the `aws` CLI prints them)
from the simulator's executions, then times `FORMATS["aws.history"]` over all of them, and the
CloudWatch Logs path (`aws.log_records`) over the raw simulated records. Prints the median of
5 runs. Target: >= 200,000 history events per second.

    .venv/bin/python bench/bench_aws_transform.py [executions]
"""

from __future__ import annotations

import datetime as dt
import gc
import statistics
import sys
import time

from flowscope.collectors.aws import events as E
from flowscope.collectors.aws.transform import FORMATS
from flowscope.collectors.native import ImportContext
from flowscope.simulate.aws import simulate
from flowscope.simulate.base import SimSpec


def _histories(records_docs: list[list[dict]]) -> list[tuple[str, dict]]:
    by_arn: dict[str, list[dict]] = {}
    for doc in records_docs:
        for rec in doc:
            by_arn.setdefault(rec["execution_arn"], []).append(rec)
    out = []
    for arn, recs in by_arn.items():
        events = []
        for rec in recs:
            ev = E.log_record_to_event(rec)
            ev["timestamp"] = ev["timestamp"].isoformat()      # CLI-style ISO strings
            events.append(ev)
        out.append((arn, {"events": events}))
    return out


def _time(fn) -> float:
    gc.collect()
    gc.disable()
    try:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0
    finally:
        gc.enable()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    start = dt.datetime(2024, 5, 1, tzinfo=dt.timezone.utc)
    t0 = time.perf_counter()
    sim = simulate(SimSpec(start, start + dt.timedelta(days=14), n, seed=11))
    t_sim = time.perf_counter() - t0
    log_docs = [d for f, d in sim.documents if f == "aws.log_records"]
    n_records = sum(len(d) for d in log_docs)
    histories = _histories(log_docs)
    n_events = sum(len(doc["events"]) for _, doc in histories)
    handler = FORMATS["aws.history"]
    ctxs = [ImportContext(source_name="bench", execution_id=arn) for arn, _ in histories]

    def run_history() -> None:
        for ctx, (_, doc) in zip(ctxs, histories, strict=True):
            handler(doc, ctx)

    def run_logs() -> None:
        ctx = ImportContext(source_name="bench")
        for doc in log_docs:
            FORMATS["aws.log_records"](doc, ctx)

    hist = statistics.median(_time(run_history) for _ in range(5))
    logs = statistics.median(_time(run_logs) for _ in range(5))
    print(f"simulate: {n} executions, {n_records} log records in {t_sim:.2f} s")
    print(f"aws.history:     {n_events} events in {hist:.3f} s -> {n_events / hist:,.0f} events/s (median of 5)")
    print(f"aws.log_records: {n_records} records in {logs:.3f} s -> {n_records / logs:,.0f} records/s (median of 5)")


if __name__ == "__main__":
    main()
