"""Composition: which events a brief shows, in what order, and what its figures add up to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from briefing.brief.compose import compose_brief
from briefing.brief.window import Window
from briefing.config import DEFAULT_FIGURES, BriefSpec, FigureSpec
from briefing.event import Event

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
    assert list(brief.event_ids) == ["in"]


def test_empty_sections_are_kept_and_empty_window_is_valid():
    brief = compose([])
    assert [section.items for section in brief.sections] == [(), (), ()]
    assert brief.takeaways == () and brief.figures == () and brief.sources == ()
    assert brief.edition_date.isoformat() == "2024-10-26"


def test_takeaways_say_what_changed_and_cite_their_items():
    events = [
        event("strike", 3, importance=5, actors=["Russia"],
              figures={"drones_launched": 116, "drones_destroyed": 59}),
        event("package", 9, "aid", actors=["United States"], figures={"military_aid_usd": 4e8}),
        event("talks", 12, "diplomatic", actors=["Russia", "North Korea"]),
        event("quiet", 14, importance=1),
    ]  # fmt: skip
    earlier = event("before", 1, actors=["Russia"], figures={"drones_launched": 80})
    earlier = earlier.model_copy(update={"occurred_at": DAY.start - timedelta(hours=20)})
    brief = compose(events, previous=[earlier])
    kinds = [(t.kind, t.category, t.item_numbers) for t in brief.takeaways]
    assert kinds == [
        ("figures", "military", (1,)),
        ("figures", "aid", (4,)),
        ("new", "diplomatic", (3, 4)),
        ("count", "", (1, 2, 3, 4)),
    ]
    drones = brief.takeaways[0].figures
    assert [(f.name, f.value, f.previous) for f in drones] == [
        ("drones_launched", 116, 80),
        ("drones_destroyed", 59, 0),
    ]
    assert brief.takeaways[2].names == ("North Korea", "United States")
    assert brief.takeaways[3].counts == (("Military", 2), ("Diplomatic", 1), ("Aid", 1))
    assert compose(events, previous=[earlier]).takeaways == brief.takeaways  # deterministic


def test_takeaways_keep_room_for_what_is_new_and_the_count():
    events = [event(str(n), n, figures={f"figure_{n}": n}) for n in range(8)]
    brief = compose(events, BriefSpec(takeaways=3), previous=[])
    assert [t.kind for t in brief.takeaways] == ["figures", "figures", "count"]
    assert compose(events, BriefSpec(takeaways=0)).takeaways == ()


def test_a_total_keeps_its_qualifier_and_side_only_when_reports_agree():
    notes = {"drones_launched": {"qualifier": "approximately", "side": "Ukrainian Air Force"}}
    one = compose([event("a", 1, figures={"drones_launched": 116}, figure_notes=notes)])
    figure = one.figures[0]
    assert (figure.qualifier, figure.side) == ("approximately", "Ukrainian Air Force")
    exact = {"drones_launched": {"side": "Ukrainian Air Force"}}
    mixed = compose(
        [
            event("a", 1, figures={"drones_launched": 116}, figure_notes=notes),
            event("b", 2, figures={"drones_launched": 20}, figure_notes=exact),
        ]
    )
    (total,) = mixed.figures
    assert (total.value, total.qualifier, total.side) == (
        136,
        "approximately",
        "Ukrainian Air Force",
    )
    sides = compose(
        [
            event("a", 1, figures={"drones_launched": 116}, figure_notes=notes),
            event("b", 2, figures={"drones_launched": 20}),
        ]
    )
    assert sorted((f.value, f.side) for f in sides.figures) == [
        (20, None),
        (116, "Ukrainian Air Force"),
    ], "a count without a side is never added to one with a side"
    ranged = {"killed": {"upper": 52}}
    assert (
        compose([event("c", 1, figures={"killed": 45}, figure_notes=ranged)]).figures[0].upper == 52
    )


def test_military_and_humanitarian_aid_are_never_one_figure():
    brief = compose(
        [
            event("a", 1, "aid", figures={"military_aid_usd": 4e8}),
            event("b", 2, "aid", figures={"humanitarian_aid_usd": 5e6}),
        ]
    )
    labels = {figure.name: figure.label for figure in brief.figures}
    assert labels == {
        "military_aid_usd": "Military aid pledged",
        "humanitarian_aid_usd": "Humanitarian aid pledged",
    }


def test_each_figure_has_its_daily_trend_over_thirty_days():
    history = [
        event(f"h{n}", 3, figures={"drones_launched": 10 * n}).model_copy(
            update={"occurred_at": DAY.start - timedelta(days=n, hours=-3)}
        )
        for n in (1, 2, 40)
    ]
    brief = compose_brief(
        "daily", BriefSpec(), [event("a", 3, figures={"drones_launched": 116})],
        window=DAY, generated_at=NOW, figure_specs=DEFAULT_FIGURES, history_events=history,
    )  # fmt: skip
    trend = brief.figures[0].trend
    assert [(p.day.isoformat(), p.value) for p in trend] == [
        ("2024-10-24", 20),
        ("2024-10-25", 10),
        ("2024-10-26", 116),
    ]


def test_configured_series_come_in_order_labelled_with_their_source():
    day = DAY.edition_date
    points = {
        "losses_tank": [(day - timedelta(days=1), 5.0, "GS"), (day, 7.0, "GS")],
        "losses_apc": [(day, 9.0, "GS")],
        "unshown": [(day, 1.0, "GS")],
    }
    spec = BriefSpec(series=["losses_tank", "missing", "losses_apc"])
    specs = {**DEFAULT_FIGURES, "losses_tank": FigureSpec(label="Tanks lost")}
    brief = compose_brief(
        "daily", spec, [], window=DAY, generated_at=NOW, figure_specs=specs, series=points
    )
    assert [(s.name, s.label, s.source) for s in brief.series] == [
        ("losses_tank", "Tanks lost", "GS"),
        ("losses_apc", "Losses apc", "GS"),
    ]
    assert brief.series[0].change == 2 and brief.series[0].total == 12
    assert brief.series[1].change is None


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
    assert sorted(compose(events, spec).event_ids) == expected


def test_item_times_are_shown_in_the_brief_zone():
    brief = compose([event("a", 3)])
    assert brief.sections[0].items[0].local_time.hour == 3
    assert brief.sections[0].items[0].local_time.utcoffset() == timedelta(hours=3)
