import datetime as dt
from pathlib import Path

import pytest

from flowscope.model import UTC
from flowscope.settings import ConfigError, load_settings
from flowscope.timewindow import parse_since, parse_window

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("text", "expected"), [
    ("7d", NOW - dt.timedelta(days=7)),
    ("24h", NOW - dt.timedelta(hours=24)),
    ("30m", NOW - dt.timedelta(minutes=30)),
    ("2w", NOW - dt.timedelta(weeks=2)),
    ("2026-11-01", dt.datetime(2026, 11, 1, tzinfo=UTC)),
    ("2026-11-01T10:00:00+02:00", dt.datetime(2026, 11, 1, 8, tzinfo=UTC)),
    (None, None),
])
def test_parse_since(text, expected):
    assert parse_since(text, now=NOW) == expected


def test_parse_since_rejects_garbage_with_a_hint():
    with pytest.raises(ValueError, match="7d"):
        parse_since("last tuesday", now=NOW)


@pytest.mark.parametrize("since", ["0d", "0h", " 0.0 m"])
def test_a_window_of_no_length_is_refused(since):
    """`--since 0d` ran a window of a few microseconds (the end is read later than the start) and
    said it was empty: a typo is an error, not "no data"."""
    with pytest.raises(ValueError, match="window of no length"):
        parse_window(since, None, now=NOW)
    assert parse_window("1d", "0h", now=NOW) == (NOW - dt.timedelta(days=1), NOW), "an end of 0h is now"


def test_settings_precedence(tmp_path: Path, monkeypatch):
    config = tmp_path / "flowscope.toml"
    config.write_text('store = "/from/config"\n[thresholds]\nfailure_rate = 0.2\n')
    monkeypatch.delenv("FLOWSCOPE_STORE", raising=False)
    assert load_settings(config).store_path == "/from/config"
    assert load_settings(config).thresholds == {"failure_rate": 0.2}
    monkeypatch.setenv("FLOWSCOPE_STORE", "/from/env")
    assert load_settings(config).store_path == "/from/env"
    assert load_settings(config, store="/from/flag").store_path == "/from/flag"


def test_settings_errors_name_the_problem(tmp_path: Path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("stroe = 1\n")
    with pytest.raises(ConfigError, match="unknown key.*stroe"):
        load_settings(bad)
    unread = tmp_path / "unread.toml"
    unread.write_text("[dashboard]\nport = 9000\n")          # accepted and never read: it looked applied
    with pytest.raises(ConfigError, match="unknown key.*dashboard"):
        load_settings(unread)
    broken = tmp_path / "broken.toml"
    broken.write_text("store = \n")
    with pytest.raises(ConfigError, match="broken.toml"):
        load_settings(broken)


@pytest.mark.parametrize("text", ["9999-12-31", "1000-01-01", "1969-12-31", "2200-01-01T00:00:01", "99999999999d",
                                  "100000d", dt.datetime(9999, 12, 31, tzinfo=UTC)])
def test_parse_since_refuses_times_the_engines_cannot_hold(text):
    with pytest.raises(ValueError, match="out of range"):
        parse_since(text, now=NOW)


def test_parse_since_accepts_the_far_past():
    assert parse_since("2000-01-01", now=NOW) == dt.datetime(2000, 1, 1, tzinfo=UTC)
    assert parse_since("9000d", now=NOW) == NOW - dt.timedelta(days=9000)


def test_a_window_given_no_end_ends_at_what_the_store_knows():
    """The dashboard's and the notebook's default end: now, unless the store's knowledge (its newest run,
    or a successful sync's watermark past it) ends earlier; rounded up to 5 minutes."""
    from flowscope.timewindow import default_end, known_end

    utc = UTC
    now = dt.datetime(2026, 12, 1, 10, 2, tzinfo=utc)
    last = dt.datetime(2026, 11, 20, 8, 31, tzinfo=utc)
    assert known_end(last, None) == last and known_end(None, None) is None
    assert known_end(last, dt.datetime(2026, 12, 1, 10, tzinfo=utc)) == dt.datetime(2026, 12, 1, 10, tzinfo=utc)
    assert default_end(last, now) == (dt.datetime(2026, 11, 20, 8, 35, tzinfo=utc), True)
    assert default_end(known_end(last, now - dt.timedelta(minutes=2)), now) == (
        dt.datetime(2026, 12, 1, 10, 5, tzinfo=utc), False), "a sync just now: the window ends now"
    assert default_end(None, now) == (dt.datetime(2026, 12, 1, 10, 5, tzinfo=utc), False)


@pytest.mark.parametrize("variable", ["FLOWSCOPE_STORE", "FLOWSCOPE_CONFIG"])
def test_a_variable_set_but_empty_is_an_error_not_the_default(tmp_path: Path, monkeypatch, variable):
    """`FLOWSCOPE_STORE=$DIR` with DIR unset (an EnvironmentFile, a Kubernetes env) read and wrote
    ~/.flowscope, as `--store ""` did before it was refused; an empty FLOWSCOPE_CONFIG read ./flowscope.toml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOWSCOPE_STORE", raising=False)
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    monkeypatch.setenv(variable, " ")
    with pytest.raises(ConfigError, match=f"{variable} is set but empty"):
        load_settings()
    (tmp_path / "f.toml").write_text('store = "/from/config"\n')
    given = load_settings(tmp_path / "f.toml", store=str(tmp_path / "s"))     # the flags win, as they do over a set one
    assert given.store_path == str(tmp_path / "s") and given.config_path == tmp_path / "f.toml"


def test_a_relative_store_in_a_config_file_is_beside_the_config(tmp_path: Path, monkeypatch):
    """`store = "data/store"` in /etc/flowscope/flowscope.toml was read in the folder the command ran in:
    a cron job (run in /) and a shell (in the project) read, or synced into, two stores. It is read
    beside the config file; an absolute path, ~, a URL, --store and FLOWSCOPE_STORE are as written."""
    monkeypatch.delenv("FLOWSCOPE_STORE", raising=False)
    monkeypatch.delenv("FLOWSCOPE_CONFIG", raising=False)
    conf = tmp_path / "etc" / "flowscope.toml"
    conf.parent.mkdir()
    elsewhere = tmp_path / "cron-cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    conf.write_text('store = "data/store"\n')
    assert load_settings(conf).store_path == str(tmp_path / "etc" / "data" / "store")
    for written in ("/srv/flowscope", "~/fs"):
        conf.write_text(f'store = "{written}"\n')
        assert load_settings(conf).store == written
    conf.write_text('store = "data/store"\n')
    assert load_settings(conf, store="mine").store == "mine"
    monkeypatch.setenv("FLOWSCOPE_STORE", "env-store")
    assert load_settings(conf).store == "env-store"


def test_a_relative_start_after_now_says_it_was_counted_back_from_the_end():
    """`--since 7d --until 2027-06-30` said "since '7d' starts in the future (2027-06-23 ...)": 7 days
    back cannot be in the future, unless counted back from an --until after now, which it did not say."""
    now = dt.datetime(2026, 11, 25, 12, tzinfo=UTC)
    with pytest.raises(ValueError) as raised:
        parse_window("7d", "2027-06-30", now=now)
    said = str(raised.value)
    assert "since '7d' starts in the future" in said and "counted back from until 2027-06-30 00:00 UTC" in said, said
    with pytest.raises(ValueError) as raised:
        parse_window("2027-01-01", "2027-06-30", now=now)
    assert "counted back" not in str(raised.value)
