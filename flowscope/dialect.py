"""How a message names the options its reader can pass: the commands' flags or the notebook API's
arguments.

The window checks (`timewindow`) and the coverage notes of the analyses (`analysis.run.Coverage`) are
shared by `flowscope analyze` and `flowscope.analyze`, and each says what to type next ("use --since
2026-11-17 --until 2026-11-20"). A Python call has no --since to pass, so the caller says which words
its reader uses and the message is built in them. (The notebook API used to rewrite the commands'
messages afterwards with regular expressions: a message reworded in one place slipped past them.)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """The words of one kind of caller: `CLI` (`--since 7d`) or `PYTHON` (`since='7d'`)."""

    flags: bool
    """True: command-line flags; False: keyword arguments of a Python call."""

    def options(self, *pairs: tuple[str, object]) -> str:
        """Options to pass, in order: "--since 2026-11-17 --until 2026-11-20" or
        "since='2026-11-17', until='2026-11-20'"."""
        if self.flags:
            return " ".join(f"--{name} {value}" for name, value in pairs)
        return ", ".join(f"{name}={str(value)!r}" for name, value in pairs)

    def selection(self, name: str, values: Sequence[str]) -> str:
        """A filter and the values it selects: "--cloud aws, azure", or as a call writes it: "cloud='aws'",
        "cloud=['aws', 'azure']" ("cloud=aws, azure and workflow=..." read as neither Python nor one list)."""
        if self.flags:
            return f"--{name} {', '.join(values)}"
        return f"{name}={str(values[0])!r}" if len(values) == 1 else f"{name}={[str(v) for v in values]!r}"

    def name(self, name: str) -> str:
        """An option as written: "--cloud" or "cloud"."""
        return f"--{name}" if self.flags else name

    def empty_filter(self, name: str) -> str:
        """A filter given an empty value (a shell variable that is not set): it named nothing, and was read
        as a typo'd name ("unknown workflow ''")."""
        unset = self.unset_variable(name) if self.flags else ""
        return f"{self.name(name)} is empty{unset}: name one, or {self.omit(name)} for all"

    def omit(self, name: str) -> str:
        """How to take an option's default: "leave --since out" or "pass since=None"."""
        return f"leave --{name} out" if self.flags else f"pass {name}=None"

    def unset_variable(self, name: str) -> str:
        """Why an option may be blank: a shell variable that is not set, in the flag or in the environment."""
        return f' (an unset variable in --{name} "$VAR"?)' if self.flags else " (an unset environment variable?)"


CLI = Dialect(flags=True)
PYTHON = Dialect(flags=False)
