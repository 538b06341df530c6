"""What the report tests share: small deterministic stores (tests/ui/helpers.py's rows), the same rows
with hostile names, a loopback HTTP receiver for webhooks and a loopback SMTP server with STARTTLS."""

from __future__ import annotations

import datetime as dt
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from flowscope.model import UTC, Batch, C
from flowscope.store import Store
from tests.ui.helpers import build

END = dt.datetime(2026, 11, 20, tzinfo=UTC)
"""Every store here ends at this hour; reports use --until END (or now=END) so windows are fixed."""

HOSTILE = {
    "orders": '<script>window.__pwned = "workflow"</script>orders',
    "ChargeCard": '<img src=x onerror="window.__pwned = \'step\'">ChargeCard',
    "invoices": '=HYPERLINK("http://evil.example/x","invoices")',
    "Get_invoice": "[click me](http://evil.example/y) <!channel> Get_invoice",
    "etl": "<!channel> @here *etl* </style><b>etl</b>",
}
"""Names an attacker controls in their own account: HTML, a spreadsheet formula, Markdown links and
Slack mentions."""
TERMINAL_TRAP = "\x1b]8;;http://evil.example/z\x07open\x1b]8;;\x07\x1b[31m\x07\x00\x0b"
"""What an error text can carry for a terminal (a hidden link, a colour, a bell) and for Excel (NUL and
vertical tab, which openpyxl refuses): put before every step error."""


def hostile(batch: Batch) -> Batch:
    """The same rows with the workflow and step names above (and one in an error text)."""
    for row in batch.workflows:
        row[C.name] = HOSTILE.get(row[C.name], row[C.name])
    for row in batch.executions:
        row[C.workflow_name] = HOSTILE.get(row[C.workflow_name], row[C.workflow_name])
    for table in (batch.steps, batch.usage):
        for row in table:
            if row.get(C.name) in HOSTILE:
                row[C.name] = HOSTILE[row[C.name]]
    for row in batch.steps:
        if row.get(C.error):
            row[C.error] = '<script>window.__pwned = "error"</script>' + TERMINAL_TRAP + str(row[C.error])
    return batch


def make_store(path: Path, *, executions: int = 300, days: int = 14, names: bool = False,
               failed_scope: bool = True) -> Store:
    batch = build(executions, end=END, days=days, failed_scope=failed_scope)
    store = Store(path)
    store.write(hostile(batch) if names else batch)
    return store


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    """A loopback HTTP server recording every POST; answers with `statuses` in turn (then 200)."""

    statuses: list[int] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    error_headers: dict[str, str] = field(default_factory=dict)   # sent with every answer but 2xx
    error_body: bytes = b"error"                                     # the body of every answer but 2xx
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw
                receiver.requests.append(Received(self.path, dict(self.headers), body))
                code = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(code)
                self.send_header("Content-Type", "text/plain")
                for name, value in (receiver.error_headers.items() if code >= 300 else ()):
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(b"ok" if code < 300 else receiver.error_body)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key (the SMTP server's STARTTLS identity; the client trusts it)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path
