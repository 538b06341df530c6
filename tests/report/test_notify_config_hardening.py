"""[[notify]] values `run` cannot use are refused when the config is read, each naming its key at that key's
line, by `doctor` as by `run` (the one check, `parse_targets`): timeout = inf or nan passed and every delivery
then failed as "a flowscope bug", and retries = 1000000 or backoff = 1e6 held a failing run (and the findings
history's lock) for days. A webhook URL the sender cannot parse is refused by doctor as by the send. A token of
a webhook URL, however short, is never quoted from the receiver's refusal. Against a loopback receiver."""

from __future__ import annotations

import datetime as dt

import pytest
from typer.testing import CliRunner

from flowscope.cli import app
from flowscope.exitcodes import ExitCode
from flowscope.report import build_content
from flowscope.report.notify import (
    BAD_PORT,
    BLANKS,
    NO_ADDRESS,
    NO_HOST,
    REFUSED,
    UNREADABLE,
    deliver,
    parse_targets,
    unaddressed_variables,
    url_problem,
)
from flowscope.store import Store
from tests.report.helpers import END, Receiver

runner = CliRunner()


@pytest.fixture(scope="module")
def content(report_store):
    return build_content(Store.open(report_store), since=END - dt.timedelta(days=7), until=END, now=END)


@pytest.fixture()
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


def hook(kind: str = "webhook", **extra) -> dict:
    return {"type": kind, "url_env": "HOOK_URL", "min_severity": "low", "backoff": 0, **extra}


# --- timeout, backoff, retries: finite, bounded, one key per message ---------------------------------------

NUMBERS = ("retries", "timeout", "backoff")


@pytest.mark.parametrize(("key", "value"), [
    ("timeout", float("inf")), ("timeout", float("nan")), ("timeout", float("-inf")), ("timeout", 1e300),
    ("timeout", 1e9), pytest.param("timeout", 10**400, id="timeout-10**400"), ("timeout", 301), ("timeout", 0),
    ("timeout", -1), ("timeout", "10"),
    ("backoff", float("inf")), ("backoff", float("nan")), ("backoff", 1e6), ("backoff", 61), ("backoff", -1),
    ("backoff", "fast"), ("backoff", True),
    ("retries", 1000000), ("retries", 11), ("retries", 0), ("retries", 2.0),
])
def test_a_number_run_cannot_use_is_refused_naming_that_key_alone(key, value):
    with pytest.raises(ValueError) as raised:
        parse_targets([hook(**{key: value})])
    said = str(raised.value)
    assert said.startswith(f"[[notify]] #1: {key} must be "), said
    assert not [other for other in NUMBERS if other != key and other in said], said
    assert len(said) < 160, said                      # 10**400 is not quoted whole


@pytest.mark.parametrize("extra", [
    {"timeout": 300, "backoff": 60, "retries": 10}, {"timeout": 0.5, "backoff": 0, "retries": 1},
    {"timeout": 30.0, "backoff": 2.5},
])
def test_numbers_within_the_bounds_are_taken(extra):
    [target] = parse_targets([hook(**extra)])
    assert {k: getattr(target, k) for k in extra} == extra


CONFIG = ('store = "{store}"\n'
          '[[notify]]\n'                 # line 2: the header the errors pointed at
          'type = "webhook"\n'
          'url_env = "FLOWSCOPE_TEST_HOOK"\n'
          'min_severity = "low"\n'
          'send = "all"\n'
          'retries = 2\n'                 # line 7
          '{line8}\n'                     # line 8: the key under test
          'name = "ops"\n')


def _config(tmp_path, store, line8: str):
    path = tmp_path / "flowscope.toml"
    path.write_text(CONFIG.format(store=store, line8=line8))
    return path


@pytest.mark.parametrize(("line8", "key"), [
    ("timeout = inf", "timeout"), ("timeout = nan", "timeout"), ("timeout = 0", "timeout"),
    ("backoff = -1", "backoff"), ('backoff = "fast"', "backoff"), ("backoff = 1e6", "backoff"),
    ("timeout = 1e9", "timeout"),
])
@pytest.mark.parametrize("command", ["doctor", "run"])
def test_doctor_and_run_refuse_the_value_at_its_key_s_line(tmp_path, report_store, receiver, monkeypatch,
                                                             line8, key, command):
    """`run` read timeout = inf, reported, then failed its delivery "unexpected OverflowError while sending (a
    flowscope bug: please report it)" (exit 4) while doctor said "configured, its variables set" (exit 0);
    timeout = 0 and backoff = -1 pointed at the [[notify]] header and named three keys. Both now exit 2 at
    the key's line, naming it alone, before anything is sent."""
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", receiver.url + "/hook")
    cfg = _config(tmp_path, report_store, line8)
    args = {"doctor": ["doctor", "--config", str(cfg)],
            "run": ["run", "--config", str(cfg), "--no-sync", "--report-dir", str(tmp_path / "out"),
                    "--until", END.isoformat()]}[command]
    result = runner.invoke(app, args)
    text = " ".join(result.output.split())
    assert result.exit_code == ExitCode.USAGE, text
    assert f"config file {cfg}, line 8: [[notify]] #1: {key} must be " in text, text
    assert not [other for other in NUMBERS if other != key and f"{other} must" in text], text
    assert "flowscope bug" not in text and not receiver.requests


def test_a_count_of_retries_out_of_bounds_is_refused_at_its_line(tmp_path, report_store, monkeypatch):
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", "http://127.0.0.1:9/hook")
    cfg = tmp_path / "flowscope.toml"
    cfg.write_text(CONFIG.format(store=report_store, line8="timeout = 5").replace("retries = 2", "retries = 1000000"))
    result = runner.invoke(app, ["doctor", "--config", str(cfg)])
    assert result.exit_code == ExitCode.USAGE, result.output
    assert f"config file {cfg}, line 7: [[notify]] #1: retries must be " in " ".join(result.output.split())


# --- a webhook URL the sender cannot parse ------------------------------------------------------------------

UNPARSED = [("hooks.example.com/a", NO_ADDRESS), ("ftp://example.com/a", NO_ADDRESS), ("http://", NO_HOST),
            ("https://", NO_HOST), ("https://exa mple.com/x", BLANKS), ("http://[::1", UNREADABLE),
            ("http://[::1/hook", UNREADABLE), ("http://127.0.0.1:0/a", BAD_PORT),
            ("http://127.0.0.1:99999/a", BAD_PORT), ("http://127.0.0.1:port/a", BAD_PORT), ("http://:8080/a", NO_HOST),
            ("http://u:p@/a", NO_HOST), ("http://*.example.com/a", REFUSED), ("http://127.0.0.1:9/a b", BLANKS),
            ("http://127.0.0.1:9/a\x7fb", BLANKS)]


@pytest.mark.parametrize(("value", "problem"), UNPARSED)
def test_a_url_the_sender_cannot_parse_is_said_as_such_by_doctor_and_by_the_send(content, value, problem,
                                                                                 monkeypatch):
    """doctor passed "http://", "https://exa mple.com/x" and "http://[::1" ("configured, its variables set",
    exit 0) while every send failed "InvalidURL" (exit 4); port 0 was posted to port 80. The one rule both
    apply now parses the URL as the sender does: a host, a valid port, no white space; and says which is
    wrong (a bad port or host read "holds no http:// or https:// address" of a variable that held one)."""
    monkeypatch.setenv("HOOK_URL", value)
    [target] = parse_targets([hook()])
    assert url_problem(target) == problem
    assert unaddressed_variables(target) == ["HOOK_URL (webhook URL)"]
    [result] = deliver([target], content)
    assert result.failed and result.attempts == 1, result.line()
    assert result.error == f"environment variable HOOK_URL (webhook URL) {problem}", result.line()
    assert value.strip() not in result.error or value.strip() in ("http://", "https://")


@pytest.mark.parametrize("value", ["https://hooks.slack.com/services/T0/B0/XXXX", "http://[::1]:8080/hook",
                                   "https://bücher.example/hook", "HTTPS://Example.COM:443/a?b=c d".replace(" ", "+"),
                                   " http://127.0.0.1:8080/hook\n"])
def test_an_address_the_sender_can_parse_is_taken(value, monkeypatch):
    monkeypatch.setenv("HOOK_URL", value)
    [target] = parse_targets([hook()])
    assert url_problem(target) is None


@pytest.mark.parametrize(("value", "problem"), [("http://", NO_HOST), ("https://exa mple.com/x", BLANKS),
                                               ("http://[::1", UNREADABLE), ("hooks.example.com", NO_ADDRESS),
                                               ("http://127.0.0.1:0/a", BAD_PORT)])
def test_doctor_says_what_the_variable_holds(tmp_path, report_store, monkeypatch, value, problem):
    monkeypatch.setenv("FLOWSCOPE_TEST_HOOK", value)
    cfg = _config(tmp_path, report_store, "timeout = 5")
    result = runner.invoke(app, ["doctor", "--config", str(cfg)])
    text = " ".join(result.output.split())
    assert result.exit_code == ExitCode.USAGE, text
    assert f"not ready: FLOWSCOPE_TEST_HOOK (webhook URL) {problem}" in text, text
    assert "configured, its variables set" not in text


# --- a token of the URL, of any length, is not quoted from the receiver's refusal -------------------------

@pytest.mark.parametrize(("path", "token"), [
    ("/code401/hook?token=s3cr3tK3y9xyz", "s3cr3tK3y9xyz"),                      # 13 characters: was printed
    ("/hook?token=abc", "abc"),                                                     # a short one
    ("/hook?token=Zx9_secret-value-of-many-characters", "Zx9_secret-value-of-many-characters"),
    ("/hook?s3cr3tK3y9xyz", "s3cr3tK3y9xyz"),                                       # a bare query
    ("/services/T0AB12/B0CD34/x9Yk2Qw", "x9Yk2Qw"),                                 # Slack's shape, short
    ("/services/T0AB12/B0CD34/x9Yk2Qw", "T0AB12"),
    ("/workflows/7f3e/triggers/manual/paths/invoke?api-version=1&sv=1.0&sig=Q9x_k2", "Q9x_k2"),   # Teams'
    ("/workflows/7f3e/triggers/manual/paths/invoke?api-version=1&sv=1.0&sig=Q9x_k2", "7f3e"),
    ("/hook?code=a%2Bb9", "a+b9"),                                                  # decoded, as a server says it
])
def test_a_token_of_the_url_is_not_quoted_whatever_its_length(content, receiver, monkeypatch, path, token):
    """A server answering 401 {"error": {"code": "Bad", "message": "invalid token s3cr3tK3y9xyz"}} had its
    message printed whole: only parts of the URL of 16 characters or more were taken out. Every part that may
    be a token is now, whatever its length; the words of the reason stay."""
    monkeypatch.setenv("HOOK_URL", receiver.url + path)
    receiver.statuses = [401]
    receiver.error_body = (b'{"error": {"code": "Bad", "message": "invalid token %s: a hook of this '
                           b'workflow, see line 1 of the manual"}}' % token.encode())
    [result] = deliver(parse_targets([hook(retries=1)]), content)
    assert result.failed and result.attempts == 1, result.line()
    assert token not in result.line(), result.line()
    assert result.error == ("HTTP 401: Bad: invalid token [the webhook URL]: a hook of this workflow, see line 1 "
                            "of the manual"), result.line()


def test_a_user_name_and_password_of_the_url_are_not_quoted(content, receiver, monkeypatch):
    monkeypatch.setenv("HOOK_URL", receiver.url.replace("//", "//bob:pw9@") + "/hook")
    receiver.statuses = [403]
    receiver.error_body = b"user bob with password pw9 may not post here"
    [result] = deliver(parse_targets([hook(retries=1)]), content)
    assert result.error == ("HTTP 403: user [the webhook URL] with password [the webhook URL] may not post here"), \
        result.line()


def test_a_token_cut_at_the_end_of_what_is_read_is_not_quoted_in_part():
    """A reason is read from the first 8,000 characters of the answer: one padded with white space ended
    on the first characters of the token, which one line of the reason then showed."""
    from flowscope.report.notify import refusal

    url = "http://127.0.0.1:9/hook?token=s3cr3tK3y9xyz"
    body = "invalid token" + " " * 7982 + "s3cr3tK3y9xyz"
    assert refusal(body, url) == "invalid token"


# --- keys whose value is text: a host, an address, a variable's name, a file, a label ------------------------

def mail(**extra) -> dict:
    return {"type": "email", "host": "127.0.0.1", "port": 25, "starttls": False, "from": "flowscope@example.com",
            "to": ["ops@example.com"], **extra}


@pytest.mark.parametrize(("entry", "key"), [
    pytest.param(mail(host=127), "host", id="host-127-no-tls"),           # AttributeError: exit 5, a traceback file
    pytest.param(mail(host=127, starttls=True), "host", id="host-127"),  # str(127): sent to a host named "127"
    pytest.param(mail(**{"from": ["a@example.com", "b@example.com"]}), "from", id="from-two"),
    pytest.param(mail(**{"from": ["a@example.com"]}), "from", id="from-list"),   # From: ['a@example.com']
    pytest.param(mail(username_env=5, starttls=True), "username_env", id="username_env-5"),
    pytest.param(mail(password_env=["SMTP_PASSWORD"], starttls=True), "password_env", id="password_env-list"),
    pytest.param(mail(ca_file=5, starttls=True), "ca_file", id="ca_file-5"),
    pytest.param(hook(url_env=5), "url_env", id="url_env-5"),   # "environment variable 5 ... is not set": exit 4
    pytest.param(hook(name=["ops"]), "name", id="name-list"),    # kept as the target "['ops']"
])
def test_a_key_of_text_given_another_type_is_refused_naming_that_key(entry, key):
    """`host = 127` with `starttls = false` was exit 5 ("a bug in flowscope", a traceback file), and without it a
    send to a host named "127"; `from = ["a@example.com", "b@example.com"]` passed and went out as the header
    `From: ['a@example.com', 'b@example.com']`; `url_env = 5` failed every delivery as "environment variable 5
    ... is not set" (exit 4). Each is a configuration error (exit 2) naming its key, and so its line."""
    with pytest.raises(ValueError) as raised:
        parse_targets([entry])
    said = str(raised.value)
    assert said.startswith(f"[[notify]] #1: {key} "), said


def test_the_keys_of_text_written_as_text_are_taken():
    [email] = parse_targets([mail(username_env="SMTP_USER", starttls=True, ca_file="/etc/ssl/ca.pem",
                                  name="ops mail", to="ops@example.com")])
    [slack] = parse_targets([hook("slack", name="ops")])
    assert (email.name, email.options["host"], email.options["from"]) == ("ops mail", "127.0.0.1",
                                                                          "flowscope@example.com")
    assert (slack.name, slack.options["url_env"]) == ("ops", "HOOK_URL")


MAIL_CONFIG = ('store = "{store}"\n'
               '[[notify]]\n'
               'type = "email"\n'
               'host = {host}\n'                # line 4
               'port = 25\n'
               'starttls = false\n'
               'from = {sender}\n'              # line 7
               'to = "ops@example.com"\n')


@pytest.mark.parametrize(("host", "sender", "key", "line"), [
    ("127", '"flowscope@example.com"', "host", 4),
    ('"127.0.0.1"', '["a@example.com", "b@example.com"]', "from", 7)])
def test_run_refuses_a_key_of_text_at_its_line_before_anything_runs(tmp_path, report_store, host, sender, key, line):
    """Exit 2 naming the file, the line and the key, nothing written: `host = 127` was exit 5 with a traceback
    file, and two senders went out in a `From:` header of Python's list."""
    cfg = tmp_path / "flowscope.toml"
    cfg.write_text(MAIL_CONFIG.format(store=report_store, host=host, sender=sender))
    result = runner.invoke(app, ["run", "--config", str(cfg), "--no-sync", "--report-dir", str(tmp_path / "out"),
                                 "--until", END.isoformat()])
    text = " ".join(result.output.split())
    assert result.exit_code == ExitCode.USAGE, text
    assert f"config file {cfg}, line {line}: [[notify]] #1: {key} " in text, text
    assert "flowscope bug" not in text and not (tmp_path / "out").exists()
