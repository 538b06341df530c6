"""An e-mail delivery the server took for some recipients and refused for good (SMTP 5xx) for another was a
failed delivery recorded as told to nobody: the next run (a scheduler's retry of the same hour, or the next
scheduled hour) sent the whole message again to every recipient, and those who had it got it again on every
run while the refused address stayed wrong. Such a delivery is now a failure naming the refused address
(exit 4) whose message is recorded as told: a later run does not send it again to anyone. Against aiosmtpd
on loopback."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from tests.report.conftest import _free_port
from tests.report.helpers import END, make_store

runner = CliRunner()


@pytest.fixture()
def relay():
    """A relay that refuses `gone@` for good (550); `received` holds each accepted message's recipients."""
    from aiosmtpd.controller import Controller

    received: list[list[str]] = []

    class Handler:
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: N802 - aiosmtpd's
            if address.startswith("gone@"):
                return "550 5.1.1 <gone@example.com>: mailbox unavailable"
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            received.append(list(envelope.rcpt_tos))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=_free_port())
    controller.start()
    try:
        yield controller.port, received
    finally:
        controller.stop()


@pytest.mark.slow   # two runs over a fresh store, ~3 s each
def test_a_recipient_refused_for_good_is_named_and_the_others_are_not_sent_it_again(tmp_path, relay):
    port, received = relay
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
