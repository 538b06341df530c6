"""E-mail over SMTP with STARTTLS, or SMTPS (TLS from the first byte, port 465) (smtplib): a plain-text
body, optionally the report files attached.

Plain text only, so no markup to escape; cloud text loses line breaks (no forged lines) and the
subject holds no cloud text at all (no header injection). Credentials come from environment
variables named in the config, never from the file.
"""

from __future__ import annotations

import mimetypes
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

from flowscope.report.notify.message import Message, MessageFinding
from flowscope.textsafety import one_line


def _line(value: object, limit: int = 300) -> str:
    """One line of cloud text, its escape sequences gone (mail is often read in a terminal)."""
    return one_line(value)[:limit]


def body(message: Message) -> str:
    lines = [_line(message.headline, 1000), "", _line(message.summary, 1000)]   # the title too: one line
    for text in (message.changes, message.status_text):
        if text:
            lines.append(_line(text, 1000))
    if message.findings:
        lines += ["", "Findings:"]
    for f in message.findings:
        lines.append(f"- {f.severity.upper()}{' (' + f.state + ')' if f.state else ''} {_line(f.title)}")
        lines.append(f"  {_where(f)}; {f.monthly}; id {f.id}")
    if message.more:
        lines.append(f"- and {message.more} more in the report")
    if message.resolved:
        lines += ["", "Resolved since you were told of them:"]
    for f in message.resolved:
        lines.append(f"- {f.severity.upper()} {_line(f.title)}")
        lines.append(f"  {_where(f)}; id {f.id}")
    if message.resolved_more_ids:
        lines.append(f"- and {len(message.resolved_more_ids)} more resolved")
    if message.report:
        lines += ["", f"Report: {_line(message.report)}"]
    return "\n".join(lines) + "\n"


def _where(f: MessageFinding) -> str:
    """cloud / workflow / step of a finding, each on one line and cut to 80 characters."""
    return " / ".join(_line(v, 80) for v in (f.cloud, f.workflow, f.step) if v)


def subject(message: Message) -> str:
    """No cloud text: counts and status only."""
    n = len(message.findings) + message.more
    status = {"no_data": " - NO DATA", "collection_failed": " - collection failed",
              "stale": " - data ends early"}.get(message.status, " - data complete again" if message.ended else "")
    over = f", {message.resolved_count} resolved" if message.resolved_count else ""
    return f"flowscope: {n} finding(s) at or above {message.min_severity}{over}{status}"


def build_email(message: Message, *, sender: str, to: Sequence[str],
                attachments: Sequence[Path] = ()) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = subject(message)
    mail["From"] = sender
    mail["To"] = ", ".join(to)
    mail.set_content(body(message))
    for path in attachments:
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        main, sub = kind.split("/", 1)
        mail.add_attachment(path.read_bytes(), maintype=main, subtype=sub, filename=path.name)
    return mail


def send_email(mail: EmailMessage, *, host: str, port: int, tls: str, username: str | None,
               password: str | None, ca_file: str | None, timeout: float,
               recipients: Sequence[str] | None = None) -> dict[str, tuple[int, bytes]]:
    """One delivery attempt (the caller retries): connect (`tls` 'implicit': SMTPS, TLS from the first
    byte), STARTTLS ('starttls'), log in when credentials are given. The certificate is checked against
    the system's CAs or `ca_file` either way; 'none' is only allowed for a relay on this machine.
    `recipients`: the envelope's (those of the To header not yet told, on a retry), all of them by default.
    Returns the recipients the server refused while it took the message for the others (smtplib raises
    only when it refuses them all): address -> (SMTP code, its words)."""
    context = ssl.create_default_context(cafile=ca_file) if tls != "none" else None
    smtp = (smtplib.SMTP_SSL(host, port, timeout=timeout, context=context) if tls == "implicit"
            else smtplib.SMTP(host, port, timeout=timeout))
    with smtp:
        smtp.ehlo()
        if tls == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if username:
            smtp.login(username, password or "")
        return smtp.send_message(mail, to_addrs=list(recipients) if recipients is not None else None)
