"""Ctrl-C ends any command with exit 130 and no crash report. DuckDB turns the KeyboardInterrupt raised
inside one of its queries into `RuntimeError: Query interrupted`, which `main` reported as "a bug in
flowscope" (exit 5, a crash file): a user who pressed Ctrl-C was asked to file a bug. The tests stand in
for DuckDB with what it raises (a real query interrupted by SIGINT from a terminal ends so: `flowscope analyze`
of the 1M bench store given Ctrl-C after 4 s exited 5 with "RuntimeError: Query interrupted", and exits 130
now; from a background shell DuckDB's interruption does not happen reliably, so no test drives it)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from flowscope import cli


@pytest.fixture
def sigint_restored():
    before = signal.getsignal(signal.SIGINT)
    signal.signal(signal.SIGINT, signal.default_int_handler)     # as in a terminal (CI may start it ignored)
    cli._Interrupts.seen = False
    yield
    signal.signal(signal.SIGINT, before)
    cli._Interrupts.seen = False


def test_an_error_caused_by_ctrl_c_exits_130_not_as_a_bug(monkeypatch, capsys, sigint_restored):
    def app() -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            raise RuntimeError("Query interrupted") from None     # what DuckDB raises in its place

    monkeypatch.setattr(cli, "app", app)
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == cli.INTERRUPTED
    assert "a bug" not in capsys.readouterr().err


def test_an_error_without_ctrl_c_is_still_a_bug(monkeypatch, capsys, sigint_restored):
    def app() -> None:
        raise RuntimeError("Query interrupted")

    monkeypatch.setattr(cli, "app", app)
    with pytest.raises(SystemExit) as done:
        cli.main()
    assert done.value.code == 5
    assert "a bug in flowscope" in capsys.readouterr().err
