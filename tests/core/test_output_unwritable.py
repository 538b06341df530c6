"""Standard output that cannot take the findings (a full disk behind `> findings.json`) is said as such,
exit 2 as a report file that cannot be written is: it was "OSError: [Errno 28] No space left on device -
a bug in flowscope" (exit 5, a crash file)."""

from __future__ import annotations

import errno
import io
import sys

import pytest

from flowscope import cli
from flowscope.exitcodes import ExitCode
from tests.report.helpers import END, make_store


class FullDisk(io.StringIO):
    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("args", [["analyze", "--format", "json"], ["analyze", "--format", "csv"],
                                  ["analyze"], ["report", "--out", "-", "--format", "md", "--no-history"]])
def test_a_full_disk_behind_standard_output_is_exit_2_not_a_bug(tmp_path, monkeypatch, capsys, args):
    make_store(tmp_path / "s", failed_scope=False)
    monkeypatch.setattr(sys, "argv", ["flowscope", *args, "--store", str(tmp_path / "s"),
                                      "--until", END.isoformat()])
    monkeypatch.setattr(sys, "stdout", FullDisk())
    with pytest.raises(SystemExit) as done:
        cli.main()
    said = " ".join(capsys.readouterr().err.split())
    assert done.value.code == ExitCode.USAGE, said
    assert "standard output: cannot write it: No space left on device" in said, said
    assert "a bug in flowscope" not in said
