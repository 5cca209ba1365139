"""A real SMTP server on loopback (aiosmtpd) that can misbehave on purpose, and a test CA.

`Mailbox` records every accepted message and can: refuse chosen recipients with 550, defer
chosen recipients once with 451, drop the connection instead of answering a message, answer
slowly, call back as each message's data is in, answer one command of a stage (MAIL, RCPT or
DATA) once with a reply such as 421 (closing the connection as a real server does after a
421), and answer every command of a stage with a reply such as 554 relay denied.
`SmtpServer` runs it on 127.0.0.1 and a free port, optionally with STARTTLS (a certificate
from `make_certificates`), AUTH and SMTPUTF8 (without it, the server offers no SMTPUTF8).
"""

from __future__ import annotations

import asyncio
import datetime
import email
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes
    login: str | None

    @property
    def message(self) -> EmailMessage:
        return email.message_from_bytes(self.data, policy=policy.default)


@dataclass
class Mailbox:
    """An aiosmtpd handler with switchable faults; thread-safe record of what arrived."""

    reject: set[str] = field(default_factory=set)
    defer_once: set[str] = field(default_factory=set)
    drop_at: set[int] = field(default_factory=set)
    delay: float = 0.0
    # Called with how many messages arrived before, as each one's final "." is in.
    on_data: Callable[[int], None] | None = None
    # Stage ("MAIL", "RCPT", "DATA") → a reply given once, to the first such command.
    fail_once: dict[str, str] = field(default_factory=dict)
    # Stage → a reply given to every such command ("{address}" is filled in).
    refuse_all: dict[str, str] = field(default_factory=dict)
    received: list[Received] = field(default_factory=list)
    # Every MAIL and RCPT command seen, as ("MAIL"|"RCPT", address), in order.
    commands: list[tuple[str, str]] = field(default_factory=list)
    _data_calls: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _fault(self, server, stage: str, address: str = "") -> str | None:
        """The reply a fault mode gives to this command, if any; a 421 also ends the session."""
        with self._lock:
            reply = self.fail_once.pop(stage, None) or self.refuse_all.get(stage)
        if reply is None:
            return None
        if reply.startswith("421"):
            asyncio.get_running_loop().call_later(0.05, server.transport.close)
        return reply.format(address=address)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        with self._lock:
            self.commands.append(("MAIL", address))
        if reply := self._fault(server, "MAIL", address):
            return reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self._lock:
            self.commands.append(("RCPT", address))
        if reply := self._fault(server, "RCPT", address):
            return reply
        if address in self.reject:
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        if address in self.defer_once:
            self.defer_once.discard(address)
            return "451 4.7.1 greylisted, try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self._lock:
            self._data_calls += 1
            call = self._data_calls
        if call in self.drop_at:
            server.transport.close()
            return "421 dropped"
        if reply := self._fault(server, "DATA"):
            return reply
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.on_data is not None:
            self.on_data(len(self.received))
        with self._lock:
            login = session.auth_data.login.decode() if session.auth_data else None
            self.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.content, login)
            )
        return f"250 2.0.0 Ok: queued as Q{call}"

    def recipients_tried(self) -> list[str]:
        """Every address the server was asked to take (RCPT), accepted or not."""
        with self._lock:
            return [address for stage, address in self.commands if stage == "RCPT"]

    def addresses(self) -> list[str]:
        with self._lock:
            return [r for item in self.received for r in item.recipients]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class SmtpServer:
    """aiosmtpd on 127.0.0.1; `start()`/`stop()` may be called again to bring it back up."""

    def __init__(
        self,
        mailbox: Mailbox,
        *,
        port: int | None = None,
        tls: ssl.SSLContext | None = None,
        users: dict[str, str] | None = None,
        smtputf8: bool = False,
    ) -> None:
        self.mailbox = mailbox
        self.smtputf8 = smtputf8
        self.port = port or free_port()
        self.tls = tls
        self.users = users
        self._controller: Controller | None = None

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and self.users is not None
            and self.users.get(auth_data.login.decode()) == auth_data.password.decode()
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)

    def start(self) -> SmtpServer:
        options: dict = {"enable_SMTPUTF8": self.smtputf8}
        if self.tls is not None:
            options.update(tls_context=self.tls, require_starttls=True)
        if self.users is not None:
            options.update(authenticator=self._authenticate, auth_required=True)
        else:
            options.update(auth_require_tls=False)
        self._controller = Controller(
            self.mailbox, hostname="127.0.0.1", port=self.port, ready_timeout=10, **options
        )
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None


def make_certificates(folder: Path) -> tuple[Path, ssl.SSLContext]:
    """A test CA and a server certificate for 127.0.0.1/localhost signed by it.

    Returns the CA file (point SSL_CERT_FILE at it so clients trust the server) and the
    server's TLS context.
    """
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "briefing test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    server = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(server.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    return ca_file, context
