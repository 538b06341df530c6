"""An e-mail recipient refused for now (SMTP 450/451/452: greylisting, a full mailbox, a server busy) was a
failed delivery, never tried again, while the target's retries were there for what may pass. Such a
recipient is now tried again, alone (the others are not sent the message twice), up to the target's
retries with its backoff; a permanent refusal (5xx) stays a failure at once; the delivery says what became
of each recipient. Against aiosmtpd on loopback."""

from __future__ import annotations

import datetime as dt

import pytest

from flowscope.report import build_content
from flowscope.report.notify import deliver, parse_targets
from flowscope.store import Store
from tests.report.conftest import relay
from tests.report.helpers import END


@pytest.fixture(scope="module")
def content(report_store):
    return build_content(Store.open(report_store), since=END - dt.timedelta(days=7), until=END, now=END)


@pytest.fixture()
def server():
    """A relay that greylists `grey@` for its first 2 RCPTs (450), says 451 to `busy@` every time and 550 to
    `gone@`; `received` holds each accepted message's recipients."""
    greyed = []

    def rcpt(address: str) -> str | None:
        if address.startswith("grey@"):
            greyed.append(address)
            if len(greyed) <= 2:
                return "450 4.2.0 <grey@example.com>: Recipient address rejected: Greylisted, try later"
        if address.startswith("busy@"):
            return "451 4.3.0 <busy@example.com>: mailbox busy"
        if address.startswith("gone@"):
            return "550 5.1.1 <gone@example.com>: mailbox unavailable"
        return None

    with relay(rcpt) as serving:
        yield serving


def _target(port: int, to: list[str], retries: int = 4) -> dict:
    return {"type": "email", "host": "127.0.0.1", "port": port, "starttls": False, "from": "flowscope@example.com",
            "to": to, "min_severity": "low", "backoff": 0, "retries": retries}


def test_a_greylisted_recipient_is_tried_again_alone_and_gets_the_message(content, server):
    [result] = deliver(parse_targets([_target(server.port, ["ops@example.com", "grey@example.com"])]), content)
    assert result.sent and result.attempts == 3, result.line()
    assert server.received == [["ops@example.com"], ["grey@example.com"]]     # ops got it once
    assert "grey@example.com on attempt 3" in result.detail and "SMTP 450" in result.detail, result.detail
    assert result.finding_ids


def test_a_permanent_refusal_stays_a_failure_and_the_greylisted_one_still_gets_it(content, server):
    to = ["ops@example.com", "grey@example.com", "gone@example.com"]
    [result] = deliver(parse_targets([_target(server.port, to)]), content)
    assert result.failed and result.attempts == 3, result.line()
    assert server.received == [["ops@example.com"], ["grey@example.com"]]
    assert result.error.startswith("SMTP refused 1 of 3 recipient(s) (the others got the message): "
                                   "gone@example.com: SMTP 550: 5.1.1"), result.error
    assert "grey@example.com on attempt 3" in result.error, result.error


def test_a_recipient_refused_for_now_at_every_attempt_is_a_failure_saying_so(content, server):
    [result] = deliver(parse_targets([_target(server.port, ["ops@example.com", "busy@example.com"], 3)]),
                       content)
    assert result.failed and result.attempts == 3, result.line()
    assert server.received == [["ops@example.com"]]                            # never sent to ops again
    assert result.error == ("SMTP refused 1 of 2 recipient(s) (the others got the message): busy@example.com: "
                            "SMTP 451: 4.3.0 <busy@example.com>: mailbox busy (for now, at each of 3 attempt(s))"), \
        result.error
    [alone] = deliver(parse_targets([_target(server.port, ["busy@example.com"], 2)]), content)
    assert alone.failed and alone.attempts == 2 and alone.error.startswith("SMTP refused 1 of 1 recipient(s): "), \
        alone.line()
