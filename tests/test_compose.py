"""Composition: which events a brief shows, in what order, and what its figures add up to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from briefing.compose import compose_brief
from briefing.config import DEFAULT_FIGURES, BriefSpec, FigureSpec
from briefing.event import Event
from briefing.window import Window

KYIV = ZoneInfo("Europe/Kyiv")
DAY = Window(datetime(2024, 10, 26, tzinfo=KYIV), datetime(2024, 10, 27, tzinfo=KYIV), KYIV)
NOW = datetime(2024, 10, 27, 7, tzinfo=UTC)


def event(event_id: str, hour: int, category: str = "military", importance: int = 3, **extra):
    return Event.model_validate(
        {
            "id": event_id,
            "occurred_at": datetime(2024, 10, 26, hour, tzinfo=KYIV),
            "category": category,
            "title": f"Title {event_id}",
            "importance": importance,
            **extra,
        }
    )


def compose(events, spec=None, previous=None, specs=DEFAULT_FIGURES):
    return compose_brief(
        "daily",
        spec or BriefSpec(title="Daily"),
        events,
        window=DAY,
        generated_at=NOW,
        figure_specs=specs,
        previous_events=previous,
    )


def ids(items):
    return [item.event.id for item in items]


def test_sections_follow_the_configured_order_and_rank_by_importance_then_time():
    brief = compose(
        [
            event("a", 1, importance=3),
            event("b", 9, importance=5),
            event("c", 12, importance=3),
            event("d", 2, "diplomatic"),
            event("e", 3, "aid"),
        ],
        BriefSpec(sections=["aid", "military", "diplomatic"]),
    )
    assert [section.category for section in brief.sections] == ["aid", "military", "diplomatic"]
    assert ids(brief.sections[1].items) == ["b", "c", "a"]
    assert [section.heading for section in brief.sections] == ["Aid", "Military", "Diplomatic"]


def test_events_outside_the_window_or_sections_are_left_out():
    inside = event("in", 5)
    before = event("before", 5).model_copy(update={"occurred_at": DAY.start - timedelta(seconds=1)})
    at_end = event("end", 5).model_copy(update={"occurred_at": DAY.end})
    other = event("other", 5, "humanitarian")
    brief = compose([inside, before, at_end, other])
    assert [event.id for event in brief.events] == ["in"]


def test_empty_sections_are_kept_and_empty_window_is_valid():
    brief = compose([])
    assert [section.items for section in brief.sections] == [(), (), ()]
    assert brief.takeaways == () and brief.figures == () and brief.sources == ()
    assert brief.edition_date.isoformat() == "2024-10-26"


def test_takeaways_are_the_most_important_items():
    events = [event(str(n), n, importance=1 + n % 5) for n in range(10)]
    brief = compose(events, BriefSpec(takeaways=3))
    assert [item.event.importance for item in brief.takeaways] == [5, 5, 4]
    assert ids(brief.takeaways) == ["9", "4", "8"]


def test_figures_add_up_by_registry_rule_and_show_change():
    specs = {**DEFAULT_FIGURES, "front_km": FigureSpec(label="Front", aggregate="latest")}
    events = [
        event("a", 1, figures={"drones_launched": 116, "distance_km": 750, "front_km": 10}),
        event("b", 2, figures={"drones_launched": 40, "distance_km": 300, "front_km": 12}),
    ]
    previous = [
        event("p", 3, figures={"drones_launched": 100}).model_copy(
            update={"occurred_at": DAY.start - timedelta(hours=3)}
        )
    ]
    brief = compose(events, previous=previous, specs=specs)
    totals = {figure.name: figure for figure in brief.figures}
    assert totals["drones_launched"].value == 156
    assert totals["drones_launched"].change == 56
    assert totals["distance_km"].value == 750
    assert totals["front_km"].value == 12
    assert totals["front_km"].previous == 0
    assert totals["drones_launched"].label == "Drones launched"


def test_without_a_previous_window_there_is_no_change():
    brief = compose([event("a", 1, figures={"drones_launched": 5})])
    assert brief.figures[0].previous is None and brief.figures[0].change is None


def test_unknown_figures_get_a_readable_label():
    brief = compose([event("a", 1, figures={"tanks_destroyed": 4})])
    assert brief.figures[0].label == "Tanks destroyed"


def test_sources_are_numbered_once_in_order_of_citation():
    shared = {"name": "Air Force", "url": "https://example.org/a"}
    brief = compose(
        [
            event("a", 1, importance=5, sources=[shared, {"name": "Wire"}]),
            event("b", 2, sources=[{"name": "Wire"}, shared]),
        ]
    )
    assert [(ref.number, ref.name) for ref in brief.sources] == [(1, "Air Force"), (2, "Wire")]
    second = brief.sections[0].items[1]
    assert [ref.number for ref in second.refs] == [2, 1]


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (BriefSpec(tags=["nato"]), ["a"]),
        (BriefSpec(countries=["ua"]), ["b"]),
        (BriefSpec(), ["a", "b"]),
    ],
)
def test_tag_and_country_filters(spec, expected):
    events = [
        event("a", 1, tags=["nato"], location={"country": "SK"}),
        event("b", 2, tags=["ukraine"], location={"country": "UA"}),
    ]
    assert sorted(e.id for e in compose(events, spec).events) == expected


def test_item_times_are_shown_in_the_brief_zone():
    brief = compose([event("a", 3)])
    assert brief.sections[0].items[0].local_time.hour == 3
    assert brief.sections[0].items[0].local_time.utcoffset() == timedelta(hours=3)
