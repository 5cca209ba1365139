"""Ingested articles in a real store: re-runs update, two sources of one development merge."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from briefing.errors import InputError
from briefing.ingest.text import ingest_text
from briefing.store import Store
from briefing.store.events import events_between
from tests.ingest_fixtures import (
    SEED_PUBLISHED,
    database_settings,
    database_store,
    seed_article,
)

__all__ = ["database_settings", "database_store"]  # fixtures `settings` and `store`, by name

REUTERS = (
    "Russia launched 116 drones and three missiles at Ukraine overnight, the air force said. "
    "Air defences destroyed 59 drones."
)
AP = (
    "Ukraine's air force said 59 drones were destroyed after Russia fired 116 drones and three "
    "missiles in an overnight attack on several regions."
)


def _all(store: Store):
    with store.session() as session:
        return events_between(session)


def _ingest(settings, store, text, source, published=date(2024, 10, 26), url=None):
    return ingest_text(settings, store, text, published=published, source=source, url=url)


def test_seed_article_is_stored_and_a_rerun_updates(settings, store):
    first = _ingest(settings, store, seed_article(), "Seed", SEED_PUBLISHED)
    assert (first.added, first.updated, first.merged) == (7, 0, 0)
    again = _ingest(settings, store, seed_article(), "Seed", SEED_PUBLISHED)
    assert (again.added, again.updated, again.merged) == (0, 7, 0)

    stored = _all(store)
    assert len(stored) == 7
    attack = next(e for e in stored if e.figures.get("drones_launched") == 116)
    assert attack.category == "military"
    assert attack.occurred_at == datetime(2024, 10, 26, 3, tzinfo=ZoneInfo("Europe/Kyiv"))
    assert attack.classification["matched"]["military"]


def test_a_rerun_keeps_what_a_reviewer_changed(settings, store):
    from briefing.store.events import upsert_events

    _ingest(settings, store, seed_article(), "Seed", SEED_PUBLISHED)
    attack = next(e for e in _all(store) if e.figures.get("drones_launched") == 116)
    reviewed = attack.model_copy(
        update={"title": "Overnight: 116 drones, 3 missiles", "importance": 5, "tags": ["top"]}
    )
    with store.session() as session:
        upsert_events(session, [reviewed])
    _ingest(settings, store, seed_article(), "Seed again", SEED_PUBLISHED, url="https://x.example")

    with store.session() as session:
        from briefing.store.events import get_event

        kept = get_event(session, attack.id)
    assert (kept.title, kept.importance, kept.tags) == (reviewed.title, 5, ["top"])
    assert {source.name for source in kept.sources} == {"Seed", "Seed again"}


def test_same_development_from_two_sources_is_one_event(settings, store):
    _ingest(settings, store, REUTERS, "Reuters", url="https://reuters.example/a")
    second = _ingest(settings, store, AP, "AP", url="https://ap.example/b")
    assert (second.added, second.merged) == (0, 1)

    (event,) = _all(store)
    assert [s.name for s in event.sources] == ["Reuters", "AP"]
    assert event.figures == {"drones_launched": 116, "missiles_launched": 3, "drones_destroyed": 59}

    rerun = _ingest(settings, store, REUTERS, "Reuters", url="https://reuters.example/a")
    assert (rerun.added, rerun.updated) == (0, 1)
    (event,) = _all(store)
    assert [s.name for s in event.sources] == ["Reuters", "AP"], "a re-run keeps other sources"


def test_similar_titles_merge_without_figures(settings, store):
    _ingest(
        settings, store, "South Korea summoned the Russian ambassador, officials said.", "Yonhap"
    )
    report = _ingest(
        settings, store, "South Korea has summoned the Russian ambassador over troops.", "KBS"
    )
    assert report.merged == 1
    (event,) = _all(store)
    assert event.category == "diplomatic"
    assert [s.name for s in event.sources] == ["Yonhap", "KBS"]


def test_different_days_or_categories_stay_apart(settings, store):
    _ingest(settings, store, REUTERS, "Reuters", published=date(2024, 10, 26))
    _ingest(settings, store, AP, "AP", published=date(2024, 10, 27))
    _ingest(
        settings,
        store,
        "The EU pledged €50 million in humanitarian aid after 116 drones and three missiles "
        "were launched overnight.",
        "EU",
    )
    stored = _all(store)
    assert len(stored) == 3
    assert sorted(e.category for e in stored) == ["aid", "military", "military"]


def test_small_coincident_figures_do_not_merge(settings, store):
    _ingest(settings, store, "A Russian drone strike killed one man in Sumy, officials said.", "A")
    _ingest(settings, store, "Shelling killed one woman in Nikopol, the governor said.", "B")
    assert len(_all(store)) == 2


def test_bad_article_stores_nothing(settings, store):
    with pytest.raises(InputError):
        _ingest(settings, store, "   ", "Empty")
    assert _all(store) == []
