"""Serve the dashboard: `streamlit run` of the package's app script with FLOWSCOPE_STORE set (and
FLOWSCOPE_CONFIG when a config file is named), on localhost by default."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flowscope.netaddr import is_loopback


def app_path() -> Path:
    """The Streamlit script inside the package (installed wheel or source checkout alike)."""
    return Path(__file__).resolve().parent / "entry" / "streamlit_app.py"


def _toml_key(key: Any) -> str:
    text = str(key)
    return text if re.fullmatch(r"[A-Za-z0-9_-]+", text) else json.dumps(text, ensure_ascii=False)


def _toml_value(value: Any) -> str:
    """`value` as TOML. A table (Streamlit's `client_kwargs`) was written as the string of a Python dict, and a
    line break or control character in a string made a file Streamlit could not parse: JSON's string
    escapes are TOML's."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def secrets_toml(auth: dict[str, Any]) -> str:
    """Streamlit secrets with the [auth] table (and [auth.<provider>] sub-tables)."""
    lines = ["[auth]"]
    lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in auth.items() if not isinstance(v, dict)]
    for name, table in auth.items():
        if isinstance(table, dict):
            lines.append(f"\n[auth.{_toml_key(name)}]")
            lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in table.items()]
    return "\n".join(lines) + "\n"


def command(store_path: str, port: int = 8501, address: str = "127.0.0.1",
            secrets_file: str | None = None) -> list[str]:
    # Streamlit's command line, with pandas and our libraries imported while the server starts (ui/launch.py).
    cmd = [sys.executable, "-m", "flowscope.ui.launch", "run", str(app_path()),
           "--server.port", str(port), "--server.address", address, "--server.headless", "true",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
           "--global.developmentMode", "false", "--client.toolbarMode", "minimal",
           # A full garbage collection after every run costs ~0.2 s on a large store's frames; Python's
           # own generational collection still runs.
           "--runner.postScriptGC", "false"]
    if secrets_file:
        cmd += ["--secrets.files", secrets_file]
    return cmd


STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
"""What stops `flowscope dashboard` / `demo`: systemd, Docker and Kubernetes send SIGTERM, a terminal
SIGINT (Ctrl-C) or SIGHUP (closed)."""
STOP_GRACE_S = 10.0
"""How long the Streamlit server gets to exit after SIGTERM before its process group is killed."""


def write_secrets(auth: dict[str, Any]) -> Path:
    """Streamlit's secrets file for [auth], in a fresh private temporary folder (0700, file 0600):
    the caller removes the folder (serve() does, however it stops)."""
    folder = Path(tempfile.mkdtemp(prefix="flowscope-secrets-"))
    path = folder / "secrets.toml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets_toml(auth))
    return path


class _Stopper:
    """Stop signals, while installed: the first is remembered and the server's process group is told
    to stop (SIGTERM); a second one kills it at once."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self.at: float | None = None
        self.child: subprocess.Popen | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "_Stopper":
        if threading.current_thread() is threading.main_thread():   # signal handlers live there only
            for sig in STOP_SIGNALS:
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    def _on_signal(self, signum: int, _frame: Any) -> None:
        again = self.signum is not None
        if not again:
            self.signum, self.at = signum, time.monotonic()
        self.signal_child(signal.SIGKILL if again else signal.SIGTERM)

    def signal_child(self, sig: int) -> None:
        """Signal the server's whole process group (it leads its own session), unless already reaped."""
        child = self.child
        if child is None or child.returncode is not None:
            return
        try:
            os.killpg(child.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass


def _wait(stopper: _Stopper, proc: subprocess.Popen, grace_s: float) -> int:
    """The server's exit code; 0 once a stop signal ended it (SIGKILL after `grace_s`)."""
    while True:
        try:
            code = proc.wait(timeout=0.2)
        except subprocess.TimeoutExpired:
            if stopper.at is not None and time.monotonic() - stopper.at > grace_s:
                stopper.signal_child(signal.SIGKILL)
                proc.wait()
                return 0
            continue
        return 0 if stopper.signum is not None else code


WHOLE_NUMBER_VARIABLES = {"FLOWSCOPE_UI_ANALYSES_NICE": (-40, 40, "an os.nice increment, e.g. 10"),
                          "FLOWSCOPE_UI_ANALYSES_THREADS": (0, 4096, "DuckDB threads, 0 for every core")}
MEMORY_VARIABLES = ("FLOWSCOPE_UI_ANALYSES_MEMORY", "FLOWSCOPE_UI_DUCKDB_MEMORY")
"""The dashboard's environment variables (docs/dashboard.md), read by its server process."""


def check_environment(env: dict[str, str]) -> None:
    """ValueError naming a dashboard variable of `env` the server would fail on: a bad one started a server
    that died with a traceback (the command asked whether the port was in use) or failed every page."""
    for name, (low, high, what) in WHOLE_NUMBER_VARIABLES.items():
        value = env.get(name)
        if value is None:
            continue
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or not low <= number <= high:
            raise ValueError(f"{name} must be a whole number from {low} to {high} ({what}), not {value!r}")
    for name in MEMORY_VARIABLES:
        value = env.get(name)
        if value is None:
            continue
        import duckdb

        try:
            duckdb.connect(":memory:", config={"memory_limit": value}).close()
        except duckdb.Error as exc:
            raise ValueError(f"{name} must be a DuckDB memory size such as 1GB, 500MB or 50%, not {value!r} "
                             f"({exc})") from None


NOT_PROVIDERS = frozenset({"client_kwargs"})
"""Tables of [auth] itself that name no provider: the default provider's options (Streamlit's own rule)."""
PROVIDER_KEYS = ("client_id", "client_secret", "server_metadata_url")
"""What Streamlit's sign-in needs of the provider it logs in with (the [auth] table itself for the
default provider, else [auth.NAME]); [auth] itself needs redirect_uri and cookie_secret."""


def check_auth(auth: Mapping[str, Any]) -> None:
    """ValueError naming what an [auth] table lacks for Streamlit's sign-in (the provider is chosen as
    `ui.auth` chooses it: `provider = "NAME"`, else the one [auth.NAME] table, else [auth] itself). An
    incomplete table started the dashboard, whose Sign in button then failed with Streamlit's words about
    a `.streamlit/secrets.toml` the user never wrote (flowscope writes it from [auth])."""
    missing = [key for key in ("redirect_uri", "cookie_secret") if not auth.get(key)]
    if missing:
        raise ValueError(f"[auth] is missing {', '.join(missing)} (Streamlit's sign-in needs them; see the "
                         "README's Dashboard section)")
    redirect = str(auth["redirect_uri"])
    if not redirect.endswith("/oauth2callback"):
        raise ValueError(f"[auth] redirect_uri must end with /oauth2callback (the address the identity provider "
                         f"sends the browser back to), not {redirect!r}")
    named = [key for key, value in auth.items() if isinstance(value, Mapping) and key not in NOT_PROVIDERS]
    provider = auth.get("provider") or (named[0] if len(named) == 1 else None)
    if provider is not None and not isinstance(provider, str):
        raise ValueError(f"[auth] provider must be the name of an [auth.NAME] table in quotes (provider = \"NAME\"), "
                         f"not {provider!r}")
    if provider is None:
        table, where = auth, "[auth]"
    elif not isinstance(auth.get(provider), Mapping):
        raise ValueError(f"[auth] provider = {json.dumps(str(provider))} names no [auth.{provider}] table "
                         f"(tables: {', '.join(f'[auth.{n}]' for n in named) or 'none'})")
    else:
        table, where = auth[provider], f"[auth.{provider}]"
        if "_" in str(provider):
            raise ValueError(f"{where}: Streamlit's sign-in refuses a provider name with an underscore")
    lacking = [key for key in PROVIDER_KEYS if not table.get(key)]
    if lacking:
        several = " (or name one of the [auth.NAME] tables: provider = \"NAME\")" if provider is None and named else ""
        raise ValueError(f"{where} is missing {', '.join(lacking)}{several}")


def auth_problem(auth: Mapping[str, Any], config_path: str | Path | None) -> str | None:
    """`check_auth`'s refusal at the config file's [auth] line; None when sign-in can use the table (or
    there is none)."""
    if not auth:
        return None
    try:
        check_auth(auth)
    except ValueError as exc:
        from flowscope.settings import top_level_at

        return f"{top_level_at(Path(config_path), 'auth')}: {exc}" if config_path else str(exc)
    return None


_HOST_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                        r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$")


def check_address(address: str) -> str:
    """`address` as Streamlit binds it (an IPv6 one without brackets: "[::1]" failed to bind with a
    traceback); ValueError unless it is an IP address (v6 bracketed or not) or a host name:
    `localhost:8501` was refused as a public bind without sign-in, or with [auth] reached Streamlit, whose
    failure read as a port already in use."""
    text = address.strip()
    try:
        return str(ipaddress.ip_address(text.removeprefix("[").removesuffix("]")))
    except ValueError:
        pass
    if not _HOST_NAME.match(text):
        raise ValueError(f"--address {address!r} is not a host name or IP address (e.g. 127.0.0.1 or 0.0.0.0; "
                         "the port goes in --port)")
    return text


def url(address: str, port: int) -> str:
    """The dashboard's address for a browser: an IPv6 address in brackets (http://[::1]:8501)."""
    host = f"[{address}]" if ":" in address else address
    return f"http://{host}:{port}"


def serve(store_path: str | None = None, port: int = 8501, address: str = "127.0.0.1", *,
          config: str | Path | None = None, wait: bool = True, grace_s: float = STOP_GRACE_S) -> Any:
    """Run the dashboard for `store_path`; binds to loopback unless [auth] is configured.

    `config` names the flowscope.toml to read ([auth], thresholds, and the store when
    `store_path` is None); without it, FLOWSCOPE_CONFIG or ./flowscope.toml as usual. The app
    process gets the same file through FLOWSCOPE_CONFIG, so what it reads matches what was checked here.
    wait=True blocks until the server exits and returns its exit code (0 when stopped by SIGTERM, SIGINT
    or SIGHUP, which are passed on to the server's process group; it is killed if it has not exited
    `grace_s` seconds later); the secrets written for [auth] are removed however it ends.
    wait=False returns the `subprocess.Popen` (tests use that): the caller stops it and removes
    its `secrets_dir` attribute's folder when set.
    """
    from flowscope.settings import CONFIG_ENV, load_settings

    address = check_address(address)
    check_environment(dict(os.environ))
    settings = load_settings(config=config, store=store_path)
    auth = dict(settings.auth or {})
    problem = auth_problem(auth, settings.config_path)
    if problem:
        raise ValueError(problem)
    if not is_loopback(address) and not auth:
        raise ValueError(f"refusing to serve on {address} without sign-in: add an [auth] section to flowscope.toml "
                         "(OIDC, see the README) or keep the default 127.0.0.1")
    store = settings.store_path
    if "://" not in store:
        store = str(Path(store).resolve())     # the app process may not share our working directory
    env = dict(os.environ, FLOWSCOPE_STORE=store)
    if settings.config_path is not None:
        env[CONFIG_ENV] = str(Path(settings.config_path).expanduser().resolve())
    if not wait:
        secrets = write_secrets(auth) if auth else None
        proc = subprocess.Popen(command(store, port, address, str(secrets) if secrets else None), env=env)
        proc.secrets_dir = secrets.parent if secrets else None  # type: ignore[attr-defined]
        return proc
    print(f"flowscope dashboard on {url(address, port)} (store {settings.store_path})", file=sys.stderr)
    secrets_dir: Path | None = None
    with _Stopper() as stopper:
        try:
            secrets = write_secrets(auth) if auth else None
            secrets_dir = secrets.parent if secrets else None
            if stopper.signum is not None:
                return 0
            stopper.child = subprocess.Popen(command(store, port, address, str(secrets) if secrets else None),
                                             env=env, start_new_session=True)
            if stopper.signum is not None:          # stopped while it was starting
                stopper.signal_child(signal.SIGTERM)
            return _wait(stopper, stopper.child, grace_s)
        finally:
            if stopper.child is not None and stopper.child.poll() is None:   # an error above: leave nothing
                stopper.signal_child(signal.SIGKILL)
                stopper.child.wait()
            if secrets_dir is not None:
                shutil.rmtree(secrets_dir, ignore_errors=True)
