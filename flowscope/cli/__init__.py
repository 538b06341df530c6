"""The `flowscope` command: demo | import | sync | analyze | report | run | dashboard | doctor.

Each command is a thin shell over library calls; errors print one clear line and exit non-zero.

Here: the console entry point (`main`, with the exit codes of Ctrl-C, of an output closed early and of an
error nobody foresaw) and the Typer `app` it runs. Each other job has a module: root.py (the app the commands
register on, `--version`), output.py (the consoles and every printed line), options.py (the shared options
and the parsers of their values), loading.py (settings, thresholds, configured scopes, store), store_folder.py
(what a store's folder holds), serving.py (the dashboard's server); one module a command or close group:
demo.py, dashboard.py, collect.py (import, sync), doctor.py, analyze.py, report.py and run.py, with what
report and run share in report_options.py (a report's flags and [report] table), report_content.py (the
window's content and the findings history) and report_files.py (the files: checked, written), and the exit
rule of analyze, report and run in outcome.py.

The commands' modules are imported below in the order `flowscope --help` lists the commands (each registers
its command on `app` when imported). What other code and the tests use from here is re-exported (`__all__`).
A test replaces `app` here (`main` calls the `app` this module holds); any other name is replaced in the module
that reads it (`flowscope.cli.dashboard._serve`, `flowscope.cli.run._run_sync`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from rich.markup import escape

from flowscope.cli.options import _clouds_spelt, _workflows_given
from flowscope.cli.outcome import verdict
from flowscope.cli.output import OUTPUT_CLOSED, err, fail, note, shown, tagged
from flowscope.cli.report_options import _check_report_flags, _run_options
from flowscope.cli.root import app
from flowscope.exitcodes import ExitCode

# isort: off
# the commands' modules, in the order `flowscope --help` lists the commands: each registers its command on
# `app` when it is imported (none imports another command's module)
from flowscope.cli import demo, dashboard, collect, doctor, analyze, report, run  # noqa: F401
from flowscope.cli.doctor import EXTRAS, _extra_lines
# isort: on

__all__ = [
    # defined here
    "INTERRUPTED", "_Interrupts", "main",
    # root.py
    "app",
    # output.py
    "fail", "note", "shown", "tagged",
    # options.py
    "_clouds_spelt", "_workflows_given",
    # outcome.py
    "verdict",
    # report_options.py
    "_check_report_flags", "_run_options",
    # doctor.py
    "EXTRAS", "_extra_lines",
]


INTERRUPTED = 130
"""Exit code after Ctrl-C (SIGINT), as shells report it."""


def _output_closed() -> bool:
    """Whether Click replaced stdout after a broken pipe (it does so before exiting 1)."""
    return type(sys.stdout).__name__.endswith("PacifyFlushWrapper")


class _Interrupts:
    """Whether Ctrl-C came. DuckDB turns the KeyboardInterrupt raised inside one of its queries into
    `RuntimeError: Query interrupted`, which read as "a bug in flowscope" (exit 5, a crash file); the
    handler notes the signal, so whatever error it ends the command with, the exit is 130."""

    seen = False

    @classmethod
    def install(cls) -> None:
        import signal

        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:    # not ignored (a background job)
            signal.signal(signal.SIGINT, cls._on_sigint)

    @classmethod
    def _on_sigint(cls, signum: int, frame: Any) -> None:
        cls.seen = True
        raise KeyboardInterrupt


def main() -> None:
    """The console entry point: `app`, with an error nobody foresaw said in one line and exit 5, its
    traceback kept in a private file for a bug report (it exited 1, "findings", to a scheduler).
    FLOWSCOPE_DEBUG=1 shows the traceback instead. Ctrl-C exits 130, whatever error it caused."""
    _Interrupts.install()
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(INTERRUPTED)
    except SystemExit as done:
        if _Interrupts.seen:
            sys.exit(INTERRUPTED)
        if done.code == 1 and _output_closed():
            sys.exit(OUTPUT_CLOSED)
        raise
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, a code of its own
        if _Interrupts.seen:
            sys.exit(INTERRUPTED)
        if os.environ.get("FLOWSCOPE_DEBUG"):
            raise
        import tempfile
        import traceback

        handle, path = tempfile.mkstemp(prefix="flowscope-crash-", suffix=".txt")     # 0600
        with os.fdopen(handle, "w") as out_file:
            traceback.print_exc(file=out_file)
        err.print(f"[bold red]error:[/] {escape(shown(f'{type(exc).__name__}: {exc}')[:500])} - a bug in "
                  f"flowscope, not in your input: please report it with {path} (FLOWSCOPE_DEBUG=1 shows the "
                  "traceback here)", highlight=False, soft_wrap=True)
        sys.exit(ExitCode.INTERNAL)
