"""Ingested articles in a real store: re-runs update, two sources of one development merge."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from briefing.event import Event, Location
from briefing.ingest.text import ingest_text
from briefing.store import Store
from briefing.store.events import events_between, get_event, upsert_events
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


def _review(store: Store, event: Event, **changes) -> Event:
    """What a reviewer does: edit a stored event and store it again."""
    reviewed = event.model_copy(update=changes)
    with store.session() as session:
        upsert_events(session, [reviewed])
    return reviewed


REVIEW = {
    "title": "Overnight: 116 drones, 3 missiles",
    "summary": "Reviewed summary.",
    "category": "humanitarian",
    "importance": 5,
    "tags": ["top"],
    "location": Location(place="Kyiv", country="UA"),
}
KEPT = ("title", "summary", "category", "importance", "tags", "location", "occurred_at")


def test_a_rerun_keeps_what_a_reviewer_changed(settings, store):
    _ingest(settings, store, seed_article(), "Seed", SEED_PUBLISHED)
    attack = next(e for e in _all(store) if e.figures.get("drones_launched") == 116)
    figures = {**attack.figures, "drones_destroyed": 60}  # a reviewer's correction
    reviewed = _review(store, attack, figures=figures, **REVIEW)

    again = _ingest(
        settings, store, seed_article(), "Seed 2", SEED_PUBLISHED, url="https://x.example"
    )
    assert (again.added, again.updated, again.merged) == (0, 7, 0)

    with store.session() as session:
        kept = get_event(session, attack.id)
    assert [getattr(kept, name) for name in KEPT] == [getattr(reviewed, name) for name in KEPT]
    assert kept.figures == figures
    assert [source.name for source in kept.sources] == ["Seed", "Seed 2"]
    assert len(_all(store)) == 7


def test_another_source_adds_only_what_the_event_lacks(settings, store):
    _ingest(settings, store, REUTERS, "Reuters", url="https://reuters.example/a")
    (event,) = _all(store)
    reviewed = _review(store, event, importance=5, tags=["top"], title="Overnight attack")
    report = _ingest(
        settings,
        store,
        AP + " Air defences also shot down 2 missiles.",
        "AP",
        url="https://ap.example/b",
    )
    assert (report.added, report.merged) == (0, 1)

    (kept,) = _all(store)
    assert [getattr(kept, name) for name in KEPT] == [getattr(reviewed, name) for name in KEPT]
    assert [s.name for s in kept.sources] == ["Reuters", "AP"]
    assert kept.figures == {**event.figures, "missiles_destroyed": 2}


def test_a_merged_report_ingested_again_after_review_is_no_new_event(settings, store):
    _ingest(settings, store, REUTERS, "Reuters", url="https://reuters.example/a")
    _ingest(settings, store, AP, "AP", url="https://ap.example/b")
    (event,) = _all(store)
    _review(store, event, category="humanitarian", title="Night of drones")

    again = _ingest(settings, store, AP, "AP", url="https://ap.example/b")
    assert (again.added, again.updated, again.merged) == (0, 1, 0)
    (kept,) = _all(store)
    assert (kept.category, kept.title) == ("humanitarian", "Night of drones")
    assert [s.name for s in kept.sources] == ["Reuters", "AP"]


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


def test_different_counts_on_one_day_are_different_developments(settings, store):
    """Reports of 116, 5 and 40 drones on one day used to become one event showing 116."""
    _ingest(
        settings, store, "Russia launched 116 drones at Ukraine overnight, the air force said.", "A"
    )
    _ingest(
        settings, store, "Russia launched 5 drones at Ukraine overnight, the air force said.", "B"
    )
    _ingest(
        settings, store, "Russia launched 40 drones at Ukraine overnight, the air force said.", "C"
    )
    stored = _all(store)
    assert sorted(e.figures["drones_launched"] for e in stored) == [5, 40, 116]


def test_figure_notes_and_the_reason_are_stored(settings, store):
    _ingest(
        settings,
        store,
        "Russia launched at least 19 drones at Ukraine overnight; Ukraine's air defences shot "
        "down 13 of the drones, the air force said.",
        "A",
    )
    (event,) = _all(store)
    assert event.figures == {"drones_launched": 19, "drones_destroyed": 13}
    notes = event.figure_notes
    assert (notes["drones_launched"].qualifier, notes["drones_launched"].side) == (
        "at least",
        "Russia",
    )
    assert notes["drones_destroyed"].side == "Ukraine"
    assert 0 < event.classification["confidence"] <= 1
    assert any("launched" in reason for reason in event.classification["reasons"])
