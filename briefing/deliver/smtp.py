"""One logged-in SMTP connection over yagmail, reused for many messages, and what its errors mean.

yagmail 0.16's own `send()` reconnects on every call, rewrites bodies and hides failures, so we
only let it connect and log in (SSL, STARTTLS or plain; password, keyring or Gmail OAuth2) and
hand prebuilt messages to its `smtplib` connection ourselves. An edition's messages come as
`DotStuffed` bytes, made transparent for DATA once per edition, so `data()` sends them as they
are instead of scanning every 135 KB message again for lines that start with ".".
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import yagmail

from briefing.config import SmtpSettings
from briefing.errors import BriefingError, ConfigError

log = logging.getLogger(__name__)

KEYRING_SERVICES = ("briefing", "yagmail")
OAUTH2_KEYS = ("google_client_id", "google_client_secret", "google_refresh_token")
# Replies to RCPT that say the mailbox itself is bad (unknown, moved, malformed) when the
# server gives no enhanced code, as opposed to policy refusals such as 554 relay denied,
# which would otherwise unsubscribe everyone. With an enhanced code, only 5.1.x does.
MAILBOX_CODES = (550, 551, 553)
# Mail options for an address beyond ASCII, as smtplib's send_message would use them.
UTF8_OPTIONS = ("SMTPUTF8", "BODY=8BITMIME")
# An RFC 3463 enhanced status code at the start of a reply; group 1 is its subject
# (1 addressing, 7 security or policy).
_ENHANCED = re.compile(r"5\.(\d{1,3})\.\d{1,3}\b")
_LINE_START_DOT = re.compile(rb"^\.", re.MULTILINE)
END_OF_DATA = b".\r\n"


@dataclass(frozen=True)
class DotStuffed:
    """Message data as DATA sends it: CRLF line ends, a "." added to every line that starts
    with one (RFC 5321 4.5.2; the server takes it off again), and the terminating ".\r\n".

    Built in one piece, so sending copies nothing; its length is the message's (for SIZE).
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


class SmtpFatalError(BriefingError):
    """The server refuses us, not a recipient (login, sender or relaying refused): stop sending."""


# What became of one message (Outcome.status):
SENT = "sent"  # accepted by the server
BOUNCED = "bounced"  # that mailbox is refused for good (or refused while others were accepted)
RETRY = "retry"  # a temporary refusal for this recipient (4xx): tried again later
REFUSED = "refused"  # a 5xx that may be about us rather than them (policy, relay): judged by run
FAILED = "failed"  # cannot be sent to this address as things stand, and is not their fault
REQUEUE = "requeue"  # the session failed (421, dropped): no answer about the recipient at all


@dataclass(frozen=True)
class Outcome:
    """What became of one message (a status above) and the server's reply that says so."""

    status: str
    response: str
    reconnect: bool = False
    bad_mailbox: bool = False


class _ReplyRecording:
    """Keeps the server's reply to the message data ('250 2.0.0 queued as …') for the ledger,
    and sends `DotStuffed` data without stuffing it again (what smtplib's `data` does else)."""

    last_data_reply: tuple[int, bytes] | None = None
    # Called once the body of DotStuffed data is out, before its final "." (see Connection.send).
    before_end: Callable[[], None] | None = None

    def data(self, msg):
        if isinstance(msg, DotStuffed):
            self.last_data_reply = self._data_as_is(msg)
        else:
            self.last_data_reply = super().data(msg)
        return self.last_data_reply

    def _data_as_is(self, msg: DotStuffed) -> tuple[int, bytes]:
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


class _SMTP(_ReplyRecording, smtplib.SMTP):
    pass


class _SMTP_SSL(_ReplyRecording, smtplib.SMTP_SSL):
    pass


class _Yagmail(yagmail.SMTP):
    """yagmail's login, on connection classes that remember the last reply."""

    @property
    def connection(self):
        return _SMTP_SSL if self.ssl else _SMTP


def describe(smtp: SmtpSettings) -> str:
    return f"smtp {smtp.host}:{smtp.port}"


def password_for(smtp: SmtpSettings) -> str | None:
    """The login password from BRIEFING_SMTP_PASSWORD or the keyring; never from a file."""
    if smtp.password is not None:
        return smtp.password.get_secret_value()
    if smtp.use_keyring and smtp.user:
        import keyring

        for service in KEYRING_SERVICES:
            found = keyring.get_password(service, smtp.user)
            if found:
                return found
        raise ConfigError(
            f"smtp.use_keyring: no password for {smtp.user} in the keyring "
            f"(store one with: keyring set briefing {smtp.user})"
        )
    return None


def check_login_settings(smtp: SmtpSettings) -> None:
    """Refuse settings that would make yagmail prompt on the terminal or skip certificate checks."""
    if smtp.oauth2_file is not None:
        _check_oauth2_file(smtp.oauth2_file)
        if smtp.security != "ssl":
            raise ConfigError(
                "smtp.security: OAuth2 login needs 'ssl' (yagmail's OAuth2 STARTTLS "
                "does not verify the server's certificate)"
            )
    elif smtp.user and password_for(smtp) is None:
        raise ConfigError(
            "smtp.user is set but there is no password: set BRIEFING_SMTP_PASSWORD "
            "or smtp.use_keyring = true"
        )


def _check_oauth2_file(path: Path) -> None:
    """A token file yagmail can use as is; a client-secrets file would start a terminal dialog."""
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigError(f"smtp.oauth2_file: cannot read {path}: {exc}") from None
    missing = [key for key in OAUTH2_KEYS if not isinstance(info, dict) or key not in info]
    if missing:
        raise ConfigError(
            f"smtp.oauth2_file: {path} lacks {', '.join(missing)}; authorise once with "
            "yagmail interactively to create the token file"
        )


def _client(smtp: SmtpSettings) -> _Yagmail:
    context = ssl.create_default_context()
    options: dict = {"timeout": smtp.timeout}
    if smtp.security == "ssl":
        options["context"] = context
    starttls = {"context": context} if smtp.security == "starttls" else False
    oauth = smtp.oauth2_file is not None
    login = smtp.user or smtp.from_address
    client = _Yagmail(
        # As {login: alias}: yagmail appends '@gmail.com' to a plain string without '@'.
        user={login: login},
        password=None if oauth else password_for(smtp),
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


class Connection:
    """A lazily opened, reusable SMTP session; `send()` classifies what the server answered."""

    def __init__(self, smtp: SmtpSettings) -> None:
        self.settings = smtp
        self._client: _Yagmail | None = None

    @property
    def is_open(self) -> bool:
        return self._client is not None

    def open(self) -> None:
        """Connect and log in. Raises SmtpFatalError when refused, OSError/SMTPException else."""
        self.close()
        client = _client(self.settings)
        try:
            client.login()
            client.smtp.ehlo_or_helo_if_needed()  # the server's extensions (SMTPUTF8) known
        except smtplib.SMTPAuthenticationError as exc:
            client.close()
            raise SmtpFatalError(
                f"{describe(self.settings)}: login refused: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        except BaseException:
            client.close()
            raise
        # Commands and the final "." go out at once, not held back for the server's ACK.
        client.smtp.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._client = client
        log.info("connected to %s", describe(self.settings))

    def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            try:
                client.close()
            except (OSError, smtplib.SMTPException):
                log.debug("closing %s failed", describe(self.settings), exc_info=True)

    def send(
        self,
        message: EmailMessage | DotStuffed,
        sender: str,
        recipient: str,
        *,
        before_end: Callable[[], None] | None = None,
    ) -> Outcome:
        """Hand one message over; the outcome says whether the server accepted it.

        `before_end` (DotStuffed only) runs while the server reads the body, before the final
        "." commits it; if it raises, the connection is dropped and the message abandoned.
        """
        if self._client is None:
            self.open()
        connection = self._client.smtp
        try:
            if isinstance(message, DotStuffed):
                options = () if (sender + recipient).isascii() else UTF8_OPTIONS
                connection.before_end = before_end
                connection.sendmail(sender, [recipient], message, options)
            else:
                connection.send_message(message, from_addr=sender, to_addrs=[recipient])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            outcome = _recipient_refused(code, reply)
        except smtplib.SMTPSenderRefused as exc:
            if exc.smtp_code >= 500:
                raise SmtpFatalError(
                    f"{describe(self.settings)}: sender {sender} refused: "
                    f"{exc.smtp_code} {_text(exc.smtp_error)}"
                ) from None
            # Said of the session, not of this recipient: try again on a fresh one.
            what = _reply("sender deferred", exc.smtp_code, exc.smtp_error)
            outcome = Outcome(REQUEUE, what, reconnect=True)
        except smtplib.SMTPDataError as exc:
            outcome = _answer(exc.smtp_code, exc.smtp_error, "message refused", REFUSED)
        except smtplib.SMTPNotSupportedError as exc:
            outcome = Outcome(FAILED, f"not supported by the server: {exc}")
        except smtplib.SMTPResponseException as exc:
            outcome = _answer(exc.smtp_code, exc.smtp_error, "server answered", REFUSED)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            outcome = Outcome(REQUEUE, f"connection lost: {exc or type(exc).__name__}", True)
        except BaseException:
            # Interrupted mid-transaction (or `before_end` failed): the session's state is
            # unknown, so drop it without QUIT, which the server could take as message text.
            connection.close()
            self.close()
            raise
        else:
            code, reply = connection.last_data_reply or (250, b"")
            outcome = Outcome(SENT, f"{code} {_text(reply)}".strip())
        finally:
            connection.before_end = None
        if outcome.reconnect:
            self.close()  # smtplib dropped the socket (421) or it broke: start afresh
        return outcome

    @property
    def smtputf8(self) -> bool:
        """Whether the open session takes addresses beyond ASCII (RFC 6531)."""
        return self._client is not None and self._client.smtp.has_extn("smtputf8")


def _reply(what: str, code: int, reply: bytes | str) -> str:
    return f"{what}: {code} {_text(reply)}"


def _answer(code: int, reply: bytes | str, what: str, permanent: str) -> Outcome:
    """421 ends the session (no verdict on the recipient); 5xx is `permanent`; else retry."""
    if code == 421:
        return Outcome(REQUEUE, _reply(what, code, reply), reconnect=True)
    if code == 530:
        raise SmtpFatalError(f"the server requires a login: {_reply(what, code, reply)}")
    return Outcome(permanent if 500 <= code < 600 else RETRY, _reply(what, code, reply))


def _recipient_refused(code: int, reply: bytes | str) -> Outcome:
    """A mailbox rejection (5.1.x, or 550/551/553 without an enhanced code) bounces; another
    5xx (5.7.x policy, 554 relay denied) is `refused`: the run tells one from many."""
    outcome = _answer(code, reply, "recipient refused", REFUSED)
    if outcome.status != REFUSED:
        return outcome
    enhanced = _ENHANCED.match(_text(reply))
    if (enhanced.group(1) == "1") if enhanced else code in MAILBOX_CODES:
        return Outcome(BOUNCED, outcome.response, bad_mailbox=True)
    return outcome


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())
