"""One logged-in SMTP connection, reused for many messages, and what its errors mean.

The session itself (login, and sending an edition's pre-stuffed messages as they are) is the
mail transport's, in `transport.py`; here are the settings it logs in with and the verdicts.
"""

from __future__ import annotations

import json
import logging
import re
import smtplib
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from briefing.config import SmtpSettings
from briefing.deliver import transport
from briefing.deliver.transport import DotStuffed
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


class SmtpFatalError(BriefingError):
    """The server refuses us, not a recipient (login, sender or relaying refused): stop sending."""


# What became of one message (SendOutcome.status):
SENT = "sent"  # accepted by the server
BOUNCED = "bounced"  # that mailbox is refused for good (or refused while others were accepted)
RETRY = "retry"  # a temporary refusal for this recipient (4xx): tried again later
REFUSED = "refused"  # a 5xx that may be about us rather than them (policy, relay): judged by run
FAILED = "failed"  # cannot be sent to this address as things stand, and is not their fault
REQUEUE = "requeue"  # the session failed (421, dropped): no answer about the recipient at all


@dataclass(frozen=True)
class SendOutcome:
    """What became of one message (a status above) and the server's reply that says so."""

    status: str
    response: str
    reconnect: bool = False
    bad_mailbox: bool = False


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


class Connection:
    """A lazily opened, reusable SMTP session; `send()` classifies what the server answered."""

    def __init__(self, smtp: SmtpSettings) -> None:
        self.settings = smtp
        self._session: transport.MailSession | None = None

    @property
    def is_open(self) -> bool:
        return self._session is not None

    def open(self) -> transport.MailSession:
        """Connect and log in. Raises SmtpFatalError when refused, OSError/SMTPException else."""
        self.close()
        password = None if self.settings.oauth2_file is not None else password_for(self.settings)
        try:
            self._session = transport.login(self.settings, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise SmtpFatalError(
                f"{describe(self.settings)}: login refused: {exc.smtp_code} {_text(exc.smtp_error)}"
            ) from None
        log.info("connected to %s", describe(self.settings))
        return self._session

    def close(self) -> None:
        if self._session is not None:
            session, self._session = self._session, None
            try:
                session.quit()
            except (OSError, smtplib.SMTPException):
                log.debug("closing %s failed", describe(self.settings), exc_info=True)

    def send(
        self,
        message: EmailMessage | DotStuffed,
        sender: str,
        recipient: str,
        *,
        before_end: Callable[[], None] | None = None,
    ) -> SendOutcome:
        """Hand one message over; the outcome says whether the server accepted it.

        `before_end` (DotStuffed only) runs while the server reads the body, before the final
        "." commits it; if it raises, the connection is dropped and the message abandoned.
        """
        session = self._session or self.open()
        try:
            if isinstance(message, DotStuffed):
                options = () if (sender + recipient).isascii() else UTF8_OPTIONS
                code, reply = session.send_stuffed(
                    sender, recipient, message, options, before_end=before_end
                )
            else:
                code, reply = session.send_email(message, sender, recipient)
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
            outcome = SendOutcome(REQUEUE, what, reconnect=True)
        except smtplib.SMTPDataError as exc:
            outcome = _answer(exc.smtp_code, exc.smtp_error, "message refused", REFUSED)
        except smtplib.SMTPNotSupportedError as exc:
            outcome = SendOutcome(FAILED, f"not supported by the server: {exc}")
        except smtplib.SMTPResponseException as exc:
            outcome = _answer(exc.smtp_code, exc.smtp_error, "server answered", REFUSED)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            outcome = SendOutcome(REQUEUE, f"connection lost: {exc or type(exc).__name__}", True)
        except BaseException:
            # Interrupted mid-transaction (or `before_end` failed): the session's state is
            # unknown, so drop it without QUIT, which the server could take as message text.
            session.abort()
            self.close()
            raise
        else:
            outcome = SendOutcome(SENT, f"{code} {_text(reply)}".strip())
        if outcome.reconnect:
            self.close()  # smtplib dropped the socket (421) or it broke: start afresh
        return outcome

    @property
    def smtputf8(self) -> bool:
        """Whether the open session takes addresses beyond ASCII (RFC 6531)."""
        return self._session is not None and self._session.supports("smtputf8")


def _reply(what: str, code: int, reply: bytes | str) -> str:
    return f"{what}: {code} {_text(reply)}"


def _answer(code: int, reply: bytes | str, what: str, permanent: str) -> SendOutcome:
    """421 ends the session (no verdict on the recipient); 5xx is `permanent`; else retry."""
    if code == 421:
        return SendOutcome(REQUEUE, _reply(what, code, reply), reconnect=True)
    if code == 530:
        raise SmtpFatalError(f"the server requires a login: {_reply(what, code, reply)}")
    return SendOutcome(permanent if 500 <= code < 600 else RETRY, _reply(what, code, reply))


def _recipient_refused(code: int, reply: bytes | str) -> SendOutcome:
    """A mailbox rejection (5.1.x, or 550/551/553 without an enhanced code) bounces; another
    5xx (5.7.x policy, 554 relay denied) is `refused`: the run tells one from many."""
    outcome = _answer(code, reply, "recipient refused", REFUSED)
    if outcome.status != REFUSED:
        return outcome
    enhanced = _ENHANCED.match(_text(reply))
    if (enhanced.group(1) == "1") if enhanced else code in MAILBOX_CODES:
        return SendOutcome(BOUNCED, outcome.response, bad_mailbox=True)
    return outcome


def _text(reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    return " ".join(text.split())
