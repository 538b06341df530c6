"""Notifications: `[[notify]]` targets in flowscope.toml (Slack, Teams, a JSON webhook, e-mail).

    targets = parse_targets(settings.notify)          # ValueError for a bad entry (a config error)
    results = deliver(targets, content, report_files)  # one Delivery per target, never raises

Payloads are built by pure functions (slack.py, teams.py, webhook.py, email.py); sending goes through
requests (webhooks) or smtplib (STARTTLS, or SMTPS on port 465), retried by tenacity on what may pass
(a dropped connection, HTTP 429 or 5xx, SMTP 4xx). A failed delivery is a `Delivery` with its error,
reported by the caller: it never hides the findings. Secrets (webhook URLs, SMTP credentials) come
from environment variables named in the config and never appear in a message, an error or a log line.
"""

from __future__ import annotations

import math
import os
import re
import smtplib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowscope.analysis.base import Severity
from flowscope.netaddr import is_loopback
from flowscope.report.content import ReportContent
from flowscope.report.notify.message import Message, build_message, worth_sending

TYPES = ("slack", "teams", "webhook", "email")
SECRET_KEYS = ("url", "password", "username", "token", "secret", "webhook")
"""Keys refused in the file: their values are secrets, named by an *_env key instead."""
COMMON_KEYS = {"type", "name", "min_severity", "send", "report_url", "retries", "timeout", "backoff"}
KEYS = {"slack": {"url_env"}, "teams": {"url_env"}, "webhook": {"url_env"},
        "email": {"host", "port", "tls", "starttls", "from", "to", "username_env", "password_env", "ca_file", "attach"}}


@dataclass(frozen=True)
class Target:
    """One [[notify]] entry, checked."""

    type: str
    name: str
    options: Mapping[str, Any]
    min_severity: str = "high"
    only_changes: bool = True
    retries: int = 3
    timeout: float = 10.0
    backoff: float = 1.0


@dataclass
class Delivery:
    target: str
    sent: bool
    skipped: bool = False
    attempts: int = 0
    error: str | None = None
    detail: str = ""
    finding_ids: list[str] = field(default_factory=list)   # the findings its message told (`Message.told`)
    said: tuple[str, str] | None = None                     # (status, status alert) its message said

    @property
    def failed(self) -> bool:
        """Not every receiver got it: nothing sent, or sent to some recipients only (`partly`)."""
        return not self.skipped and (not self.sent or self.error is not None)

    @property
    def partly(self) -> bool:
        """Sent to some of its recipients, refused for the others: recorded as told (`finding_ids`, `said`),
        so a later run does not send it again to those who have it, and a failure naming the others."""
        return self.sent and self.error is not None

    def line(self) -> str:
        if self.skipped:
            return f"notify {self.target}: nothing to send ({self.detail})"
        if self.partly:
            return (f"notify {self.target}: FAILED after {self.attempts} attempt(s): {self.error}; recorded as "
                    f"sent to the {self.detail} that took it: no later run sends it to them again")
        if self.sent:
            return f"notify {self.target}: sent ({self.detail}; {self.attempts} attempt(s))"
        if not self.attempts:        # nothing could be tried (a variable not set on a run with nothing to send)
            return f"notify {self.target}: FAILED: {self.error}"
        return f"notify {self.target}: FAILED after {self.attempts} attempt(s): {self.error}"


def _check_entry(i: int, entry: Mapping[str, Any]) -> str:
    where = f"[[notify]] #{i + 1}"
    kind = entry.get("type")
    if kind not in TYPES:
        raise ValueError(f"{where}: type must be one of {', '.join(TYPES)}, not {kind!r}")
    secrets = sorted(k for k in entry if k in SECRET_KEYS)
    if secrets:
        raise ValueError(f"{where}: {', '.join(secrets)} must not be written in the config file (a secret): "
                         f"name an environment variable instead ({', '.join(s + '_env' for s in secrets)})")
    unknown = sorted(set(entry) - COMMON_KEYS - KEYS[kind])
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; known for {kind}: "
                         f"{', '.join(sorted(COMMON_KEYS | KEYS[kind]))}")
    if kind != "email" and not entry.get("url_env"):
        raise ValueError(f"{where}: url_env (the environment variable holding the {kind} URL) is required")
    if kind == "email":
        _check_email(where, entry)
    return where


def _check_email(where: str, entry: Mapping[str, Any]) -> None:
    """ValueError naming the entry and the key for a wrong e-mail entry."""
    for key in ("host", "from", "to"):
        if not entry.get(key):
            raise ValueError(f"{where}: {key} is required for e-mail")
    for key in ("from", "to"):
        values = entry[key] if isinstance(entry[key], list) else [entry[key]]
        bad = [v for v in values if not _address(v)]
        if bad:
            raise ValueError(f"{where}: {key}: not one e-mail address each: {', '.join(map(repr, bad))}")
    for key in ("starttls", "attach"):       # "no" is a non-empty string: it read as true
        if key in entry and not isinstance(entry[key], bool):
            raise ValueError(f"{where}: {key} must be true or false, not {entry[key]!r}")
    if "port" in entry and _port(entry["port"]) is None:
        raise ValueError(f"{where}: port must be a whole number from 1 to 65535, not {entry['port']!r}")
    if _word(entry.get("tls", "starttls")) not in TLS_MODES:
        raise ValueError(f"{where}: tls must be starttls or implicit (SMTPS, port 465), not {entry['tls']!r}")
    if "tls" in entry and entry.get("starttls", True) is False:
        raise ValueError(f"{where}: starttls = false (no TLS, a relay on this machine) and tls = "
                         f"{entry['tls']!r} say opposite things: keep one")
    if entry.get("starttls", True) is False and (entry.get("username_env") or not is_loopback(entry["host"])):
        raise ValueError(f"{where}: starttls = false is only for a relay on this machine, without credentials")


TLS_MODES = ("starttls", "implicit")
SMTPS_PORT = 465


def smtp_tls(target: Target) -> str:
    """How an e-mail target secures its connection: 'implicit' (SMTPS: TLS from the first byte, the
    default on port 465, where a provider offers no STARTTLS), 'starttls' (the default elsewhere), or
    'none' (starttls = false, a relay on this machine)."""
    o = target.options
    if o.get("starttls", True) is False:
        return "none"
    if "tls" in o:
        return str(_word(o["tls"]))
    return "implicit" if _port(o.get("port", 587)) == SMTPS_PORT else "starttls"


def _port(value: Any) -> int | None:
    """A TCP port (465, or "465" as text); None for anything else: port = "smtp" raised out of the
    delivery, a traceback after the report was written."""
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        return None
    return value


def _address(value: Any) -> bool:
    """One address ('ops@example.com' or 'Ops <ops@example.com>'), no line break (no header injection)."""
    from email.utils import getaddresses

    if not isinstance(value, str) or "\r" in value or "\n" in value:
        return False
    found = getaddresses([value])
    return len(found) == 1 and "@" in found[0][1]


def _word(value: Any) -> Any:
    """A word from a fixed list as the list spells it ("High" -> "high"); anything else as it is."""
    return value.strip().lower() if isinstance(value, str) else value


RETRIES_MAX = 10
"""The most attempts of one delivery: enough for a greylisting mail server (with a backoff of a minute),
few enough that a failing target cannot hold the run, and the findings history's lock, for days."""
SECONDS = {"timeout": (10.0, False, 300.0), "backoff": (1.0, True, 60.0)}
"""Each key of seconds: (its default, whether 0 is allowed, its most). 300 s is RFC 5321's wait for an SMTP
reply (a webhook answers in seconds); 60 s of backoff, doubled per retry and each wait cut at 30 times it,
lets 6 attempts span half an hour, a greylisting server's delay."""
DEADLINE_S = 2400.0
"""No attempt of one delivery starts later than this after its first: 40 minutes, room for the 6 attempts a
backoff of 60 spreads over 31 minutes (a greylisting server's delay) even when each takes a while. With
`retries`, `timeout` and `backoff` at their most, the waits between attempts alone came to about two and a half
hours, the run holding the findings history's lock meanwhile. A delivery so stopped fails
naming the deadline; at most one attempt's `timeout` comes after it."""


def _tries(where: str, entry: Mapping[str, Any]) -> int:
    """The entry's `retries`, a whole number from 1 to `RETRIES_MAX` (true read as 1 try, 2.7 as 2, and
    1000000 as a run that never ended), or a ValueError naming the key alone (its line is found by it)."""
    value = entry.get("retries", 3)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= RETRIES_MAX:
        raise ValueError(f"{where}: retries must be a whole number of tries from 1 to {RETRIES_MAX}, "
                         f"not {_shown(value)}")
    return value


def _seconds(where: str, entry: Mapping[str, Any], key: str) -> float:
    """The entry's `timeout` or `backoff`, a finite number of seconds within `SECONDS`, or a ValueError naming
    the key alone: nan and inf passed, then failed every delivery as "a flowscope bug" (a ValueError and an
    OverflowError out of the socket), and 1e9 held the run for years."""
    default, zero, most = SECONDS[key]
    value = entry.get(key, default)
    seconds = _number(value)
    if seconds is None or not (0 <= seconds if zero else 0 < seconds) or not seconds <= most:   # nan: neither
        least = "from 0" if zero else "more than 0 and"
        raise ValueError(f"{where}: {key} must be a number of seconds {least} up to {most:g}, not {_shown(value)}")
    return seconds


def _number(value: Any) -> float | None:
    """A number as a float (inf for an integer too large for one); None for true, false and text
    (float(True) read as 1 s)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return float(value)
    except OverflowError:           # timeout = 1 followed by 400 zeros: TOML's integers have no limit here
        return math.inf


def _shown(value: Any) -> str:
    """A config value as an error quotes it, cut short (a 400-digit number is no message)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_targets(entries: Sequence[Mapping[str, Any]]) -> list[Target]:
    """The [[notify]] entries as Targets; ValueError naming the entry and the key for anything wrong.
    Names are unique: what each target was sent is kept under its name (`findings.notified`, `alerts`)."""
    targets: list[Target] = []
    named: dict[str, int] = {}
    for i, entry in enumerate(entries):
        where = _check_entry(i, entry)
        severity = _word(entry.get("min_severity", "high"))       # "High", as [report] fail_on takes it
        if severity not in {s.value for s in Severity}:
            raise ValueError(f"{where}: min_severity must be one of {', '.join(s.value for s in Severity)}")
        send = _word(entry.get("send", "changes"))
        if send not in ("changes", "all"):
            raise ValueError(f"{where}: send must be 'changes' (new, worsened, reopened) or 'all', not {send!r}")
        retries, timeout, backoff = _tries(where, entry), _seconds(where, entry, "timeout"), \
            _seconds(where, entry, "backoff")
        options = {k: v for k, v in entry.items() if k in KEYS[entry["type"]] or k == "report_url"}
        name = str(entry.get("name") or f"{entry['type']}#{i + 1}")
        if name in named:
            raise ValueError(f"{where}: name {name!r} is already the name of #{named[name]}: give each "
                             "[[notify]] entry a name of its own (what it was sent is kept under it)")
        named[name] = i + 1
        targets.append(Target(type=entry["type"], name=name,
                              options=options, min_severity=severity, only_changes=send == "changes",
                              retries=retries, timeout=timeout, backoff=backoff))
    return targets


class Failure(Exception):
    """A delivery that did not reach every receiver (`Transient` or `Permanent`)."""

    attempts = 0
    """The attempts made when it ended the delivery (`_with_retries` sets it)."""
    told: str | None = None
    """Who got the message all the same ("1 of 2 recipient(s)": an e-mail the server took for some
    recipients), or None: such a message is recorded as told, so no later run sends it to them again."""


class Transient(Failure):
    """A failure that may pass: retried (no sooner than `retry_after` seconds when the server said so)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Permanent(Failure):
    """A failure that will not pass by retrying (HTTP 4xx, a missing variable, refused credentials)."""


VARIABLE_KEYS = {"url_env": "webhook URL", "username_env": "SMTP user name", "password_env": "SMTP password"}
"""The keys of an entry that name an environment variable, and what the variable holds."""


def variables(target: Target) -> list[tuple[str, str]]:
    """(variable, what it holds) of each environment variable the target reads when it sends."""
    return [(str(target.options[key]), _holds(target, key)) for key in VARIABLE_KEYS if target.options.get(key)]


def _holds(target: Target, key: str) -> str:
    """What the variable named by `key` holds ("slack webhook URL", "SMTP password")."""
    what = VARIABLE_KEYS.get(key, key)
    return f"{target.type} {what}" if key == "url_env" else what


def _label(target: Target, key: str) -> str:
    """'NAME (what it holds)': how every message names a variable (never its value, a secret)."""
    return f"{target.options[key]} ({_holds(target, key)})"


NOT_SET = "is not set"
NO_ADDRESS = "holds no http:// or https:// address"
BLANKS = "holds an address with white space or a control character in it"
UNREADABLE = "holds an address that does not parse (a bracket or a colon out of place)"
BAD_PORT = "holds an address whose port is not a number from 1 to 65535"
NO_HOST = "holds an address without a host"
REFUSED = "holds an address the sender refuses (a host name it cannot post to)"
ADDRESS_PROBLEMS = (NO_ADDRESS, BLANKS, UNREADABLE, BAD_PORT, NO_HOST, REFUSED)
"""What a set webhook URL variable can hold that no send can use, each said as such: a bad port or host read
"holds no http:// or https:// address" of a variable that did hold one. Never the value (a secret)."""


def url_problem(target: Target) -> str | None:
    """What is wrong with the target's webhook URL variable in this environment: `NOT_SET` (unset, empty,
    or only white space: a Kubernetes secret's lone line break), one of `ADDRESS_PROBLEMS`, or None (an
    address, or a target without one). The one rule `flowscope doctor` and the send both apply: doctor
    said "configured" of a variable holding "\\n" that every send refused."""
    name = target.options.get("url_env")
    if not name:
        return None
    value = os.environ.get(str(name), "").strip()
    if not value:
        return NOT_SET
    return _address_fault(value)


def unset_variables(target: Target) -> list[str]:
    """'NAME (what it holds)' of each variable the target needs that this environment does not set (a
    webhook URL variable of white space only counts as not set): `flowscope doctor` says so before a
    scheduled run fails to deliver."""
    def unset(key: str) -> bool:
        if key == "url_env":
            return url_problem(target) == NOT_SET
        return not os.environ.get(str(target.options[key]))

    return [_label(target, key) for key in VARIABLE_KEYS if target.options.get(key) and unset(key)]


def unaddressed_variables(target: Target) -> list[str]:
    """'NAME (what it holds)' of a webhook URL variable that is set but holds no address a send can use
    (`_url` refuses it at every send): `flowscope doctor` says so, never the value."""
    return [_label(target, "url_env")] if url_problem(target) in ADDRESS_PROBLEMS else []


def unaddressed_problems(target: Target) -> list[str]:
    """'NAME (what it holds) <what is wrong>' for `unaddressed_variables`: how doctor and a skipped send say it."""
    return [f"{label} {url_problem(target)}" for label in unaddressed_variables(target)]


def _env(target: Target, key: str) -> str:
    value = os.environ.get(str(target.options[key]))
    if not value:
        raise Permanent(f"environment variable {_label(target, key)} {NOT_SET}")
    return value


def _url(target: Target) -> str:
    """The webhook URL from its variable, without the white space around it (a Kubernetes secret or an env
    file keeps the line break: it was posted to ".../XXXX%0A" and Slack answered 404); Permanent naming
    the variable, never its value, when `url_problem` finds one."""
    problem = url_problem(target)
    if problem:
        raise Permanent(f"environment variable {_label(target, 'url_env')} {problem}")
    return os.environ[str(target.options["url_env"])].strip()


def _address_fault(url: str) -> str | None:
    """What keeps the sender from posting to `url` (one of `ADDRESS_PROBLEMS`), or None: http(s), a host, a
    port from 1 to 65535 if one is given, no white space or control character, and what requests makes of
    it (`_post`'s parse). Only the prefix was checked: doctor passed "http://", "https://exa mple.com/x" and
    "http://[::1" that every send refused (InvalidURL); port 0 was sent to port 80."""
    from urllib.parse import urlsplit

    from flowscope.netaddr import port_ok

    if not url.lower().startswith(("http://", "https://")):
        return NO_ADDRESS
    if any(c.isspace() or not c.isprintable() for c in url):
        return BLANKS
    try:
        parts = urlsplit(url)
    except ValueError:
        return UNREADABLE
    if not port_ok(parts):
        return BAD_PORT
    if not parts.hostname:
        return NO_HOST
    return None if _requests_can_send(url) else REFUSED


def _requests_can_send(url: str) -> bool:
    """Whether requests prepares a POST to `url` (its own parse: a host label "*.com" or ".a.com" is refused
    there); true without requests, whose absence doctor names as the missing report extra."""
    try:
        import requests
    except ImportError:
        return True
    try:
        requests.Request("POST", url).prepare()
    except (requests.RequestException, ValueError):      # InvalidURL, or a UnicodeError of a host's IDNA
        return False
    return True


def _post(url: str, body: dict[str, Any], timeout: float) -> str:
    """One POST; the URL is a secret, so no error names it (requests' messages do: only types are kept)."""
    import requests

    try:
        response = requests.post(url, json=body, timeout=timeout, allow_redirects=False)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise Transient(f"{type(exc).__name__} (no response)") from None
    except requests.RequestException as exc:
        raise Permanent(f"{type(exc).__name__}") from None
    if response.status_code < 300:
        return f"HTTP {response.status_code}"
    said = f"HTTP {response.status_code}" + (f": {why}" if (why := refusal(response.text, url)) else "")
    if response.status_code == 429 or response.status_code >= 500:
        from flowscope.collectors.gcp.clients import retry_after_s

        raise Transient(said, retry_after_s(response.headers.get("Retry-After")))
    raise Permanent(said)


REFUSAL_CHARS = 200
"""The most of a receiver's reason a failed delivery quotes."""


def refusal(body: str, url: str) -> str:
    """Why a receiver refused a message, in one short line: Slack's word ("invalid_blocks",
    "channel_is_archived"), a JSON error's code and message (a Teams workflow's), else its text; nothing
    for an HTML page (a proxy's). "HTTP 400" alone could not tell a deleted channel from a message built
    wrong. The URL is a secret: it and every part of it that may be a token (`url_secrets`) are taken out,
    as is any credential `textsafety.SECRET_RULES` knows, and terminal escapes (the line is printed)."""
    import json

    from flowscope.textsafety import one_line, without_secrets

    # a reason is short; a page of megabytes is not read whole, nor a token cut in two at the end of what is
    text = body[:REFUSAL_READ] if len(body) <= REFUSAL_READ else re.sub(r"\S*\Z", "", body[:REFUSAL_READ])
    text = text.strip()
    try:
        doc = json.loads(text)
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        error = doc.get("error", doc)
        if isinstance(error, dict):
            text = ": ".join(str(error[k]) for k in ("code", "message") if error.get(k))
        elif isinstance(error, str):
            text = error
    if text.startswith("<"):
        return ""
    return without_secrets(without_url(one_line(text), url))[:REFUSAL_CHARS]


REFUSAL_READ = 8000
"""The most of a receiver's answer `refusal` reads."""
SECRET_QUERY_NAME = re.compile(r"tok|sig|key|secret|pass|pwd|auth|code|cred", re.IGNORECASE)
"""A query parameter whose value is a credential whatever it looks like (?token=, a Teams workflow's sig=,
an Azure Function's code=, ?key=, ?apikey=)."""
PLAIN_SEGMENT = re.compile(r"[a-z]{1,15}")
"""A path segment that is a word, not a token: "services", "workflows", "triggers", "hook"."""
PLAIN_VALUE = re.compile(r"[a-z]{1,15}|\d{1,4}(?:[.-]\d{1,4}){0,2}")
"""A query value that is a word or a version, not a token: api-version=2016-06-01, sv=1.0, api-version=1."""
LONG_SECRET = 8
"""A secret this long is taken out wherever it is; a shorter one only where it stands alone (not inside a
longer word or number), so a token "T0" or "abc" does not break "T01" or "abcde" in a reason."""


def url_secrets(url: str) -> list[str]:
    """The parts of a webhook URL a message must not quote, longest first: the URL, its path and query, its
    user name and password, the value of each query parameter named like a credential, and each other query
    value and path segment that is not a plain word or version (each as written and percent-decoded). Any
    may be the token whatever its length: only parts of 16 characters or more were taken out, and a
    13-character ?token= that the server echoed was printed."""
    from urllib.parse import unquote, unquote_plus, urlsplit

    try:
        parts = urlsplit(url)
        found = {url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.path,
                 parts.username or "", parts.password or ""}
    except ValueError:
        return [url]
    found |= {s for s in parts.path.split("/") if not PLAIN_SEGMENT.fullmatch(unquote(s))}
    for pair in parts.query.split("&"):
        name, equals, value = pair.partition("=")
        name, value = (name, value) if equals else ("", name)       # "?TOKEN": the name is the secret
        if SECRET_QUERY_NAME.search(unquote_plus(name)) or not PLAIN_VALUE.fullmatch(unquote_plus(value)):
            found.add(value)
    found |= {unquote_plus(s) for s in found} | {unquote(s) for s in found}
    return sorted((s for s in found if any(c.isalnum() for c in s)), key=len, reverse=True)


def without_url(text: str, url: str) -> str:
    """`text` with every `url_secrets` part of `url` replaced by "[the webhook URL]", in one pass (a
    replacement is never searched again for a shorter part)."""
    patterns = [re.escape(s) if len(s) >= LONG_SECRET else rf"(?<![^\W_]){re.escape(s)}(?![^\W_])"
                for s in url_secrets(url)]
    return re.sub("|".join(patterns), "[the webhook URL]", text) if patterns else text


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


def _sender(target: Target, message: Message, files: Sequence[Path]) -> Callable[[], str]:
    """The one attempt a target's delivery repeats."""
    if target.type == "email":
        return _smtp(target, message, files)
    from flowscope.report.notify import slack, teams, webhook

    build = {"slack": slack.payload, "teams": teams.payload, "webhook": webhook.payload}[target.type]
    body = build(message)

    def attempt() -> str:
        return _post(_url(target), body, target.timeout)

    return attempt


def _with_retries(target: Target, attempt: Callable[[], str]) -> tuple[str, int]:
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, stop_before_delay, wait_exponential

    from flowscope.collectors.throttle import RETRY_AFTER_MAX_S

    backoff = wait_exponential(multiplier=target.backoff, max=30 * max(target.backoff, 0.01))

    def wait(state: Any) -> float:
        """The backoff, or longer when the server asked (Slack's 429 `Retry-After`): a retry sooner is
        refused again, and the attempts ran out in a second or two while Slack asked for 30."""
        exc = state.outcome.exception() if state.outcome is not None else None
        asked = getattr(exc, "retry_after", None)
        waited = float(backoff(state))
        return max(waited, min(float(asked), RETRY_AFTER_MAX_S)) if asked is not None else waited

    tries = 0

    def counted() -> str:
        nonlocal tries
        tries += 1
        return attempt()

    retrying = Retrying(stop=stop_after_attempt(target.retries) | stop_before_delay(DEADLINE_S), reraise=True,
                        wait=wait, retry=retry_if_exception_type(Transient))
    try:
        detail = retrying(counted)
    except Failure as exc:
        exc.attempts = tries        # a 503 retried, then a 400: "after 1 attempt(s)" of a target tried twice
        if isinstance(exc, Transient) and tries < target.retries:
            deadline = f"{DEADLINE_S / 60:g} min" if DEADLINE_S >= 60 else f"{DEADLINE_S:g} s"
            exc.args = (f"{exc} (no attempt starts more than {deadline} after the first: {tries} of "
                        f"{target.retries} made)",)
        raise
    return detail, tries


@dataclass
class Plan:
    """What each target will say (built before anything is sent; tests read it)."""

    target: Target
    message: Message
    send: bool = field(default=True)


def plan(targets: Sequence[Target], content: ReportContent, report: str | None = None,
         sync_failed: bool = False, renotify: bool = False) -> list[Plan]:
    out = []
    for t in targets:
        where = t.options.get("report_url") or report
        message = build_message(content, min_severity=t.min_severity, only_changes=t.only_changes,
                                report=str(where) if where else None, target=t.name, sync_failed=sync_failed,
                                renotify=renotify)
        out.append(Plan(t, message, worth_sending(message) or not t.only_changes))
    return out


READABLE = (".html", ".pdf", ".md", ".xlsx")
"""The report files a message points to, the one to read first first (csv and parquet: their folder)."""


def report_location(files: Sequence[Path]) -> str | None:
    """The absolute path of the report a message names: the HTML page (else the PDF, the Markdown, the
    workbook), else the folder of csv or parquet tables. The first file written, by the scheduler's
    relative path, named one table of a folder where no reader of the message could find it."""
    if not files:
        return None
    for suffix in READABLE:
        for path in files:
            if path.suffix == suffix:
                return str(Path(path).absolute())
    return str(Path(files[0]).absolute().parent)


def deliver(targets: Sequence[Target], content: ReportContent, files: Sequence[Path] = (), *,
            sync_failed: bool = False, renotify: bool = False) -> list[Delivery]:
    """Send to every target; one Delivery each (sent, skipped or failed), never an exception. A target
    with nothing to send whose environment variables are not set is failed, not skipped."""
    results = []
    for p in plan(targets, content, report=report_location(files), sync_failed=sync_failed,
                  renotify=renotify):
        t = p.target
        unready = _unready(t)
        if not p.send and unready:
            # nothing to say this run, but nothing could be said: quiet hours of exit 0 hid a target whose
            # first finding worth sending was the first to fail
            results.append(Delivery(t.name, sent=False, error=f"{unready}: nothing to send this run, and "
                                    "nothing could be sent"))
            continue
        if not p.send:
            results.append(Delivery(t.name, sent=False, skipped=True, detail=_quiet(p.message)))
            continue
        attempts = 0
        try:
            detail, attempts = _with_retries(t, _sender(t, p.message, files))
            results.append(Delivery(t.name, sent=True, attempts=attempts, detail=detail,
                                    finding_ids=p.message.told,
                                    said=(p.message.status, p.message.alert)))
        except Failure as exc:
            tries = exc.attempts or attempts or _attempts(exc, t)
            if exc.told:     # some recipients have it: recorded as told, or every later run sent it them again
                results.append(Delivery(t.name, sent=True, attempts=tries, error=str(exc), detail=exc.told,
                                        finding_ids=p.message.told, said=(p.message.status, p.message.alert)))
            else:
                results.append(Delivery(t.name, sent=False, attempts=tries, error=str(exc)))
        except Exception as exc:        # noqa: BLE001 - a bug in one channel must not silence the others
            # only the type: its message or traceback could quote the target's URL, a secret
            results.append(Delivery(t.name, sent=False, attempts=max(attempts, 1),
                                    error=f"unexpected {type(exc).__name__} while sending (a flowscope bug: "
                                          "please report it)"))
    return results


def _unready(target: Target) -> str | None:
    """Why no message could reach the target in this environment (its variables, by the rules doctor
    and the send apply), or None: a variable holding no address was skipped on a quiet run (exit 0)."""
    problems = [f"environment variable {v}" for v in unaddressed_problems(target)]
    unset = unset_variables(target)
    if unset:
        said = f"variable {unset[0]} is" if len(unset) == 1 else f"variables {', '.join(unset)} are"
        problems.insert(0, f"environment {said} not set")
    return "; ".join(problems) or None


def _quiet(message: Message) -> str:
    """Why nothing is sent: no new finding, and the data complete or its problem already told."""
    head = f"no new finding at or above {message.min_severity}"
    if message.status == "ok":
        return f"{head}, data complete"
    return f"{head}; status {message.alert!r} already sent to it (flowscope run --renotify sends it again)"


def _attempts(exc: Exception, target: Target) -> int:
    """Attempts made before giving up: all of them for a transient error, one for a permanent one."""
    return target.retries if isinstance(exc, Transient) else 1
