"""The store side of the web: event search on SQLite and PostgreSQL, tokens kept only hashed."""

from __future__ import annotations

from datetime import date

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import text

from briefing.ingest.files import read_events
from briefing.pipeline import generate_edition
from briefing.store import Store
from briefing.store.db import MIGRATIONS, create_db_engine
from briefing.store.events import EventRow, upsert_events
from briefing.store.search import plain, search_events
from briefing.store.subscribers import (
    find_subscriber,
    issue_unsubscribe_tokens,
    save_subscriber,
    token_hash,
    unsubscribe_by_token,
)
from tests.conftest import DEMO_EVENTS
from tests.web_fixtures import web_settings


@pytest.fixture
def filled(database_url, tmp_path):
    settings = web_settings(tmp_path).model_copy(update={"database_url": database_url})
    store = Store(settings.db_url)
    with store.session() as session:
        upsert_events(session, read_events([str(DEMO_EVENTS)], settings))
    yield settings, store
    store.dispose()


def test_search_finds_stemmed_words_and_marks_them(filled):
    _, store = filled
    with store.session() as session:
        (hit,) = search_events(session, "ambassador summoned")
    assert plain(hit.title) == "South Korea summons the Russian ambassador"
    assert ("ambassador", True) in hit.title
    assert any(matched and piece.lower().startswith("summon") for piece, matched in hit.title)
    assert hit.editions == []


def test_search_follows_edits_and_deletions_of_events(filled):
    _, store = filled
    with store.session() as session:
        (hit,) = search_events(session, "ammunition factory")
        row = session.get(EventRow, hit.event_id)
        row.title = "A refinery burns after a strike"
    with store.session() as session:
        assert search_events(session, "refinery")[0].event_id == hit.event_id
        assert [h.event_id for h in search_events(session, "refinery")] == [hit.event_id]
        session.delete(session.get(EventRow, hit.event_id))
    with store.session() as session:
        assert search_events(session, "refinery") == []


def test_search_within_briefs_shows_only_their_editions_events(filled):
    settings, store = filled
    generate_edition(settings, store, "daily", day=date(2024, 10, 26), fmt="html")
    with store.session() as session:
        public = search_events(session, "drones", briefs=["daily"])
        assert public and all(ref.brief == "daily" for h in public for ref in h.editions)
        assert search_events(session, "arms package", briefs=["daily"]) == []
        assert search_events(session, "arms package")  # the command line sees every event
        assert search_events(session, "  ;;  ") == []


def test_tokens_are_stored_only_as_hashes(filled):
    _, store = filled
    with store.session() as session:
        save_subscriber(session, "ann@example.org", name=None, briefs=["daily"], reactivate=True)
        ann = find_subscriber(session, email="ann@example.org")
        (token,) = issue_unsubscribe_tokens(session, [(ann.id, "daily")])
    with store.engine.connect() as connection:
        stored = connection.execute(text("SELECT token_hash FROM unsubscribe_tokens")).scalars()
        assert list(stored) == [token_hash(token)]
    with store.session() as session:
        wrong = token[:-1] + ("y" if token.endswith("x") else "x")
        assert unsubscribe_by_token(session, wrong) is None
        assert unsubscribe_by_token(session, token).status == "unsubscribed"


def test_a_token_mailed_before_the_upgrade_still_unsubscribes(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_db_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005")
        connection.execute(
            text(
                "INSERT INTO subscribers (email, status, token, created_at, updated_at) VALUES"
                " ('ann@example.org', 'active', 'OldClearToken_0123456789abcdefgh',"
                " '2024-01-01', '2024-01-01')"
            )
        )
    engine.dispose()

    store = Store(url)  # upgrades
    with store.engine.connect() as connection:
        kept = connection.execute(text("SELECT token FROM subscribers")).scalar()
    assert kept == token_hash("OldClearToken_0123456789abcdefgh")
    with store.session() as session:
        ann = unsubscribe_by_token(session, "OldClearToken_0123456789abcdefgh")
        assert ann.email == "ann@example.org" and ann.status == "unsubscribed"
    store.dispose()


def test_the_migration_goes_down_and_up_again(tmp_path):
    url = f"sqlite:///{tmp_path / 'b.db'}"
    Store(url).dispose()
    engine = create_db_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005")
        tables = connection.execute(text("SELECT name FROM sqlite_master")).scalars().all()
        assert "events_fts" not in tables and "unsubscribe_tokens" not in tables
        command.upgrade(config, "heads")
    engine.dispose()
