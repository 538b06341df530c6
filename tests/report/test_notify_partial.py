"""An e-mail delivery the server took for some recipients and refused for good (SMTP 5xx) for another was a
failed delivery recorded as told to nobody: the next run (a scheduler's retry of the same hour, or the next
scheduled hour) sent the whole message again to every recipient, and those who had it got it again on every
run while the refused address stayed wrong. Such a delivery is now a failure naming the refused address
(exit 4) whose message is recorded as told: a later run does not send it again to anyone. Against aiosmtpd
on loopback."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from tests.report.conftest import relay
from tests.report.helpers import END, make_store

runner = CliRunner()


@pytest.fixture()
def gone_relay():
    """A relay that refuses `gone@` for good (550); `received` holds each accepted message's recipients."""
    with relay(lambda address: "550 5.1.1 <gone@example.com>: mailbox unavailable"
               if address.startswith("gone@") else None) as serving:
        yield serving.port, serving.received


@pytest.mark.slow   # two runs over a fresh store, ~3 s each
def test_a_recipient_refused_for_good_is_named_and_the_others_are_not_sent_it_again(tmp_path, gone_relay):
    port, received = gone_relay
    make_store(tmp_path / "store", failed_scope=False)
    cfg = tmp_path / "flowscope.toml"
    cfg.write_text(f'store = "{tmp_path / "store"}"\n[report]\nformats = ["md"]\n'
                   f'[[notify]]\ntype = "email"\nname = "ops-mail"\nhost = "127.0.0.1"\nport = {port}\n'
                   'starttls = false\nfrom = "flowscope@example.com"\nto = ["ops@example.com", "gone@example.com"]\n'
                   'min_severity = "low"\nbackoff = 0\nretries = 2\n')
    args = ["run", "--config", str(cfg), "--report-dir", str(tmp_path / "r"), "--until", END.isoformat(),
            "--since", "7d"]
    first = runner.invoke(app, args)
    assert first.exit_code == ExitCode.DELIVERY_FAILED, first.output
    assert "notify ops-mail: FAILED after 1 attempt(s): SMTP refused 1 of 2 recipient(s)" in first.output
    assert "gone@example.com: SMTP 550: 5.1.1" in first.output, first.output
    assert received == [["ops@example.com"]]

    again = runner.invoke(app, args)                    # a scheduler's retry of the same hour
    assert again.exit_code == ExitCode.OK, again.output
    assert "notify ops-mail: nothing to send" in again.output, again.output
    assert received == [["ops@example.com"]], "ops was sent the same message twice"


def test_a_later_attempt_that_fails_whole_keeps_those_told_by_an_earlier_one(tmp_path):
    """ops took the message at the first attempt and grey@ was refused for now; the second attempt, to grey@
    alone, ended in a refused DATA (451). The delivery failed, but ops has the message: it is recorded as told
    (`partly`), or the next run would send ops the same message again."""
    from flowscope.report import build_content
    from flowscope.report.notify import deliver, parse_targets
    from flowscope.store import Store

    greyed: list[str] = []

    def rcpt(address: str) -> str | None:
        if address.startswith("grey@") and not greyed:
            greyed.append(address)
            return "450 4.2.0 <grey@example.com>: Greylisted, try later"
        return None

    make_store(tmp_path / "store", failed_scope=False)
    content = build_content(Store.open(tmp_path / "store"), since=END - dt.timedelta(days=7), until=END, now=END)
    alone = "451 4.3.0 local error in processing"
    with relay(rcpt, lambda recipients: alone if recipients == ["grey@example.com"] else None) as serving:
        [result] = deliver(parse_targets([{
            "type": "email", "host": "127.0.0.1", "port": serving.port, "starttls": False,
            "from": "flowscope@example.com", "to": ["ops@example.com", "grey@example.com"], "min_severity": "low",
            "backoff": 0, "retries": 2}]), content)
    assert serving.received == [["ops@example.com"]]
    assert result.failed and result.partly and result.finding_ids and result.attempts == 2, result.line()
    assert result.error.startswith("SMTP 451"), result.error
