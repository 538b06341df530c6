"""Stores and servers for the report tests: a three-cloud store, the same with hostile names, an
empty store, and a loopback SMTP server (aiosmtpd) that requires STARTTLS and a login."""

from __future__ import annotations

import contextlib
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from flowscope.store import Store
from tests.report.helpers import make_store, self_signed

SMTP_USER, SMTP_PASSWORD = "reporter", "s3cret-from-env"


@pytest.fixture(scope="session")
def report_store(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("report-store")
    make_store(path)
    return str(path)


@pytest.fixture(scope="session")
def hostile_store(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("report-hostile")
    make_store(path, names=True)
    return str(path)


@pytest.fixture()
def empty_store(tmp_path) -> str:
    Store(tmp_path / "empty")
    return str(tmp_path / "empty")


@dataclass
class Smtp:
    port: int
    ca_file: str
    messages: list[Any] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Relay:
    port: int
    received: list[list[str]] = field(default_factory=list)
    """Each accepted message's recipients, in order."""


@contextlib.contextmanager
def relay(rcpt: Callable[[str], str | None],
          data: Callable[[list[str]], str | None] = lambda recipients: None) -> Iterator[Relay]:
    """aiosmtpd on 127.0.0.1, plain SMTP: `rcpt(address)` is the server's refusal of a recipient ("550 ...",
    "450 ..."; None takes it), `data(recipients)` its refusal of the message (None takes it)."""
    from aiosmtpd.controller import Controller

    state = Relay(port=_free_port())

    class Handler:
        async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,  # noqa: N802 - aiosmtpd's
                              rcpt_options: Any) -> str:
            refused = rcpt(address)
            if refused:
                return refused
            envelope.rcpt_tos.append(address)
            return "250 OK"

        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
            refused = data(list(envelope.rcpt_tos))
            if refused:
                return refused
            state.received.append(list(envelope.rcpt_tos))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=state.port)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()


def _smtp_server(tmp_path: Any, tls: str) -> Iterator[Smtp]:
    """aiosmtpd on 127.0.0.1 with a self-signed certificate and AUTH LOGIN/PLAIN checked: `tls` "starttls"
    (STARTTLS required before anything else) or "implicit" (TLS from the first byte, SMTPS; no STARTTLS)."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.smtp import AuthResult, LoginPassword

    cert, key = self_signed(tmp_path)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    state = Smtp(port=_free_port(), ca_file=str(cert))

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
            state.messages.append(envelope)
            return "250 OK"

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == SMTP_USER \
            and auth_data.password.decode() == SMTP_PASSWORD
        if ok:
            state.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)   # handled=False: aiosmtpd answers 535 itself

    if tls == "implicit":    # the whole connection is TLS: aiosmtpd's auth_require_tls knows STARTTLS only
        tls_options: dict[str, Any] = {"ssl_context": context, "auth_require_tls": False}
    else:
        tls_options = {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
    controller = Controller(Handler(), hostname="127.0.0.1", port=state.port, authenticator=authenticator,
                            **tls_options)
    controller.start()
    try:
        yield state
    finally:
        controller.stop()


@pytest.fixture()
def smtp_server(tmp_path):
    """aiosmtpd on 127.0.0.1: STARTTLS required before anything else, AUTH LOGIN/PLAIN checked."""
    yield from _smtp_server(tmp_path, "starttls")


@pytest.fixture()
def smtps_server(tmp_path):
    """aiosmtpd on 127.0.0.1 speaking TLS from the first byte (SMTPS, port 465's implicit TLS), AUTH
    checked; it offers no STARTTLS (a client that sends it, or speaks plain text first, fails)."""
    yield from _smtp_server(tmp_path, "implicit")
