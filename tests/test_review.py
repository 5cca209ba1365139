"""The review gate through the CLI: what ingestion wrote reaches a brief only when let through."""

from __future__ import annotations

import getpass
import json
import socket
import threading
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine
from pypdf import PdfReader

from briefing.config import load_settings
from briefing.schedule.runs import Runner
from briefing.store import Store
from briefing.store.runs import Owner
from tests.conftest import DEMO_EVENTS

KYIV = ZoneInfo("Europe/Kyiv")
DAY = "2024-10-26"
ATTACK = "Russia launched 116 drones"
TALKS = "Foreign ministers met in Brussels"
VISIT = "The president visited a school"
ARTICLE = f"""\
{ATTACK} and three missiles at Ukraine overnight, the air force said. Air defences shot down \
59 drones.

{TALKS} on Saturday and said talks would continue.

{VISIT}, officials said.
"""
ADMIN = "admin@example.org"
READER = "reader@example.org"


@pytest.fixture(autouse=True)
def _database(database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test on a SQLite file and, when configured, on PostgreSQL."""
    monkeypatch.setenv("BRIEFING_DATABASE_URL", database_url)


def write_config(tmp_path: Path, brief: str = "", port: int = 2525) -> Path:
    path = tmp_path / "briefing.toml"
    path.write_text(
        f"""
output_dir = "{tmp_path / "output"}"
timezone = "Europe/Kyiv"
admins = ["{ADMIN}"]

[briefs.desk]
title = "Desk Brief"
schedule = "0 23 * * *"
{brief}

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from_address = "briefing@example.org"
timeout = 10
max_attempts = 1
backoff = 0
"""
    )
    return path


@pytest.fixture
def article(tmp_path: Path) -> Path:
    path = tmp_path / "article.txt"
    path.write_text(ARTICLE)
    return path


def ok(result):
    assert result.code == 0, result.err
    return result


def ingest(cli, config: Path, article: Path):
    return ok(
        cli(
            *("--config", config, "ingest", "text", article),
            *("--published", f"{DAY}T09:00", "--source", "Wire", "--url", "https://example.org/a"),
        )
    )


def pending(cli, config: Path) -> list[dict]:
    return json.loads(ok(cli("--config", config, "events", "review", "--json")).out)


def titled(events: list[dict], start: str) -> dict:
    (found,) = [event for event in events if event["title"].startswith(start)]
    return found


def generate(cli, config: Path) -> dict:
    return json.loads(ok(cli("--config", config, "generate", "--date", DAY, "--json")).out)


def pdf_text(path: str) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(path).pages)


def shown(cli, config: Path, edition: dict) -> dict:
    """`archive show --json` of an edition, with its PDF's text."""
    record = json.loads(
        ok(cli("--config", config, "archive", "show", edition["edition_id"], "--json")).out
    )
    return {**record, "text": pdf_text(edition["path"])}


def test_ingested_events_wait_for_review_with_confidence_reasons_and_sources(
    cli, tmp_path, article
):
    config = write_config(tmp_path)
    ingest(cli, config, article)

    listed = json.loads(ok(cli("--config", config, "events", "review", "--json")).out)
    assert [event["occurred_at"] for event in listed] == sorted(e["occurred_at"] for e in listed)
    assert {event["review"]["state"] for event in listed} == {"pending"}
    attack = next(event for event in listed if event["title"].startswith(ATTACK))
    assert 0 <= attack["confidence"] <= 1
    assert any("drone" in reason for reason in attack["reasons"])
    assert attack["figures"]["drones_launched"] == 116
    assert [(s["name"], s["url"]) for s in attack["sources"]] == [("Wire", "https://example.org/a")]

    text = ok(cli("--config", config, "events", "review")).out
    assert ATTACK in text and "confidence" in text and "source: Wire" in text
    states = json.loads(
        ok(cli("--config", config, "events", "list", "--review", "approved", "--json")).out
    )
    assert states == []


def test_a_required_brief_leaves_out_a_pending_event_and_includes_it_once_approved(
    cli, tmp_path, article
):
    config = write_config(tmp_path, 'review = "required"')
    ingest(cli, config, article)

    first = shown(cli, config, generate(cli, config))
    assert first["events"] == 0
    assert first["pending_review"] == 3
    assert "Not included: 3 developments of this period still awaiting review" in first["text"]
    assert ATTACK not in first["text"]
    assert {item["review_now"] for item in first["left_out_pending"]} == {"pending"}

    attack = titled(pending(cli, config), ATTACK)["id"]
    approved = ok(cli(
        "--config", config, "events", "review", "approve", attack,
        "--reviewer", "Ann Lee", "--reason", "matches the air force report", "--json",
    ))  # fmt: skip
    (review,) = [event["review"] for event in json.loads(approved.out)]
    assert (review["state"], review["by"], review["reason"]) == (
        "approved",
        "Ann Lee",
        "matches the air force report",
    )

    second = shown(cli, config, generate(cli, config))
    assert (second["events"], second["pending_review"]) == (1, 2)
    assert ATTACK in second["text"] and TALKS not in second["text"]
    assert "Not included: 2 developments" in second["text"]
    left_out = ok(cli("--config", config, "archive", "show", first["edition_id"])).out
    assert f"{attack} (approved now)" in left_out, (
        "the first edition's record keeps what it left out"
    )


def test_a_rejected_event_stays_out_after_its_article_is_ingested_again(cli, tmp_path, article):
    config = write_config(tmp_path, "auto_approve_above = 0")
    ingest(cli, config, article)
    attack = titled(pending(cli, config), ATTACK)["id"]
    ok(cli("--config", config, "events", "review", "reject", attack, "--reason", "duplicate"))

    assert "0 added, 3 updated" in ingest(cli, config, article).err
    listed = json.loads(ok(cli("--config", config, "events", "list", "--json")).out)
    assert len(listed) == 3, "re-ingesting re-created nothing"
    assert {e["id"]: e["review"]["state"] for e in listed}[attack] == "rejected"
    rejected = ok(cli("--config", config, "events", "list", "--review", "rejected", "--json"))
    assert [event["id"] for event in json.loads(rejected.out)] == [attack]

    edition = shown(cli, config, generate(cli, config))
    assert ATTACK not in edition["text"]
    assert TALKS in edition["text"], "under auto with threshold 0, the others go through"
    assert edition["pending_review"] == 0, "a rejected event is not counted as waiting"


def test_an_auto_brief_publishes_only_events_above_its_threshold(cli, tmp_path, article):
    probe = write_config(tmp_path)
    ingest(cli, probe, article)
    confidences = sorted({event["confidence"] for event in pending(cli, probe)})
    assert len(confidences) >= 2, "the article's developments differ in confidence"
    threshold = (confidences[0] + confidences[-1]) / 2
    config = write_config(tmp_path, f'review = "auto"\nauto_approve_above = {threshold}')

    edition = shown(cli, config, generate(cli, config))
    above = [e for e in pending(cli, config) if e["confidence"] > threshold]
    below = [e for e in pending(cli, config) if e["confidence"] <= threshold]
    assert edition["events"] == len(above) and edition["pending_review"] == len(below)
    for event in above:
        assert event["title"][:40] in edition["text"]
        assert event["auto_approved_in"] == ["desk"]
    for event in below:
        assert event["title"][:40] not in edition["text"]
        assert event["auto_approved_in"] == []
    assert {item["id"] for item in edition["left_out_pending"]} == {e["id"] for e in below}


def test_imported_and_added_events_publish_without_review(cli, tmp_path):
    config = write_config(
        tmp_path,
        'review = "required"\nsections = ["military", "diplomatic", "aid", "humanitarian"]',
    )
    ok(cli("--config", config, "events", "import", DEMO_EVENTS))
    ok(cli(
        "--config", config, "events", "add", "--title", "Desk note on shelling",
        "--category", "military", "--occurred-at", f"{DAY}T12:00",
    ))  # fmt: skip

    assert pending(cli, config) == []
    listed = json.loads(ok(cli("--config", config, "events", "list", "--json")).out)
    assert {event["review"]["state"] for event in listed} == {"approved"}
    assert {event["review"]["by"] for event in listed} == {getpass.getuser()}
    edition = shown(cli, config, generate(cli, config))
    assert edition["pending_review"] == 0 and "Not included" not in edition["text"]
    assert "Desk note on shelling" in edition["text"]
    table = ok(cli("--config", config, "events", "list")).out
    assert "approved" in table


def test_a_reviewers_edit_is_published_and_survives_reingestion(cli, tmp_path, article):
    config = write_config(tmp_path, 'review = "required"')
    ingest(cli, config, article)
    attack = titled(pending(cli, config), ATTACK)["id"]
    ok(cli(
        "--config", config, "events", "review", "edit", attack,
        "--title", "Overnight attack: 116 drones, 3 missiles", "--importance", "5",
        "--place", "nationwide", "--figure", "drones_destroyed=", "--figure", "missiles_launched=3",
        "--approve",
    ))  # fmt: skip
    ingest(cli, config, article)

    (event,) = [
        e
        for e in json.loads(ok(cli("--config", config, "events", "list", "--json")).out)
        if e["id"] == attack
    ]
    assert event["title"] == "Overnight attack: 116 drones, 3 missiles"
    assert (event["importance"], event["location"]["place"]) == (5, "nationwide")
    assert "drones_destroyed" not in event["figures"], "a removed figure does not come back"
    assert event["review"]["state"] == "approved"
    assert "Overnight attack" in shown(cli, config, generate(cli, config))["text"]


def test_review_commands_refuse_unknown_events_and_bad_corrections_changing_nothing(
    cli, tmp_path, article
):
    config = write_config(tmp_path)
    ingest(cli, config, article)
    attack = titled(pending(cli, config), ATTACK)["id"]

    missing = cli("--config", config, "events", "review", "approve", attack, "no-such-event")
    assert missing.code == 1
    assert "no event with id no-such-event" in missing.err
    bad = cli(
        "--config", config, "events", "review", "edit", attack, "--category", "sports", "--approve"
    )
    assert bad.code == 1 and "category" in bad.err and "sports" in bad.err
    figure = cli("--config", config, "events", "review", "edit", attack, "--figure", "drones=many")
    assert figure.code == 2 and "--figure" in figure.err
    nothing = cli("--config", config, "events", "review", "edit", attack)
    assert nothing.code == 2
    assert titled(pending(cli, config), ATTACK)["review"]["state"] == "pending"
    assert titled(pending(cli, config), ATTACK)["category"] == "military"


def test_the_admins_hear_of_pending_events_once_per_slot(cli, tmp_path, article, mailbox, server):
    config = write_config(tmp_path, 'review = "required"\nsend_when_empty = true', port=server.port)
    ingest(cli, config, article)
    ok(cli("--config", config, "subscribers", "add", READER, "--brief", "desk"))
    settings = load_settings(config)
    store = Store(settings.db_url)
    slot = datetime(2024, 10, 26, 23, tzinfo=KYIV)  # its window: the 24 hours before
    mailbox.defer_once.add(READER)  # the first attempt fails to deliver, so the slot is retried
    try:
        with time_machine.travel(slot + timedelta(minutes=1), tick=True):
            (first,) = _runner(settings, store).run_due("desk")
        with time_machine.travel(slot + timedelta(minutes=7), tick=True):
            (second,) = _runner(settings, store).run_due("desk")
    finally:
        store.dispose()

    assert (first.status, second.status) == ("failed", "succeeded")
    assert first.counts["pending_review"] == 3 == second.counts["pending_review"]
    notices = [
        item.message
        for item in mailbox.received
        if ADMIN in item.recipients and "await review" in item.message["Subject"]
    ]
    assert len(notices) == 1, [item.message["Subject"] for item in mailbox.received]
    body = notices[0].get_content()
    assert "3 events await review for the desk brief" in notices[0]["Subject"]
    assert ATTACK in body and TALKS in body and "briefing events review" in body
    (brief,) = [item.message for item in mailbox.received if READER in item.recipients]
    assert "Desk Brief" in brief["Subject"]


def _runner(settings, store: Store) -> Runner:
    owner = Owner(socket.gethostname(), 4242, f"review-test-{id(settings)}")
    return Runner(settings, store, threading.Event(), owner)


def test_the_migration_gives_exactly_the_review_columns_the_models_declare(database_url):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from briefing.store.db import Base

    store = Store(database_url)
    try:
        with store.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_server_default": True})
            differences = compare_metadata(context, Base.metadata)
    finally:
        store.dispose()
    flat = [
        item for entry in differences for item in (entry if isinstance(entry, list) else [entry])
    ]
    ours = [item for item in flat if "review" in str(item) or "pending_" in str(item)]
    assert ours == [], "the migration and the models disagree"


def test_review_settings_are_checked_at_start(cli, tmp_path):
    config = write_config(tmp_path, 'review = "sometimes"')
    result = cli("--config", config, "events", "list")
    assert result.code == 1
    assert "briefs.desk.review" in result.err and "required" in result.err
    config = write_config(tmp_path, "auto_approve_above = 1.5")
    result = cli("--config", config, "events", "list")
    assert result.code == 1 and "briefs.desk.auto_approve_above" in result.err


def test_a_title_correction_names_one_event(cli, tmp_path, article):
    config = write_config(tmp_path)
    ingest(cli, config, article)
    ids = [event["id"] for event in pending(cli, config)]
    result = cli("--config", config, "events", "review", "edit", *ids[:2], "--title", "Same")
    assert result.code == 2 and "single ID" in result.err
    assert all(event["title"] != "Same" for event in pending(cli, config))
