"""How users name windows: a day, a span, or since the last edition."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from briefing.brief.window import resolve_window
from briefing.errors import InputError

KYIV = ZoneInfo("Europe/Kyiv")
NOW = datetime(2024, 10, 27, 5, tzinfo=UTC)


def test_one_day_is_local_midnight_to_midnight_even_on_a_dst_change():
    window = resolve_window(KYIV, day=date(2024, 10, 27), now=NOW)
    assert window.local_start.isoformat() == "2024-10-27T00:00:00+03:00"
    assert window.local_end.isoformat() == "2024-10-28T00:00:00+02:00"
    assert window.end - window.start == timedelta(hours=25)
    assert window.edition_date == date(2024, 10, 27)


def test_default_is_since_the_previous_edition_or_the_last_day():
    last = NOW - timedelta(hours=6)
    assert resolve_window(KYIV, previous_end=last, now=NOW).start == last
    assert resolve_window(KYIV, now=NOW).start == NOW - timedelta(hours=24)
    assert resolve_window(KYIV, previous_end=NOW, now=NOW).start == NOW - timedelta(hours=24)


def test_a_bare_until_date_includes_that_day():
    window = resolve_window(KYIV, since="2024-10-25", until="2024-10-26", now=NOW)
    assert window.local_start.isoformat() == "2024-10-25T00:00:00+03:00"
    assert window.local_end.date() == date(2024, 10, 27)


def test_bad_bounds_are_reported():
    with pytest.raises(InputError, match="is not a date"):
        resolve_window(KYIV, since="yesterday", now=NOW)
    with pytest.raises(InputError, match="before it starts"):
        resolve_window(KYIV, since="2024-10-27", until="2024-10-20", now=NOW)
