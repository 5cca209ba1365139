"""The mail transport: a yagmail login, and an smtplib session that sends pre-stuffed DATA as is.

An edition's messages are dot-stuffed once per edition (`DotStuffed`), so sending does not
scan every 135 KB message again for lines that start with ".". Neither library offers that, so
this module relies on behaviour they do not document, pinned by tests/test_mail_transport.py
against a real SMTP server (and yagmail bounded to the tested 0.16 in pyproject.toml):

- smtplib: `SMTP.sendmail` hands a message that is not `str` to `self.data()` unchanged, sized
  with `len()` for SIZE=; `SMTP.data` is `putcmd("data")`, `getreply()`, `send()` of the
  stuffed body and ".", and `getreply()` again: `_Session.data` does the same minus the stuffing.
- yagmail: `login()` opens its session as `self.connection(host, port, **kwargs)` and keeps it
  as `.smtp`; `close()` says QUIT, and so does the client when it is collected (a MailSession
  keeps it for as long as the session is used). yagmail's own `send()` reconnects on every
  call, rewrites bodies and hides failures, so it only connects and logs in (SSL, STARTTLS or
  plain; password, keyring or Gmail OAuth2).
"""

from __future__ import annotations

import re
import smtplib
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any

import yagmail

from briefing.config import SmtpSettings

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

END_OF_DATA = b".\r\n"
_LINE_START_DOT = re.compile(rb"^\.", re.MULTILINE)

# A server's reply: its code and its text.
Reply = tuple[int, bytes]


@dataclass(frozen=True)
class DotStuffed:
    """Message data as DATA sends it: CRLF line ends, a "." added to every line that starts
    with one (RFC 5321 4.5.2; the server takes it off again), and the terminating ".\r\n".

    Built in one piece, so sending copies nothing. Its length, which smtplib declares as SIZE,
    is the stuffed data's without the final ".": a byte over the message's per line that
    starts with "." (RFC 1870 counts the message without them; harmless short of the limit).
    """

    framed: bytes

    def __post_init__(self) -> None:
        if not self.framed.endswith(b"\r\n.\r\n"):
            raise ValueError("DotStuffed data must end with CRLF . CRLF")

    def __len__(self) -> int:
        return len(self.framed) - len(END_OF_DATA)


def dot_stuff(data: bytes) -> bytes:
    """`data` (CRLF line ends) with a "." added to each line that starts with one."""
    return _LINE_START_DOT.sub(b"..", data)


class _Session(smtplib.SMTP):
    """Keeps the server's reply to the message data ('250 2.0.0 queued as …') for the ledger,
    and sends `DotStuffed` data without stuffing it again (what smtplib's `data` does else)."""

    last_data_reply: Reply | None = None
    # Called once the body of DotStuffed data is out, before its final ".".
    before_end: Callable[[], None] | None = None

    def data(self, msg: ReadableBuffer | str | DotStuffed) -> Reply:
        if isinstance(msg, DotStuffed):
            self.last_data_reply = self._data_as_is(msg)
        else:
            self.last_data_reply = super().data(msg)
        return self.last_data_reply

    def _data_as_is(self, msg: DotStuffed) -> Reply:
        self.putcmd("data")
        code, reply = self.getreply()
        if code != 354:
            raise smtplib.SMTPDataError(code, reply)
        if self.before_end is None:
            self.send(msg.framed)
            return self.getreply()
        framed = memoryview(msg.framed)
        self.send(framed[: -len(END_OF_DATA)])
        try:
            self.before_end()
        except BaseException:
            self.close()  # mid-DATA: drop the connection, so the server discards the message
            raise
        self.send(framed[-len(END_OF_DATA) :])
        return self.getreply()


class _SslSession(_Session, smtplib.SMTP_SSL):
    pass


class _Login(yagmail.SMTP):
    """yagmail's login, on session classes that send DotStuffed data and keep the reply."""

    @property
    def connection(self) -> type[_Session]:
        return _SslSession if self.ssl else _Session


class MailSession:
    """One logged-in SMTP session. Its methods raise smtplib's errors as smtplib does."""

    def __init__(self, login: _Login) -> None:
        self._login = login  # kept: yagmail says QUIT on the session when it is collected
        self._smtp: _Session = login.smtp

    def supports(self, extension: str) -> bool:
        """Whether the server offered an ESMTP extension ("smtputf8", "size")."""
        return self._smtp.has_extn(extension)

    def send_stuffed(
        self,
        sender: str,
        recipient: str,
        data: DotStuffed,
        mail_options: Sequence[str] = (),
        *,
        before_end: Callable[[], None] | None = None,
    ) -> Reply:
        """Send one message as it is; the server's reply to its data.

        `before_end` runs while the server reads the body, before the final "." commits it; if
        it raises, the connection is dropped (the server discards the message) and it goes on.
        """
        self._smtp.before_end = before_end
        self._smtp.last_data_reply = None
        try:
            # smtplib is typed for str or bytes; it hands any other message to data() as is.
            self._smtp.sendmail(sender, [recipient], data, mail_options)  # type: ignore[arg-type]
        finally:
            self._smtp.before_end = None
        return self._smtp.last_data_reply or (250, b"")

    def send_email(self, message: EmailMessage, sender: str, recipient: str) -> Reply:
        """Send a message smtplib flattens and stuffs itself; the server's reply to its data."""
        self._smtp.last_data_reply = None
        self._smtp.send_message(message, from_addr=sender, to_addrs=[recipient])
        return self._smtp.last_data_reply or (250, b"")

    def quit(self) -> None:
        """Say QUIT and close (errors are yagmail's: OSError or SMTPException)."""
        self._login.close()

    def abort(self) -> None:
        """Drop the connection without QUIT, which mid-transaction could be read as text."""
        self._smtp.close()


def login(smtp: SmtpSettings, password: str | None) -> MailSession:
    """Connect and log in (`password` None: no login, unless OAuth2 is configured).

    Raises smtplib.SMTPAuthenticationError when the login is refused, OSError or
    smtplib.SMTPException when the server cannot be reached or talked to.
    """
    client = _login_client(smtp, password)
    try:
        client.login()
        client.smtp.ehlo_or_helo_if_needed()  # the server's extensions (SMTPUTF8) known
    except BaseException:
        client.close()
        raise
    # Commands and the final "." go out at once, not held back for the server's ACK.
    client.smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return MailSession(client)


def _login_client(smtp: SmtpSettings, password: str | None) -> _Login:
    context = ssl.create_default_context()
    options: dict[str, Any] = {"timeout": smtp.timeout}
    if smtp.security == "ssl":
        options["context"] = context
    starttls = {"context": context} if smtp.security == "starttls" else False
    oauth = smtp.oauth2_file is not None
    user = smtp.user or smtp.from_address
    client = _Login(
        # As {user: alias}: yagmail appends '@gmail.com' to a plain string without '@'.
        user={user: user},
        password=None if oauth else password,
        host=smtp.host,
        port=smtp.port,
        smtp_ssl=smtp.security == "ssl",
        smtp_starttls=True if oauth and smtp.security == "starttls" else starttls,
        smtp_skip_login=not (smtp.user or oauth),
        oauth2_file=str(smtp.oauth2_file) if oauth else None,
        soft_email_validation=False,
        **options,
    )
    client.set_logging(None)
    return client
