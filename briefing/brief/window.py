"""Time windows: the half-open spans a brief covers, and how users name them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from briefing.errors import InputError
from briefing.event import parse_time, within_supported_range

DEFAULT_SPAN = timedelta(hours=24)
_FIRST_MOMENT = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """The half-open time span [start, end) a brief covers, shown in the brief's zone."""

    start: datetime
    end: datetime
    zone: ZoneInfo

    def __post_init__(self) -> None:
        # Kept in UTC so that lengths and `previous()` count real hours across DST changes.
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))
        if self.end <= self.start:
            raise ValueError(f"window ends ({self.end}) before it starts ({self.start})")

    @property
    def local_start(self) -> datetime:
        return self.start.astimezone(self.zone)

    @property
    def local_end(self) -> datetime:
        return self.end.astimezone(self.zone)

    @property
    def edition_date(self) -> date:
        """The day the brief is for: the local day of its last covered instant."""
        return (self.end - timedelta(microseconds=1)).astimezone(self.zone).date()

    def previous(self) -> Window:
        """The window of the same length just before this one, cut at the first possible time."""
        length = min(self.end - self.start, self.start - _FIRST_MOMENT)
        return Window(self.start - length, self.start, self.zone)


def resolve_window(
    zone: ZoneInfo,
    *,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    day: date | None = None,
    previous_end: datetime | None = None,
    now: datetime,
) -> Window:
    """The window a user asked for: one local day, an explicit span, or since the last edition.

    A bare date given as `until` means the end of that day, as a reader of "until 26 Oct" expects.
    """
    if day is not None:
        start = _checked(datetime.combine(day, time(), zone), "--date")
        return Window(start, datetime.combine(day + timedelta(days=1), time(), zone), zone)
    end = _bound(until, zone, end_of_day=True) if until is not None else now
    if since is not None:
        start = _bound(since, zone, end_of_day=False)
    elif previous_end is not None and previous_end < end:
        start = previous_end
    else:
        start = end - DEFAULT_SPAN
    try:
        return Window(start, end, zone)
    except ValueError as exc:
        raise InputError(f"--since/--until: {exc}") from None


def _bound(value: str | date | datetime, zone: ZoneInfo, *, end_of_day: bool) -> datetime:
    is_day = isinstance(value, date) and not isinstance(value, datetime)
    if isinstance(value, str):
        is_day = len(value.strip()) == 10
    option = "--until" if end_of_day else "--since"
    try:
        moment = parse_time(value, zone)
    except ValueError as exc:
        raise InputError(f"{option}: {exc}") from None
    moment = _checked(moment, option)
    return moment + timedelta(days=1) if is_day and end_of_day else moment


def _checked(moment: datetime, option: str) -> datetime:
    try:
        return within_supported_range(moment)
    except ValueError as exc:
        raise InputError(f"{option}: {exc}") from None


def parse_span(
    since: str | None, until: str | None, zone: ZoneInfo
) -> tuple[datetime | None, datetime | None]:
    """Open-ended bounds for listings; a bare date as `until` includes that whole day."""
    start = _bound(since, zone, end_of_day=False) if since else None
    end = _bound(until, zone, end_of_day=True) if until else None
    return start, end
