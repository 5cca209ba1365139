"""The event: one dated, sourced development, as every step of briefing sees it."""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, time
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from briefing.slug import slug

_WEB_ADDRESS = re.compile(r"\s*https?://[^/?#\s]", re.IGNORECASE)
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
        return web_address(value) if value else None


def web_address(value: str) -> str:
    """`value` unchanged if it is an http or https address, else ValueError."""
    if not _WEB_ADDRESS.match(value):
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

    @field_validator("upper")
    @classmethod
    def _bounded(cls, value: float | None, info: ValidationInfo) -> float | None:
        if value is not None and not _is_stored(info):
            check_figure(value)
        return value


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
                check_figure(number, name)
        return value

    @model_validator(mode="after")
    def _plain_texts(self, info: ValidationInfo) -> Event:
        """No control characters in any stored text, checked in one pass (imports are large)."""
        if _is_stored(info) or not _CONTROL.search(self._all_text()):
            return self
        problems = []
        for loc, text in self._texts():
            try:
                refuse_control_characters(text)
            except ValueError as exc:
                kind = PydanticCustomError("control_character", "{problem}", {"problem": str(exc)})
                problems.append(InitErrorDetails(type=kind, loc=loc, input=text))
        # Raised whole, so each problem keeps its field's place (a ValueError would lose it).
        raise ValidationError.from_exception_data(type(self).__name__, problems)

    def _all_text(self) -> str:
        """Every stored text run together: one search finds whether any has a control character."""
        parts = [self.id, self.category, self.subtype or "", self.title, self.summary]
        parts += (self.location.country or "", self.location.place or "")
        parts += (*self.actors, *self.tags, *self.figures)
        for note in self.figure_notes.values():
            parts += (note.side or "", note.unit or "")
        for source in self.sources:
            parts += (source.name, source.url or "", source.title or "")
        parts += _nested_texts(self.classification)
        return "".join(parts)

    def _texts(self) -> Iterator[tuple[tuple[str | int, ...], str]]:
        """Every stored text with where it sits, as pydantic would name it."""
        for name in ("id", "category", "subtype", "title", "summary"):
            yield (name,), getattr(self, name) or ""
        yield ("location", "country"), self.location.country or ""
        yield ("location", "place"), self.location.place or ""
        for name in ("actors", "tags"):
            yield from (((name, index), text) for index, text in enumerate(getattr(self, name)))
        for name in self.figures:
            yield ("figures", name, "[key]"), name
        for name, note in self.figure_notes.items():
            yield ("figure_notes", name, "[key]"), name
            yield ("figure_notes", name, "side"), note.side or ""
            yield ("figure_notes", name, "unit"), note.unit or ""
        for index, source in enumerate(self.sources):
            yield ("sources", index, "name"), source.name
            yield ("sources", index, "url"), source.url or ""
            yield ("sources", index, "title"), source.title or ""
        yield from ((("classification",), text) for text in _nested_texts(self.classification))

    @model_validator(mode="after")
    def _notes_name_figures(self) -> Event:
        stray = sorted(set(self.figure_notes) - set(self.figures))
        if stray:
            raise ValueError(f"figure_notes: {', '.join(stray)} has no figure of that name")
        return self

    @property
    def sort_key(self) -> tuple[int, float]:
        return rank(self.importance, self.occurred_at)

    @property
    def country(self) -> str | None:
        return self.location.country

    @property
    def source_names(self) -> frozenset[str]:
        return frozenset(source.name for source in self.sources)

    def whole(self) -> Event:
        return self

    def as_json(self) -> str:
        return self.model_dump_json()


class Development(Protocol):
    """What a brief reads of every event of its window: enough to filter, rank and count it.

    An `Event` is one; so is an event read from the store without being built
    (`briefing.store.events.StoredEvent`), since a window may hold 100,000 events of which a
    brief shows a few dozen: `whole()` builds the event of a shown item, and `as_json()` gives
    the event's JSON for the brief's attached data.
    """

    @property
    def id(self) -> str: ...
    @property
    def occurred_at(self) -> datetime: ...
    @property
    def category(self) -> str: ...
    @property
    def importance(self) -> int: ...
    @property
    def country(self) -> str | None: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def actors(self) -> Sequence[str]: ...
    @property
    def figures(self) -> Mapping[str, float]: ...
    @property
    def figure_notes(self) -> Mapping[str, FigureNote]: ...
    @property
    def source_names(self) -> frozenset[str]: ...
    @property
    def sort_key(self) -> tuple[int, float]: ...
    def whole(self) -> Event: ...
    def as_json(self) -> str: ...


def rank(importance: int, occurred_at: datetime) -> tuple[int, float]:
    """An event's sort key in a brief: most important first, then most recent first."""
    return (-importance, -occurred_at.timestamp())


def check_figure(number: float, name: str | None = None) -> None:
    """ValueError unless `number` is finite and within ±FIGURE_LIMIT, so sums never overflow."""
    prefix = f"{name}: " if name else ""
    if not math.isfinite(number):
        raise ValueError(f"{prefix}{number!r} is not a finite number")
    if abs(number) > FIGURE_LIMIT:
        raise ValueError(
            f"{prefix}{number!r} is beyond ±{FIGURE_LIMIT:.0e}, the largest figure kept"
        )


def _nested_texts(value: Any) -> Iterator[str]:
    """Every string in a JSON-like value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _nested_texts(key)
            yield from _nested_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _nested_texts(item)


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
    short = slug(title)[:40].rstrip("-")
    return f"{day}-{short}-{digest}" if day else f"{short}-{digest}"
