"""What a command reads before its work: the settings (config file, --store), the thresholds, the
configured sources' scopes and the store.

One place, so each refusal is the same one line (naming the config file and its line, or the store), exit 2,
whichever command reads it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from flowscope.cli.output import fail


def _open_store(path: str):  # noqa: ANN202 - Store, imported lazily
    """The store a reader reads: never created here; not a store -> one line naming the path, exit 2."""
    from flowscope.store import Store, StoreError

    try:
        return Store.open(path)
    except StoreError as exc:
        raise fail(str(exc)) from None


def config_fail(settings: Any, message: str) -> typer.Exit:
    """`fail` for a value read from the config file: the message names the file and the line
    (`settings.located`), so a user is sent to the line to fix, not left to guess which file was read."""
    from flowscope.settings import located

    return fail(located(message, settings.config_path))


def _thresholds(settings: Any) -> Any:
    """The [thresholds] table as the analyses read it; a bad one is exit 2 naming the file and the line."""
    from flowscope.analysis import Thresholds

    try:
        return Thresholds.from_mapping(settings.thresholds)
    except ValueError as exc:
        raise config_fail(settings, str(exc)) from None


def _settings(config: Path | None, store: str | None):  # noqa: ANN202 - Settings, imported lazily
    from flowscope.settings import ConfigError, load_settings

    try:
        return load_settings(config, store)
    except ConfigError as exc:
        raise fail(str(exc)) from None


def _configured_scopes(settings: Any) -> list[tuple[int, Any]]:
    """(sources index, scope) of every configured source, checked by the function `sync` checks them
    with (an invalid entry is the configuration error sync gives, exit 2), and the thresholds as the
    analyses read them. No call is made."""
    from flowscope.collectors.sync import validate_sources
    from flowscope.settings import ConfigError, located

    _thresholds(settings)
    try:
        plan = validate_sources(settings.sources) if settings.sources else []
    except (ConfigError, ValueError) as exc:
        said = located(str(exc), settings.config_path)
        raise fail(said if said != str(exc) else f"config file {settings.config_path or '(none)'}: {exc}") from None
    return [(index, scope) for index, _, module, scopes in plan if module is not None for scope in scopes]
