"""The Typer app every command registers on, and its root option (`--version`).

A module of its own so that each command's module imports the app from here, never from the package
(`flowscope.cli`) that imports them: no import cycle. The package imports the commands' modules in the
order `flowscope --help` lists them.
"""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Observability and cost analysis for AWS Step Functions, Azure Logic Apps "
                       "and Google Cloud Workflows.")


def _print_version(value: bool) -> None:
    if value:
        from flowscope import __version__

        typer.echo(f"flowscope {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: Annotated[bool, typer.Option(
        "--version", callback=_print_version, is_eager=True, help="Print the version and exit.")] = False) -> None:
    # `flowscope --version`: the first thing a bug report asks for ("No such option" before)
    pass
