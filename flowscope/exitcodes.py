"""Process exit codes of every `flowscope` command, defined once (cron, CI and systemd read them).

| code | meaning |
|---|---|
| 0 | healthy: the command did what it was asked and found nothing at or above `--fail-on` |
| 1 | findings at or above `--fail-on` |
| 2 | usage or configuration error: a bad flag, a typo'd filter, a path that is not a store (or an
|   | empty --store), a damaged store (a file of it missing or unreadable, named), bad input |
| 3 | no data: the store or the window holds nothing, an import read nothing usable, the last
|   | collection failed, or the data ends well before the window does ("no data" is not healthy) |
| 4 | `run`: a notification could not be delivered, after retries, or a target's variable is unset |
|   | or its webhook variable holds no http(s) address |
|   | (a report file that cannot be written is 2) |
| 5 | a bug: an error flowscope did not foresee, said in one line with the file holding its traceback |
| 6 | `report`, `run`: the findings history (or what a notification told) could not be written to
|   | the store: the report is written and the messages say only what changed against the stored history, but |
|   | the next run tells this run's new findings again |

A failed delivery (a report or notification that could not be sent) or history write never hides the
findings: the code still says what was found (1 and 3 win over 4, and 4 over 6: a message that did
not go out outranks one that may go out twice).

Outside the table, as shells report signals: 130 when interrupted (Ctrl-C), 141 when the reader of
the output stopped early (`flowscope analyze | head -1`; Click would exit 1, the findings' code).
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FINDINGS = 1
    USAGE = 2
    NO_DATA = 3
    DELIVERY_FAILED = 4
    INTERNAL = 5
    HISTORY_NOT_RECORDED = 6


def exit_code_table() -> str:
    """The documented table, for `--help` texts."""
    return ("0 healthy; 1 findings at or above --fail-on; 2 usage or configuration error; "
            "3 no data, collection failed or data ending early; 4 delivery failed; 5 a bug; "
            "6 findings history not recorded")
