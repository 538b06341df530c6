"""Stopping `flowscope dashboard` stops everything it started and removes what it wrote: systemd, Docker
and Kubernetes stop a service with SIGTERM to its main process, a terminal with SIGINT or SIGHUP."""

from __future__ import annotations

import os
import select
import signal
import socket
import stat
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real dashboard servers started and stopped by signals

AUTH = ('[auth]\nredirect_uri = "http://localhost:{port}/oauth2callback"\ncookie_secret = "not-a-real-secret"\n'
        'client_id = "id"\nclient_secret = "x"\n'
        'server_metadata_url = "https://accounts.google.com/.well-known/openid-configuration"\n')


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped has stopped: it holds no port and runs nothing)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory) -> str:
    from flowscope.simulate.demo import build_demo
    from flowscope.store import Store

    path = tmp_path_factory.mktemp("stop-demo")
    build_demo(Store(path), days=2, executions=120, seed=3, workers=1)
    return str(path)


@pytest.mark.parametrize(("sig", "with_auth"), [(signal.SIGTERM, False), (signal.SIGTERM, True),
                                                (signal.SIGHUP, True), (signal.SIGINT, False)],
                         ids=["SIGTERM", "SIGTERM-auth", "SIGHUP-auth", "SIGINT"])
def test_a_stop_signal_stops_the_server_and_removes_the_secrets(sig, with_auth, demo_store, tmp_path):
    import subprocess

    port = free_port()
    tmp = tmp_path / "tmp"                         # the process's temporary folder, to see what it leaves
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWSCOPE_CONFIG", "FLOWSCOPE_STORE")}
    env["TMPDIR"] = str(tmp)
    args = [sys.executable, "-c", "from flowscope.cli import app; app()", "dashboard", "--store", demo_store,
            "--port", str(port)]
    if with_auth:
        config = tmp_path / "flowscope.toml"
        config.write_text(AUTH.format(port=port))
        args += ["--config", str(config)]
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    servers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.3)
        servers = children(proc.pid)
        assert servers, "no server process under flowscope"
        secrets_dirs = list(tmp.glob("flowscope-secrets-*"))
        if with_auth:
            cmd = cmdline(servers[0])
            secrets = Path(cmd[cmd.index("--secrets.files") + 1])
            assert secrets.is_file() and secrets.is_relative_to(tmp) and secrets_dirs
            assert stat.S_IMODE(secrets.stat().st_mode) == 0o600
        else:
            assert secrets_dirs == []

        os.kill(proc.pid, sig)                     # the flowscope process only, as a service manager does
        proc.wait(timeout=20)
        deadline = time.monotonic() + 5
        while (port_open(port) or any(alive(p) for p in servers)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not port_open(port), f"port {port} still served after {signal.Signals(sig).name}"
        assert not [p for p in servers if alive(p)], "the Streamlit server outlived flowscope"
        assert list(tmp.iterdir()) == [], "files left in the temporary folder"
        assert proc.returncode == 0, proc.stderr.read().decode()[-2000:]
    finally:
        for pid in [proc.pid, *servers]:          # never leave a server behind, whatever failed
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


def _auth_config(tmp_path: Path) -> Path:
    config = tmp_path / "flowscope.toml"
    config.write_text(f'store = "{tmp_path / "store"}"\n' + AUTH.format(port=8501))
    return config


def test_a_server_that_ignores_sigterm_is_killed_after_the_grace(tmp_path, monkeypatch):
    """serve() in this process: SIGTERM reaches the server's group; one that ignores it is killed after
    `grace_s`, serve returns 0, the secrets folder is gone and the previous handler is back."""
    import threading

    from flowscope.ui import server

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(server.tempfile, "tempdir", None)       # re-read TMPDIR
    stubborn = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
                "open('ready', 'w').close(); time.sleep(120)"]
    monkeypatch.setattr(server, "command", lambda *a, **k: stubborn)
    monkeypatch.chdir(tmp_path)
    started: list[int] = []
    real_popen = server.subprocess.Popen

    def popen(*args, **kwargs):
        child = real_popen(*args, **kwargs)
        started.append(child.pid)
        return child

    monkeypatch.setattr(server.subprocess, "Popen", popen)

    def stop_when_ready() -> None:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(os.getpid(), signal.SIGTERM)

    before = signal.getsignal(signal.SIGTERM)
    threading.Thread(target=stop_when_ready, daemon=True).start()
    t0 = time.monotonic()
    try:
        code = server.serve(config=_auth_config(tmp_path), wait=True, grace_s=1.0)
        took = time.monotonic() - t0
    finally:
        for pid in started:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert code == 0
    assert started and not alive(started[0])
    assert 1.0 <= took < 15
    assert not list(tmp_path.glob("flowscope-secrets-*"))
    assert signal.getsignal(signal.SIGTERM) is before


def test_the_secrets_are_removed_when_the_server_cannot_start(tmp_path, monkeypatch):
    from flowscope.ui import server

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(server.tempfile, "tempdir", None)
    monkeypatch.setattr(server, "command", lambda *a, **k: [str(tmp_path / "no-such-program")])
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError):
        server.serve(config=_auth_config(tmp_path), wait=True)
    assert not list(tmp_path.glob("flowscope-secrets-*"))


def test_a_server_whose_launcher_died_and_whose_output_nobody_reads_still_stops_on_sigterm(demo_store, tmp_path):
    """`flowscope dashboard | tee log` whose flowscope process was killed (SIGKILL: no chance to pass the
    stop on) and whose reader then went away: the orphaned server keeps serving, and SIGTERM still stops
    it and its analyses process (it used to hang on BrokenPipeError from its "Stopping..." print)."""
    import subprocess

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWSCOPE_CONFIG", "FLOWSCOPE_STORE")}
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([sys.executable, "-c", "from flowscope.cli import app; app()", "dashboard", "--store",
                             demo_store, "--port", str(port)], env=env, cwd=tmp_path, stdout=write_end,
                            stderr=write_end)
    os.close(write_end)
    servers: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not port_open(port):
            assert proc.poll() is None and time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.3)
        # started means its start-up lines are out: a reader gone while Streamlit still prints them (after
        # its port opens; late on a loaded machine) is another case, a print the watcher cannot yet catch
        said = b""
        os.set_blocking(read_end, False)
        while b"URL: http" not in said:
            assert proc.poll() is None and time.monotonic() < deadline, f"no start-up lines: {said!r}"
            select.select([read_end], [], [], 0.3)
            try:
                said += os.read(read_end, 65536)
            except BlockingIOError:
                pass
        servers = children(proc.pid)
        assert servers, "no server process under flowscope"
        workers = [w for s in servers for w in children(s)]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        os.close(read_end)                          # nobody reads the server's output any more
        read_end = -1
        time.sleep(0.5)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
            assert r.status == 200, "the orphaned server stopped serving when its output broke"
        for pid in servers:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while any(alive(p) for p in [*servers, *workers]) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [p for p in servers if alive(p)], "SIGTERM did not stop the orphaned server"
        assert not [p for p in workers if alive(p)], "the analyses process outlived the server"
        assert not port_open(port)
    finally:
        if read_end >= 0:
            os.close(read_end)
        for pid in [proc.pid, *servers]:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)


LOSING_WATCHER = """
import select, threading

class NeverWakes:
    # the console watcher loses every race: it never sees that the output's reader is gone
    def register(self, *_args):
        pass

    def poll(self, *_args):
        threading.Event().wait()

select.poll = NeverWakes
from flowscope.ui import launch
launch.main()
"""


def test_a_reader_gone_during_start_up_never_stops_the_server(demo_store, tmp_path):
    """The reader of the server's output killed at once, before its start-up lines (a `| head -1`, a log
    shipper restarting): a line printed before the console watcher swapped in /dev/null raised
    BrokenPipeError, and the server stopped, or never served. Here the watcher never acts (it loses
    every race), so only the streams themselves can keep the server up: it serves, then stops on SIGTERM."""
    import subprocess

    from flowscope.ui.server import command

    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("FLOWSCOPE_CONFIG", "FLOWSCOPE_STORE")}
    env["FLOWSCOPE_STORE"] = demo_store
    args = command(demo_store, port)
    launch_at = args.index("-m")
    args = [args[0], "-c", LOSING_WATCHER, *args[launch_at + 2:]]
    read_end, write_end = os.pipe()
    os.close(read_end)                                  # the reader is gone before anything is printed
    proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=write_end, stderr=write_end,
                            start_new_session=True)
    os.close(write_end)
    try:
        deadline = time.monotonic() + 60
        while not port_open(port):
            assert proc.poll() is None, f"the server exited ({proc.returncode}) when its output broke"
            assert time.monotonic() < deadline, "the dashboard did not start"
            time.sleep(0.3)
        time.sleep(1.0)                                 # its start-up lines follow the port opening
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=5) as r:
            assert r.status == 200
        assert proc.poll() is None, "the server stopped on a start-up line"
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=15)
        assert not port_open(port)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
