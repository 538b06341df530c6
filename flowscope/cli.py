"""The `flowscope` command: demo | import | sync | analyze | report | dashboard | doctor.

Each command is a thin shell over library calls; errors print one clear line and exit non-zero.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Observability and cost analysis for AWS Step Functions, Azure Logic Apps "
                       "and Google Cloud Workflows.")
err = Console(stderr=True)
out = Console()

StoreOpt = Annotated[Optional[str], typer.Option("--store", help="Store folder (default: config, FLOWSCOPE_STORE, ~/.flowscope).")]
DEMO_STORE = "~/.flowscope-demo"
"""The demo never writes into the real store unless --store says so."""
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="Config file (default ./flowscope.toml).")]


def fail(message: str, code: int = 2) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def _settings(config: Path | None, store: str | None):  # noqa: ANN202 - Settings, imported lazily
    from flowscope.settings import ConfigError, load_settings

    try:
        return load_settings(config, store)
    except ConfigError as exc:
        raise fail(str(exc)) from None


@contextmanager
def status(message: str) -> Iterator[callable]:
    """A spinner on a terminal; silence when output goes to a file or cron."""
    if not sys.stderr.isatty():
        yield lambda _text: None
        return
    with err.status(message) as spinner:
        yield lambda text: spinner.update(text)


@app.command()
def demo(
    store: StoreOpt = None,
    config: ConfigOpt = None,
    days: Annotated[int, typer.Option(min=1, max=366, help="Days of history to simulate.")] = 30,
    executions: Annotated[int, typer.Option(min=10, help="Executions across the three clouds.")] = 30_000,
    seed: Annotated[int, typer.Option(help="Seed: the same seed and end give the same workload.")] = 7,
    end: Annotated[Optional[str], typer.Option(help="End of the simulated window (ISO time; default: this hour).")] = None,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Open the dashboard afterwards.")] = True,
    port: Annotated[int, typer.Option(help="Dashboard port.")] = 8501,
) -> None:
    """Fill a store with a simulated 30-day, three-cloud workload, then open the dashboard."""
    from flowscope.simulate.demo import build_demo
    from flowscope.store import Store, StoreError

    from flowscope.timewindow import parse_since

    settings = _settings(config, store or DEMO_STORE)
    try:
        end_at = parse_since(end)
    except ValueError as exc:
        raise fail(f"--end: {exc}") from None
    try:
        target = Store(settings.store_path)
        with status("simulating") as say:
            result = build_demo(target, days=days, executions=executions, seed=seed, end=end_at, progress=say)
    except StoreError as exc:
        raise fail(str(exc)) from None
    written = ", ".join(f"{n:,} {t}" for t, n in result.written.items())
    err.print(f"demo store {settings.store_path}: {written}; "
              f"{len(result.truth)} injected anomalies (see _flowscope/demo_truth.json)", highlight=False)
    if serve:
        _serve(settings.store_path, port)


def _serve(store_path: str, port: int) -> None:
    from importlib.util import find_spec

    if find_spec("flowscope.ui.server") is None:
        raise fail("the dashboard is not part of this version yet; the store is ready for "
                   "`flowscope.open(...)` and `flowscope analyze`", code=1)
    from flowscope.ui.server import serve

    serve(store_path, port=port)


@app.command("import")
def import_(
    files: Annotated[list[Path], typer.Argument(help="Exported files: JSON, JSON Lines, optionally .gz.")],
    store: StoreOpt = None,
    config: ConfigOpt = None,
    cloud: Annotated[Optional[str], typer.Option(help="Force the cloud: aws, azure, gcp.")] = None,
    format: Annotated[Optional[str], typer.Option("--format", help="Force the format, e.g. aws.history.")] = None,
    execution_arn: Annotated[Optional[str], typer.Option(help="Execution ARN of a bare get-execution-history file.")] = None,
) -> None:
    """Load histories exported from the clouds, in their native formats (detected from content)."""
    from flowscope.collectors.importer import import_files
    from flowscope.collectors.native import NativeFormatError
    from flowscope.model import Cloud
    from flowscope.store import Store, StoreError

    if cloud is not None and cloud not in {c.value for c in Cloud}:
        raise fail(f"--cloud must be one of aws, azure, gcp, not {cloud!r}")
    settings = _settings(config, store)
    try:
        with status(f"importing {len(files)} file(s)"):
            result = import_files(Store(settings.store_path), list(files), cloud=cloud, fmt=format,
                                  execution_id=execution_arn)
    except (NativeFormatError, StoreError, ValueError) as exc:
        raise fail(f"{exc} (nothing was written)") from None
    written = ", ".join(f"{n:,} {t}" for t, n in result.written.items() if t != "collection_runs") or "nothing"
    formats = ", ".join(f"{n} {f}" for f, n in sorted(result.formats.items()))
    err.print(f"imported {result.files} file(s) ({formats}) into {settings.store_path}: {written}", highlight=False)
    for skip in result.skips[:20]:
        err.print(f"[yellow]skipped[/] {skip.source}: {skip.location}: {skip.reason}", highlight=False)
    if len(result.skips) > 20:
        err.print(f"[yellow]skipped[/] {len(result.skips) - 20} more record(s)")
    if result.unknown_event_types:
        kinds = ", ".join(f"{k} x{v}" for k, v in sorted(result.unknown_event_types.items()))
        err.print(f"[yellow]kept but not understood:[/] {kinds}", highlight=False)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
