"""Slot arithmetic: when a brief's cron schedule falls due, in its time zone. Pure; no I/O.

A *slot* is the instant (kept in UTC) at which a scheduled edition is due. Each matching local
wall-clock time gives one slot. Across daylight-saving changes:

- a time in the repeated hour of a fall-back night is due once, at its first occurrence;
- a time inside a spring-forward gap is due at the same wall time shifted by the gap
  (02:30 in a 02:00→03:00 gap is due at 03:30).

Expressions have 5 fields (minute hour day-of-month month day-of-week, with classic cron
weekdays: 0 or 7 = Sunday) or 6 with a leading seconds field, and `@hourly`, `@daily`,
`@weekly`, `@monthly`, `@yearly`. APScheduler's CronTrigger does the calendar work, so the
daemon and these calculations can never disagree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

from briefing.config import Settings
from briefing.errors import ConfigError

_MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_WEEKDAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]
_WEEKDAY_PART = re.compile(r"^(\*|\w+)(?:-(\w+))?(?:/(\d+))?$")
_TINY = timedelta(microseconds=1)


class WallClockCronTrigger(CronTrigger):
    """A CronTrigger that fires once per local wall-clock time, also on fall-back nights.

    APScheduler 3 fires a time of the repeated hour twice (once per UTC offset); a daily brief
    at 01:30 in New York would then be made twice on the first Sunday of November.
    """

    __slots__ = ()

    def get_next_fire_time(self, previous_fire_time, now):
        fire = super().get_next_fire_time(previous_fire_time, now)
        while fire is not None and _is_repeat(fire):
            fire = super().get_next_fire_time(fire, fire)
        return fire


def _is_repeat(moment: datetime) -> bool:
    """True for the second occurrence of an ambiguous local time."""
    return moment.fold == 1 and moment.replace(fold=0).utcoffset() != moment.utcoffset()


@dataclass(frozen=True)
class Schedule:
    """A parsed cron expression in a time zone."""

    expression: str
    zone: ZoneInfo
    trigger: CronTrigger = field(repr=False, compare=False)

    def next_after(self, moment: datetime) -> datetime | None:
        """The first slot strictly after `moment`, in UTC."""
        fire = self.trigger.get_next_fire_time(None, (moment + _TINY).astimezone(self.zone))
        return fire.astimezone(UTC) if fire else None

    def local_time(self, moment: datetime) -> str:
        """A moment as people in the brief's zone read it, for log lines and notices."""
        return moment.astimezone(self.zone).strftime("%Y-%m-%d %H:%M:%S %Z")

    def between(self, start: datetime, end: datetime, limit: int = 1000) -> list[datetime]:
        """Slots in the half-open span (start, end], oldest first, at most `limit`."""
        found: list[datetime] = []
        slot = self.next_after(start)
        while slot is not None and slot <= end and len(found) < limit:
            found.append(slot)
            slot = self.next_after(slot)
        return found

    def latest(self, now: datetime, horizon: timedelta) -> datetime | None:
        """The newest slot at or before `now` and younger than `horizon`, if any.

        Searches backwards in widening steps, so a seconds-level schedule with a long horizon
        costs a few dozen steps, not one per slot of the horizon.
        """
        lookback = min(timedelta(minutes=1), horizon)
        while True:
            first = self.next_after(now - lookback)
            if first is not None and first <= now:
                return self.between(first - _TINY, now, limit=10**6)[-1]
            if lookback >= horizon:
                return None
            lookback = min(lookback * 8, horizon)


def parse_schedule(expression: str, zone: ZoneInfo, where: str = "schedule") -> Schedule:
    """A Schedule, or a ConfigError naming `where` and what is wrong with the expression."""
    text = _MACROS.get(expression.strip().lower(), expression.strip())
    fields = text.split()
    if len(fields) == 5:
        fields = ["0", *fields]
    if len(fields) != 6:
        raise ConfigError(
            f"{where}: {expression!r} has {len(fields)} fields; expected 5 "
            "(minute hour day month weekday) or 6 (second first)"
        )
    second, minute, hour, day, month, weekday = fields
    if day not in ("*", "?") and weekday not in ("*", "?"):
        raise ConfigError(
            f"{where}: {expression!r} restricts both day of month and day of week; "
            "restrict one of them"
        )
    try:
        trigger = WallClockCronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day.replace("?", "*"),
            month=month,
            day_of_week=_weekdays(weekday.replace("?", "*")),
            timezone=zone,
        )
    except ValueError as exc:
        raise ConfigError(f"{where}: {expression!r}: {exc}") from None
    return Schedule(expression, zone, trigger)


def brief_schedule(settings: Settings, name: str) -> Schedule:
    """The parsed schedule of a configured brief (a ConfigError names the bad setting)."""
    name, spec = settings.brief(name)
    return parse_schedule(spec.schedule, settings.brief_zone(spec), f"briefs.{name}.schedule")


def _weekdays(spec: str) -> str:
    """Classic cron weekdays (0/7 = Sunday) as APScheduler names (it counts from Monday)."""
    if spec == "*":
        return spec
    days: set[int] = set()
    for part in spec.split(","):
        match = _WEEKDAY_PART.match(part.strip().lower())
        if not match:
            raise ValueError(f"bad day of week {part!r}")
        first, last, step = match.groups()
        if first == "*":
            start, end = 0, 6
        else:
            start = _weekday_number(first)
            end = _weekday_number(last) if last else (6 if step else start)
        if end < start:
            raise ValueError(f"bad day-of-week range {part!r}")
        days.update(day % 7 for day in range(start, end + 1, int(step or 1)))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def _weekday_number(token: str) -> int:
    if token.isdigit() and int(token) <= 7:
        return int(token)
    if token[:3] in _WEEKDAYS:
        return _WEEKDAYS.index(token[:3])
    raise ValueError(f"bad day of week {token!r}")


@dataclass(frozen=True)
class DuePlan:
    """What a wake-up at `now` should do for one brief's never-attempted slots."""

    due: datetime | None
    superseded: list[datetime]
    expired: list[datetime]
    missed_total: int


def plan_slots(
    schedule: Schedule,
    now: datetime,
    catch_up: timedelta,
    since: datetime | None,
    *,
    limit: int = 1000,
    keep: int = 50,
) -> DuePlan:
    """Split the slots after `since` (the newest slot with a recorded run) up to `now`.

    - `due`: the newest slot if it is younger than `catch_up` (a late or missed slot is caught
      up; its edition's window reaches back to the previous edition, so nothing is lost);
    - `superseded`: older never-attempted slots still inside the window (covered by `due`);
    - `expired`: never-attempted slots older than the window (skipped with a warning).

    At most `keep` skipped slots are listed (the newest of the first `limit` after `since`);
    `missed_total` counts up to `limit` of them. A brief with no recorded run has missed nothing.
    """
    due = schedule.latest(now, catch_up)
    if since is None:
        return DuePlan(due, [], [], 0)
    end = due - _TINY if due else now
    missed = schedule.between(since, end, limit=limit) if since < end else []
    newest = missed[-keep:]
    cutoff = now - catch_up
    return DuePlan(
        due,
        [slot for slot in newest if slot > cutoff],
        [slot for slot in newest if slot <= cutoff],
        len(missed),
    )


def in_catch_up(slot: datetime, now: datetime, catch_up: timedelta) -> bool:
    """A slot younger than the catch-up window may still be (re)tried."""
    return timedelta(0) <= now - slot < catch_up
