"""The environment variables a target reads when it sends, and whether each holds what a send can use.

One rule for `flowscope doctor` (`unset_variables`, `unaddressed_problems`) and for the send (`_url`,
`_env`): a variable is named with what it holds, never with its value (a webhook URL holds a token), and a
webhook URL is checked as the sender parses it (`url_problem`, one of `ADDRESS_PROBLEMS`).
"""

from __future__ import annotations

import os

from flowscope.report.notify.failures import Permanent
from flowscope.report.notify.targets import Target

VARIABLE_KEYS = {"url_env": "webhook URL", "username_env": "SMTP user name", "password_env": "SMTP password"}
"""The keys of an entry that name an environment variable, and what the variable holds."""


def variables(target: Target) -> list[tuple[str, str]]:
    """(variable, what it holds) of each environment variable the target reads when it sends."""
    return [(str(target.options[key]), _holds(target, key)) for key in VARIABLE_KEYS if target.options.get(key)]


def _holds(target: Target, key: str) -> str:
    """What the variable named by `key` holds ("slack webhook URL", "webhook URL", "SMTP password"): a webhook
    target's is not a "webhook webhook URL"."""
    what = VARIABLE_KEYS.get(key, key)
    return f"{target.type} {what}" if key == "url_env" and target.type != "webhook" else what


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
