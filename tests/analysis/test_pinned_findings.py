"""The findings of two fixed stores, pinned: making the analyses faster must not change what they say.

Two stores are built deterministically: a three-cloud demo (flowscope.simulate.demo, 3,000 executions,
seed 11) and the analysis bench's generated Step Functions workload (bench/bench_analysis.py,
20,000 executions of 5 workflows: Express candidates, a retry storm in lockstep). Their findings
are compared with `pinned_findings.json`: the same ids, kinds, severities, titles, windows,
recommendations, affected executions, sample ids, evidence and monthly_usd. The pins are what the
analyses found before their queries were fused (issue 15), byte for byte (written again after the
fusion only to take in a `standard_plan` evidence key a concurrent change added to plan_what_if,
when GCP exceptions became an error name and a message instead of their JSON text, and when two
evidence keys took the `_usd` suffix every other amount has: edges' `monthly_usd`, `per_attempt_usd`,
when a Lambda error's template became its message instead of its JSON cause, when a GCP try
around a call stopped counting as a transition from the try to its call, and when titles' durations
took a readable unit: a retry storm's "in 1605 min" reads "in 26.8 h", a stuck run's "648.0 h" reads
"27.0 d"; and when a collection error cut short in a collection_gap title was marked with "…", not cut
mid-word; and when a GCP try and its call, both named after the step, stopped counting as two visits:
the demo's check_status storm reads 47 visits, 213 attempts, amplification 4.5 and $0.000025 per
attempt instead of 94, 260, 2.8 and half that price, and its polling loop 9 polls per run, not 17; and
when a plan what-if whose Standard plan fee is assumed (not read, not billed) came to say so in its title,
recommendation and evidence, `assumed_current_plan`; and when a costly step's executions came to be
counted exactly, as the costly-steps table counts them, not by HyperLogLog: the demo's NormalizeRecord
reads 525 executions, not 517, and Upsert_contact 38, not 39; and when a costly step's finding came to
list the runs that visit it most as its sample ids, where it listed none; and when a plan what-if came to
be judged per App Service plan, naming the workflows on the plan in `plan_workflows`: the demo's
ledger-standard, alone on its assumed plan, reads ["ledger-standard"], nothing else changed; and when a
plan what-if came to price the plan fee for the month every other figure is projected over, 30 days of
24 hours, not Azure's 730 hours: ledger-standard's assumed WS1 reads $172.76, not $175.16; and when a
polling loop's severity came to follow its dollars as a costly step's does: the demo's two loops, about
$0.10 a month each, read low, not medium; and when the cost findings' evidence came to give
`measured_days`, the days their projection divides by, beside `window_days`; and when titles came to
say durations as evidence and tables do, in two units at most: "26.8 h" reads "1 d 2 h", "11.1 min"
reads "11 min 7 s"; and when a retry storm's id came to hold its error, as storms of two errors on
one step from one bucket shared an id and one was dropped: the four storms' ids changed, nothing else; and when the
JSON came to say beside `monthly_usd` what it is (`monthly_usd_is`: saving, cost, cost_once, spend or null) and the
what-ifs' titles to say "would save $X/month" (a plan what-if's $172 read as a monthly cost), and when an
Express what-if came to give the machine's `region` and the `express_price_region` its Express rates are
from (the bench's five candidates: us-east-1 and null, the default rates; no figure changed), and when the
demo's collection runs came to name their scopes as a live sync does: its failed GCP scope reads
`gcp:analytics-sandbox:europe-west1`, so that finding's id, title and run id changed, nothing else; and when
sample runs came to be ranked as runs, not rows, so a run with many rows is one sample: the demo's synchronized
retries of check_status list 5 sample ids, not 3, the first 3 the same, nothing else changed).

Numbers are compared after the rounding findings apply (`Finding.row`: evidence to 6 decimals,
monthly_usd to 4), allowing one unit of the last place: DuckDB sums doubles in an order that
depends on its threads (one thread and two differ by ~1e-12 on the demo's costs), so a sum that
lands on a rounding boundary may round either way on another machine. Everything else is exact.

Regenerate the pins only when a finding is meant to change:
    python -m tests.analysis.test_pinned_findings
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import math
import sys
from pathlib import Path
from typing import Any

import pytest

from flowscope.analysis.run import analyze_store
from flowscope.analysis.suite import findings_to_records
from flowscope.model import UTC
from flowscope.simulate.demo import build_demo
from flowscope.store import Store

pytestmark = pytest.mark.slow   # builds two stores (~25k executions) and analyses them

PINS = Path(__file__).with_name("pinned_findings.json")
BENCH = Path(__file__).resolve().parents[2] / "bench" / "bench_analysis.py"
DEMO_END = dt.datetime(2026, 3, 31, tzinfo=UTC)
DEMO = {"days": 30, "executions": 3_000, "seed": 11}
BENCH_EXECUTIONS = 20_000
BENCH_WORKFLOWS = 5          # 4,000 executions each: Express candidates, a retry storm in lockstep
LAST_PLACE = {"monthly_usd": 1e-4, "evidence": 1e-6}


def _bench_module() -> Any:
    spec = importlib.util.spec_from_file_location("bench_analysis", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(root: Path) -> dict[str, tuple[Store, dict[str, Any]]]:
    """The two stores under `root`, each with the window it is analysed over."""
    demo = Store(root / "demo")
    build_demo(demo, end=DEMO_END, workers=1, **DEMO)
    bench_mod = _bench_module()
    bench_mod.WORKFLOWS = BENCH_WORKFLOWS
    bench_mod.build_store(root / "bench", BENCH_EXECUTIONS, chunk=10_000)
    end = bench_mod.T0 + dt.timedelta(days=bench_mod.DAYS)
    return {
        "demo": (demo, {"since": DEMO_END - dt.timedelta(days=DEMO["days"]), "until": DEMO_END, "now": DEMO_END}),
        "bench": (Store(root / "bench"), {"since": bench_mod.T0, "until": end, "now": end}),
    }


def findings(store: Store, window: dict[str, Any]) -> list[dict[str, Any]]:
    """The findings as JSON records (the documented shape), in the suite's order."""
    return json.loads(json.dumps(findings_to_records(analyze_store(store, **window))))


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> dict[str, tuple[Store, dict[str, Any]]]:
    return build(tmp_path_factory.mktemp("pinned"))


def _same(pinned: Any, got: Any, tol: float, path: str, problems: list[str]) -> None:
    if isinstance(pinned, dict) and isinstance(got, dict):
        if set(pinned) != set(got):
            problems.append(f"{path}: keys {sorted(set(pinned) ^ set(got))} differ")
        for key in set(pinned) & set(got):
            _same(pinned[key], got[key], tol, f"{path}.{key}", problems)
    elif isinstance(pinned, list) and isinstance(got, list):
        if len(pinned) != len(got):
            problems.append(f"{path}: {len(pinned)} items pinned, {len(got)} now")
        for i, (a, b) in enumerate(zip(pinned, got, strict=False)):
            _same(a, b, tol, f"{path}[{i}]", problems)
    elif (isinstance(pinned, float) or isinstance(got, float)) and not isinstance(pinned, bool) \
            and isinstance(pinned, (int, float)) and isinstance(got, (int, float)):
        if not math.isclose(pinned, got, rel_tol=0.0, abs_tol=tol * 1.01):
            problems.append(f"{path}: pinned {pinned!r}, now {got!r}")
    elif pinned != got:
        problems.append(f"{path}: pinned {pinned!r}, now {got!r}")


def compare(pinned: list[dict[str, Any]], got: list[dict[str, Any]]) -> list[str]:
    """What differs between pinned and current findings, matched by id (empty: the same)."""
    problems: list[str] = []
    by_id = {f["id"]: f for f in got}
    pinned_ids = [f["id"] for f in pinned]
    if sorted(pinned_ids) != sorted(by_id):
        problems.append(f"ids: only pinned {sorted(set(pinned_ids) - set(by_id))}, "
                        f"only now {sorted(set(by_id) - set(pinned_ids))}")
    for f in pinned:
        now = by_id.get(f["id"])
        if now is None:
            continue
        for col, value in f.items():
            tol = LAST_PLACE.get(col, 0.0)
            _same(value, now.get(col), tol, f"{f['kind']} {f['workflow']} {f['step']} {col}", problems)
    return problems


@pytest.mark.parametrize("name", ["demo", "bench"])
def test_findings_match_the_pins(stores, name):
    pinned = json.loads(PINS.read_text())[name]
    store, window = stores[name]
    got = findings(store, window)
    assert len(got) >= 5, "the store should give the analyses something to find"
    problems = compare(pinned, got)
    assert not problems, "\n".join(problems[:40])


def test_the_comparison_catches_a_changed_finding():
    """The net has no hole: a title, a severity, a dollar beyond the last place or a lost finding shows."""
    base = [{"id": "a", "kind": "k", "workflow": "w", "step": "s", "title": "t", "severity": "high",
             "monthly_usd": 1.2345, "evidence": {"x": 0.123456, "ids": ["e1"]}}]
    assert compare(base, json.loads(json.dumps(base))) == []
    nudged = json.loads(json.dumps(base))
    nudged[0]["monthly_usd"] = 1.2346          # one unit of the last place: summation order
    nudged[0]["evidence"]["x"] = 0.123457
    assert compare(base, nudged) == []
    for change in ({"title": "T"}, {"severity": "low"}, {"monthly_usd": 1.2348},
                   {"evidence": {"x": 0.123459, "ids": ["e1"]}}, {"evidence": {"x": 0.123456, "ids": ["e2"]}}):
        changed = [{**base[0], **change}]
        assert compare(base, changed), change
    assert compare(base, [])


def main() -> None:
    """Rewrite the pins from the analyses importable now (see the module docstring)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="flowscope-pins-") as tmp:
        built = build(Path(tmp))
        doc = {name: findings(store, window) for name, (store, window) in built.items()}
    PINS.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print(f"wrote {PINS}: " + ", ".join(f"{name} {len(rows)} findings" for name, rows in doc.items()),
          file=sys.stderr)


if __name__ == "__main__":
    main()
