"""Serve the dashboard: `streamlit run app.py` with FLOWSCOPE_STORE set, on localhost by default."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def app_path() -> Path:
    """app.py beside the flowscope package (the repository root of a source checkout)."""
    return Path(__file__).resolve().parents[2] / "app.py"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{text}"'


def secrets_toml(auth: dict[str, Any]) -> str:
    """Streamlit secrets with the [auth] table (and [auth.<provider>] sub-tables)."""
    lines = ["[auth]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in auth.items() if not isinstance(v, dict)]
    for name, table in auth.items():
        if isinstance(table, dict):
            lines.append(f"\n[auth.{name}]")
            lines += [f"{k} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def command(store_path: str, port: int = 8501, address: str = "127.0.0.1",
            secrets_file: str | None = None) -> list[str]:
    cmd = [sys.executable, "-m", "streamlit", "run", str(app_path()),
           "--server.port", str(port), "--server.address", address, "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--global.developmentMode", "false", "--client.toolbarMode", "minimal"]
    if secrets_file:
        cmd += ["--secrets.files", secrets_file]
    return cmd


def serve(store_path: str, port: int = 8501, address: str = "127.0.0.1", *, wait: bool = True) -> Any:
    """Run the dashboard for `store_path`; binds to loopback unless [auth] is configured.

    wait=True blocks until the server exits and returns its exit code; wait=False returns the
    `subprocess.Popen` (tests use that).
    """
    from flowscope.settings import load_settings

    settings = load_settings(store=store_path)
    auth = dict(settings.auth or {})
    if address not in LOOPBACK and not auth:
        raise ValueError(f"refusing to serve on {address} without sign-in: add an [auth] section to flowscope.toml "
                         "(OIDC, see the README) or keep the default 127.0.0.1")
    secrets_file = None
    if auth:
        handle = tempfile.NamedTemporaryFile("w", prefix="flowscope-secrets-", suffix=".toml", delete=False)
        with handle:
            handle.write(secrets_toml(auth))
        os.chmod(handle.name, 0o600)
        secrets_file = handle.name
    env = dict(os.environ, FLOWSCOPE_STORE=settings.store_path)
    cmd = command(settings.store_path, port, address, secrets_file)
    if not wait:
        return subprocess.Popen(cmd, env=env, cwd=str(app_path().parent))
    print(f"flowscope dashboard on http://{address}:{port} (store {settings.store_path})", file=sys.stderr)
    try:
        return subprocess.call(cmd, env=env, cwd=str(app_path().parent))
    except KeyboardInterrupt:
        return 0
    finally:
        if secrets_file:
            Path(secrets_file).unlink(missing_ok=True)
