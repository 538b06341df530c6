"""The attempts of one e-mail delivery over SMTP, and the server's refusals said without credentials.

email.py builds the mail and runs one SMTP session; here an e-mail target's delivery is made of those
sessions (`_smtp`): a recipient refused for now (greylisting) is tried again alone, the others never sent
the message twice, and what the server refused is said with its code and words (`smtp_refusal`,
`recipients_refused`), never the user name or password.
"""

from __future__ import annotations

import smtplib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from flowscope.report.notify.addresses import _env
from flowscope.report.notify.failures import Failure, Permanent, Transient
from flowscope.report.notify.message import Message
from flowscope.report.notify.posting import REFUSAL_CHARS
from flowscope.report.notify.targets import Target, _port, smtp_tls


def _smtp(target: Target, message: Message, files: Sequence[Path]) -> Callable[[], str]:
    """The attempts of one e-mail delivery, each to the recipients not yet told: a recipient refused for now
    (SMTP 4xx: greylisting, a full mailbox, a busy server) is tried again alone, the others not sent the
    message twice; one refused for good (5xx) is not. It was a failed delivery at the first 450 of a
    greylisting server, never retried. The outcome names each recipient not told, and each told late."""
    from flowscope.textsafety import one_line

    o = target.options
    to = [o["to"]] if isinstance(o["to"], str) else list(o["to"])
    pending = list(to)
    refused: dict[str, tuple[int, bytes | str]] = {}
    late: dict[str, int] = {}           # told after a refusal for now: address -> the attempt that told it
    first: dict[str, str] = {}          # what the server first said refusing it for now
    tries = 0

    def attempt() -> str:
        nonlocal pending, tries
        tries += 1
        username, password = _smtp_credentials(target)
        try:
            answered = _smtp_once(target, message, files, to, pending, username, password)
        except Failure as exc:          # a later attempt's session failed: those told before still were
            exc.told = told(len(to) - len(pending) - len(refused))
            raise
        temporary = {a: r for a, r in answered.items() if 400 <= r[0] < 500}
        refused.update({a: r for a, r in answered.items() if a not in temporary})
        late.update({a: tries for a in pending if a in first and a not in answered})
        pending = list(temporary)
        for address, (code, why) in temporary.items():
            first.setdefault(address, smtp_said(code, why, username, password))
        told_late = "; ".join(f"{one_line(a)} on attempt {n} (first refused for now: {first[a]})"
                              for a, n in late.items())
        if pending or refused:
            notes = {a: f" (for now, at each of {tries} attempt(s))" for a in pending}
            error = recipients_refused({**refused, **temporary}, len(to), username, password, notes)
            error += f"; {told_late}" if told_late else ""
            failure = Transient(error) if pending else Permanent(error)
            failure.told = told(len(to) - len(pending) - len(refused))
            raise failure
        return f"to {len(to)} recipient(s)" + (f"; {told_late}" if told_late else "")

    def told(n: int) -> str | None:
        return f"{n} of {len(to)} recipient(s)" if n else None

    return attempt


def _smtp_credentials(target: Target) -> tuple[str | None, str | None]:
    o = target.options
    return (_env(target, "username_env") if o.get("username_env") else None,
            _env(target, "password_env") if o.get("password_env") else None)


def _smtp_once(target: Target, message: Message, files: Sequence[Path], to: list[str],
               recipients: list[str], username: str | None,
               password: str | None) -> dict[str, tuple[int, bytes | str]]:
    """One SMTP session sending the message to `recipients` (of `to`, its To header), logged in as
    `username` when given: the recipients the server refused, each with its code and words (every one of
    them when it refused them all)."""
    from flowscope.report.notify.email import build_email, send_email

    o = target.options
    attach = [p for p in files if p.is_file()] if o.get("attach", False) else []
    mail = build_email(message, sender=str(o["from"]), to=to, attachments=attach)
    ca_file = str(Path(str(o["ca_file"])).expanduser()) if o.get("ca_file") else None
    if ca_file and not Path(ca_file).is_file():
        # ssl said "FileNotFoundError: [Errno 2] No such file or directory", naming no file and no key
        raise Permanent(f"ca_file {ca_file!r} is not a file (the CA certificates to trust, PEM)")
    try:
        return dict(send_email(mail, host=str(o["host"]), port=_port(o.get("port", 587)) or 587,
                               tls=smtp_tls(target), username=username, password=password,
                               ca_file=ca_file, timeout=target.timeout, recipients=recipients))
    except smtplib.SMTPRecipientsRefused as exc:      # every one: no one got it
        return dict(exc.recipients)
    except smtplib.SMTPResponseException as exc:
        error = smtp_refusal(exc, username, password)
        raise (Transient(error) if 400 <= exc.smtp_code < 500 else Permanent(error)) from None
    except (smtplib.SMTPServerDisconnected, smtplib.SMTPConnectError, TimeoutError, ConnectionError) as exc:
        raise Transient(type(exc).__name__) from None
    except UnicodeEncodeError:      # raised out of the delivery: a crash, the targets after it never tried
        raise Permanent("the SMTP user name, password or an address is not ASCII, which smtplib cannot "
                        "send (the error's text is not shown: it would quote the credential)") from None
    except (smtplib.SMTPException, OSError) as exc:      # TLS or certificate errors
        raise Permanent(f"{type(exc).__name__}: {str(exc)[:200]}") from None


def recipients_refused(refused: Mapping[str, tuple[int, bytes | str]], total: int, username: str | None,
                       password: str | None, notes: Mapping[str, str] | None = None) -> str:
    """'SMTP refused 1 of 2 recipient(s) (the others got the message): ADDRESS: SMTP 550: WHY', each refused
    address with the server's words (`smtp_said`) and its note (a refusal for now, repeated at every attempt)."""
    from flowscope.textsafety import one_line

    others = " (the others got the message)" if len(refused) < total else ""
    said = "; ".join(f"{one_line(address)}: {smtp_said(code, why, username, password)}{(notes or {}).get(address, '')}"
                     for address, (code, why) in refused.items())
    return f"SMTP refused {len(refused)} of {total} recipient(s){others}: {said}"


def smtp_refusal(exc: smtplib.SMTPResponseException, username: str | None, password: str | None) -> str:
    """'SMTP 550: <what the server said>': the code alone read the same for refused credentials, a
    sender the server will not relay for and a message refused as spam. One short line without terminal
    escapes, and without the user name or password (some servers echo the user name)."""
    return smtp_said(exc.smtp_code, exc.smtp_error, username, password)


def smtp_said(code: int, error: bytes | str, username: str | None, password: str | None) -> str:
    """`smtp_refusal` of a server's code and words (a whole refusal, or one recipient's)."""
    from flowscope.textsafety import one_line

    raw = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
    text = one_line(raw)
    for secret, name in ((password, "[the password]"), (username, "[the user name]")):
        if secret:
            text = text.replace(secret, name)
    return f"SMTP {code}" + (f": {text[:REFUSAL_CHARS]}" if text else "")
