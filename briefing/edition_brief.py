"""The brief of an edition: composed from the stored, reviewed events of a window, kept with the
edition as JSON, and read back exactly as it was rendered.

It sits below both the conductor (`pipeline`, which makes editions) and delivery (which mails
them), so that delivery can read an edition's brief without importing the conductor that
calls it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from pydantic_core import to_json
from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from briefing.brief.compose import TREND_DAYS, Brief, compose_brief, select_events
from briefing.brief.window import Window
from briefing.config import BriefSpec, Settings
from briefing.event import Development
from briefing.review import publishable
from briefing.store import Store
from briefing.store.editions import Edition, edition_content, edition_number
from briefing.store.events import (
    APPROVED,
    PENDING,
    EventRow,
    StoredEvent,
    events_by_id,
    stored_events_between,
)
from briefing.store.series import series_between

log = logging.getLogger(__name__)


def compose_window(
    session: Session,
    settings: Settings,
    name: str,
    spec: BriefSpec,
    window: Window,
    now: datetime,
    events: Sequence[Development] | None = None,
    edition_id: int | None = None,
) -> Composed:
    """The brief of `window` from the stored events, with the trend and comparison windows
    before it; the events awaiting review are listed, not published. With `events` (an
    edition's own, recomposed) only those are published."""
    pending: Sequence[str] = ()
    if events is None:
        events, pending = _reviewed_window(session, spec, window)
    before = window.previous()
    has_history = session.scalar(select(exists().where(EventRow.occurred_at < window.start)))
    previous = _reviewed_window(session, spec, before)[0] if has_history else None
    trend_start = window.end - timedelta(days=TREND_DAYS)
    history = (
        _reviewed_window(session, spec, Window(trend_start, window.start, window.zone))[0]
        if trend_start < window.start
        else []
    )
    first_day = window.edition_date - timedelta(days=TREND_DAYS - 1)
    brief = compose_brief(
        name,
        spec,
        events,
        window=window,
        generated_at=now,
        figure_specs=settings.figure_specs,
        previous_events=previous,
        history_events=history,
        series=series_between(session, spec.series, first_day, window.edition_date),
        edition_number=edition_number(session, name, edition_id),
    )
    published = set(brief.event_ids)
    return Composed(
        replace(brief, pending_review=tuple(pending)),
        [event for event in events if event.id in published],
    )


@dataclass(frozen=True)
class Composed:
    """A composed brief and its events (oldest first), whose JSON its PDF carries."""

    brief: Brief
    events: list[Development]

    def events_json(self) -> Iterator[bytes]:
        return events_document(self.brief, (event.as_json() for event in self.events))


def _reviewed_window(
    session: Session, spec: BriefSpec, window: Window
) -> tuple[list[StoredEvent], list[str]]:
    """The window's events the brief may publish, and the ids of those still awaiting review."""
    found = stored_events_between(
        session, window.start, window.end, spec.sections, states=(APPROVED, PENDING)
    )
    admitted: list[StoredEvent] = []
    waiting: list[StoredEvent] = []
    for event in found:
        (admitted if publishable(event, spec) else waiting).append(event)
    return admitted, [event.id for event in select_events(waiting, spec)]


def edition_file(settings: Settings, edition: Edition) -> Path:
    return settings.output_dir / edition.path


@cache
def _brief_adapter() -> TypeAdapter[Brief]:
    return TypeAdapter(Brief)


_EVENTS_PER_PART = 500


def events_document(brief: Brief, events: Iterable[str]) -> Iterator[bytes]:
    """The machine-readable content of a brief, embedded in its PDF: its window and every
    event of it, `events` being each event's JSON; in parts of a few hundred kilobytes."""
    head = to_json(
        {
            "brief": brief.name,
            "title": brief.title,
            "window": {
                "start": brief.window.start.isoformat(),
                "end": brief.window.end.isoformat(),
                "timezone": brief.window.zone.key,
            },
            "generated_at": brief.generated_at.isoformat(),
        }
    )
    yield head[:-1] + b',"events":['
    texts, separator = iter(events), b""
    while part := list(islice(texts, _EVENTS_PER_PART)):
        yield separator + ",".join(part).encode()
        separator = b","
    yield b"]}"


def brief_content(brief: Brief) -> dict[str, Any]:
    """The composed brief as JSON, kept with its edition: every field of compose's dataclasses
    and of the shown items' events, whatever fields they gain, read from their type hints; the
    window's events by id (their JSON is the PDF's attached data)."""
    return _brief_adapter().dump_python(brief, mode="json")


def brief_from_content(content: dict[str, Any]) -> Brief:
    """The brief an edition was rendered from, back from `brief_content`."""
    return _brief_adapter().validate_python(content)


def brief_for_edition(settings: Settings, store: Store, edition: Edition) -> Brief:
    """The brief exactly as the edition was rendered, as kept with it; so an event edited
    since changes neither the PDF nor any email of it.

    An edition archived before briefs were kept (content None) is recomposed from the events
    it lists, as they are now.
    """
    with store.session() as session:
        content = edition_content(session, edition.id)
    if content is not None:
        return brief_from_content(content)
    log.warning("edition %s has no kept brief; recomposing it from its events", edition.id)
    name, spec = settings.brief(edition.brief)
    window = Window(edition.window_start, edition.window_end, ZoneInfo(edition.timezone))
    with store.session() as session:
        events = events_by_id(session, edition.event_ids)
        composed = compose_window(
            session, settings, name, spec, window, edition.created_at, events, edition.id
        )
    return replace(composed.brief, pending_review=tuple(edition.pending_event_ids or ()))
