"""The store on a SQLite file and, when configured, on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from briefing.event import Event
from briefing.store import Store
from briefing.store.db import applied_heads, migration_heads
from briefing.store.editions import Edition, edition_for_slot, latest_edition, list_editions
from briefing.store.events import events_between, get_event, upsert_events

T0 = datetime(2024, 10, 26, 0, tzinfo=UTC)


def make_event(event_id: str, hours: float, category: str = "military", **extra) -> Event:
    return Event.model_validate(
        {
            "id": event_id,
            "occurred_at": T0 + timedelta(hours=hours),
            "category": category,
            "title": f"Event {event_id}",
            **extra,
        }
    )


def make_edition(brief: str = "daily", slot: datetime | None = None, end_hours: int = 24):
    return Edition(
        brief=brief,
        title="Daily",
        slot=slot,
        window_start=T0,
        window_end=T0 + timedelta(hours=end_hours),
        timezone="UTC",
        format="pdf",
        path=f"briefs/{brief}/x.pdf",
        sha256="0" * 64,
        size=1,
        pages=1,
        event_ids=["a"],
    )


@pytest.fixture
def db(database_url):
    store = Store(database_url)
    yield store
    store.dispose()


def test_migrations_reach_every_head_and_are_idempotent(db, database_url):
    assert applied_heads(db.engine) == migration_heads()
    Store(database_url).dispose()
    assert applied_heads(db.engine) == migration_heads()


def test_event_round_trip_keeps_every_field(db):
    original = make_event(
        "a",
        3.5,
        summary="Summary",
        location={"country": "UA", "place": "Kyiv"},
        actors=["Russia"],
        figures={"drones_launched": 116, "aid_value_usd": 4e8},
        sources=[{"name": "Air Force", "url": "https://example.org/a"}],
        importance=5,
        tags=["ukraine"],
        classification={"matched": ["drone"]},
    )
    with db.session() as session:
        upsert_events(session, [original])
    with db.session() as session:
        stored = get_event(session, "a")
    assert stored == original
    assert stored.occurred_at.tzinfo is not None


def test_upsert_counts_and_replaces(db):
    with db.session() as session:
        first = upsert_events(session, [make_event("a", 1), make_event("b", 2)])
    with db.session() as session:
        second = upsert_events(session, [make_event("a", 1, importance=5), make_event("c", 3)])
    assert (first.added, first.updated) == (2, 0)
    assert (second.added, second.updated) == (1, 1)
    with db.session() as session:
        assert get_event(session, "a").importance == 5


def test_events_between_is_half_open_and_filters_categories(db):
    with db.session() as session:
        upsert_events(
            session,
            [
                make_event("a", 0),
                make_event("b", 23.99),
                make_event("c", 24),
                make_event("d", 5, "aid"),
            ],
        )
    with db.session() as session:
        window = events_between(session, T0, T0 + timedelta(hours=24), ["military"])
    assert [event.id for event in window] == ["a", "b"]


def test_a_failed_session_stores_nothing(db):
    with pytest.raises(RuntimeError), db.session() as session:
        upsert_events(session, [make_event("a", 1)])
        raise RuntimeError("boom")
    with db.session() as session:
        assert get_event(session, "a") is None


def test_one_edition_per_brief_and_slot(db):
    slot = T0 + timedelta(hours=7)
    with db.session() as session:
        session.add(make_edition(slot=slot))
        session.add(make_edition(slot=None))
        session.add(make_edition(slot=None))
    with pytest.raises(IntegrityError), db.session() as session:
        session.add(make_edition(slot=slot))
    with db.session() as session:
        assert edition_for_slot(session, "daily", slot).slot == slot
        assert len(list_editions(session, "daily")) == 3


def test_latest_edition_is_the_one_ending_last(db):
    with db.session() as session:
        session.add(make_edition(end_hours=48))
        session.add(make_edition(end_hours=24))
        session.add(make_edition(brief="other", end_hours=72))
    with db.session() as session:
        assert latest_edition(session, "daily").window_end == T0 + timedelta(hours=48)
        assert latest_edition(session, "none") is None


def test_processes_starting_together_on_a_new_database_all_succeed(tmp_path):
    """Two first commands racing on a fresh SQLite file must not trip over the migrations."""
    import subprocess
    import sys

    env = {"BRIEFING_OUTPUT_DIR": str(tmp_path / "out"), "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "briefing", "events", "list", "--json"]
    processes = [
        subprocess.Popen(command, env=env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
        for _ in range(4)
    ]
    errors = [process.communicate()[1] for process in processes]
    assert [process.returncode for process in processes] == [0, 0, 0, 0], errors


def test_figure_notes_are_stored_and_must_name_a_figure(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'notes.db'}")
    event = Event(
        occurred_at="2024-10-26T03:00+03:00",
        category="military",
        title="Russia launches drones",
        figures={"drones_launched": 116, "support_percent": 45},
        figure_notes={
            "drones_launched": {"qualifier": "approximately", "side": "Russia"},
            "support_percent": {"unit": "%", "upper": 52},
        },
    )
    with store.session() as session:
        upsert_events(session, [event])
    with store.session() as session:
        stored = get_event(session, event.id)
    assert stored.figure_notes["drones_launched"].qualifier == "approximately"
    assert stored.figure_notes["support_percent"].upper == 52
    with pytest.raises(ValueError, match="figure_notes: tanks has no figure"):
        Event(
            occurred_at="2024-10-26",
            category="military",
            title="t",
            figure_notes={"tanks": {"side": "Russia"}},
        )
