"""`briefing send` and `briefing deliveries` as a user runs them, crashes and concurrency."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from briefing.config import load_settings
from briefing.deliver import send_edition
from briefing.store import Store
from tests.deliver_fixtures import (
    briefing_process,
    make_edition,
    people,
    subscribe,
    write_config,
)
from tests.smtp_fixtures import SmtpServer, free_port, make_certificates

SECRET = "Sup3r-Secret-Pw"
# These tests have no events: their (empty) editions are to be mailed all the same.
EMPTY_TOO = "[briefs.daily]\nsend_when_empty = true\n"


def configure(tmp_path: Path, monkeypatch, port: int, extra: str = "", top: str = "") -> Path:
    config = write_config(tmp_path, port, extra, top=top)
    monkeypatch.setenv("BRIEFING_CONFIG", str(config))
    monkeypatch.setenv("BRIEFING_OUTPUT_DIR", str(tmp_path / "output"))
    return config


def open_store() -> tuple:
    settings = load_settings()
    return settings, Store(settings.db_url)


def test_send_prints_counts_and_a_rerun_sends_nothing(cli, tmp_path, monkeypatch, server, mailbox):
    configure(tmp_path, monkeypatch, server.port)
    settings, store = open_store()
    edition = make_edition(settings, store)
    subscribe(store, people(3))
    store.dispose()

    first = cli("send", "--edition", edition.id, "--json")
    second = cli("send", "--edition", edition.id, "--json")

    assert first.code == 0, first.err
    assert json.loads(first.out) | {"edition_id": 0} == {
        "edition_id": 0,
        "dry_run": False,
        "sent": 3,
        "failed": 0,
        "bounced": 0,
        "already_sent": 0,
        "remaining": 0,
        "cancelled": 0,
        "skipped": None,
    }
    assert json.loads(second.out)["sent"] == 0 and json.loads(second.out)["already_sent"] == 3
    assert len(mailbox.received) == 3
    rows = json.loads(cli("deliveries", "list", "--edition", edition.id, "--json").out)
    assert sorted(r["address"] for r in rows) == people(3)
    assert {r["status"] for r in rows} == {"sent"}
    sent_only = cli("deliveries", "list", "--status", "failed", "--json")
    assert json.loads(sent_only.out) == []


def test_send_without_an_edition_generates_one_first(cli, tmp_path, monkeypatch, server, mailbox):
    configure(tmp_path, monkeypatch, server.port, top=EMPTY_TOO)
    cli("subscribers", "add", "ann@example.org")

    result = cli("send", "--json")

    assert result.code == 0, result.err
    assert json.loads(result.out)["sent"] == 1
    editions = json.loads(cli("archive", "list", "--json").out)
    assert len(editions) == 1
    assert mailbox.received[0].message["Subject"].startswith("Situation Brief")


def test_failures_exit_non_zero_with_a_one_line_summary(cli, tmp_path, monkeypatch, mailbox):
    port = free_port()
    configure(tmp_path, monkeypatch, port)
    settings, store = open_store()
    edition = make_edition(settings, store)
    subscribe(store, people(2))
    store.dispose()

    result = cli("send", "--edition", edition.id, "--json")

    assert result.code == 1
    assert json.loads(result.out)["failed"] == 2
    (line,) = result.err.strip().splitlines()
    assert line.startswith(f"error: edition {edition.id}: 2 deliveries failed: smtp 127.0.0.1:")
    assert "cannot connect" in line and "run `briefing send` again" in line


def test_the_password_never_shows_in_errors_json_or_files(
    cli, tmp_path, monkeypatch, mailbox, caplog
):
    ca_file, tls = make_certificates(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setenv("BRIEFING_SMTP_PASSWORD", SECRET)
    secure = SmtpServer(mailbox, tls=tls, users={"desk": "another"}).start()
    try:
        configure(tmp_path, monkeypatch, secure.port, 'user = "desk"\n')
        monkeypatch.setenv("BRIEFING_SMTP_SECURITY", "starttls")
        settings, store = open_store()
        edition = make_edition(settings, store)
        subscribe(store, people(1))
        store.dispose()
        refused = cli("send", "--edition", edition.id, "--json")
        dry = cli("send", "--edition", edition.id, "--dry-run", "--json")
    finally:
        secure.stop()
    assert refused.code == 1 and "login refused: 535" in refused.err
    assert dry.code == 0
    outbox = Path(json.loads(dry.out)["outbox"])
    written = b"".join(path.read_bytes() for path in outbox.glob("*.eml"))
    listing = cli("deliveries", "list", "--json").out + cli("subscribers", "list", "--json").out
    for text in (refused.out, refused.err, dry.out, dry.err, listing, caplog.text):
        assert SECRET not in text
    assert SECRET.encode() not in written


def test_a_killed_sender_is_completed_by_a_rerun(tmp_path, monkeypatch, server, mailbox):
    config = configure(tmp_path, monkeypatch, server.port)
    settings, store = open_store()
    edition = make_edition(settings, store)
    readers = people(12)
    subscribe(store, readers)
    fourth, release = threading.Event(), threading.Event()

    def hold_the_fourth(received: int) -> None:
        """The server holds the fourth message's reply until its sender has been killed."""
        if received == 3:
            fourth.set()
            release.wait(60)

    mailbox.on_data = hold_the_fourth
    process = briefing_process(config, tmp_path / "output", "send", "--edition", str(edition.id))
    assert fourth.wait(60), process.stderr.read()
    process.kill()
    process.wait()
    release.set()
    assert len(mailbox.received) in (3, 4), process.stderr.read()

    mailbox.on_data = None
    counts = send_edition(settings, store, edition.id)
    store.dispose()

    addresses = mailbox.addresses()
    assert sorted(set(addresses)) == readers
    assert len(addresses) - len(set(addresses)) <= 1
    assert counts.remaining == 0 and counts.failed == 0


@pytest.mark.postgres
def test_two_senders_share_one_edition_on_postgres(
    tmp_path, monkeypatch, server, mailbox, postgres_url
):
    mailbox.delay = 0.03
    config = configure(tmp_path, monkeypatch, server.port)
    monkeypatch.setenv("BRIEFING_DATABASE_URL", postgres_url)
    settings, store = open_store()
    edition = make_edition(settings, store)
    readers = people(120)
    subscribe(store, readers)
    store.dispose()

    senders = [
        briefing_process(
            config,
            tmp_path / "output",
            "send",
            "--edition",
            str(edition.id),
            "--json",
            database_url=postgres_url,
        )
        for _ in range(2)
    ]
    results = [sender.communicate(timeout=120) for sender in senders]

    assert [sender.returncode for sender in senders] == [0, 0], results
    counts = [json.loads(out) for out, _ in results]
    assert sum(c["sent"] for c in counts) == 120
    assert all(c["sent"] > 0 for c in counts), counts
    assert sorted(mailbox.addresses()) == readers


def test_send_refuses_an_html_edition_in_one_line(cli, tmp_path, monkeypatch, server, mailbox):
    configure(tmp_path, monkeypatch, server.port)
    cli("subscribers", "add", "ann@example.org")
    html = json.loads(cli("generate", "--format", "html", "--json").out)

    for extra in ([], ["--dry-run"]):
        result = cli("send", "--edition", html["edition_id"], *extra)
        assert result.code == 1
        (line,) = result.err.strip().splitlines()
        assert line.startswith(f"error: edition {html['edition_id']} is HTML, not a PDF")
    assert mailbox.received == []
    assert json.loads(cli("deliveries", "list", "--json").out) == []


def test_send_without_an_edition_takes_the_latest_pdf_never_a_newer_html_one(
    cli, tmp_path, monkeypatch, server, mailbox
):
    configure(tmp_path, monkeypatch, server.port, top=EMPTY_TOO)
    cli("subscribers", "add", "ann@example.org")
    pdf = json.loads(cli("generate", "--json").out)
    html = json.loads(cli("generate", "--format", "html", "--json").out)
    editions = {e["edition_id"]: e for e in json.loads(cli("archive", "list", "--json").out)}
    assert editions[html["edition_id"]]["window_end"] > editions[pdf["edition_id"]]["window_end"]

    result = cli("send", "--json")

    assert result.code == 0, result.err
    assert json.loads(result.out)["edition_id"] == pdf["edition_id"]
    assert len(json.loads(cli("archive", "list", "--json").out)) == 2
    (received,) = mailbox.received
    (attachment,) = [p for p in received.message.iter_attachments()]
    assert attachment.get_content_type() == "application/pdf"
    assert attachment.get_content().startswith(b"%PDF")


def test_send_without_an_edition_makes_a_new_one_when_the_latest_is_out_of_date(
    cli, tmp_path, monkeypatch, server, mailbox
):
    configure(tmp_path, monkeypatch, server.port, top=EMPTY_TOO)
    cli("subscribers", "add", "ann@example.org")
    old = json.loads(cli("generate", "--date", "2024-10-26", "--json").out)

    first = json.loads(cli("send", "--json").out)
    second = json.loads(cli("send", "--json").out)

    assert first["edition_id"] != old["edition_id"]
    assert second["edition_id"] == first["edition_id"] and second["already_sent"] == 1
    assert len(json.loads(cli("archive", "list", "--json").out)) == 2
    assert len(mailbox.received) == 1


def test_delivery_neither_decides_nor_makes_the_edition_it_sends():
    """Which edition to send, and generating it, is the conductor's (pipeline.edition_to_send)."""
    import briefing.deliver
    from tests.test_architecture import imports_of

    for path in Path(briefing.deliver.__file__).parent.glob("*.py"):
        imported = imports_of(path)
        assert "briefing.schedule.slots" not in imported, path
        assert "briefing.pipeline.generate_edition" not in imported, path
