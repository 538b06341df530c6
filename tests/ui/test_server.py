"""The dashboard server wrapper: localhost by default, sign-in required elsewhere, secrets for st.login."""

from __future__ import annotations

import shutil
import stat
import tempfile
import tomllib
from pathlib import Path
from typing import ClassVar

import pytest

from flowscope.ui import server


def test_refuses_a_public_address_without_auth(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match="without sign-in"):
        server.serve(str(tmp_path), address="0.0.0.0", wait=False)


def test_command_runs_app_py_headless_on_loopback(tmp_path):
    cmd = server.command(str(tmp_path), 8600)
    assert cmd[1:4] == ["-m", "flowscope.ui.launch", "run"], "Streamlit's command line, libraries warmed"
    assert cmd[cmd.index("run") + 1].endswith("app.py")
    assert server.app_path().is_file()
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.port") + 1] == "8600"


def test_auth_settings_become_streamlit_secrets():
    text = server.secrets_toml({"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": 'x"y',
                                "google": {"client_id": "id", "client_secret": "s",
                                           "server_metadata_url": "https://accounts.google.com/.well-known/x"}})
    parsed = tomllib.loads(text)
    assert parsed["auth"]["cookie_secret"] == 'x"y'
    assert parsed["auth"]["google"]["client_id"] == "id"


def test_auth_settings_reach_streamlit_as_written():
    """Streamlit's [auth] options that are tables (`client_kwargs = { prompt = "login" }`, its documented way
    to pass the provider's options) were written as the string "{'prompt': 'login'}", and a value with a
    line break (a wrapped `openssl rand -base64 64` cookie secret) or a control character made a secrets
    file Streamlit could not parse ("Failed to load secrets"): sign-in then failed. Written as TOML, read
    back the same."""
    auth = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": 'line1\nline2 "q" \\ \x01\t',
            "client_id": "id", "client_secret": "s", "server_metadata_url": "https://accounts.google.com/.well-known/x",
            "client_kwargs": {"prompt": "login", "scope": "openid email"}, "expose_tokens": ["id", "access"],
            "okta": {"client_id": "id2", "client_secret": "s2", "server_metadata_url": "https://okta.example/x",
                     "client_kwargs": {"prompt": "consent"}}}
    assert tomllib.loads(server.secrets_toml(auth)) == {"auth": auth}


def test_client_kwargs_of_the_default_provider_is_no_provider():
    """`client_kwargs` in [auth] itself belongs to the default provider (Streamlit's own rule): it was taken
    for the one [auth.NAME] table and refused as "[auth.client_kwargs]: ... a provider name with an
    underscore", and the Sign in button would have asked Streamlit for a provider of that name."""
    auth = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s", "client_id": "id",
            "client_secret": "x", "server_metadata_url": "https://accounts.google.com/.well-known/x",
            "client_kwargs": {"prompt": "login"}}
    server.check_auth(auth)                      # no refusal
    with_named = {**auth, "okta": {"client_id": "i", "client_secret": "s", "server_metadata_url": "https://o/x"}}
    server.check_auth({k: v for k, v in with_named.items() if k not in server.PROVIDER_KEYS})   # [auth.okta] is the one
    from flowscope.ui import auth as ui_auth

    assert ui_auth._provider(auth) is None
    assert ui_auth._provider({k: v for k, v in with_named.items() if k not in server.PROVIDER_KEYS}) == "okta"


@pytest.mark.parametrize("provider", [["okta"], {"name": "okta"}, True])
def test_a_provider_that_is_no_name_is_refused_in_words(provider):
    """`provider = ["okta"]` was exit 5, "TypeError: unhashable type: 'list' - a bug in flowscope"."""
    auth = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "s", "provider": provider,
            "okta": {"client_id": "i", "client_secret": "s", "server_metadata_url": "https://o/x"}}
    with pytest.raises(ValueError, match=r'\[auth\] provider must be the name of an \[auth.NAME\] table in quotes'):
        server.check_auth(auth)


class _Popen:
    """Stands in for subprocess.Popen: records the command and environment."""

    calls: ClassVar[list[_Popen]] = []

    def __init__(self, cmd, env=None, **kwargs):
        self.cmd, self.env, self.kwargs = cmd, env, kwargs
        _Popen.calls.append(self)


def _config(path, store, auth=True):
    text = f'store = "{store}"\n'
    if auth:
        text += ('[auth]\nredirect_uri = "http://example.com/oauth2callback"\ncookie_secret = "s"\n'
                 '[auth.google]\nclient_id = "id"\nclient_secret = "x"\n'
                 'server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"\n')
    path.write_text(text)
    return path


def test_serve_reads_the_named_config(tmp_path, monkeypatch):
    """--config: [auth] and the store come from the named file, not ./flowscope.toml, and the app
    process is pointed at the same file."""
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.delenv("FLOWSCOPE_STORE", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "flowscope.toml").write_text('store = "elsewhere"\n')      # no [auth]: must not be used
    config = _config(tmp_path / "team.toml", tmp_path / "team-store")
    monkeypatch.setattr(server.subprocess, "Popen", _Popen)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))             # a failed assert leaks nothing into /tmp
    _Popen.calls.clear()
    server.serve(address="0.0.0.0", config=config, wait=False)         # allowed: [auth] is configured
    call = _Popen.calls[-1]
    assert call.env["FLOWSCOPE_CONFIG"] == str(config.resolve())
    assert call.env["FLOWSCOPE_STORE"] == str((tmp_path / "team-store").resolve())
    secrets_file = Path(call.cmd[call.cmd.index("--secrets.files") + 1])
    secrets = tomllib.loads(secrets_file.read_text())
    assert secrets["auth"]["google"]["client_id"] == "id"
    assert stat.S_IMODE(secrets_file.stat().st_mode) == 0o600           # private file, private folder
    assert stat.S_IMODE(secrets_file.parent.stat().st_mode) == 0o700
    assert call.secrets_dir == secrets_file.parent                      # the caller of wait=False removes it
    shutil.rmtree(call.secrets_dir)
    assert call.cmd[call.cmd.index("--server.address") + 1] == "0.0.0.0"

    server.serve(str(tmp_path / "explicit"), config=config, wait=False)   # --store wins over the file's
    shutil.rmtree(_Popen.calls[-1].secrets_dir)                           # the fake secrets never outlive the test
    assert _Popen.calls[-1].env["FLOWSCOPE_STORE"] == str((tmp_path / "explicit").resolve())


def test_serve_without_auth_in_the_named_config_refuses_public(tmp_path, monkeypatch):
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    _config(tmp_path / "flowscope.toml", tmp_path / "s")                 # [auth] here, but not in the named file
    config = _config(tmp_path / "bare.toml", tmp_path / "s", auth=False)
    monkeypatch.setattr(server.subprocess, "Popen", _Popen)
    with pytest.raises(ValueError, match="without sign-in"):
        server.serve(address="0.0.0.0", config=config, wait=False)


def test_serve_reports_a_missing_named_config(tmp_path, monkeypatch):
    monkeypatch.setattr(server.subprocess, "Popen", _Popen)
    with pytest.raises(Exception):   # noqa: B017 - settings' own error for a missing file
        server.serve(str(tmp_path), config=tmp_path / "missing.toml", wait=False)


def test_app_script_and_pages_ship_in_the_package():
    """`flowscope dashboard` runs a script inside the package, so it works from a wheel."""
    from flowscope.ui import app_main

    assert server.app_path().is_file()
    assert server.app_path().is_relative_to(Path(server.__file__).resolve().parent)
    for name, _title, _icon in app_main.PAGES:
        assert app_main.page_file(name).is_file(), name


@pytest.mark.slow
def test_wheel_contains_the_app_and_its_pages(tmp_path):
    """Build the wheel, install it (no dependencies) into a fresh venv: the app script and every
    page are files there."""
    import shutil
    import subprocess
    import sys
    import zipfile


    root = Path(__file__).resolve().parents[2]
    source = tmp_path / "src"                  # a copy: setuptools writes build/ beside the sources
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(root / name, source / name)
    shutil.copytree(root / "flowscope", source / "flowscope", ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "-w", str(tmp_path / "whl"),
                            "--no-deps", "-q"], capture_output=True, text=True, check=False)
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {built.stderr[-300:]}")
    wheel = next((tmp_path / "whl").glob("flowscope-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    from flowscope.ui import app_main

    assert "flowscope/ui/entry/streamlit_app.py" in names and "flowscope/ui/app_main.py" in names
    assert {f"flowscope/ui/pages/{n}.py" for n, _t, _i in app_main.PAGES} <= names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next(venv.glob("lib/python*/site-packages"))
    with zipfile.ZipFile(wheel) as z:   # what `pip install --no-deps` puts in site-packages
        z.extractall(site)
    probe = ("import flowscope.ui.server as s, flowscope.ui.app_main as m; "  # noqa: UP031
             "assert s.app_path().is_file(), s.app_path(); assert str(s.app_path()).startswith(%r); "
             "assert all(m.page_file(n).is_file() for n, _t, _i in m.PAGES); print(s.app_path())" % str(site))
    deps = [p for p in sys.path if p.endswith("site-packages")]
    env = {"PYTHONPATH": ":".join(deps), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([str(venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, env=env,
                         cwd=str(tmp_path), check=False)
    assert out.returncode == 0, out.stderr


def test_the_launcher_warms_pandas_the_charts_ibis_and_the_store_in_a_fresh_interpreter():
    import subprocess
    import sys

    code = ("import sys; from flowscope.ui import launch; assert 'pandas' not in sys.modules; "
            "assert 'ibis' not in sys.modules and 'duckdb' not in sys.modules; launch.warm(); "
            "assert 'pandas' in sys.modules and 'flowscope.ui.charts' in sys.modules; "
            "assert 'ibis' in sys.modules and 'flowscope.store' in sys.modules and 'deltalake' in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)


def test_the_launcher_reads_what_every_page_reads_first_once_the_runtime_exists(tmp_path, monkeypatch):
    """`launch.warm_store` waits for the server's runtime, then reads the store's summary, the sidebar's
    workflows, the thresholds and the collection health through the app's caches, so a first visitor's
    run finds them there (1M store, a visit 6 s after start: first charts 3.26-3.51 s to 2.91-3.30 s)."""
    from flowscope.store import Store
    from flowscope.ui import data, launch
    from tests.ui.helpers import build

    Store(tmp_path).write(build(20, days=2, seed=3))
    monkeypatch.setenv("FLOWSCOPE_STORE", str(tmp_path))
    read: list[str] = []
    real = data.call_in
    monkeypatch.setattr(data, "call_in",
                        lambda module, name, *a, **k: (read.append(name), real(module, name, *a, **k))[1])
    launch.warm_store(wait_s=0.2, ready=lambda: False)
    assert read == [], "nothing is read before the runtime exists (its caches are the app's)"
    submitted: list[tuple] = []
    monkeypatch.setattr(data, "findings_job", lambda f, prefetch=(), priority=None: submitted.append(
        (f, list(prefetch), priority)))
    launch.warm_store(wait_s=0.2, ready=lambda: True)
    assert {"store_summary", "workflow_options", "collection_health"} <= set(read)
    assert data.summary()["executions"] > 0
    # Then the analyses of the window a first visitor's page asks for, ahead of that visit.
    from flowscope.ui import filters
    from flowscope.ui.jobs import LIKELY

    assert len(submitted) == 1
    f, prefetch, priority = submitted[0]
    span = filters.time_window(filters.WINDOWS[filters.DEFAULT_WINDOW], first_data=data.summary()["first"],
                               last_data=filters.known_to(data.summary()))
    assert (f.since, f.until, f.clouds, f.workflows) == (span.since, span.until, (), ())
    assert priority == LIKELY and prefetch == filters.other_windows(f, data.summary()["first"])


def test_the_launcher_leaves_an_unreadable_store_to_the_page(tmp_path, monkeypatch):
    from flowscope.ui import launch

    monkeypatch.setenv("FLOWSCOPE_STORE", str(tmp_path / "nothing-here"))
    launch.warm_store(wait_s=0.2, ready=lambda: True)   # no raise: the page says what is wrong with the store


@pytest.mark.parametrize(("variable", "value", "said"), [
    ("FLOWSCOPE_UI_ANALYSES_NICE", "high", "FLOWSCOPE_UI_ANALYSES_NICE must be a whole number"),
    ("FLOWSCOPE_UI_ANALYSES_THREADS", "-2", "FLOWSCOPE_UI_ANALYSES_THREADS must be a whole number"),
    ("FLOWSCOPE_UI_ANALYSES_MEMORY", "lots", "FLOWSCOPE_UI_ANALYSES_MEMORY must be a DuckDB memory size"),
    ("FLOWSCOPE_UI_DUCKDB_MEMORY", "2", "FLOWSCOPE_UI_DUCKDB_MEMORY must be a DuckDB memory size"),
])
def test_a_bad_dashboard_variable_is_exit_2_naming_it_before_the_server_starts(tmp_path, monkeypatch, variable,
                                                                               value, said):
    """FLOWSCOPE_UI_ANALYSES_NICE=high started the server, which died with a traceback of int(), and the
    command said "is port 8501 already in use?"; a bad memory size failed every page's first query."""
    from typer.testing import CliRunner

    from flowscope.cli import app
    from flowscope.exitcodes import ExitCode
    from flowscope.store import Store

    Store(tmp_path / "s")
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    monkeypatch.setattr(server.subprocess, "Popen", lambda *a, **k: pytest.fail("the server was started"))
    result = CliRunner().invoke(app, ["dashboard", "--store", str(tmp_path / "s")])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert said in " ".join(result.output.split()) and repr(value) in result.output, result.output


@pytest.mark.parametrize("address", ["localhost:8501", "http://127.0.0.1", "not a host", ""])
def test_an_address_that_is_no_address_is_said_as_such(tmp_path, monkeypatch, address):
    """`--address localhost:8501` was refused as a public bind without sign-in (add [auth]...), and with
    [auth] configured reached Streamlit, whose failure read "is the port already in use?"."""
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=f"--address {address!r} is not a host name or IP address"):
        server.serve(str(tmp_path), address=address, wait=False)


class _Ended:
    """A server process that has already exited (serve's wait loop returns at once)."""

    pid = 2 ** 22 + 1
    returncode = 0

    def wait(self, timeout=None):
        return 0

    def poll(self):
        return 0


@pytest.mark.parametrize(("address", "bound", "url"), [("::1", "::1", "http://[::1]:8599"),
                                                        ("[::1]", "::1", "http://[::1]:8599"),
                                                        ("127.0.0.1", "127.0.0.1", "http://127.0.0.1:8599")])
def test_an_ipv6_address_is_bound_bare_and_said_bracketed(tmp_path, monkeypatch, capsys, address, bound, url):
    """`--address [::1]` passed the check, then Streamlit failed to bind "[::1]" with a traceback, and the
    command asked whether the port was in use; `--address ::1` served, announced at http://::1:8501, a URL
    no browser opens. Streamlit binds the bare address; the URL said brackets an IPv6 one."""
    from flowscope.store import Store

    Store(tmp_path / "s")
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    started = []
    monkeypatch.setattr(server.subprocess, "Popen", lambda cmd, **k: started.append(cmd) or _Ended())
    assert server.serve(str(tmp_path / "s"), port=8599, address=address) == 0
    cmd = started[0]
    assert cmd[cmd.index("--server.address") + 1] == bound
    assert f"flowscope dashboard on {url} " in capsys.readouterr().err
