"""The figure series table on SQLite and, when configured, PostgreSQL."""

from __future__ import annotations

from datetime import date

from briefing.store import Store
from briefing.store.series import SeriesPoint, list_series, series_between, store_series_points


def test_points_are_added_then_replaced_and_read_back_by_range(database_url):
    store = Store(database_url)
    try:
        first = [SeriesPoint("tank", date(2024, 10, day), day, "GS") for day in (24, 25, 26)]
        with store.session() as session:
            assert store_series_points(session, first).added == 3
        again = [SeriesPoint("tank", date(2024, 10, 26), 9.5, "GS, revised")]
        with store.session() as session:
            counts = store_series_points(session, again)
        assert (counts.added, counts.updated) == (0, 1)
        with store.session() as session:
            found = series_between(
                session, ["tank", "none"], date(2024, 10, 25), date(2024, 10, 26)
            )
            summaries = list_series(session)
        assert found == {
            "tank": [(date(2024, 10, 25), 25.0, "GS"), (date(2024, 10, 26), 9.5, "GS, revised")]
        }
        assert [(s.series, s.first_day, s.last_day, s.days) for s in summaries] == [
            ("tank", date(2024, 10, 24), date(2024, 10, 26), 3)
        ]
    finally:
        store.dispose()
