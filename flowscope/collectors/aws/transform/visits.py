"""What the history builder tracks while it reads one execution: visits of states, the branches
(root, Parallel branch, Map iteration) they run in, and the forks Parallel states leave."""

from __future__ import annotations

import datetime as dt
from typing import Any


class Scope:
    """A branch of execution: the root, one Parallel branch, or one Map iteration."""

    __slots__ = ("parent", "iteration", "last")

    def __init__(self, parent: Visit | None, iteration: int | None) -> None:
        self.parent = parent
        self.iteration = iteration
        self.last: Visit | None = None


class Fork:
    """Anchor left by ``ParallelStateStarted``: each state entered from it opens a new branch."""

    __slots__ = ("step",)

    def __init__(self, step: Visit) -> None:
        self.step = step


class Visit:
    """One visit of a state (one step row), with its tries."""

    __slots__ = ("key", "name", "ntype", "scope", "prev_key", "entered", "exited", "closed",
                 "fail", "error", "cause", "resource", "tries", "starts", "branches",
                 "exit_output", "aborted", "aborted_at", "unlogged")

    def __init__(self, key: str, name: str, ntype: str, scope: Scope, prev_key: str | None,
                 entered: dt.datetime | None) -> None:
        self.key = key
        self.name = name
        self.ntype = ntype
        self.scope = scope
        self.prev_key = prev_key
        self.entered = entered
        self.exited: dt.datetime | None = None
        self.closed = False          # container finished (Succeeded/Failed/Aborted)
        self.fail: str | None = None  # status of the latest failure, cleared by a later success
        self.error: Any = None
        self.cause: Any = None
        self.resource: str | None = None
        self.tries: list[list[Any]] = []   # [start, end, status, error, cause]
        self.starts = 0              # Parallel / Map (re)starts
        self.branches = 0
        self.exit_output: Any = None
        self.aborted = False
        self.aborted_at: dt.datetime | None = None
        self.unlogged = False        # known only by its failures (logging level ERROR)


Anchor = Visit | Scope | Fork | None
"""What an event id stands for once read: the visit, branch or fork later events chain from."""


def container_of(anchor: Anchor, ntype: str, name: str | None = None) -> Visit | None:
    """The open Parallel/Map (``ntype``) an event belongs to, walking up from its previous event.

    A container's own events chain from its Entered event (anchor = the step itself); a retry's
    ``*StateStarted`` and the closing events chain from the last event inside a branch (anchor =
    an inner step or scope), so walk up through enclosing scopes to the first open container.
    """
    node: Any = anchor.step if anchor.__class__ is Fork else anchor
    while node is not None:
        if node.__class__ is Visit:
            if node.ntype == ntype and not node.closed and (name is None or node.name == name):
                return node
            node = node.scope.parent
        else:  # Scope
            node = node.parent
    return None
