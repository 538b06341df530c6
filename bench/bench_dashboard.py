"""Dashboard benchmark: server-side render time of every page (cold and warm) and peak memory.

    .venv/bin/python bench/bench_dashboard.py                     # 1,000,000 executions, window 7d
    .venv/bin/python bench/bench_dashboard.py --executions 200000 --window 30d

Builds (once, kept in bench/out/) a store of N executions over 30 days across the three clouds,
generated straight as Arrow model rows (12 workflows, 6 steps each, retries on work steps, usage
per step, one failed collection scope). Then a fresh process renders every page with Streamlit's
AppTest (the same script run a browser triggers, without the network): cold = caches cleared,
warm = the same page again. Peak memory is that process's maximum RSS. Targets (issue 5):
<= 5 s cold, <= 2 s warm per page, <= 2 GB peak.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowscope.model import TABLES, UTC, C  # noqa: E402

PAGES = ["overview", "workflows", "executions", "failures", "retries", "cost", "latency", "collection_health"]
CLOUDS = [("aws", "sfn-standard", "us-east-1", "aws.sfn.state_transition", "asl-json"),
          ("azure", "logicapp-consumption", "westeurope", "azure.logic.standard_connector", "logicapp-json"),
          ("gcp", "gcp-workflows", "us-central1", "gcp.workflows.external_step", "gcp-yaml")]
STEP_NAMES = ["Start", "Fetch", "Decide", "Process", "Store", "Finish"]
STEP_TYPES = ["pass", "task", "choice", "task", "task", "succeed"]
WORKFLOWS_PER_CLOUD = 4


def definition(cloud: str) -> str:
    if cloud == "aws":
        states = {n: ({"Type": "Succeed"} if i == len(STEP_NAMES) - 1 else
                      {"Type": "Task" if t == "task" else "Pass", "Next": STEP_NAMES[i + 1]})
                  for i, (n, t) in enumerate(zip(STEP_NAMES, STEP_TYPES, strict=True))}
        return json.dumps({"StartAt": STEP_NAMES[0], "States": states})
    if cloud == "azure":
        actions = {n: {"type": "Http" if t == "task" else "Compose",
                       "runAfter": {STEP_NAMES[i - 1]: ["Succeeded"]} if i > 1 else {}}
                   for i, (n, t) in enumerate(zip(STEP_NAMES, STEP_TYPES, strict=True)) if i > 0}
        return json.dumps({"triggers": {STEP_NAMES[0]: {"type": "Request"}}, "actions": actions})
    lines = ["main:", "  steps:"]
    for n, t in zip(STEP_NAMES, STEP_TYPES, strict=True):
        lines += [f"    - {n}:", "        call: http.get" if t == "task" else "        assign:\n          - x: 1"]
    return "\n".join(lines) + "\n"


def build_store(path: Path, executions: int, days: int = 30, chunk: int = 250_000, seed: int = 7) -> None:
    from flowscope.store import Store

    store = Store(path)
    rng = np.random.default_rng(seed)
    end = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    end_us = int(end.timestamp() * 1_000_000)
    span_us = days * 86_400 * 1_000_000
    wf_rows = []
    wf_ids = []
    for cloud, kind, region, _meter, fmt in CLOUDS:
        for w in range(WORKFLOWS_PER_CLOUD):
            wid = f"{cloud}:wf-{w}"
            wf_ids.append((cloud, wid, f"{cloud}-workflow-{w}", kind, region))
            wf_rows.append({C.cloud: cloud, C.account: "acct", C.region: region, C.workflow_id: wid,
                            C.name: f"{cloud}-workflow-{w}", C.kind: kind, C.revision: "1",
                            C.definition: definition(cloud), C.definition_format: fmt, C.attributes: "{}",
                            C.seen_at: end})
    meters = {c[0]: c[3] for c in CLOUDS}
    runs = [{C.run_id: f"bench-{c}", C.cloud: c, C.scope: f"{c}:acct/{r}", C.started_at: end, C.ended_at: end,
             C.status: "succeeded", C.watermark: end, C.counts: "{}", C.error: None, C.details: "{}"}
            for c, _k, r, _m, _f in CLOUDS]
    runs.append({C.run_id: "bench-failed", C.cloud: "gcp", C.scope: "gcp:other/europe-west1", C.started_at: end,
                 C.ended_at: end, C.status: "failed", C.watermark: None, C.counts: "{}",
                 C.error: "PermissionDenied: 403", C.details: "{}"})
    store.write({"workflows": wf_rows, "collection_runs": runs})
    ts = pa.timestamp("us", tz="UTC")
    n_steps = len(STEP_NAMES)
    for first in range(0, executions, chunk):
        n = min(chunk, executions - first)
        idx = np.arange(first, first + n)
        wf = rng.integers(0, len(wf_ids), n)
        start = end_us - span_us + rng.integers(0, span_us - 3_600_000_000, n)
        step_ms = rng.gamma(2.0, 150.0, (n, n_steps)).astype("int64") + 5
        tries = np.ones((n, n_steps), dtype="int32")
        work = np.array([t == "task" for t in STEP_TYPES])
        retry = (rng.random((n, n_steps)) < 0.08) & work
        tries[retry] = rng.integers(2, 4, int(retry.sum()))
        fail_at = np.where(rng.random(n) < 0.03, 3, n_steps)          # 3% fail at "Process"
        offsets = np.concatenate([np.zeros((n, 1), dtype="int64"),
                                  np.cumsum(step_ms * tries + (tries - 1) * 1000, axis=1)[:, :-1]], axis=1)
        s_start = start[:, None] + offsets * 1000
        s_end = s_start + step_ms * tries * 1000 + (tries - 1) * 1_000_000
        visited = np.arange(n_steps)[None, :] <= np.minimum(fail_at, n_steps - 1)[:, None]
        failed_step = np.arange(n_steps)[None, :] == fail_at[:, None]
        cloud = np.array([wf_ids[i][0] for i in range(len(wf_ids))])[wf]
        wid = np.array([wf_ids[i][1] for i in range(len(wf_ids))])[wf]
        eid = np.char.add(np.char.add(wid.astype(str), ":e"), idx.astype(str))
        ex_end = np.where(fail_at < n_steps, s_end[np.arange(n), np.minimum(fail_at, n_steps - 1)], s_end[:, -1])
        dates = pa.array(start, ts).cast(pa.date32()) if False else \
            pa.compute.cast(pa.compute.cast(pa.array(start, ts), pa.timestamp("us")), pa.date32())
        status = np.where(fail_at < n_steps, "FAILED", "SUCCEEDED")
        names = np.array([wf_ids[i][2] for i in range(len(wf_ids))])[wf]
        kinds = np.array([wf_ids[i][3] for i in range(len(wf_ids))])[wf]
        regions = np.array([wf_ids[i][4] for i in range(len(wf_ids))])[wf]
        executions_t = pa.table({
            C.cloud: cloud, C.account: np.full(n, "acct"), C.region: regions, C.workflow_id: wid,
            C.workflow_name: names, C.kind: kinds, C.revision: np.full(n, "1"), C.execution_id: eid,
            C.name: idx.astype(str), C.status: status, C.native_status: status,
            C.started_at: pa.array(start, ts), C.ended_at: pa.array(ex_end, ts),
            C.duration_ms: (ex_end - start) // 1000,
            C.error: pa.array(np.where(fail_at < n_steps, "Upstream.Timeout", None)),
            C.cause: pa.array(np.where(fail_at < n_steps, "upstream timed out after 30 s", None)),
            C.start_date: dates})
        rows, cols = np.nonzero(visited)
        s_status = np.where(failed_step[rows, cols], "FAILED", "SUCCEEDED")
        keys = np.char.add(np.char.add(cols.astype(str), ":"), np.array(STEP_NAMES)[cols])
        prev = np.where(cols > 0, np.char.add(np.char.add((cols - 1).astype(str), ":"),
                                              np.array(STEP_NAMES)[np.maximum(cols - 1, 0)]), None)
        steps_t = pa.table({
            C.cloud: cloud[rows], C.workflow_id: wid[rows], C.execution_id: eid[rows], C.step_key: keys,
            C.previous_step_key: pa.array(prev), C.name: np.array(STEP_NAMES)[cols],
            C.type: np.array(STEP_TYPES)[cols], C.status: s_status,
            C.started_at: pa.array(s_start[rows, cols], ts), C.ended_at: pa.array(s_end[rows, cols], ts),
            C.duration_ms: (s_end[rows, cols] - s_start[rows, cols]) // 1000, C.attempts: tries[rows, cols],
            C.error: pa.array(np.where(s_status == "FAILED", "Upstream.Timeout", None)),
            C.start_date: dates.take(pa.array(rows))})
        wr = work[cols]
        a_rows, a_cols, a_tries = rows[wr], cols[wr], tries[rows[wr], cols[wr]]
        rep = np.repeat(np.arange(len(a_rows)), a_tries)
        attempt = np.concatenate([np.arange(1, t + 1) for t in [1, 2, 3]])[:0] if False else \
            (np.arange(len(rep)) - np.repeat(np.cumsum(a_tries) - a_tries, a_tries) + 1)
        per = step_ms[a_rows[rep], a_cols[rep]]
        a_start = s_start[a_rows[rep], a_cols[rep]] + (attempt - 1) * (per + 1000) * 1000
        attempts_t = pa.table({
            C.cloud: cloud[a_rows[rep]], C.workflow_id: wid[a_rows[rep]], C.execution_id: eid[a_rows[rep]],
            C.step_key: keys[wr][rep], C.attempt: attempt.astype("int32"),
            C.started_at: pa.array(a_start, ts), C.ended_at: pa.array(a_start + per * 1000, ts),
            C.status: np.where(attempt < a_tries[rep], "FAILED", s_status[wr][rep]),
            C.start_date: dates.take(pa.array(a_rows[rep]))})
        usage_t = pa.table({
            C.cloud: cloud[rows], C.region: regions[rows], C.workflow_id: wid[rows], C.execution_id: eid[rows],
            C.step_key: keys, **({C.name: np.array(STEP_NAMES)[cols]} if C.name in TABLES["usage"].schema.names
                                 else {}),
            C.meter: np.array([meters[c] for c in cloud[rows]]) if n < 0 else
            np.vectorize(meters.get)(cloud[rows]),
            C.quantity: tries[rows, cols].astype("float64"),
            C.started_at: pa.array(s_start[rows, cols], ts), C.start_date: dates.take(pa.array(rows))})
        t0 = time.perf_counter()
        store.write({"executions": executions_t, "steps": steps_t, "attempts": attempts_t, "usage": usage_t})
        print(f"  wrote executions {first:,}..{first + n:,} ({steps_t.num_rows:,} steps) "
              f"in {time.perf_counter() - t0:.1f}s", flush=True)
    t0 = time.perf_counter()
    store.compact()
    print(f"  compacted in {time.perf_counter() - t0:.1f}s", flush=True)


def measure(store: Path, window: str, pages: list[str] = PAGES, repeat: int = 3, analyses: bool = True) -> None:
    """Run in a fresh process: render each page cold and warm `repeat` times, print the median
    times (and the spread) and the peak RSS."""
    import logging
    import statistics

    logging.getLogger("streamlit").setLevel(logging.ERROR)
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from flowscope.ui.app_main import page_file

    os.environ["FLOWSCOPE_STORE"] = str(store)
    os.environ["FLOWSCOPE_UI_ANALYSES"] = "off"   # pages never wait for them; timed separately below
    print(f"{'page':<20}{'cold s':>9}{'warm s':>9}  median of {repeat}; cold min-max; notes")
    worst_cold = worst_warm = 0.0
    for page in pages:
        colds, warms, notes = [], [], ""
        for _ in range(repeat):
            st.cache_data.clear()
            st.cache_resource.clear()
            at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=300)
            at.query_params["window"] = window
            t0 = time.perf_counter()
            if page != "overview":
                at.switch_page(str(page_file(page)))
            at.run()
            colds.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            at.run()
            warms.append(time.perf_counter() - t0)
            notes = notes or ("EXCEPTION " + at.exception[0].value[:80] if at.exception else "")
        cold, warm = statistics.median(colds), statistics.median(warms)
        worst_cold, worst_warm = max(worst_cold, cold), max(worst_warm, warm)
        print(f"{page:<20}{cold:>9.2f}{warm:>9.2f}  {min(colds):.2f}-{max(colds):.2f}  {notes}", flush=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{'worst':<20}{worst_cold:>9.2f}{worst_warm:>9.2f}")
    print(f"peak RSS while rendering pages: {peak_mb:,.0f} MB")
    if not analyses:
        print("targets (cold <= 5 s, warm <= 2 s, peak <= 2 GB):",
              "met" if worst_cold <= 5 and worst_warm <= 2 and peak_mb <= 2048 else "NOT met")
        return
    from flowscope.analysis import analyze
    from flowscope.store import Store
    from flowscope.ui.filters import WINDOWS

    s = Store(store)
    until = dt.datetime.now(UTC)
    t0 = time.perf_counter()
    found = analyze({n: s.table(n) for n in TABLES}, since=until - dt.timedelta(days=WINDOWS[window]), until=until)
    print(f"analyses (background thread, not part of a page render): {time.perf_counter() - t0:.1f}s, "
          f"{len(found)} findings")
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of the dashboard process: {peak_mb:,.0f} MB")
    ok = worst_cold <= 5 and worst_warm <= 2 and peak_mb <= 2048
    print("targets (cold <= 5 s, warm <= 2 s, peak <= 2 GB):", "met" if ok else "NOT met")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--executions", type=int, default=1_000_000)
    ap.add_argument("--window", default="7d", choices=["24h", "3d", "7d", "14d", "30d", "90d"])
    ap.add_argument("--store", type=Path, default=None, help="store folder (default bench/out/dashboard-N)")
    ap.add_argument("--pages", default=",".join(PAGES), help="comma-separated pages (default: all)")
    ap.add_argument("--repeat", type=int, default=3, help="cold+warm renders per page; medians are printed")
    ap.add_argument("--no-analyses", action="store_true", help="skip timing the analyses after the pages")
    ap.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    store = args.store or ROOT / "bench" / "out" / f"dashboard-{args.executions}"
    if args.measure_only:
        measure(store, args.window, args.pages.split(","), args.repeat, not args.no_analyses)
        return
    if not (store / "executions").exists():
        print(f"building {store} with {args.executions:,} executions over 30 days", flush=True)
        t0 = time.perf_counter()
        build_store(store, args.executions)
        print(f"built in {time.perf_counter() - t0:.0f}s", flush=True)
    print(f"store {store}: {args.executions:,} executions; window {args.window}", flush=True)
    subprocess.run([sys.executable, __file__, "--store", str(store), "--executions", str(args.executions),
                    "--window", args.window, "--pages", args.pages, "--repeat", str(args.repeat), "--measure-only"]
                   + (["--no-analyses"] if args.no_analyses else []), check=True)


if __name__ == "__main__":
    main()
