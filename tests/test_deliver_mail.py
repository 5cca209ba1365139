"""The edition email written out once and addressed per subscriber: what arrives is exact.

Each message is the edition's prepared bytes with three headers and the subscriber's token
filled in, dot-stuffed once per edition rather than by smtplib per message; these tests check
what that could get wrong, over a real SMTP server that un-stuffs what it receives.
"""

from __future__ import annotations

import email
import re
import time
from email.headerregistry import Address
from email.policy import default

import pytest

from briefing.deliver import send_edition
from briefing.deliver.mail import EditionMail, Personalised, Recipient
from briefing.deliver.smtp import Connection
from briefing.document.page import default_template_dir
from briefing.store.deliveries import delivery_counts, list_deliveries
from briefing.store.subscribers import get_subscriber, new_token
from tests.deliver_fixtures import (
    SENDER,
    make_edition,
    people,
    smtp_settings,
    subscribe,
    token_of,
    with_smtp,
)
from tests.smtp_fixtures import SmtpServer

# Lines a naive sender would garble: a lone "." ends DATA, a leading "." is taken off.
DOT_LINES = [".", "..", ". leading dot", "..two dots", "." * 200]
OWN_HEADER = re.compile(rb"(?m)^To:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*")


def dotted_templates(folder):
    """Email templates whose text and HTML have lines starting with "." (and long ones)."""
    email = folder / "email"
    email.mkdir(parents=True)
    lines = "\n".join(DOT_LINES)
    (email / "brief.txt").write_text(f"{{{{ brief.title }}}}\n{lines}\n{{{{ unsubscribe_url }}}}\n")
    (email / "brief.html").write_text(
        f"<html><body><pre>\n{lines}\n</pre>"
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>\n'
    )
    return folder


def test_lines_starting_with_a_dot_arrive_intact(settings, store, server, mailbox, tmp_path):
    templates = dotted_templates(tmp_path / "templates")
    settings = with_smtp(settings, server.port).model_copy(update={"template_dir": templates})
    edition = make_edition(settings, store)
    subscribe(store, people(2))

    counts = send_edition(settings, store, edition.id)

    assert counts.sent == 2
    for received in mailbox.received:
        body, attachment = received.message.iter_parts()
        text, html = body.iter_parts()
        assert text.get_content().splitlines()[1:-1] == DOT_LINES
        assert "\n".join(DOT_LINES) in html.get_content().replace("\r\n", "\n")
        assert attachment.get_content().startswith(b"%PDF-")


def test_messages_differ_only_in_the_subscriber_s_own_values(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    readers = people(3)
    subscribe(store, readers, names={readers[1]: "Олена Коваленко"})

    send_edition(settings, store, edition.id)

    with store.session() as session:
        message_ids = {d.address: d.message_id for d in list_deliveries(session)}
    generic = set()
    for received in mailbox.received:
        (address,) = received.recipients
        # Soft line breaks fall in the same places for every token (all are as long).
        data = received.data.replace(b"=\r\n", b"")
        token = token_of(received.message).encode()
        assert data.count(token) == 4  # List-Unsubscribe twice, text and HTML once each
        data = data.replace(token, b"<token>")
        data = data.replace(message_ids[address].encode(), b"<message-id>")
        data = re.sub(rb"(?m)^Date: [^\r\n]*", b"Date: <now>", data)
        data = OWN_HEADER.sub(b"To: <own>", data)
        generic.add(data)
    assert len(generic) == 1
    assert sorted(mailbox.addresses()) == readers


def test_an_address_beyond_ascii_goes_with_smtputf8(settings, store, mailbox):
    server = SmtpServer(mailbox, smtputf8=True).start()
    try:
        settings = with_smtp(settings, server.port)
        edition = make_edition(settings, store)
        subscribe(store, ["олена@example.org", "ann@example.org"])
        counts = send_edition(settings, store, edition.id)
    finally:
        server.stop()

    assert counts.sent == 2
    received = {r.recipients[0]: r.data for r in mailbox.received}
    assert set(received) == {"олена@example.org", "ann@example.org"}
    # SMTPUTF8 headers are UTF-8, which the stdlib reads from text, not from bytes.
    olena = email.message_from_string(received["олена@example.org"].decode(), policy=default)
    assert olena["To"].addresses[0].addr_spec == "олена@example.org"
    assert [part.get_content_type() for part in olena.walk()] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
        "application/pdf",
    ]


def test_without_smtputf8_such_an_address_fails_unbounced_and_the_rest_still_go(
    settings, store, server, mailbox
):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    subscribe(store, ["олена@example.org", "ann@example.org"])

    counts = send_edition(settings, store, edition.id)

    assert (counts.sent, counts.failed, counts.bounced) == (1, 1, 0)
    assert mailbox.addresses() == ["ann@example.org"]


def test_a_token_is_written_over_a_placeholder_split_by_a_soft_line_break():
    placeholder, token = "0123456789abcdef", "AbCdEfGhIj-_KlMn"
    encoded = b"see 012345=\r\n6789abcdef and 0123456789abcdef."

    filled = Personalised(encoded, placeholder).fill(token, head=b"H:", tail=b"!")

    assert filled == b"H:see AbCdEf=\r\nGhIj-_KlMn and AbCdEfGhIj-_KlMn.!"
    with pytest.raises(ValueError):
        Personalised(encoded, placeholder).fill("a.b" + token[3:])


def test_the_file_form_and_the_smtp_form_hold_the_same_message(server, mailbox):
    placeholder = "0123456789abcdef" * 2
    mail = EditionMail(
        subject="Brief",
        sender=Address("Desk", addr_spec=SENDER),
        list_id="Brief <brief.briefing.test>",
        text="\n".join(DOT_LINES) + f"\nunsubscribe: {placeholder}\n",
        html=f"<p>\n.dot {placeholder}</p>",
        placeholder=placeholder,
        unsubscribe=[f"mailto:{SENDER}?subject=unsubscribe%20{placeholder}"],
        pdf=b"%PDF-1.7\n" + bytes(range(256)) * 40,
        filename="brief.pdf",
    )
    recipient = Recipient("ann@example.org", "Ann", new_token(), "e1.d1")
    letter = mail.letter(recipient)
    connection = Connection(smtp_settings(server.port))
    try:
        outcome = connection.send(mail.smtp_letter(recipient).data, SENDER, recipient.address)
    finally:
        connection.close()

    assert outcome.status == "sent"
    (received,) = mailbox.received
    date = re.compile(rb"(?m)^(Date|Message-ID): [^\r\n]*")
    assert date.sub(b"", received.data) == date.sub(b"", letter.data)
    assert recipient.token.encode() in received.data


def test_a_message_that_cannot_be_built_fails_and_the_rest_still_go(
    settings, store, server, mailbox
):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    readers = people(3)
    subscribe(store, readers)
    with store.session() as session:
        # Only a database edited by hand holds such an address: `add` and `import` refuse it.
        get_subscriber(session, email=readers[1]).email = "reader\r\n001@example.org"

    counts = send_edition(settings, store, edition.id)

    assert (counts.sent, counts.failed, counts.bounced) == (2, 1, 0)
    assert sorted(mailbox.addresses()) == [readers[0], readers[2]]
    with store.session() as session:
        (failed,) = list_deliveries(session, status="failed")
    assert failed.address.startswith("reader") and "message not built" in failed.last_error


def test_each_message_ends_only_once_the_one_before_is_recorded(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    subscribe(store, people(6))
    recorded_when_ended = []

    def count_recorded(arrived_before: int) -> None:
        with store.session() as session:
            sent = delivery_counts(session, edition.id)["sent"]
        recorded_when_ended.append((arrived_before, sent))

    mailbox.on_data = count_recorded

    assert send_edition(settings, store, edition.id).sent == 6
    # As each message ended, every earlier one was marked sent, and it itself was not yet:
    # a crash can leave at most one accepted message unrecorded.
    assert recorded_when_ended == [(n, n) for n in range(6)]


def test_a_rate_limit_spaces_the_messages(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port, rate_limit=20)
    edition = make_edition(settings, store)
    subscribe(store, people(4))
    arrivals = []
    mailbox.on_data = lambda _: arrivals.append(time.monotonic())

    assert send_edition(settings, store, edition.id).sent == 4

    # Three intervals of 1/20 s lie between the first and the last message's start. A busy
    # machine may delay the first arrival (allowed: one interval) and bunch the others, but it
    # cannot hurry the last one, so unlike gaps between neighbours this holds under load.
    assert len(arrivals) == 4 and arrivals[-1] - arrivals[0] >= 0.1, arrivals


def test_a_missing_email_template_names_every_folder_searched(settings, store, tmp_path):
    from briefing.deliver.message import prepare_mail
    from briefing.edition_brief import brief_for_edition, edition_file
    from briefing.errors import ConfigError

    edition = make_edition(settings, store)
    mine = tmp_path / "mine"
    (mine / "email").mkdir(parents=True)
    (mine / "email" / "brief.txt").write_text('{% include "email/footer.txt" %}\n')
    settings = settings.model_copy(update={"template_dir": mine})
    with pytest.raises(ConfigError) as caught:
        prepare_mail(
            settings, brief_for_edition(settings, store, edition), edition_file(settings, edition)
        )
    default_folder = default_template_dir()
    assert "'email/footer.txt' not found" in str(caught.value)
    assert f"searched: {mine}, {default_folder}" in str(caught.value)


@pytest.mark.parametrize(
    "body, problem",
    [
        ("Brief\n{% if brief %}\nunclosed\n", "Unexpected end of template"),
        ("Brief\n\n{{ brief.title.nope() }}\n", "has no attribute 'nope'"),
    ],
    ids=["syntax", "runtime"],
)
def test_a_broken_email_template_is_reported_with_file_and_line(
    settings, store, tmp_path, body, problem
):
    from briefing.deliver.message import prepare_mail
    from briefing.edition_brief import brief_for_edition, edition_file
    from briefing.errors import ConfigError

    edition = make_edition(settings, store)
    mine = tmp_path / "mine"
    (mine / "email").mkdir(parents=True)
    (mine / "email" / "brief.txt").write_text(body)
    settings = settings.model_copy(update={"template_dir": mine})
    with pytest.raises(ConfigError) as caught:
        prepare_mail(
            settings, brief_for_edition(settings, store, edition), edition_file(settings, edition)
        )
    (line,) = str(caught.value).splitlines()
    assert line.startswith(f"{mine / 'email' / 'brief.txt'}:") and problem in line, line
