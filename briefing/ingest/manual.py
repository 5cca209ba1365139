"""Events typed at the command line."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from briefing.config import Settings
from briefing.errors import InputError, validation_problems
from briefing.event import Event


def event_from_options(settings: Settings, options: dict[str, Any]) -> Event:
    """An Event from `events add` flags; errors name the flag."""
    figures = {}
    for item in options.pop("figures"):
        name, _, number = item.partition("=")
        try:
            figures[name.strip()] = float(number)
        except ValueError:
            raise InputError(f"--figure: {item!r} is not NAME=NUMBER") from None
    sources = []
    for item in options.pop("sources"):
        name, _, url = item.partition("|")
        sources.append({"name": name.strip(), "url": url.strip() or None})
    record = {
        "id": options.pop("event_id"),
        "location": {"country": options.pop("country"), "place": options.pop("place")},
        "figures": figures,
        "sources": sources,
        "actors": list(options.pop("actors")),
        "tags": list(options.pop("tags")),
        **options,
    }
    context = {"zone": ZoneInfo(settings.timezone), "categories": settings.categories}
    try:
        return Event.model_validate(record, context=context)
    except ValidationError as exc:
        field, message = validation_problems(exc)[0]
        raise InputError(f"{_flag(field)}: {message}") from None


_FLAGS = {"location.country": "--country", "location.place": "--place", "id": "--id"}
_LIST_FLAGS = {"figures": "--figure", "sources": "--source", "actors": "--actor", "tags": "--tag"}


def _flag(field: str) -> str:
    """The `events add` option a validation error is about."""
    head = field.split(".")[0].split("[")[0]
    return _FLAGS.get(field) or _LIST_FLAGS.get(head) or "--" + head.replace("_", "-")
