"""The event: one dated, sourced development, as every step of briefing sees it."""

from __future__ import annotations

import hashlib
import math
import re
from datetime import date, datetime, time
from typing import Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

_SLUG = re.compile(r"[^a-z0-9]+")


class Location(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    country: str | None = None
    place: str | None = None


class Source(BaseModel):
    """Where a report came from: the outlet (`name`), and when known its title, date and address."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    url: str | None = None
    title: str | None = Field(default=None, max_length=500)
    published: date | None = None

    @field_validator("url")
    @classmethod
    def _web_address(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
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
    side: str | None = Field(default=None, max_length=100)
    unit: str | None = Field(default=None, max_length=20)
    upper: float | None = None


class Event(BaseModel):
    """A validated event. Times are aware; figures are plain numbers keyed by registry names."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    occurred_at: datetime
    category: str
    subtype: str | None = None
    title: str = Field(min_length=1, max_length=500)
    summary: str = ""
    location: Location = Field(default_factory=Location)
    actors: list[str] = Field(default_factory=list)
    figures: dict[str, float] = Field(default_factory=dict)
    figure_notes: dict[str, FigureNote] = Field(default_factory=dict)
    sources: list[Source] = Field(default_factory=list)
    importance: int = Field(default=3, ge=1, le=5)
    tags: list[str] = Field(default_factory=list)
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
        return parse_time(value, zone)

    @field_validator("category")
    @classmethod
    def _known_category(cls, value: str, info: ValidationInfo) -> str:
        categories = (info.context or {}).get("categories")
        if categories and value not in categories:
            raise ValueError(f"{value!r} is not one of {', '.join(categories)}")
        return value

    @field_validator("figures", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for name, number in value.items():
                if isinstance(number, bool) or not isinstance(number, int | float):
                    raise ValueError(f"{name}: {number!r} is not a number")
                if not math.isfinite(number):
                    raise ValueError(f"{name}: {number!r} is not a finite number")
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
