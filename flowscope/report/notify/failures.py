"""How one delivery attempt fails: `Transient` (retried) or `Permanent` (given up at once).

Raised by the address checks (addresses.py), the webhook POST (posting.py) and the SMTP sessions (smtp.py),
caught by the delivery (`deliver`, in the package): a module of their own, importing nothing of the
package, so each of those can raise them without an import cycle.
"""

from __future__ import annotations


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
