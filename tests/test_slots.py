"""Slot arithmetic: cron in a brief's zone, daylight-saving days, and the catch-up window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from briefing.errors import ConfigError
from briefing.schedule.slots import DuePlan, in_catch_up, parse_schedule, plan_slots

KYIV = ZoneInfo("Europe/Kyiv")
NEW_YORK = ZoneInfo("America/New_York")
SIX_HOURS = timedelta(hours=6)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def kyiv(*args: int) -> datetime:
    return datetime(*args, tzinfo=KYIV)


def plan_at(expression: str, local_now: datetime, since: datetime | None) -> DuePlan:
    """What a Kyiv brief's wake-up at `local_now` (a frozen clock) does, with 6 h of catch-up."""
    with time_machine.travel(local_now, tick=False):
        return plan_slots(
            parse_schedule(expression, KYIV), datetime.now(UTC), SIX_HOURS, since=since
        )


def test_a_kyiv_morning_brief_keeps_its_local_time_across_the_autumn_change():
    schedule = parse_schedule("0 7 * * *", KYIV)
    slots = schedule.between(utc(2024, 10, 25, 12), utc(2024, 10, 28, 12))
    # Kyiv leaves summer time (UTC+3 → UTC+2) at 04:00 on Sunday 27 October 2024.
    assert slots == [utc(2024, 10, 26, 4), utc(2024, 10, 27, 5), utc(2024, 10, 28, 5)]
    assert {slot.astimezone(KYIV).hour for slot in slots} == {7}


def test_a_time_in_the_repeated_hour_is_due_once():
    # 03:30 happens twice in Kyiv on 27 October 2024 (and 01:30 in New York on 3 November).
    kyiv = parse_schedule("30 3 * * *", KYIV)
    assert kyiv.between(utc(2024, 10, 26, 12), utc(2024, 10, 27, 12)) == [utc(2024, 10, 27, 0, 30)]
    new_york = parse_schedule("30 1 * * *", NEW_YORK)
    assert new_york.between(utc(2024, 11, 2, 12), utc(2024, 11, 3, 12)) == [utc(2024, 11, 3, 5, 30)]


def test_a_time_in_the_spring_gap_is_due_once_shifted_by_the_gap():
    # 02:30 does not exist in New York on 10 March 2024; it is due at 03:30 EDT.
    new_york = parse_schedule("30 2 * * *", NEW_YORK)
    slots = new_york.between(utc(2024, 3, 9, 12), utc(2024, 3, 11, 12))
    assert [slot.astimezone(NEW_YORK).strftime("%d %H:%M %Z") for slot in slots] == [
        "10 03:30 EDT",
        "11 02:30 EDT",
    ]
    kyiv = parse_schedule("30 3 * * *", KYIV)
    assert kyiv.between(utc(2024, 3, 30, 12), utc(2024, 3, 31, 12)) == [utc(2024, 3, 31, 1, 30)]


def test_a_spring_change_day_in_new_york_moves_the_utc_time_not_the_local_one():
    schedule = parse_schedule("0 7 * * *", NEW_YORK)
    assert schedule.between(utc(2024, 3, 9), utc(2024, 3, 11)) == [
        utc(2024, 3, 9, 12),
        utc(2024, 3, 10, 11),
    ]


@pytest.mark.parametrize(
    ("weekdays", "expected"),
    [
        ("1-5", ["Mon", "Tue", "Wed", "Thu", "Fri"]),
        ("0", ["Sun"]),
        ("7", ["Sun"]),
        ("sat,sun", ["Sun", "Sat"]),
        ("*/2", ["Sun", "Tue", "Thu", "Sat"]),
    ],
)
def test_weekdays_count_like_cron_sunday_is_zero(weekdays: str, expected: list[str]):
    schedule = parse_schedule(f"0 9 * * {weekdays}", KYIV)
    slots = schedule.between(utc(2024, 10, 6), utc(2024, 10, 13))  # Sunday 6 .. Sunday 13 Oct
    days = sorted({slot.astimezone(KYIV).strftime("%a") for slot in slots}, key=_week_order)
    assert days == expected


def _week_order(day: str) -> int:
    return ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"].index(day)


def test_a_sixth_leading_field_gives_seconds():
    schedule = parse_schedule("*/5 * * * * *", ZoneInfo("UTC"))
    assert schedule.between(utc(2024, 1, 1, 0, 0, 0), utc(2024, 1, 1, 0, 0, 16)) == [
        utc(2024, 1, 1, 0, 0, 5),
        utc(2024, 1, 1, 0, 0, 10),
        utc(2024, 1, 1, 0, 0, 15),
    ]


def test_macros_are_understood():
    schedule = parse_schedule("@daily", KYIV)
    assert schedule.next_after(utc(2024, 10, 26, 12)).astimezone(KYIV).hour == 0


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("0 7 * *", "has 4 fields"),
        ("61 7 * * *", "61"),
        ("0 7 * * mon-xyz", "day of week"),
        ("0 7 1 * 1", "restricts both day of month and day of week"),
    ],
)
def test_a_bad_expression_names_the_setting(expression: str, message: str):
    with pytest.raises(ConfigError) as caught:
        parse_schedule(expression, KYIV, "briefs.daily.schedule")
    assert str(caught.value).startswith("briefs.daily.schedule: ")
    assert message in str(caught.value)


def test_a_late_start_catches_up_todays_slot_inside_the_window():
    plan = plan_at("0 7 * * *", kyiv(2024, 10, 26, 12, 59), since=utc(2024, 10, 25, 4))
    assert plan.due == utc(2024, 10, 26, 4)
    assert (plan.superseded, plan.expired, plan.missed_total) == ([], [], 0)


def test_a_slot_older_than_the_window_is_not_caught_up():
    plan = plan_at("0 7 * * *", kyiv(2024, 10, 26, 13, 0), since=utc(2024, 10, 25, 4))
    assert plan.due is None
    assert plan.expired == [utc(2024, 10, 26, 4)]
    assert plan.missed_total == 1


def test_after_days_down_only_the_newest_slot_is_made_and_the_rest_are_listed_as_skipped():
    plan = plan_at("0 7 * * *", kyiv(2024, 10, 28, 8, 0), since=utc(2024, 10, 25, 4))
    assert plan.due == utc(2024, 10, 28, 5)
    assert plan.expired == [utc(2024, 10, 26, 4), utc(2024, 10, 27, 5)]
    assert plan.missed_total == 2


def test_missed_slots_inside_the_window_are_superseded_by_the_newest():
    plan = plan_at("0 * * * *", kyiv(2024, 10, 26, 10, 20), since=utc(2024, 10, 26, 4))
    assert plan.due == utc(2024, 10, 26, 7)
    assert plan.superseded == [utc(2024, 10, 26, 5), utc(2024, 10, 26, 6)]
    assert plan.expired == []


def test_a_brief_that_never_ran_has_missed_nothing():
    plan = plan_at("0 * * * *", kyiv(2024, 10, 26, 10, 20), since=None)
    assert plan.due == utc(2024, 10, 26, 7)
    assert (plan.superseded, plan.expired, plan.missed_total) == ([], [], 0)


def test_the_newest_slot_of_a_seconds_schedule_is_found_without_walking_the_whole_window():
    schedule = parse_schedule("*/5 * * * * *", ZoneInfo("UTC"))
    now = utc(2024, 1, 1, 12, 0, 7)
    assert schedule.latest(now, timedelta(days=30)) == utc(2024, 1, 1, 12, 0, 5)
    assert schedule.latest(utc(2024, 1, 1, 12, 0, 5), timedelta(days=30)) == utc(
        2024, 1, 1, 12, 0, 5
    )


def test_the_catch_up_window_is_half_open():
    slot = utc(2024, 10, 26, 4)
    assert in_catch_up(slot, slot, SIX_HOURS)
    assert in_catch_up(slot, slot + SIX_HOURS - timedelta(seconds=1), SIX_HOURS)
    assert not in_catch_up(slot, slot + SIX_HOURS, SIX_HOURS)
    assert not in_catch_up(slot, slot - timedelta(seconds=1), SIX_HOURS)
