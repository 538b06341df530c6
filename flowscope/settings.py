"""Settings: CLI flags over environment over the config file (flowscope.toml) over defaults."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_STORE = "~/.flowscope"
DEMO_STORE = "~/.flowscope-demo"
"""`flowscope demo`'s store: the demo never writes into the real store unless --store says so."""
CONFIG_ENV = "FLOWSCOPE_CONFIG"
STORE_ENV = "FLOWSCOPE_STORE"
KNOWN_KEYS = {"store", "sources", "thresholds", "auth", "report", "notify"}
"""The top-level keys flowscope reads; any other is refused (a table nobody reads would look applied)."""


class ConfigError(ValueError):
    """The config file is missing, unreadable or has keys we do not know."""


@dataclass
class Settings:
    store: str = DEFAULT_STORE
    sources: list[dict[str, Any]] = field(default_factory=list)
    thresholds: dict[str, Any] = field(default_factory=dict)
    auth: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] = field(default_factory=dict)
    notify: list[dict[str, Any]] = field(default_factory=list)   # [[notify]] targets (flowscope/report/notify)
    config_path: Path | None = None

    @property
    def store_path(self) -> str:
        """Local paths are expanded; a URL is kept as it is (the store refuses it: local stores only)."""
        return self.store if "://" in self.store else str(Path(self.store).expanduser())


def read_config(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            raw = handle.read()
        data = tomllib.loads(raw.decode("utf-8-sig"))   # a byte order mark (PowerShell 5.1's utf8) is no text
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except IsADirectoryError:   # `--config ""` (Typer reads it as ".") or a folder: was exit 5, "a bug"
        raise ConfigError(f"config file {path} is a folder: name the flowscope.toml file") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} cannot be read: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:   # saved as UTF-16 (PowerShell's `>`) or Latin-1: was exit 5, "a bug"
        line = raw[:exc.start].count(b"\n") + 1
        raise ConfigError(f"config file {path}, line {line}: not UTF-8 text (byte {exc.start}); TOML files are "
                          "UTF-8: save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:     # at the line of the first: `[notfy]` among fifty lines was left to be found by eye
        raise ConfigError(f"{top_level_at(path, unknown[0])}: unknown key(s) "
                          f"{', '.join(unknown)}; known: {', '.join(sorted(KNOWN_KEYS))}")
    return data


TABLES = ("thresholds", "auth", "report")
ARRAYS_OF_TABLES = ("sources", "notify")


def top_level_at(path: Path, key: str) -> str:
    """"config file PATH, line N" of a top-level key (a `key = ...` line, else its first `[key]` or
    `[[key]]` table), or without the line when it cannot be found."""
    line = config_line(path, key) or config_line(path, key, 1)
    return f"config file {path}" + (f", line {line}" if line else "")


def check_types(data: dict[str, Any], path: Path) -> None:
    """Each top-level key has the shape its readers expect, or a ConfigError naming the file, the line,
    the key and the shape (`store = 5` or `thresholds = "abc"` crashed deep inside a command)."""
    def at(key: str) -> str:
        return top_level_at(path, key)

    store = data.get("store")
    if "store" in data and (not isinstance(store, str) or not store.strip()):
        raise ConfigError(f'{at("store")}: store must be a folder path or URL in quotes, e.g. '
                          f'store = "~/.flowscope", not {store!r}')
    if isinstance(store, str) and (variable := _VARIABLE.search(store)):
        raise ConfigError(f"{at('store')}: store names an environment variable ({variable.group()}), and the "
                          f"config file expands none (it would be a folder named {variable.group()!r}): write the "
                          f"path, or set {STORE_ENV} or --store")
    for key in TABLES:
        if key in data and not isinstance(data[key], dict):
            raise ConfigError(f"{at(key)}: {key} must be a table ([{key}] followed by key = value "
                              f"lines), not {data[key]!r}")
    for key in ARRAYS_OF_TABLES:
        if key not in data:
            continue
        value = data[key]
        if isinstance(value, dict):
            raise ConfigError(f"{at(key)}: [{key}] is a single table; each entry is written "
                              f"[[{key}]] (two brackets), one per entry")
        if not isinstance(value, list):
            raise ConfigError(f"{at(key)}: {key} must be [[{key}]] tables, not {value!r}")
        for index, entry in enumerate(value, start=1):
            if not isinstance(entry, dict):
                raise ConfigError(f"{at(key)}: {key}[{index}] must be a [[{key}]] table, "
                                  f"not {entry!r}")
    _check_sources(data.get("sources", []), path)


def _check_sources(sources: list[dict[str, Any]], path: Path) -> None:
    """Each [[sources]] entry's `cloud` is text (`cloud = ["gcp"]` was exit 5, "unhashable type: 'list'"), and
    no entry repeats another but for its `name` label: its scopes were collected twice, at once, into the
    same rows (as a region listed twice in one entry was)."""
    from flowscope.model import Cloud, cloud_spelling

    seen: dict[str, int] = {}
    for index, entry in enumerate(sources, start=1):
        if "cloud" in entry and not isinstance(entry["cloud"], str):
            raise ConfigError(located(f"sources[{index}]: cloud must be one of "
                                      f"{', '.join(repr(c.value) for c in Cloud)} in quotes, not {entry['cloud']!r}",
                                      path))
        same = repr(sorted((k, cloud_spelling(v) if k == "cloud" else v) for k, v in entry.items() if k != "name"))
        if same in seen:
            raise ConfigError(located(f"sources[{index}]: repeats sources[{seen[same]}] (the same scopes, collected "
                                      "twice at once into the same rows): remove one", path))
        seen[same] = index


def load_settings(config: str | Path | None = None, store: str | None = None) -> Settings:
    """Resolve settings; an explicitly named config file must exist, ./flowscope.toml is optional.

    An empty `store` (`--store "$DIR"` with DIR unset) is a ConfigError: it fell back to the default
    store, so a cron job read (or a sync wrote) another store than the one it named."""
    if store is not None and not str(store).strip():
        raise ConfigError('--store is empty (an unset variable in --store "$DIR"?): name the store folder, '
                          "or leave --store out for the configured store")
    for variable in (CONFIG_ENV, STORE_ENV):
        if (variable == STORE_ENV and store) or (variable == CONFIG_ENV and config):
            continue                    # the flag wins over the environment, set or not
        if variable in os.environ and not os.environ[variable].strip():
            raise ConfigError(f"{variable} is set but empty (an unset variable in {variable}=$DIR?): name "
                              f"the {'store folder' if variable == STORE_ENV else 'config file'}, or unset it")
    path: Path | None = None
    if config:
        path = Path(config).expanduser()
    elif os.environ.get(CONFIG_ENV):
        path = Path(os.environ[CONFIG_ENV]).expanduser()
    elif Path("flowscope.toml").is_file():
        path = Path("flowscope.toml")
    data = read_config(path) if path else {}
    if path:
        check_types(data, path)
    settings = Settings(
        store=_config_store(data, path),
        sources=list(data.get("sources", [])),
        thresholds=dict(data.get("thresholds", {})),
        auth=dict(data.get("auth", {})),
        report=dict(data.get("report", {})),
        notify=list(data.get("notify", [])),
        config_path=path,
    )
    if os.environ.get(STORE_ENV):
        settings.store = os.environ[STORE_ENV]
    if store:
        settings.store = store
    return settings


def _config_store(data: dict[str, Any], path: Path | None) -> str:
    """The config file's `store`; a relative folder is read beside the config file, not in the folder a
    command runs in: a cron job and a shell in other folders read (and sync into) one store."""
    value = str(data.get("store", DEFAULT_STORE))
    if path is None or "store" not in data or "://" in value:
        return value
    folder = Path(value).expanduser()
    return value if folder.is_absolute() else str(path.parent / folder)


_VARIABLE = re.compile(r"\$\{?[A-Za-z_]\w*\}?")
"""`$NAME` or `${NAME}`: the config file expands no environment variable."""
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\[\]]+?)\s*\]\]?\s*(?:#.*)?$")
_PLACES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^sources\[(?P<index>\d+)\]:? (?:\w+ source: )?"
                r"(?:unknown key\(s\) |unknown (?=cloud\b))?(?P<key>[\w-]+)"), "sources"),
    (re.compile(r"^\[\[notify\]\] #(?P<index>\d+): (?:unknown key\(s\) )?(?P<key>[\w-]+)"), "notify"),
    (re.compile(r"^\[report\]:? (?:unknown key\(s\) )?(?P<key>[\w-]+)"), "report"),
    (re.compile(r"^(?:unknown threshold\(s\) |threshold )(?P<key>[\w-]+)"), "thresholds"),
)
"""How the checks of each part of the config file name the place they refuse (`sources[2]: aws source:
lag: ...`, `[[notify]] #1: type ...`, `[report] fail_on ...`, `unknown threshold(s) foo`): the table,
the entry's number and the first key named."""


def located(message: str, path: Path | None) -> str:
    """A config check's `message` prefixed with the file and the line it is about ("config file
    flowscope.toml, line 7: sources[2]: aws source: lag: ..."): the line of the key it names, else the
    line of its table's header. Without a file, or for a message naming no place of it, the message as it is."""
    if path is None:
        return message
    for pattern, table in _PLACES:
        match = pattern.match(message)
        if match:
            index = match.groupdict().get("index")
            line = config_line(path, table, int(index) if index else None, match.group("key"))
            where = f", line {line}" if line else ""
            return f"config file {path}{where}: {message}"
    return message


def in_config_file(message: str, path: Path | None) -> str:
    """`located`, and at least the file when `message` names no place of it (a value of [thresholds] that
    is not a number): what a reader without the commands' own wording (the notebook API, the dashboard)
    says of a config file it cannot use."""
    said = located(message, path)
    return said if said != message or path is None else f"config file {path}: {message}"


def config_line(path: Path, table: str, index: int | None = None, key: str | None = None) -> int | None:
    """The 1-based line of `key` in table `table` of the TOML file (in its `index`-th `[[table]]` entry
    when given), else of that table's header (or of `table = {...}` written inline); None when the file
    cannot be read or holds no such table. tomllib keeps no line numbers, so the lines are scanned."""
    try:
        lines = path.read_text(encoding="utf-8-sig", errors="replace").splitlines()
    except OSError:
        return None
    key_line = re.compile(rf"""^\s*["']?{re.escape(key)}["']?\s*[=.]""") if key else None
    table_line = re.compile(rf"""^\s*["']?{re.escape(table)}["']?\s*=""")
    current = ""                        # the section a line is in: "" before the first header
    entries = 0
    header: int | None = None
    for number, text in enumerate(lines, start=1):
        head = _HEADER.match(text)
        if head:
            name = head.group(2).strip().strip("\"'")
            if current == table and key is not None and name == f"{table}.{key}":
                return number           # the key written as a table of its own: [sources.quotas]
            if name == table and (head.group(1) == "[[") == (index is not None):
                entries += 1
                inside = index is None or entries == index
                current = table if inside else "other"
                if inside and header is None:
                    header = number
            else:
                current = "other"
            continue
        if current == table and key_line is not None and key_line.match(text):
            return number
        if current == "" and index is None and table_line.match(text):
            return number
    return header
