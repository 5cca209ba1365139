"""Key figures add up only like with like: same figure, unit and side; one development once."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from briefing.brief.compose import compose_brief
from briefing.brief.window import Window
from briefing.config import DEFAULT_FIGURES, BriefSpec
from briefing.event import Event

KYIV = ZoneInfo("Europe/Kyiv")
DAY = Window(datetime(2024, 10, 26, tzinfo=KYIV), datetime(2024, 10, 27, tzinfo=KYIV), KYIV)


def _event(event_id: str, source: str, figures: dict, notes: dict | None = None, hour: int = 3):
    return Event.model_validate(
        {
            "id": event_id,
            "occurred_at": datetime(2024, 10, 26, hour, tzinfo=KYIV),
            "category": "military",
            "title": f"Report {event_id}",
            "figures": figures,
            "figure_notes": notes or {},
            "sources": [{"name": source}],
        }
    )


def _figures(events: list[Event]) -> dict[str, float]:
    return {label: value for label, _, value in _rows(events)}


def _rows(events: list[Event]) -> list[tuple[str, str, float]]:
    brief = compose_brief(
        "daily",
        BriefSpec(title="Daily"),
        events,
        window=DAY,
        generated_at=datetime(2024, 10, 27, 7, tzinfo=UTC),
        figure_specs=DEFAULT_FIGURES,
    )
    return [(figure.label, figure.unit, figure.value) for figure in brief.figures]


def two_sides_downing_drones() -> list:
    """63 Russian drones downed by Ukraine and 62 Ukrainian ones downed by Russia."""
    return [
        _event(
            "a", "Kyiv Wire", {"drones_destroyed": 63}, {"drones_destroyed": {"side": "Ukraine"}}
        ),
        _event(
            "b", "Moscow Wire", {"drones_destroyed": 62}, {"drones_destroyed": {"side": "Russia"}}
        ),
    ]


def test_two_sides_drones_downed_are_not_summed():
    figures = _figures(two_sides_downing_drones())
    assert figures == {"Drones destroyed (Ukraine)": 63, "Drones destroyed (Russia)": 62}


def test_a_development_two_sources_reported_counts_once():
    same = {"drones_launched": 116}
    figures = _figures(
        [
            _event("a", "Kyiv Wire", same),
            _event("b", "Other Wire", same, hour=4),
            _event("c", "Kyiv Wire", {"drones_launched": 5}, hour=9),
        ]
    )
    assert figures == {"Drones launched": 121}


def test_money_in_two_currencies_is_two_figures():
    rows = _rows(
        [
            _event("a", "W", {"aid_value": 500e6}, {"aid_value": {"unit": "EUR"}}),
            _event("b", "W", {"aid_value": 400e6}, {"aid_value": {"unit": "USD"}}, hour=5),
        ]
    )
    assert sorted(rows) == [("Aid value", "EUR", 500e6), ("Aid value", "USD", 400e6)]


def test_an_events_figure_line_does_not_borrow_another_events_side():
    from briefing.document.render import render_html

    brief = compose_brief(
        "daily",
        BriefSpec(title="Daily"),
        [
            *two_sides_downing_drones(),
            _event("c", "Other Wire", {"drones_destroyed": 5}, hour=6),
        ],
        window=DAY,
        generated_at=datetime(2024, 10, 27, 7, tzinfo=UTC),
        figure_specs=DEFAULT_FIGURES,
    )
    html = render_html(brief)
    assert "Drones destroyed (Ukraine)" in html and "Drones destroyed (Russia)" in html
    item_lines = html[html.index('class="item-figures"') :]
    # Each event's line names its own side only; the unsided report names none.
    assert item_lines.count("(Ukraine)") == 1 and item_lines.count("(Russia)") == 1
