"""What the commands print, and how: the consoles (`out` for stdout, `err` for stderr), an error, a
warning or a note in one line (`fail`, `tagged`, `note`, each through `shown`), help text shown as written
(`literal`), the spinner (`status`), and an output that closes early or refuses a write.

One place, so every line a command prints is cleaned by one rule (no credentials, no escape sequences).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from flowscope.exitcodes import ExitCode
from flowscope.textsafety import terminal_text, without_secrets

OUTPUT_CLOSED = 141
"""Exit code when the reader of the output stopped early (`flowscope analyze | head -1`): what a shell
reports for a command killed by SIGPIPE. Rich and Click exit 1 there, which is `--fail-on`'s "findings"."""


class _Console(Console):
    """A rich Console whose closed output ends the command with OUTPUT_CLOSED, not rich's exit 1."""

    def on_broken_pipe(self) -> None:
        if self.quiet:
            return
        devnull = os.open(os.devnull, os.O_WRONLY)      # as rich does: nothing more is written to the pipe
        os.dup2(devnull, sys.stdout.fileno())
        raise SystemExit(OUTPUT_CLOSED)


err = _Console(stderr=True)
out = _Console()


def literal(help_text: str) -> str:
    """Help text shown as written: Typer reads help as Rich markup, which would drop a config
    section name such as "[auth]" or "[[notify]]" as an unknown tag."""
    return escape(help_text)


def shown(message: Any) -> str:
    """Text for a line of the terminal, as every line the commands print is: without the credentials it
    quotes (a cloud's error, a record's id, an exception's text, a URL the user typed: `without_secrets`) and
    without escape sequences or control characters (`terminal_text`). Each caller cleaned its part or not:
    an import's warnings and errors quoting a record printed a `user:pass@` or a `sig=` as read."""
    return without_secrets(terminal_text(message))


def fail(message: str, code: ExitCode = ExitCode.USAGE) -> typer.Exit:
    err.print(f"[bold red]error:[/] {escape(shown(message))}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def tagged(tag: str, message: str) -> None:
    """One stderr line: a yellow tag, then text that may hold cloud-originated names (`shown`, markup
    escaped)."""
    err.print(f"[yellow]{tag}[/] {escape(shown(message))}", highlight=False, soft_wrap=True)


def note(message: str, *, console: Console | None = None) -> None:
    """One line of text that may hold cloud-originated names (`shown`), no markup."""
    (console or err).print(shown(message), markup=False, highlight=False, soft_wrap=True)


@contextmanager
def status(message: str) -> Iterator[Callable[[str], None]]:
    """A spinner on a terminal; silence when output goes to a file or cron."""
    if not sys.stderr.isatty():
        yield lambda _text: None
        return
    with err.status(message) as spinner:
        yield lambda text: spinner.update(text)


@contextlib.contextmanager
def _stdout_written() -> Iterator[None]:
    """Exit 2 when standard output refuses what is written to it (a full disk behind `> findings.json`), as
    for a report file that cannot be written: it was an OSError said as a bug in flowscope (exit 5).
    Flushed here, so the refusal is not left for the interpreter's exit. A reader that stopped early
    (BrokenPipeError) is left to the callers: it has its own code."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        raise
    except OSError as exc:
        raise fail(f"standard output: cannot write it: {exc.strerror or exc}") from None
