"""Contract tests: the private smtplib and yagmail behaviour the mail transport relies on.

`briefing/deliver/transport.py` sends an edition's messages dot-stuffed once per edition,
through smtplib's `sendmail` into its own `data()`, on sessions that yagmail's login opens from
its `connection` property. Neither library documents that; these tests fail, against a real
SMTP server on loopback, the day an upgrade changes it.
"""

from __future__ import annotations

import gc
import smtplib
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
import yagmail
from aiosmtpd.controller import Controller

from briefing.deliver import transport
from briefing.deliver.transport import END_OF_DATA, DotStuffed, dot_stuff
from tests.deliver_fixtures import SENDER, smtp_settings
from tests.smtp_fixtures import Mailbox, free_port, make_certificates

READER = "reader@example.org"
# Lines smtplib would stuff: a lone "." ends DATA, a leading "." is taken off by the server.
DOT_LINES = [".", "..", ". leading", "..two", "." * 80]


@dataclass
class OptionsMailbox(Mailbox):
    """A Mailbox that also keeps every MAIL command's parameters (SIZE=…, SMTPUTF8)."""

    mail_options: list[list[str]] = field(default_factory=list)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_options.append(list(mail_options))
        return await super().handle_MAIL(server, session, envelope, address, mail_options)


@pytest.fixture
def mailbox():
    return OptionsMailbox()


def message_bytes() -> bytes:
    """A message with CRLF line ends and lines that start with "."."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = SENDER
    message["To"] = READER
    message["Subject"] = "dots"
    message.set_content("\n".join(DOT_LINES) + "\n")
    return message.as_bytes()


def stuffed(data: bytes) -> DotStuffed:
    return DotStuffed(dot_stuff(data) + END_OF_DATA)


def body_lines(data: bytes) -> list[str]:
    return message_from_bytes(data, policy=policy.default).get_content().splitlines()


def test_stuffed_data_arrives_as_smtplib_itself_would_send_it(server, mailbox):
    data = message_bytes()
    plain = smtplib.SMTP("127.0.0.1", server.port, timeout=10)
    plain.sendmail(SENDER, [READER], data)
    plain.quit()

    session = transport.login(smtp_settings(server.port), None)
    session.send_stuffed(SENDER, READER, stuffed(data))
    session.quit()

    by_smtplib, by_transport = (item.data for item in mailbox.received)
    assert by_transport == by_smtplib
    assert body_lines(by_transport) == DOT_LINES


def test_sendmail_declares_the_size_len_gives_without_the_final_dot(server, mailbox):
    data = stuffed(message_bytes())
    session = transport.login(smtp_settings(server.port), None)
    assert session.supports("size")

    session.send_stuffed(SENDER, READER, data)
    session.quit()

    assert mailbox.mail_options[0] == [f"SIZE={len(data)}"]
    assert len(data) == len(data.framed) - len(END_OF_DATA)


def test_the_servers_reply_to_the_data_is_returned_for_either_kind_of_message(server):
    session = transport.login(smtp_settings(server.port), None)
    as_is = session.send_stuffed(SENDER, READER, stuffed(message_bytes()))
    flattened = session.send_email(
        message_from_bytes(message_bytes(), policy=policy.default), SENDER, READER
    )
    session.quit()

    assert as_is == (250, b"2.0.0 Ok: queued as Q1")
    assert flattened == (250, b"2.0.0 Ok: queued as Q2")


def test_a_message_whose_before_end_fails_is_never_committed(server, mailbox):
    class Interrupted(Exception):
        pass

    def fail() -> None:
        raise Interrupted

    session = transport.login(smtp_settings(server.port), None)
    with pytest.raises(Interrupted):
        session.send_stuffed(
            SENDER, READER, stuffed(b"Subject: first\r\n\r\nfirst\r\n"), before_end=fail
        )
    session.quit()  # the connection is already dropped: nothing to say QUIT on

    again = transport.login(smtp_settings(server.port), None)
    again.send_stuffed(SENDER, READER, stuffed(b"Subject: second\r\n\r\nsecond\r\n"))
    again.quit()

    assert [message_from_bytes(item.data)["Subject"] for item in mailbox.received] == ["second"]


def test_before_end_runs_with_the_body_out_and_the_final_dot_held_back(server, mailbox):
    seen: list[int] = []
    session = transport.login(smtp_settings(server.port), None)

    session.send_stuffed(
        SENDER,
        READER,
        stuffed(message_bytes()),
        before_end=lambda: seen.append(len(mailbox.received)),
    )
    session.quit()

    assert seen == [0]
    assert body_lines(mailbox.received[0].data) == DOT_LINES


def test_an_ssl_session_sends_stuffed_data_as_is_too(tmp_path, monkeypatch, mailbox):
    ca_file, context = make_certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))  # read when the client makes its context
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    try:
        session = transport.login(smtp_settings(port, security="ssl"), None)
        session.send_stuffed(SENDER, READER, stuffed(message_bytes()))
        session.quit()
    finally:
        controller.stop()

    assert body_lines(mailbox.received[0].data) == DOT_LINES


def plain_yagmail(cls: type[yagmail.SMTP], port: int) -> yagmail.SMTP:
    client = cls(
        user={SENDER: SENDER},
        host="127.0.0.1",
        port=port,
        smtp_ssl=False,
        smtp_starttls=False,
        smtp_skip_login=True,
        soft_email_validation=False,
        timeout=10,
    )
    client.set_logging(None)
    return client


def test_yagmail_logs_in_on_the_class_its_connection_property_names(server):
    class Named(smtplib.SMTP):
        pass

    class Login(yagmail.SMTP):
        @property
        def connection(self):
            return Named

    client = plain_yagmail(Login, server.port)
    client.login()

    assert type(client.smtp) is Named
    assert client.smtp.noop()[0] == 250
    client.close()
    assert client.smtp.sock is None  # close() said QUIT and closed the socket


def test_yagmail_quits_its_session_when_it_is_collected(server):
    """Why a MailSession keeps its yagmail client: dropping it would end the session."""
    client = plain_yagmail(yagmail.SMTP, server.port)
    client.login()
    session = client.smtp

    del client
    gc.collect()

    assert session.sock is None
    with pytest.raises(smtplib.SMTPServerDisconnected):
        session.noop()


def test_a_session_stays_open_while_its_mail_session_is_kept(server, mailbox):
    session = transport.login(smtp_settings(server.port), None)
    gc.collect()

    session.send_stuffed(SENDER, READER, stuffed(message_bytes()))
    session.quit()

    assert len(mailbox.received) == 1
