"""Sending an edition over a real SMTP server on loopback: what arrives, and the ledger."""

from __future__ import annotations

import io
import logging
import re
import threading

import pytest
from pypdf import PdfReader

from briefing.config import BriefSpec
from briefing.deliver import send_edition, send_notice
from briefing.store.deliveries import list_deliveries
from briefing.store.subscribers import list_subscribers
from tests.deliver_fixtures import (
    PUBLIC_URL,
    SENDER,
    make_edition,
    people,
    subscribe,
    token_of,
    with_smtp,
)


def pdf_text(data: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def ledger(store, edition_id):
    with store.session() as session:
        return {d.address: d for d in list_deliveries(session, edition_id=edition_id)}


def test_each_subscriber_gets_one_complete_message(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    readers = people(3)
    subscribe(store, readers, names={readers[0]: "Olena Kovalenko"})

    counts = send_edition(settings, store, edition.id)

    assert (counts.sent, counts.failed, counts.bounced, counts.remaining) == (3, 0, 0, 0)
    assert sorted(mailbox.addresses()) == readers
    ids = set()
    for received in mailbox.received:
        message, address = received.message, received.recipients[0]
        assert received.sender == SENDER
        assert message["Subject"] == "Situation Brief — 26 October 2024"
        assert str(message["From"]) == f"Briefing Desk <{SENDER}>"
        assert message["To"].addresses[0].addr_spec == address
        assert message["Date"].datetime.tzinfo is not None
        assert message["List-Id"] == f"Situation Brief <daily.{SENDER.split('@')[1]}>"
        token = token_of(message)
        links = re.findall(r"<([^>]+)>", str(message["List-Unsubscribe"]))
        assert links == [
            f"mailto:{SENDER}?subject=unsubscribe%20{token}",
            f"{PUBLIC_URL}/unsubscribe?token={token}",
        ]
        assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        ids.add(message["Message-ID"])

        assert message.get_content_type() == "multipart/mixed"
        body, attachment = message.iter_parts()
        assert body.get_content_type() == "multipart/alternative"
        text, html = body.iter_parts()
        assert text.get_content_type() == "text/plain"
        plain = text.get_content()
        assert "KEY TAKEAWAYS" in plain and "North Korean troops" in plain
        assert "<" not in plain.replace("<https", "")
        assert token in plain
        assert html.get_content_type() == "text/html"
        markup = html.get_content()
        assert "Key takeaways" in markup and "Drones launched" in markup
        assert 'style="' in markup  # CSS inlined; only the phone media query stays a block
        kept = re.findall(r"<style[^>]*>(.*?)</style>", markup, flags=re.DOTALL)
        assert all(block.strip().startswith("@media") for block in kept)
        assert attachment.get_content_type() == "application/pdf"
        assert attachment.get_filename() == "daily-2024-10-26.pdf"
        assert "South Korea summons the Russian ambassador" in pdf_text(attachment.get_content())
    assert len(ids) == 3
    rows = ledger(store, edition.id)
    assert {row.status for row in rows.values()} == {"sent"}
    assert {row.message_id for row in rows.values()} == ids
    assert all(row.smtp_response.startswith("250 2.0.0 Ok: queued as") for row in rows.values())
    olena = next(r for r in mailbox.received if r.recipients == [readers[0]]).message
    assert str(olena["To"]) == f"Olena Kovalenko <{readers[0]}>"


def test_sending_again_sends_only_what_was_not_sent(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    subscribe(store, people(3))
    send_edition(settings, store, edition.id)
    subscribe(store, ["late@example.org"])

    again = send_edition(settings, store, edition.id)

    assert (again.sent, again.already_sent, again.remaining) == (1, 3, 0)
    assert sorted(mailbox.addresses()) == sorted([*people(3), "late@example.org"])


def test_line_breaks_in_names_and_titles_never_reach_a_header(settings, store, server, mailbox):
    title = "Daily\r\nBcc: eve@evil.test"
    settings = with_smtp(settings, server.port).model_copy(
        update={"briefs": {"daily": BriefSpec(title=title)}}
    )
    edition = make_edition(settings, store)
    subscribe(store, ["ann@example.org"], names={"ann@example.org": "Ann\r\nBcc: eve@evil.test"})

    send_edition(settings, store, edition.id)

    (received,) = mailbox.received
    assert received.recipients == ["ann@example.org"]
    raw_headers = received.data.split(b"\r\n\r\n", 1)[0].decode()
    assert "\nBcc" not in raw_headers and "eve@evil.test>" not in raw_headers
    message = received.message
    assert message["Bcc"] is None
    assert message["Subject"] == "Daily Bcc: eve@evil.test — 26 October 2024"
    assert message["To"].addresses[0].display_name == "Ann Bcc: eve@evil.test"


def test_a_rejected_recipient_bounces_and_the_others_still_get_it(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    readers = people(4)
    subscribe(store, readers)
    mailbox.reject.add(readers[1])

    counts = send_edition(settings, store, edition.id)

    assert (counts.sent, counts.bounced, counts.failed) == (3, 1, 0)
    assert sorted(mailbox.addresses()) == [readers[0], *readers[2:]]
    bounced = ledger(store, edition.id)[readers[1]]
    assert bounced.status == "bounced" and bounced.attempts == 1
    assert "550" in bounced.last_error
    with store.session() as session:
        assert [s.email for s in list_subscribers(session, status="bounced")] == [readers[1]]
    assert send_edition(settings, store, edition.id).sent == 0


def test_a_451_is_retried_and_then_delivered_once(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    readers = people(3)
    subscribe(store, readers)
    mailbox.defer_once.add(readers[0])

    counts = send_edition(settings, store, edition.id)

    assert (counts.sent, counts.failed) == (3, 0)
    assert sorted(mailbox.addresses()) == readers
    assert ledger(store, edition.id)[readers[0]].attempts == 2


def test_a_connection_dropped_mid_batch_loses_and_doubles_no_one(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    readers = people(6)
    subscribe(store, readers)
    mailbox.drop_at.update({3, 5})

    counts = send_edition(settings, store, edition.id)

    assert (counts.sent, counts.failed) == (6, 0)
    assert sorted(mailbox.addresses()) == readers


def test_server_down_then_up_for_a_second_send(settings, store, mailbox):
    from tests.smtp_fixtures import SmtpServer

    down = SmtpServer(mailbox)
    settings = with_smtp(settings, down.port)
    edition = make_edition(settings, store)
    readers = people(3)
    subscribe(store, readers)

    first = send_edition(settings, store, edition.id)

    assert (first.sent, first.failed, first.remaining) == (0, 3, 0)
    rows = ledger(store, edition.id).values()
    assert {row.status for row in rows} == {"failed"}
    assert all("cannot connect" in row.last_error for row in rows)

    down.start()
    try:
        second = send_edition(settings, store, edition.id)
    finally:
        down.stop()
    assert (second.sent, second.failed) == (3, 0)
    assert sorted(mailbox.addresses()) == readers


def test_stop_finishes_the_message_in_flight_and_returns(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    subscribe(store, people(5))
    stop = threading.Event()
    seen = []

    def progress(counts):
        seen.append(counts)
        stop.set()

    counts = send_edition(settings, store, edition.id, progress=progress, stop=stop)

    assert (counts.sent, counts.remaining) == (1, 4)
    assert len(mailbox.received) == 1 and seen[0].sent == 1
    assert send_edition(settings, store, edition.id).sent == 4
    assert len(set(mailbox.addresses())) == len(mailbox.addresses()) == 5


def test_parallel_connections_send_each_once_on_sqlite(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port, connections=3)
    edition = make_edition(settings, store)
    readers = people(40)
    subscribe(store, readers)

    counts = send_edition(settings, store, edition.id)

    assert counts.sent == 40
    assert sorted(mailbox.addresses()) == readers


def test_dry_run_writes_messages_and_sends_nothing(settings, store, server, mailbox):
    settings = with_smtp(settings, server.port)
    edition = make_edition(settings, store)
    subscribe(store, people(2))

    counts = send_edition(settings, store, edition.id, dry_run=True)

    assert counts.sent == 2 and mailbox.received == []
    files = sorted((settings.output_dir / "outbox").glob("*/*.eml"))
    assert len(files) == 2
    assert b"application/pdf" in files[0].read_bytes()
    assert ledger(store, edition.id) == {}


def test_starttls_and_login(settings, store, mailbox, tmp_path, monkeypatch):
    from tests.smtp_fixtures import SmtpServer, make_certificates

    ca_file, tls = make_certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    secure = SmtpServer(mailbox, tls=tls, users={"desk": "s3cret-pass"}).start()
    try:
        settings = with_smtp(
            settings, secure.port, security="starttls", user="desk", password="s3cret-pass"
        )
        edition = make_edition(settings, store)
        subscribe(store, people(2))
        counts = send_edition(settings, store, edition.id)
    finally:
        secure.stop()
    assert counts.sent == 2
    assert [r.login for r in mailbox.received] == ["desk", "desk"]


def test_a_refused_login_stops_with_an_error_that_hides_the_password(
    settings, store, mailbox, tmp_path, monkeypatch, caplog
):
    from briefing.errors import BriefingError
    from tests.smtp_fixtures import SmtpServer, make_certificates

    ca_file, tls = make_certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    secure = SmtpServer(mailbox, tls=tls, users={"desk": "right"}).start()
    caplog.set_level(logging.DEBUG)
    try:
        settings = with_smtp(
            settings, secure.port, security="starttls", user="desk", password="Wr0ng-Secret"
        )
        edition = make_edition(settings, store)
        subscribe(store, people(2))
        with pytest.raises(BriefingError) as raised:
            send_edition(settings, store, edition.id)
    finally:
        secure.stop()
    assert "login refused" in str(raised.value)
    assert "Wr0ng-Secret" not in str(raised.value) and "Wr0ng-Secret" not in caplog.text
    assert mailbox.received == []
    assert {row.status for row in ledger(store, edition.id).values()} == {"pending"}


def test_an_untrusted_certificate_is_refused(settings, store, mailbox, tmp_path):
    from briefing.errors import BriefingError
    from tests.smtp_fixtures import SmtpServer, make_certificates

    _, tls = make_certificates(tmp_path)
    secure = SmtpServer(mailbox, tls=tls).start()
    try:
        settings = with_smtp(settings, secure.port, security="starttls")
        edition = make_edition(settings, store)
        subscribe(store, people(1))
        with pytest.raises(BriefingError, match="CERTIFICATE_VERIFY_FAILED"):
            send_edition(settings, store, edition.id)
    finally:
        secure.stop()
    assert mailbox.received == []


def test_notice_reaches_the_admins_as_plain_text(settings, server, mailbox):
    settings = with_smtp(settings, server.port)

    send_notice(settings, ["ops@example.org"], "Run\nfailed", "The 07:00 brief failed.")

    (received,) = mailbox.received
    message = received.message
    assert received.recipients == ["ops@example.org"]
    assert message["Subject"] == "Run failed"
    assert message.get_content_type() == "text/plain"
    assert message.get_content().strip() == "The 07:00 brief failed."


def test_an_html_edition_is_not_mailed_as_a_pdf(settings, store, server, mailbox):
    from datetime import date

    from briefing.errors import BriefingError
    from briefing.pipeline import generate_edition

    settings = with_smtp(settings, server.port)
    subscribe(store, people(1))
    html = generate_edition(settings, store, day=date(2024, 10, 26), fmt="html")
    with pytest.raises(BriefingError, match=f"edition {html.id} is HTML, not a PDF"):
        send_edition(settings, store, html.id)
    assert mailbox.received == []
