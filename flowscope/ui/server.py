"""Serve the dashboard: `streamlit run` of the package's app script with FLOWSCOPE_STORE set (and
FLOWSCOPE_CONFIG when a config file is named), on localhost by default."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def app_path() -> Path:
    """The Streamlit script inside the package (installed wheel or source checkout alike)."""
    return Path(__file__).resolve().parent / "entry" / "streamlit_app.py"


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


def serve(store_path: str | None = None, port: int = 8501, address: str = "127.0.0.1", *,
          config: str | Path | None = None, wait: bool = True) -> Any:
    """Run the dashboard for `store_path`; binds to loopback unless [auth] is configured.

    `config` names the flowscope.toml to read ([auth], thresholds, and the store when
    `store_path` is None); without it, FLOWSCOPE_CONFIG or ./flowscope.toml as usual. The app
    process gets the same file through FLOWSCOPE_CONFIG, so what it reads matches what was checked here.
    wait=True blocks until the server exits and returns its exit code; wait=False returns the
    `subprocess.Popen` (tests use that).
    """
    from flowscope.settings import CONFIG_ENV, load_settings

    settings = load_settings(config=config, store=store_path)
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
    store = settings.store_path
    if "://" not in store:
        store = str(Path(store).resolve())     # the app process may not share our working directory
    env = dict(os.environ, FLOWSCOPE_STORE=store)
    if settings.config_path is not None:
        env[CONFIG_ENV] = str(Path(settings.config_path).expanduser().resolve())
    cmd = command(store, port, address, secrets_file)
    if not wait:
        return subprocess.Popen(cmd, env=env)
    print(f"flowscope dashboard on http://{address}:{port} (store {settings.store_path})", file=sys.stderr)
    try:
        return subprocess.call(cmd, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        if secrets_file:
            Path(secrets_file).unlink(missing_ok=True)
