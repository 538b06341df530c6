"""Dashboard benchmark in a real browser: first draw of every page, and how fast a sidebar change
comes back (charts, then findings), with the server's peak memory.

    .venv/bin/python bench/bench_dashboard.py                     # 1,000,000 executions, window 7d
    .venv/bin/python bench/bench_dashboard.py --executions 200000 --repeat 5

Builds (once, kept in bench/out/) a store of N executions over 30 days across the three clouds,
generated straight as Arrow model rows (12 workflows, 6 steps each, retries on work steps, usage
per step, one failed collection scope). Then, per repeat, starts a fresh `flowscope dashboard`
server (cold caches) and drives it in headless Chromium (Debian's, through Playwright) at 1366 px:
each page opened in a new session (first draw), then the sidebar's Clouds set to aws, then the
window widened. Times run from the navigation, or from the press on the new option as the browser saw
it (the list it is picked from opens in the browser alone), until the page's charts are all drawn and
fresh, and until its findings are (the run is over). Targets (issue 11): first draw <= 4 s,
after a sidebar change charts <= 1 s and findings <= 3 s, the server and its analyses process each < 2 GB.
`--cpus 1.5` measures on 1.5 of the host's cores (bench/cpu_quota.py): the same slower host on every run.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from flowscope.model import TABLES, UTC, C  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))   # the benches' own helpers
from built_once import built_once  # noqa: E402
from cpu_quota import QuotaUnavailable, limited_to  # noqa: E402
from peak_memory import children, peak_rss_mb  # noqa: E402
from which_host import describe  # noqa: E402

PAGES = ["overview", "workflows", "executions", "compare", "failures", "retries", "cost", "latency",
         "collection_health"]
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


PROBE = """() => {
  const els = [...document.querySelectorAll('[data-testid="stElementContainer"]')];
  // Charts a user sees: drawn, and not hidden (the hidden chart that preloads the renderer is neither).
  const charts = els.filter(e => e.querySelector('.vega-embed canvas, .vega-embed svg')
                                 && e.getClientRects().length > 0);
  const waiting = [...document.querySelectorAll('[data-testid="stAlert"]')]
      .some(a => a.innerText.includes('analyses are still running'));
  return {charts: charts.length,
          staleCharts: charts.filter(e => e.getAttribute('data-stale') === 'true').length,
          anyStale: els.some(e => e.getAttribute('data-stale') === 'true'),
          waiting: waiting,
          exception: !!document.querySelector('[data-testid="stException"]')};
}"""


def _until(page: Any, done: Any, timeout_s: float = 120.0, poll_s: float = 0.02) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        state = page.evaluate(PROBE)
        if done(state) or time.monotonic() > deadline:
            return state
        time.sleep(poll_s)


def _charts_in(state: dict[str, Any]) -> bool:
    return state["charts"] > 0 and state["staleCharts"] == 0


def _findings_in(state: dict[str, Any]) -> bool:
    return not state["waiting"] and not state["anyStale"]


def _timed(page: Any, t0: float, started: bool = True, heard: dict[str, float] | None = None) -> tuple[float, float]:
    """Seconds from t0 until the charts are in, and until the findings are in: no findings note, nothing
    stale, and the server's last word since t0 is that the run stopped (`listen` fills `heard`).

    After a widget change (`started=False`) the rerun must have begun (the page shows it stale, or the
    server said a run began after t0), and a chart must have been sent since t0, before charts count."""
    from tests.e2e.helpers import run_over

    heard = heard if heard is not None else {}

    def began() -> bool:
        return heard.get("busy", 0.0) > t0

    if not started:
        state = _until(page, lambda s: s["anyStale"] or began(), timeout_s=5)
        if not (state["anyStale"] or began()):
            # Seen twice in ~500 samples (5.05 and 5.23 s, sessions 53 and 54): say so, with what the server said
            # when, so the next one shows why (a start heard before the press as timed, or none at all).
            heard_at = {what: round(at - t0, 3) for what, at in heard.items()}
            print(f"note: no sign within 5 s that the rerun began; this sample includes that wait "
                  f"(the server's last words, seconds after the press: {heard_at})", file=sys.stderr)
    # Charts drawn, none stale, and one of them sent since t0 (else a quick rerun's old charts, still
    # on screen and not yet marked stale, would count).
    state = _until(page, lambda s: _charts_in(s) and heard.get("chart", 0.0) > t0)
    charts = time.monotonic() - t0
    state = _until(page, lambda s: _findings_in(s) and run_over(heard, t0))
    if state["exception"]:
        raise RuntimeError(f"the page shows an exception: {page.url}")
    return charts, time.monotonic() - t0


CLICK_CLOCK = """() => { window.__benchPressed = null;
  document.addEventListener('mousedown', () => { window.__benchPressed = performance.now(); },
                            {capture: true, once: true}); }"""
PRESSED_AT = ("() => window.__benchPressed === null ? null "
              ": (performance.timeOrigin + window.__benchPressed) / 1000")
"""The press on the wall clock (seconds since the epoch): the browser's and this process's agree within a
millisecond on one machine, so the press maps onto this process's monotonic clock with no round trip in it."""


def _pick(page: Any, widget: str, label: str, option: str) -> float:
    """Choose `option` in the sidebar's `widget` (stSelectbox / stMultiSelect) labelled `label`; returns
    the moment (this process's monotonic clock) the mouse went down on the option, as the browser saw
    it. Opening the list happens in the browser alone, and Playwright's checks before a click (visible,
    stable, not covered) take 0.1 to 0.4 s on this machine: a change is timed from the user's press."""
    box = page.locator(f'[data-testid="stSidebar"] [data-testid="{widget}"]').filter(has_text=label)
    box.locator("input").first.click()
    return _pressed(page, page.locator('[role="option"]').filter(has_text=option).first, f"option {option!r}")


def _pressed(page: Any, element: Any, what: str) -> float:
    """Click `element` once visible; the moment the mouse went down on it as the browser saw it, on this
    process's monotonic clock."""
    element.wait_for(state="visible")
    page.evaluate(CLICK_CLOCK)
    element.click()
    at = page.evaluate(PRESSED_AT)
    if at is None:
        raise RuntimeError(f"no press on the {what} was seen")
    # Not "now minus how long ago the browser says it was": the reply comes back after the page's frames queued
    # before it are handled here, so "now" was late by that, up to 0.1 s and more on a change's big frames, and
    # the change timed short (a run's start was heard 72 ms before such a press, session 54).
    return time.monotonic() - (time.time() - float(at))


@contextlib.contextmanager
def _serving(store: Path, cache: Path | None = None) -> Iterator[tuple[Any, str]]:
    """A fresh `flowscope dashboard` server on `store` (cold caches), answering health checks: its
    process and base URL; stopped on exit. `cache`: its user cache folder (`XDG_CACHE_HOME`, where it
    keeps findings, `ui/kept_findings.py`); None: an empty one of its own, so no server reads findings an
    earlier one kept."""
    import tempfile
    from unittest import mock

    from flowscope.ui.server import serve
    from tests.e2e.helpers import free_port

    port = free_port()
    with contextlib.ExitStack() as stack:
        folder = cache or Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-cache-")))
        with mock.patch.dict(os.environ, {"XDG_CACHE_HOME": str(folder)}):     # the server's environment
            proc = serve(str(store), port=port, wait=False)
        yield from _answering(proc, port)


def _answering(proc: Any, port: int) -> Iterator[tuple[Any, str]]:
    """`proc` once its server answers health checks, with its base URL; stopped on exit."""
    import urllib.request

    base = f"http://127.0.0.1:{port}"
    try:
        for _attempt in range(200):
            try:
                with urllib.request.urlopen(f"{base}/_stcore/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.2)
        yield proc, base
    finally:
        proc.terminate()
        proc.wait(20)


def _open_from_nav(page: Any, name: str) -> float:
    """Click page `name` in the sidebar's navigation; returns the moment the mouse went down on it, as
    the browser saw it (this process's monotonic clock), as `_pick` does for an option."""
    return _pressed(page, page.locator(f'[data-testid="stSidebarNav"] a[href$="/{name}"]').first,
                    f"page link {name!r}")


def _navigate(browser: Any, base: str, window: str, pages: list[str],
              rows: dict[tuple[str, str], list[tuple[float, float]]]) -> None:
    """One session as a user has it: Overview opened in a new browser context, then every other page
    opened from the sidebar's navigation in turn (the browser has the app loaded; the server has read
    what earlier pages read), each timed from the click until its charts and its findings are in."""
    from tests.e2e.helpers import listen

    page = browser.new_page(viewport={"width": 1366, "height": 900})
    heard: dict[str, float] = {}
    page.on("websocket", lambda ws: listen(ws, heard))
    t0 = time.monotonic()
    page.goto(f"{base}/?window={window}")
    _timed(page, t0, heard=heard)
    for name in pages:
        if name == "overview":
            continue
        t0 = _open_from_nav(page, name)
        rows.setdefault((name, "from the nav"), []).append(_timed(page, t0, False, heard))
    page.close()


def measure(store: Path, window: str, pages: list[str] = PAGES, repeat: int = 3, navigate: bool = True,
            kept: bool = False) -> None:
    """Serve the dashboard on `store` and drive it in headless Chromium: per page, the first draw in a
    new session (a new browser context: nothing cached), then two sidebar changes (one cloud, then a
    wider window); then, with `navigate`, one session that opens Overview and every other page from
    the sidebar's navigation, as a user moves through the app. Each is timed until its charts are drawn
    and until its findings are (the run is over). A fresh server per repeat, so every repeat starts
    cold; medians over the repeats are printed with the peak memory of the server. With `kept`, the
    servers share one user cache folder and an unmeasured server first draws the same pages, so each
    measured server reads the findings it kept (a dashboard started again on a store it has analysed),
    its other caches still cold."""
    import shutil
    import statistics
    import tempfile

    from playwright.sync_api import sync_playwright

    from tests.e2e.helpers import ARGS, CHROMIUM, listen

    rows: dict[tuple[str, str], list[tuple[float, float]]] = {}
    peaks: list[float] = []
    worker_peaks: list[float] = []
    wider = "30d" if window != "30d" else "90d"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        shared = Path(tempfile.mkdtemp(prefix="bench-kept-")) if kept else None
        for run in range(repeat + (1 if kept else 0)):
            measured = rows if not (kept and run == 0) else {}
            with _serving(store, shared) as (proc, base):
                for name in pages:
                    page = browser.new_page(viewport={"width": 1366, "height": 900})
                    heard: dict[str, float] = {}
                    page.on("websocket", lambda ws, heard=heard: listen(ws, heard))
                    t0 = time.monotonic()
                    page.goto(f"{base}/{'' if name == 'overview' else name}?window={window}")
                    measured.setdefault((name, "first draw"), []).append(_timed(page, t0, heard=heard))
                    t0 = _pick(page, "stMultiSelect", "Clouds", "aws")
                    measured.setdefault((name, "cloud -> aws"), []).append(_timed(page, t0, False, heard))
                    page.keyboard.press("Escape")
                    t0 = _pick(page, "stSelectbox", "Time window", wider)
                    measured.setdefault((name, f"window -> {wider}"), []).append(_timed(page, t0, False, heard))
                    page.close()
                peaks.append(peak_rss_mb(proc.pid))
                worker_peaks.append(max([peak_rss_mb(c) for c in children(proc.pid)] or [0.0]))
            if navigate and measured is rows:
                with _serving(store, shared) as (_proc, base):     # its own fresh server: no page's reads cached
                    _navigate(browser, base, window, pages, rows)
        browser.close()
    if shared is not None:
        shutil.rmtree(shared, ignore_errors=True)
    if kept:
        print("findings kept by an earlier server on this store (--kept): each server read them, not computed them")
    print(f"{'page':<20}{'action':<16}{'charts s':>10}{'findings s':>12}   median of {repeat} (min-max charts)")
    worst: dict[str, float] = {"first_charts": 0.0, "first_all": 0.0, "change_charts": 0.0, "change_findings": 0.0,
                               "nav_charts": 0.0, "nav_all": 0.0}
    for (name, action), values in rows.items():
        charts = statistics.median(v[0] for v in values)
        found = statistics.median(v[1] for v in values)
        spread = f"{min(v[0] for v in values):.2f}-{max(v[0] for v in values):.2f}"
        print(f"{name:<20}{action:<16}{charts:>10.2f}{found:>12.2f}   ({spread})", flush=True)
        if action == "first draw":
            worst["first_charts"] = max(worst["first_charts"], charts)
            worst["first_all"] = max(worst["first_all"], found)
        elif action == "from the nav":
            worst["nav_charts"] = max(worst["nav_charts"], charts)
            worst["nav_all"] = max(worst["nav_all"], found)
        else:
            worst["change_charts"] = max(worst["change_charts"], charts)
            worst["change_findings"] = max(worst["change_findings"], found)
    peak, worker_peak = max(peaks), max(worker_peaks)
    print(f"worst: first draw {worst['first_charts']:.2f} s (findings {worst['first_all']:.2f} s); after a sidebar "
          f"change, charts {worst['change_charts']:.2f} s, findings {worst['change_findings']:.2f} s; "
          f"server peak RSS {peak:,.0f} MB, its analyses process {worker_peak:,.0f} MB")
    if worst["nav_charts"]:
        print(f"a page opened from the sidebar in a session: charts {worst['nav_charts']:.2f} s, findings "
              f"{worst['nav_all']:.2f} s (worst median); the first draws above are each in a new browser context")
    ok = (worst["first_all"] <= 4 and worst["change_charts"] <= 1 and worst["change_findings"] <= 3
          and peak < 2048 and worker_peak < 2048)
    print("targets (first draw <= 4 s, after a change charts <= 1 s and findings <= 3 s, each process < 2 GB):",
          "met" if ok else "NOT met")


def stored_executions(store: Path) -> int:
    """The executions the store holds: a --store built elsewhere (bench_window's year of history) is not
    --executions large, and the line said it was."""
    from flowscope.store import Store

    return Store(store).row_counts(["executions"])["executions"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--executions", type=int, default=1_000_000)
    ap.add_argument("--window", default="7d", choices=["24h", "3d", "7d", "14d", "30d", "90d"])
    ap.add_argument("--store", type=Path, default=None, help="store folder (default bench/out/dashboard-N)")
    ap.add_argument("--pages", default=",".join(PAGES), help="comma-separated pages (default: all)")
    ap.add_argument("--repeat", type=int, default=3, help="fresh servers (cold starts); medians are printed")
    ap.add_argument("--no-navigate", action="store_true",
                    help="leave out the session that opens every page from the sidebar's navigation")
    ap.add_argument("--kept", action="store_true",
                    help="servers read the findings an earlier server on the store kept (a dashboard started "
                         "again), instead of each computing its own")
    ap.add_argument("--cpus", type=float, default=None,
                    help="measure on this many cores: the bench, the server, its analyses process and the browser "
                         "in one CPU cgroup with that quota (bench/cpu_quota.py: a slower host, the same on every "
                         "run); needs root or a delegated cgroup")
    args = ap.parse_args()
    print(describe(), flush=True)
    store = args.store or ROOT / "bench" / "out" / f"dashboard-{args.executions}"
    built_once(store, f"{args.executions:,} executions over 30 days", lambda path: build_store(path, args.executions))
    print(f"store {store}: {stored_executions(store):,} executions; window {args.window}", flush=True)
    with contextlib.ExitStack() as limits:
        if args.cpus is not None:
            try:
                limits.enter_context(limited_to(args.cpus))
            except (QuotaUnavailable, ValueError) as exc:
                sys.exit(f"--cpus {args.cpus:g}: {exc}")
            print(f"limited to {args.cpus:g} of {os.cpu_count()} cores (a CPU cgroup's quota, bench/cpu_quota.py)",
                  flush=True)
        measure(store, args.window, args.pages.split(","), args.repeat, navigate=not args.no_navigate,
                kept=args.kept)


if __name__ == "__main__":
    main()
