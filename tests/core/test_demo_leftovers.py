"""A demo build killed outright (SIGKILL, OOM killer) left its `.NAME.building-PID` folder beside the store
for ever: the next build removed only the folder of its own pid. The next build now removes those of builds
whose process is gone, never one of a build still running, and says so."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from flowscope.simulate import demo
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

    demo.rebuild_beside(path, lambda store: demo.DemoResult(), say=said.append)

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
    demo.rebuild_beside(path, lambda store: demo.DemoResult(), say=said.append)
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

    demo.rebuild_beside(f"file://{path}", build)
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

    demo.rebuild_beside(link, lambda store: (store.path.joinpath("new").touch(), demo.DemoResult())[1])

    assert link.is_symlink() and (real / "new").is_file()
    assert sorted(p.name for p in home.iterdir()) == ["demo"] and sorted(p.name for p in data.iterdir()) == ["demo"]
