"""The event: one dated, sourced development, as every step of briefing sees it."""

from __future__ import annotations

import hashlib
import math
import re
from datetime import UTC, date, datetime, time
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

_SLUG = re.compile(r"[^a-z0-9]+")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

EARLIEST = datetime(2, 1, 1, tzinfo=UTC)
END_OF_RANGE = datetime(9999, 1, 1, tzinfo=UTC)
"""Times are kept within the years 2 to 9998 (UTC): the year on either side leaves room for time
zones, whole days and windows, so no date arithmetic overflows."""

FIGURE_LIMIT = 1e15
"""The largest magnitude of a key figure, so that sums over any number of events stay finite."""


def refuse_control_characters(text: str) -> str:
    """`text` unchanged, or ValueError if it holds a control character other than tab and newline.

    Such characters break terminals (escape sequences), PostgreSQL (NUL) and documents.
    """
    found = _CONTROL.search(text)
    if found:
        raise ValueError(
            f"control character U+{ord(found.group()):04X} at position {found.start() + 1}"
            " (only tab and newline are allowed)"
        )
    return text


def without_control_characters(text: str) -> str:
    """`text` with each control character other than tab and newline replaced by a space."""
    return _CONTROL.sub(" ", text)


def within_supported_range(moment: datetime) -> datetime:
    """`moment` (aware) unchanged, or ValueError if it lies outside the years 2 to 9998 UTC."""
    try:
        inside = EARLIEST <= moment.astimezone(UTC) < END_OF_RANGE
    except OverflowError:
        inside = False
    if not inside:
        raise ValueError(
            f"{moment.isoformat()} is outside the supported range (the years 2 to 9998, UTC)"
        )
    return moment


def _is_stored(info: ValidationInfo) -> bool:
    """Read back from the store: checked on the way in, and older rows may predate a check."""
    return bool((info.context or {}).get("stored"))


def _plain_text(value: str, info: ValidationInfo) -> str:
    return value if _is_stored(info) else refuse_control_characters(value)


PlainText = Annotated[str, AfterValidator(_plain_text)]
"""A stored text field: no control characters except tab and newline."""


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    country: PlainText | None = None
    place: PlainText | None = None


class Source(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: PlainText = Field(min_length=1)
    url: PlainText | None = None

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        return web_address(value) if value else None


def web_address(value: str) -> str:
    """`value` unchanged if it is an http or https address, else ValueError."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"{value!r} is not an http or https address")
    return value


Qualifier = Literal["approximately", "at least", "more than", "up to", "at most", "fewer than"]


class FigureNote(BaseModel):
    """What a bare number loses: how exact it is, whose it is, its unit, a range's top.

    Kept beside `Event.figures` under the same name, so sums can keep sides and units apart
    and a reader sees "approximately 116", not a flat 116.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    qualifier: Qualifier | None = None
    side: PlainText | None = Field(default=None, max_length=100)
    unit: PlainText | None = Field(default=None, max_length=20)
    upper: float | None = None

    @field_validator("upper")
    @classmethod
    def _bounded(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and not _is_stored(info):
            check_figure("upper", value)
        return value


class Event(BaseModel):
    """A validated event. Times are aware; figures are plain numbers keyed by registry names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: PlainText
    occurred_at: datetime
    category: PlainText
    subtype: PlainText | None = None
    title: PlainText = Field(min_length=1, max_length=500)
    summary: PlainText = ""
    location: Location = Field(default_factory=Location)
    actors: list[PlainText] = Field(default_factory=list)
    figures: dict[PlainText, float] = Field(default_factory=dict)
    figure_notes: dict[PlainText, FigureNote] = Field(default_factory=dict)
    sources: list[Source] = Field(default_factory=list)
    importance: int = Field(default=3, ge=1, le=5)
    tags: list[PlainText] = Field(default_factory=list)
    classification: dict[str, Any] | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive_id(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("id") and data.get("title"):
            data = {**data, "id": derive_id(data)}
        return data

    @field_validator("title", "summary", mode="before")
    @classmethod
    def _strip(cls, value: Any) -> Any:
        """Runs before the length check, so a title of only spaces is refused, not stored empty."""
        return " ".join(value.split()) if isinstance(value, str) else value

    @field_validator("occurred_at", mode="before")
    @classmethod
    def _time(cls, value: Any, info: ValidationInfo) -> datetime:
        zone = (info.context or {}).get("zone") or ZoneInfo("UTC")
        moment = parse_time(value, zone)
        return moment if _is_stored(info) else within_supported_range(moment)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str, info: ValidationInfo) -> str:
        categories = (info.context or {}).get("categories")
        if categories and value not in categories:
            raise ValueError(f"{value!r} is not one of {', '.join(categories)}")
        return value

    @field_validator("figures", mode="before")
    @classmethod
    def _numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, dict) and not _is_stored(info):
            for name, number in value.items():
                if isinstance(number, bool) or not isinstance(number, int | float):
                    raise ValueError(f"{name}: {number!r} is not a number")
                check_figure(name, number)
        return value

    @field_validator("classification")
    @classmethod
    def _classification_text(cls, value: Any, info: ValidationInfo) -> Any:
        if not _is_stored(info):
            _refuse_nested_control_characters(value)
        return value

    @model_validator(mode="after")
    def _notes_name_figures(self) -> Event:
        stray = sorted(set(self.figure_notes) - set(self.figures))
        if stray:
            raise ValueError(f"figure_notes: {', '.join(stray)} has no figure of that name")
        return self

    @property
    def sort_key(self) -> tuple[int, float]:
        """Most important first, then most recent first."""
        return (-self.importance, -self.occurred_at.timestamp())


def check_figure(name: str, number: float) -> None:
    """ValueError unless `number` is finite and within ±FIGURE_LIMIT, so sums never overflow."""
    if not math.isfinite(number):
        raise ValueError(f"{name}: {number!r} is not a finite number")
    if abs(number) > FIGURE_LIMIT:
        raise ValueError(
            f"{name}: {number!r} is beyond ±{FIGURE_LIMIT:.0e}, the largest figure kept"
        )


def _refuse_nested_control_characters(value: Any) -> None:
    if isinstance(value, str):
        refuse_control_characters(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nested_control_characters(key)
            _refuse_nested_control_characters(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_nested_control_characters(item)


def parse_time(value: Any, zone: ZoneInfo) -> datetime:
    """A date or ISO 8601 time; a date is its midnight and a time without zone is in `zone`."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime.combine(value, time())
    elif isinstance(value, str) and value.strip():
        text = value.strip()
        try:
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"{value!r} is not a date or an ISO 8601 time") from None
    else:
        raise ValueError(f"{value!r} is not a date or an ISO 8601 time")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def derive_id(data: dict[str, Any]) -> str:
    """A stable id from the day, category and title, so re-importing updates instead of copying."""
    day = str(data.get("occurred_at", ""))[:10]
    title = " ".join(str(data.get("title", "")).lower().split())
    digest = hashlib.sha256(f"{day}|{data.get('category')}|{title}".encode()).hexdigest()[:10]
    slug = _SLUG.sub("-", title).strip("-")[:40].rstrip("-")
    return f"{day}-{slug}-{digest}" if day else f"{slug}-{digest}"
