"""The `[[notify]]` entries of flowscope.toml read as `Target`s, every key checked (`parse_targets`).

The configuration only: what a wrong entry is told (a ValueError naming the entry and the key, exit 2 for
`run` and `doctor` alike), the keys each type takes, the secrets refused in the file, the e-mail entry's
TLS mode and the bounds of `retries`, `timeout` and `backoff`. Nothing is read from the environment here
(addresses.py) and nothing is sent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowscope.analysis.base import Severity
from flowscope.netaddr import is_loopback

TYPES = ("slack", "teams", "webhook", "email")
SECRET_KEYS = ("url", "password", "username", "token", "secret", "webhook")
"""Keys refused in the file: their values are secrets, named by an *_env key instead."""
COMMON_KEYS = {"type", "name", "min_severity", "send", "report_url", "retries", "timeout", "backoff"}
KEYS = {"slack": {"url_env"}, "teams": {"url_env"}, "webhook": {"url_env"},
        "email": {"host", "port", "tls", "starttls", "from", "to", "username_env", "password_env", "ca_file", "attach"}}

TEXT_KEYS = {"name": "ops", "url_env": "FLOWSCOPE_SLACK_URL", "report_url": "https://reports.example.com/latest.html",
             "host": "smtp.example.com", "from": "flowscope@example.com", "username_env": "SMTP_USER",
             "password_env": "SMTP_PASSWORD", "ca_file": "/etc/ssl/private-ca.pem"}
"""Keys whose value is one text (an example of each): `host = 127` with `starttls = false` was exit 5 (a
traceback), `from = ["a@example.com"]` went out as the header `From: ['a@example.com']`, and `url_env = 5`
failed every delivery as "environment variable 5 ... is not set" (exit 4) rather than exit 2 at its line."""


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
    for key, example in TEXT_KEYS.items():
        if key in entry and not isinstance(entry[key], str):
            raise ValueError(f"{where}: {key} must be one text in quotes, e.g. {key} = \"{example}\", "
                             f"not {_shown(entry[key])}")
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
