"""`flowscope dashboard`: the dashboard served on a store that exists, with the config checked first."""

from __future__ import annotations

from typing import Annotated

import typer

from flowscope.cli.loading import _open_store, _settings, _thresholds
from flowscope.cli.options import ConfigOpt, PortOpt, ReadStoreOpt
from flowscope.cli.output import literal
from flowscope.cli.root import app
from flowscope.cli.serving import _serve

DASHBOARD_HELP = literal("Serve the dashboard (Streamlit) on localhost. Exit 2 when the store does not exist, "
                          "the config's thresholds or [auth] table is wrong, or the server stops by itself (a port "
                          "already in use); 0 when stopped with Ctrl-C or SIGTERM.")


@app.command(help=DASHBOARD_HELP)
def dashboard(
    store: ReadStoreOpt = None,
    config: ConfigOpt = None,
    port: PortOpt = 8501,
    address: Annotated[str, typer.Option(
        help=literal("Address to bind; other than loopback only with [auth] configured."))] = "127.0.0.1",
) -> None:
    """Serve the dashboard (`DASHBOARD_HELP`)."""
    settings = _settings(config, store)
    _thresholds(settings)       # pages computed with the defaults in place of bad thresholds said nothing
    _open_store(settings.store_path)
    _serve(settings.store_path, port, address, config)
