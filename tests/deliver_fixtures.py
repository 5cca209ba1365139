"""Shared pieces of the delivery tests: an archived edition, subscribers, SMTP settings."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

from briefing.config import Settings, SmtpSettings
from briefing.store import Store
from briefing.store.editions import Edition
from briefing.store.subscribers import save_subscriber
from tests.conftest import DEMO_EVENTS
from tests.smtp_fixtures import Mailbox, SmtpServer

SENDER = "desk@briefing.test"
PUBLIC_URL = "https://brief.example.org"


def smtp_settings(port: int, **options) -> SmtpSettings:
    """Settings for the loopback server: plain SMTP, quick retries."""
    values = {
        "host": "127.0.0.1",
        "port": port,
        "security": "none",
        "from_address": SENDER,
        "from_name": "Briefing Desk",
        "timeout": 10,
        "backoff": 0.01,
        "max_attempts": 3,
        **options,
    }
    return SmtpSettings(**values)


def with_smtp(settings: Settings, port: int, **options) -> Settings:
    return settings.model_copy(
        update={"smtp": smtp_settings(port, **options), "public_url": PUBLIC_URL}
    )


def make_edition(settings: Settings, store: Store) -> Edition:
    """The demo day's edition, archived as a real PDF by the pipeline."""
    from briefing.ingest.files import read_events
    from briefing.pipeline import generate_edition
    from briefing.store.events import upsert_events

    with store.session() as session:
        upsert_events(session, read_events([str(DEMO_EVENTS)], settings))
    return generate_edition(settings, store, day=date(2024, 10, 26))


def subscribe(store: Store, addresses, *, brief: str = "daily", names=None) -> None:
    names = names or {}
    with store.session() as session:
        for address in addresses:
            save_subscriber(
                session, address, name=names.get(address), briefs=[brief], reactivate=True
            )


def token_of(message) -> str:
    """The unsubscribe token a received message carries (one per message; only its hash is kept)."""
    (token,) = set(re.findall(r"unsubscribe%20([\w-]+)", str(message["List-Unsubscribe"])))
    return token


def people(count: int) -> list[str]:
    return [f"reader{n:03d}@example.org" for n in range(count)]


def running_server(mailbox: Mailbox):
    """A loopback SMTP server for the length of a test (use inside a fixture)."""
    server = SmtpServer(mailbox).start()
    try:
        yield server
    finally:
        server.stop()


def write_config(
    folder: Path, port: int, extra: str = "", *, max_attempts: int = 3, top: str = ""
) -> Path:
    """A briefing.toml for `briefing send` run as a separate process; `extra` goes in [smtp],
    `top` before it (e.g. a [briefs.NAME] table)."""
    path = folder / "mail.toml"
    path.write_text(
        f"""timezone = "Europe/Kyiv"
public_url = "{PUBLIC_URL}"
{top}
[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
from_address = "{SENDER}"
backoff = 0.01
max_attempts = {max_attempts}
{extra}
"""
    )
    return path


def briefing_process(config: Path, output: Path, *args: str, database_url: str | None = None):
    """`briefing ARGS…` as a real process (so it can be killed, or run twice at once)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFING_")}
    env.update(BRIEFING_CONFIG=str(config), BRIEFING_OUTPUT_DIR=str(output))
    if database_url:
        env["BRIEFING_DATABASE_URL"] = database_url
    return subprocess.Popen(
        [sys.executable, "-m", "briefing", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def edition_record(store: Store, *, brief: str = "daily") -> int:
    """An edition row only (no file): enough for the ledger's own tests; its id."""
    from datetime import UTC, datetime

    moment = datetime(2024, 10, 26, 21, tzinfo=UTC)
    with store.session() as session:
        edition = Edition(
            brief=brief,
            title="Situation Brief",
            window_start=moment.replace(day=25),
            window_end=moment,
            timezone="Europe/Kyiv",
            path="daily/2024-10-26.pdf",
            sha256="0" * 64,
            size=0,
            pages=1,
            event_ids=[],
        )
        session.add(edition)
        session.flush()
        return edition.id


def prepare(tmp_path: Path, monkeypatch, port: int, readers: list[str], **config) -> int:
    """A config pointing at the loopback server, the demo edition and its subscribers."""
    path = write_config(tmp_path, port, **config)
    monkeypatch.setenv("BRIEFING_CONFIG", str(path))
    monkeypatch.setenv("BRIEFING_OUTPUT_DIR", str(tmp_path / "output"))
    from briefing.config import load_settings

    settings = load_settings()
    store = Store(settings.db_url)
    try:
        edition = make_edition(settings, store)
        subscribe(store, readers)
    finally:
        store.dispose()
    return edition.id
