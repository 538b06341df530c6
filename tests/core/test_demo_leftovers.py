"""A demo build killed outright (SIGKILL, OOM killer) left its `.NAME.building-PID` folder beside the store
for ever: the next build removed only the folder of its own pid. The next build now removes those of builds
whose process is gone, never one of a build still running, and says so."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from flowscope.simulate import demo, rebuild
from flowscope.store import Store


@pytest.fixture
def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()          # reaped: its pid names no process
    return child.pid


@pytest.fixture
def live_pid():
    child = subprocess.Popen(["sleep", "60"])
    yield child.pid
    child.kill()
    child.wait()


def _leftover(parent: Path, name: str) -> Path:
    folder = parent / name
    (folder / "_flowscope").mkdir(parents=True)
    return folder


def test_a_killed_build_s_folder_goes_and_a_running_one_s_stays(tmp_path, dead_pid, live_pid):
    path = tmp_path / "store"
    Store(path)
    dead = _leftover(tmp_path, f".store.building-{dead_pid}")
    dead_swap = _leftover(tmp_path, f".store.replaced-{dead_pid}")
    running = _leftover(tmp_path, f".store.building-{live_pid}")
    another = _leftover(tmp_path, f".other.building-{dead_pid}")      # another store's: not this build's to judge
    said: list[str] = []

    rebuild.rebuild_beside(path, lambda store: demo.DemoResult(), say=said.append)

    assert not dead.exists() and not dead_swap.exists()
    assert running.is_dir() and another.is_dir() and path.is_dir()
    assert len(said) == 1 and dead.name in said[0] and dead_swap.name in said[0], said
    assert running.name not in said[0]


def test_a_new_demo_removes_them_too(tmp_path, dead_pid):
    """After `rm -r STORE`, the folder a killed replacement left beside it stayed through every later demo:
    one built into a new folder replaces nothing, and only a replacement looked."""
    from typer.testing import CliRunner

    from flowscope.cli import app

    dead = _leftover(tmp_path, f".store.building-{dead_pid}")
    result = CliRunner().invoke(app, ["demo", "--store", str(tmp_path / "store"), "--no-serve",
                                      "--executions", "30", "--days", "1"])
    assert result.exit_code == 0, result.output
    assert not dead.exists() and "removed 1 folder(s) of demo builds killed" in result.output, result.output


def test_nothing_left_over_says_nothing(tmp_path, live_pid):
    path = tmp_path / "store"
    Store(path)
    running = _leftover(tmp_path, f".store.building-{live_pid}")
    said: list[str] = []
    rebuild.rebuild_beside(path, lambda store: demo.DemoResult(), say=said.append)
    assert said == [] and running.is_dir()


def test_a_store_named_as_a_file_url_is_replaced_beside_itself(tmp_path, monkeypatch):
    """`flowscope demo --store file:///path` built its replacement under a folder `file:` in the working
    folder, then failed ("cannot write a store there: No such file or directory"), leaving that folder:
    the store's `file://` was taken as part of a relative path."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    path = tmp_path / "store"
    Store(path)
    seen: list[Path] = []

    def build(store):
        seen.append(store.path)
        return demo.DemoResult()

    rebuild.rebuild_beside(f"file://{path}", build)
    assert seen and seen[0].parent == tmp_path.resolve()
    assert list(work.iterdir()) == [] and path.is_dir()


def test_a_demo_reached_through_a_symlink_is_replaced_where_it_lies(tmp_path):
    """`~/.flowscope-demo` linked to a folder on a bigger disk: the replacement renamed the link away, put a
    real folder in its place in the home folder, and left the old demo where the link pointed with a
    `.flowscope-demo.replaced-PID` link to it, for ever (rmtree refuses a link)."""
    data, home = tmp_path / "data", tmp_path / "home"
    home.mkdir()
    real = data / "demo"
    Store(real)
    link = home / "demo"
    link.symlink_to(real)

    rebuild.rebuild_beside(link, lambda store: (store.path.joinpath("new").touch(), demo.DemoResult())[1])

    assert link.is_symlink() and (real / "new").is_file()
    assert sorted(p.name for p in home.iterdir()) == ["demo"] and sorted(p.name for p in data.iterdir()) == ["demo"]


# A build's life is its lock, not its pid (`simulate/rebuild.py`): a demo building in another container on a
# shared volume has a pid this process cannot see, or the very pid this process has (PID 1 in both).

@pytest.fixture
def hold_lock():
    """Hold an exclusive flock on a file from another process, as a build elsewhere does, until the test ends."""
    holders = []

    def hold(lock: Path) -> None:
        child = subprocess.Popen(
            [sys.executable, "-c", "import fcntl, os, sys, time\n"
             "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\nfcntl.flock(fd, fcntl.LOCK_EX)\n"
             "print('held', flush=True)\ntime.sleep(60)", str(lock)], stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        holders.append(child)

    yield hold
    for child in holders:
        child.kill()
        child.wait()


def test_a_build_whose_pid_this_process_cannot_see_is_kept_while_its_lock_is_held(tmp_path, dead_pid, hold_lock):
    path = tmp_path / "store"
    Store(path)
    elsewhere = _leftover(tmp_path, f".store.building-{dead_pid}-0badc0de")
    hold_lock(tmp_path / f".store.build-{dead_pid}-0badc0de.lock")
    said: list[str] = []
    rebuild.rebuild_beside(path, lambda store: demo.DemoResult(), say=said.append)
    assert elsewhere.is_dir() and said == []


def test_a_build_with_this_process_s_own_pid_is_neither_removed_nor_reused(tmp_path):
    """PID 1 in two containers: the second build removed the first's folder as its own leftover."""
    path = tmp_path / "store"
    Store(path)
    twin = _leftover(tmp_path, f".store.building-{os.getpid()}")     # named as builds were, by pid alone
    built: list[Path] = []

    def build(store):
        built.append(store.path)
        return demo.DemoResult()

    rebuild.rebuild_beside(path, build)
    assert twin.is_dir() and built and built[0] != twin and built[0].name.startswith(twin.name + "-")


def test_a_killed_build_s_folders_and_lock_go(tmp_path, hold_lock):
    path = tmp_path / "store"
    Store(path)
    lock = tmp_path / ".store.build-4242-0badc0de.lock"
    killed = _leftover(tmp_path, ".store.building-4242-0badc0de")
    lockless = _leftover(tmp_path, ".store.replaced-4243-0badc0df")       # its lock already removed
    lock.touch()                                                          # a lock nobody holds: its build is over
    said: list[str] = []
    rebuild.rebuild_beside(path, lambda store: demo.DemoResult(), say=said.append)
    assert not killed.exists() and not lockless.exists() and not lock.exists()
    assert killed.name in said[0] and lockless.name in said[0]


def test_a_build_holds_its_lock_while_it_runs_and_leaves_nothing_beside_the_store(tmp_path):
    import fcntl

    path = tmp_path / "store"
    Store(path)
    seen: list[bool] = []

    def build(store):
        (lock,) = tmp_path.glob(".store.build-*.lock")
        fd = os.open(lock, os.O_RDWR)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            seen.append(False)
        except BlockingIOError:
            seen.append(True)
        finally:
            os.close(fd)
        assert rebuild.remove_killed_builds(path) == []       # another build's cleaner keeps this one
        return demo.DemoResult()

    rebuild.rebuild_beside(path, build)
    assert seen == [True]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]
