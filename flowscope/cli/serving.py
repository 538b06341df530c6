"""Serving the dashboard (Streamlit), for `dashboard` and `demo`: the environment checked before any work,
then the server run, a server that never served or stopped by itself exit 2.

Apart from both commands, so neither command's module imports the other's.
"""

from __future__ import annotations

import os
from pathlib import Path

from flowscope.cli.output import fail
from flowscope.exitcodes import ExitCode
from flowscope.extras import install_command


def _check_dashboard_environment() -> None:
    """Exit 2 naming a dashboard variable the server would fail on (`ui.server.check_environment`)."""
    from importlib.util import find_spec

    if find_spec("streamlit") is None:
        return                  # `_serve` says what to install
    from flowscope.ui.server import check_environment

    try:
        check_environment(dict(os.environ))
    except ValueError as exc:
        raise fail(str(exc)) from None


def _serve(store_path: str, port: int, address: str = "127.0.0.1", config: Path | None = None) -> None:
    from importlib.util import find_spec

    if find_spec("streamlit") is None:
        raise fail(f"the dashboard needs Streamlit: {install_command('ui')}", code=ExitCode.USAGE)
    from flowscope.ui.server import serve

    try:
        code = serve(store_path, port=port, address=address, config=config)
    except ValueError as exc:
        raise fail(str(exc)) from None
    if code:    # it never served, or stopped by itself: "Port 8501 is not available" was exit 0
        raise fail(f"the dashboard server stopped with exit code {code} (its messages are above; "
                   f"is port {port} already in use?)")
