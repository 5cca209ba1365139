"""Events read back from the store are built without validating again (a brief over 100,000
events spent most of its time there). This pins that such an event is, in every use the
rest of briefing makes of it, the event that was validated and stored."""

from __future__ import annotations

import json
from datetime import UTC
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from briefing.event import Event
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
