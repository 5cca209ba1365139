"""Events read back from the store are built without validating again (a brief over 100,000
events spent most of its time there). This pins that such an event is, in every use the
rest of briefing makes of it, the event that was validated and stored."""

from __future__ import annotations

import json
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from briefing.event import EARLIEST, END_OF_RANGE, Event
from briefing.store import Store
from briefing.store.events import events_between, events_by_id, get_event, upsert_events
from tests.conftest import DEMO_EVENTS

NOTED = {
    "id": "noted",
    "occurred_at": "2024-10-26T03:00+03:00",
    "category": "military",
    "title": "Russia launches drones",
    "figures": {"drones_launched": 116, "support_percent": 45.5},
    "figure_notes": {
        "drones_launched": {"qualifier": "approximately", "side": "Russia"},
        "support_percent": {"unit": "%", "upper": 52},
    },
    "sources": [{"name": "Air Force"}, {"name": "Wire", "url": "https://wire.example/1"}],
    "classification": {"scores": {"military": 3.0}},
}


@pytest.fixture
def validated() -> list[Event]:
    context = {"zone": ZoneInfo("Europe/Kyiv")}
    records = [*json.loads(DEMO_EVENTS.read_text()), NOTED]
    return [Event.model_validate(record, context=context) for record in records]


@pytest.fixture
def stored(database_url, validated) -> list[Event]:
    store = Store(database_url)
    try:
        with store.session() as session:
            upsert_events(session, validated)
        with store.session() as session:
            read = {event.id: event for event in events_between(session)}
            assert read == {event.id: event for event in events_by_id(session, list(read))}
            assert read["noted"] == get_event(session, "noted")
    finally:
        store.dispose()
    return [read[event.id] for event in validated]


def test_a_stored_event_is_the_validated_one(validated, stored):
    for written, read in zip(validated, stored, strict=True):
        original = Event.model_validate(  # the store keeps times in UTC
            {**written.model_dump(), "occurred_at": written.occurred_at.astimezone(UTC)}
        )
        assert read == original
        assert set(vars(read)) == set(Event.model_fields), "every field, none extra"
        assert read.model_dump(mode="json") == original.model_dump(mode="json")
        assert read.model_dump_json() == original.model_dump_json()
        assert read.model_dump(exclude_unset=True) == read.model_dump()
        assert Event.model_validate(read.model_dump()) == original
        assert read.sort_key == original.sort_key


def test_a_stored_event_stays_frozen_and_copies_like_a_validated_one(stored):
    event = stored[-1]
    with pytest.raises(ValidationError):
        event.title = "changed"
    with pytest.raises(ValidationError):
        event.sources[0].name = "changed"
    changed = event.model_copy(update={"title": "Edited"})
    assert (changed.title, event.title) == ("Edited", "Russia launches drones")
    assert hash(event.location) == hash(stored[-1].location)
    assert event.figure_notes["support_percent"].upper == 52
    assert event.sources[0].url is None


TRICKY = {
    "id": 'tricky "quoted" \\ id',
    "occurred_at": "2024-10-26T03:04:05.123400+03:00",
    "category": "diplomatic",
    "subtype": "statement",
    "title": 'A "quoted" title \\ with é, Київ, 🚀 and \u2028 a line separator',
    "summary": "Tab\there,\nnewline, </script> and a trailing backslash \\",
    "location": {"country": "UA", "place": "Kyiv"},
    "actors": ["Ukraine", "O'Brien"],
    "figures": {"drones_launched": 116},
    "figure_notes": {"drones_launched": {"qualifier": "at least", "side": "Russia"}},
    "sources": [{"name": "Wire", "title": "Täglich", "published": "2024-10-26"}],
    "importance": 4,
    "tags": ["ukraine"],
    "classification": {"confidence": 0.75, "reasons": ["said"]},
}


def test_a_window_read_without_building_its_events_agrees_with_them(database_url, validated):
    """What a brief reads of every event of its window (`StoredEvent`), and the JSON its PDF
    attaches, are those of the stored event, whatever its text holds."""
    from briefing.store.events import stored_events_between

    tricky = Event.model_validate(TRICKY, context={"zone": ZoneInfo("Europe/Kyiv")})
    store = Store(database_url)
    try:
        with store.session() as session:
            upsert_events(session, [*validated, tricky])
        with store.session() as session:
            built = {event.id: event for event in events_between(session)}
            read = stored_events_between(session, EARLIEST, END_OF_RANGE)
    finally:
        store.dispose()
    assert [event.id for event in read] == list(built)
    for event in read:
        whole = built[event.id]
        assert event.whole() == whole
        assert json.loads(event.as_json()) == whole.model_dump(mode="json")
        assert (event.occurred_at, event.category, event.importance) == (
            whole.occurred_at,
            whole.category,
            whole.importance,
        )
        assert (event.country, list(event.tags), list(event.actors)) == (
            whole.country,
            whole.tags,
            whole.actors,
        )
        assert (event.figures, event.figure_notes) == (whole.figures, whole.figure_notes)
        assert event.source_names == whole.source_names
        assert event.sort_key == whole.sort_key
    tricky_read = next(event for event in read if event.id == tricky.id)
    assert tricky_read.confidence == 0.75
    assert tricky_read.review_state == "approved"
