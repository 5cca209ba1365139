"""Events typed at the command line."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from briefing.config import Settings
from briefing.errors import InputError
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
        error = exc.errors()[0]
        flag = "--" + str(error["loc"][0]).replace("_", "-") if error["loc"] else "event"
        raise InputError(f"{flag}: {error['msg'].removeprefix('Value error, ')}") from None
