"""What `send` mails is the archived edition, exactly; a dry run changes nothing; an empty
brief is not mailed unless the brief says so."""

from __future__ import annotations

import email
import json
from email import policy
from pathlib import Path

import pytest

from briefing.config import load_settings
from briefing.store import Store
from tests.conftest import DEMO_EVENTS
from tests.deliver_fixtures import subscribe, write_config

EVENT_ID = "ua-2024-10-26-dprk-troops"
ORIGINAL_TITLE = "North Korean troops may already be deployed to Russia"


def configure(tmp_path: Path, monkeypatch, port: int, top: str = "") -> None:
    monkeypatch.setenv("BRIEFING_CONFIG", str(write_config(tmp_path, port, top=top)))
    monkeypatch.setenv("BRIEFING_OUTPUT_DIR", str(tmp_path / "output"))


def add_readers(addresses: list[str]) -> None:
    store = Store(load_settings().db_url)
    try:
        subscribe(store, addresses)
    finally:
        store.dispose()


def bodies(message: email.message.EmailMessage) -> str:
    return "\n".join(
        part.get_content()
        for part in message.walk()
        if part.get_content_type() in ("text/plain", "text/html")
    )


def test_the_email_is_the_archived_edition_even_after_an_event_is_edited(
    cli, tmp_path, monkeypatch, server, mailbox
):
    configure(tmp_path, monkeypatch, server.port)
    assert cli("events", "import", DEMO_EVENTS).code == 0
    made = json.loads(cli("generate", "--date", "2024-10-26", "--json").out)
    add_readers(["ann@example.org"])
    edited = cli(
        "events", "add", "--id", EVENT_ID, "--title", "EDITED after the edition",
        "--category", "military", "--occurred-at", "2024-10-26T10:00:00+03:00",
    )  # fmt: skip
    assert edited.code == 0, edited.err

    dry = cli("send", "--edition", made["edition_id"], "--dry-run", "--json")
    sent = cli("send", "--edition", made["edition_id"], "--json")

    assert dry.code == 0 and sent.code == 0, dry.err + sent.err
    (eml,) = Path(json.loads(dry.out)["outbox"]).glob("*.eml")
    written = email.message_from_bytes(eml.read_bytes(), policy=policy.default)
    for message in (written, mailbox.received[0].message):
        text = bodies(message)
        assert ORIGINAL_TITLE in text
        assert "EDITED" not in text


def test_a_dry_run_makes_no_edition_and_writes_nothing_to_the_archive(
    cli, tmp_path, monkeypatch, server, mailbox
):
    configure(tmp_path, monkeypatch, server.port)
    assert cli("events", "import", DEMO_EVENTS).code == 0
    add_readers(["ann@example.org"])

    dry = cli("send", "--dry-run", "--json")

    assert dry.code == 1
    (line,) = dry.err.strip().splitlines()
    assert "dry run" in line and "briefing generate" in line
    assert json.loads(cli("archive", "list", "--json").out) == []
    assert not (tmp_path / "output" / "briefs").exists()
    assert mailbox.received == []


@pytest.mark.parametrize("send_when_empty", [False, True])
def test_an_empty_brief_is_mailed_only_when_the_brief_says_so(
    cli, tmp_path, monkeypatch, server, mailbox, send_when_empty
):
    setting = "true" if send_when_empty else "false"
    configure(tmp_path, monkeypatch, server.port, f"[briefs.daily]\nsend_when_empty = {setting}\n")
    assert cli("events", "import", DEMO_EVENTS).code == 0
    empty = json.loads(cli("generate", "--date", "2024-10-20", "--json").out)
    assert empty["events"] == 0
    add_readers(["ann@example.org", "bob@example.org"])

    result = cli("send", "--edition", empty["edition_id"], "--json")

    assert result.code == 0, result.err
    report = json.loads(result.out)
    if send_when_empty:
        assert report["sent"] == 2 and report["skipped"] is None
        assert len(mailbox.received) == 2
    else:
        assert report["sent"] == 0 and "no events" in report["skipped"]
        assert "send_when_empty" in report["skipped"]
        assert mailbox.received == []
        assert json.loads(cli("deliveries", "list", "--json").out) == []


def test_the_kept_brief_reads_back_whole_and_agrees_with_the_pdf(settings, store):
    from pypdf import PdfReader

    from briefing.edition_brief import brief_content, brief_from_content, edition_file
    from briefing.store.editions import edition_content
    from briefing.store.events import events_by_id
    from tests.deliver_fixtures import make_edition

    edition = make_edition(settings, store)
    with store.session() as session:
        kept = edition_content(session, edition.id)

    brief = brief_from_content(kept)

    assert brief_content(brief) == kept
    embedded = PdfReader(edition_file(settings, edition)).attachments["events.json"][0]
    with store.session() as session:
        stored = {event.id: event for event in events_by_id(session, brief.event_ids)}
    attached = json.loads(embedded)["events"]
    assert [e["id"] for e in attached] == list(brief.event_ids) == edition.event_ids
    assert attached == [stored[e["id"]].model_dump(mode="json") for e in attached]
    numbers = {item.number for section in brief.sections for item in section.items}
    assert brief.takeaways and set(brief.takeaways[0].item_numbers) <= numbers


def test_an_edition_kept_before_briefs_listed_their_events_by_id_reads_back(settings, store):
    """Editions made before 0011 kept every event of their window inside the brief; the
    upgrade keeps their ids instead, and the brief their emails are built from is unchanged."""
    from sqlalchemy import text, update

    from briefing.edition_brief import brief_for_edition
    from briefing.store import Store
    from briefing.store.editions import Edition, edition_content
    from briefing.store.events import events_by_id
    from tests.deliver_fixtures import make_edition

    edition = make_edition(settings, store)
    before = brief_for_edition(settings, store, edition)
    with store.session() as session:
        old = edition_content(session, edition.id)
        ids = old.pop("event_ids")
        stored = {event.id: event for event in events_by_id(session, ids)}
        old["events"] = [stored[event_id].model_dump(mode="json") for event_id in ids]
        session.execute(update(Edition).where(Edition.id == edition.id).values(content=old))
        session.execute(text("UPDATE alembic_version SET version_num = '0010'"))
    store.dispose()

    upgraded = Store(settings.db_url)
    try:
        with upgraded.session() as session:
            kept = edition_content(session, edition.id)
        assert "events" not in kept and kept["event_ids"] == ids
        assert brief_for_edition(settings, upgraded, edition) == before
    finally:
        upgraded.dispose()
