"""The scheduler files in docs/deploy/: the systemd units pass `systemd-analyze verify` (where the tool
exists), and the command the crontab line, the unit and the Kubernetes CronJob call runs end to end."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from tests.report.helpers import END, make_store

DEPLOY = Path(__file__).resolve().parents[2] / "docs" / "deploy"
FLOWSCOPE = str(Path(sys.executable).with_name("flowscope"))


def _commands() -> dict[str, list[str]]:
    """The flowscope argument list of each scheduler file."""
    unit = next(line for line in (DEPLOY / "flowscope-report.service").read_text().splitlines()
                if line.startswith("ExecStart="))
    cron = next(line for line in (DEPLOY / "crontab").read_text().splitlines() if line and not line.startswith("#"))
    job = yaml.safe_load((DEPLOY / "flowscope-cronjob.yaml").read_text())
    container = job["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0]
    cron_words = shlex.split(cron.split("&&", 1)[1].split(">>")[0])
    return {"systemd": shlex.split(unit.removeprefix("ExecStart="))[1:], "cron": cron_words[1:],
            "kubernetes": container["args"][1:]}


def test_the_three_schedulers_call_the_same_command():
    commands = _commands()
    assert commands["systemd"] == commands["cron"]
    assert commands["kubernetes"][0] == "run" and commands["systemd"][0] == "run"
    job = yaml.safe_load((DEPLOY / "flowscope-cronjob.yaml").read_text())
    assert job["kind"] == "CronJob" and job["spec"]["concurrencyPolicy"] == "Forbid"
    assert job["spec"]["schedule"] == "0 7 * * 1"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_units_verify(tmp_path):
    unit = (DEPLOY / "flowscope-report.service").read_text()
    # the unit names the installed paths; verify checks the binary exists, so point it at this venv's
    unit = unit.replace("/opt/flowscope/.venv/bin/flowscope", FLOWSCOPE)
    (tmp_path / "flowscope-report.service").write_text(unit)
    shutil.copy(DEPLOY / "flowscope-report.timer", tmp_path / "flowscope-report.timer")
    result = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "flowscope-report.service"),
                             str(tmp_path / "flowscope-report.timer")], capture_output=True, text=True, timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines()
                if "flowscope-report" in line or "Unknown" in line or "ignoring" in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


@pytest.mark.slow   # one `flowscope run` over a fresh store
@pytest.mark.parametrize("scheduler", ["systemd", "kubernetes"])
def test_the_scheduled_command_runs_end_to_end(tmp_path, scheduler):
    make_store(tmp_path / "store", failed_scope=False)
    (tmp_path / "flowscope.toml").write_text(f'store = "{tmp_path / "store"}"\n[report]\nformats = ["md"]\n')
    args = _commands()[scheduler]
    args[args.index("--config") + 1] = str(tmp_path / "flowscope.toml")
    args[args.index("--report-dir") + 1] = str(tmp_path / "reports")
    result = CliRunner().invoke(app, [*args, "--until", END.isoformat()])
    assert result.exit_code in (ExitCode.OK, ExitCode.FINDINGS), result.output
    assert [p.name for p in (tmp_path / "reports").iterdir()] == [f"flowscope-{END:%Y-%m-%dT%H%MZ}.md"]


def test_the_deploy_files_install_flowscope_from_its_source_not_a_registry():
    """The CronJob said to build its image with `pip install 'flowscope[aws,report]'`: flowscope is not
    published on PyPI (README: install from the repository folder), so that line failed, or would install
    whatever another project publishes under the name. Every `pip install` of flowscope in the deploy files
    names a folder or a wheel (a path), never the bare name."""
    import re

    installs = [(path.name, m.group(1)) for path in sorted(DEPLOY.iterdir())
                for m in re.finditer(r"pip install (\S+)", path.read_text())]
    assert installs, "the deploy files say how flowscope is installed"
    by_name = [(name, what) for name, what in installs if re.match(r"['\"]?flowscope\b", what)]
    assert not by_name, by_name
