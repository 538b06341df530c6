"""`flowscope demo`: a store filled with a simulated three-cloud workload, then the dashboard on it."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Annotated, Any, Optional

import typer

from flowscope.cli.loading import _settings, _thresholds
from flowscope.cli.options import ConfigOpt, DemoStoreOpt, PortOpt
from flowscope.cli.output import err, fail, note, status
from flowscope.cli.root import app
from flowscope.cli.serving import _check_dashboard_environment, _serve
from flowscope.cli.store_folder import _refuse_foreign
from flowscope.format import fmt_count
from flowscope.settings import DEMO_STORE

DEMO_HELP = ("Fill a store with a simulated 30-day, three-cloud workload, then open the dashboard. A store "
             "holding an earlier demo only is built again; one holding synced or imported data is refused (exit 2).")
"""One line, not a docstring: `flowscope --help` lists a command's first paragraph with its line breaks."""


@app.command(help=DEMO_HELP)
def demo(
    store: DemoStoreOpt = None,
    config: ConfigOpt = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of history to simulate.")] = 30,
    executions: Annotated[int, typer.Option(min=10, help="Executions across the three clouds, about: the "
                                                      "injected anomalies add a few dozen (10 builds 56, 30000 "
                                                      "builds 30303).")] = 30_000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed and end give the same workload.")] = 7,
    end: Annotated[Optional[str], typer.Option(
        help="End of the simulated window (ISO time, not in the future; default: this hour).")] = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Open the dashboard afterwards.")] = True,
    port: PortOpt = 8501,
) -> None:
    """Build the demo store and serve it (`DEMO_HELP`)."""
    from flowscope.simulate.demo import build_demo, holds_a_demo_only, only_demo
    from flowscope.simulate.rebuild import clear_killed_builds, rebuild_beside
    from flowscope.store import Store, StoreError
    from flowscope.timewindow import parse_since

    settings = _settings(config, DEMO_STORE if store is None else store)
    if serve:                   # before the build: what the dashboard would refuse after it
        _thresholds(settings)
        _check_dashboard_environment()
    try:
        end_at = parse_since(end)
    except ValueError as exc:
        raise fail(f"--end: {exc}") from None
    if end_at is not None and end_at > dt.datetime.now(dt.timezone.utc):
        # executions that have not happened: every window the commands accept (none starts after now) misses them
        raise fail(f"--end: {end} is in the future ({end_at:%Y-%m-%d %H:%M} UTC): the demo simulates the past; "
                   "leave --end out for this hour")
    _refuse_foreign(settings.store_path, "the demo neither writes beside them nor deletes them")
    try:
        target = Store(settings.store_path)
        replacing = holds_a_demo_only(target)
        # a replacement, not while another demo still fills the store: its writes would land in the new one
        with only_demo(target) if replacing else contextlib.nullcontext():
            if replacing:
                err.print(f"replacing the demo built earlier in {target.path}", highlight=False, markup=False)
            with status("simulating") as say:
                def build(store: Any) -> Any:
                    return build_demo(store, days=days, executions=executions, seed=seed, end=end_at,
                                      progress=say)

                if not replacing:       # a replacement clears them itself
                    clear_killed_builds(settings.store_path, note)
                result = rebuild_beside(settings.store_path, build, say=note) if replacing else build(target)
    except StoreError as exc:
        raise fail(str(exc)) from None
    except OSError as exc:   # a file where the store folder goes, or no permission: was exit 5, "a bug"
        raise fail(f"{settings.store_path}: cannot write a store there: {exc.strerror or exc}") from None
    written = ", ".join(f"{fmt_count(n)} {t}" for t, n in result.written.items())
    err.print(f"demo store {settings.store_path}: {written}; "
              f"{len(result.truth)} injected anomalies (see _flowscope/demo_truth.json)", highlight=False,
              markup=False)
    if serve:
        _serve(settings.store_path, port, config=config)
