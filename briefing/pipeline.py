"""The conductor: stored events → brief → document → archived edition. Only it knows every step."""

from __future__ import annotations

import gc
import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import TypeAdapter
from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError

from briefing.archive import write_edition_file
from briefing.brief.compose import TREND_DAYS, Brief, compose_brief, select_events
from briefing.brief.window import DEFAULT_SPAN, Window, resolve_window
from briefing.config import BriefSpec, Settings
from briefing.document.render import RenderedPdf, render_html
from briefing.errors import BriefingError
from briefing.event import Event
from briefing.review import publishable
from briefing.store import Store
from briefing.store.editions import (
    Edition,
    edition_content,
    edition_for_slot,
    edition_number,
    latest_edition,
)
from briefing.store.events import APPROVED, PENDING, EventRow, events_by_id, reviewed_events_between
from briefing.store.series import series_between

log = logging.getLogger(__name__)
PdfRenderer = Callable[..., RenderedPdf]


def generate_edition(
    settings: Settings,
    store: Store,
    brief: str | None = None,
    *,
    since: str | date | datetime | None = None,
    until: str | date | datetime | None = None,
    day: date | None = None,
    slot: datetime | None = None,
    fmt: str = "pdf",
    now: datetime | None = None,
    render_pdf: PdfRenderer | None = None,
) -> Edition:
    """Compose, render and archive one edition, and record it.

    With `slot` (a scheduled edition) the window ends at the slot, and the call is idempotent:
    the edition already made for that slot is returned, even when another process races us.
    `render_pdf` replaces the in-process renderer (the CLI passes a pre-started worker's).
    """
    name, spec = settings.brief(brief)
    zone = settings.brief_zone(spec)
    now = now or datetime.now(UTC)
    with _cycle_collector_paused():
        with store.session() as session:
            if slot is not None and (existing := edition_for_slot(session, name, slot)):
                return existing
            window = _window_for(session, name, spec, zone, since, until, day, slot, now)
            composed = _compose(session, settings, name, spec, window, now)
        data, pages = _render(settings, composed, fmt, render_pdf)
        return _archive(settings, store, composed, data, pages, fmt, slot)


@contextmanager
def _cycle_collector_paused() -> Iterator[None]:
    """No cycle collection while an edition is made: a brief may hold 100,000 events (millions
    of objects, none in a cycle), which the collector walked again and again as the brief was
    composed and rendered, for a fifth of the time. What cycles the render leaves are
    collected once it is done."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _window_for(session, name, spec, zone, since, until, day, slot, now) -> Window:
    if slot is not None:
        previous = _previous_slotted_end(session, name, slot)
        start = previous if previous and previous < slot else slot - DEFAULT_SPAN
        return Window(start, slot, zone)
    last = latest_edition(session, name)
    return resolve_window(
        zone,
        since=since,
        until=until,
        day=day,
        previous_end=last.window_end if last else None,
        now=now,
    )


def _previous_slotted_end(session, name: str, slot: datetime) -> datetime | None:
    query = (
        select(Edition.window_end)
        .where(Edition.brief == name, Edition.slot.is_not(None), Edition.slot < slot)
        .order_by(Edition.slot.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _compose(
    session,
    settings: Settings,
    name: str,
    spec: BriefSpec,
    window: Window,
    now,
    events=None,
    edition_id: int | None = None,
) -> Brief:
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
    return replace(brief, pending_review=tuple(pending))


def _reviewed_window(session, spec: BriefSpec, window: Window) -> tuple[list[Event], list[str]]:
    """The window's events the brief may publish, and the ids of those still awaiting review."""
    found = reviewed_events_between(
        session, window.start, window.end, spec.sections, states=(APPROVED, PENDING)
    )
    admitted: list[Event] = []
    waiting: list[Event] = []
    for item in found:
        (admitted if publishable(item, spec) else waiting).append(item.event)
    return admitted, [event.id for event in select_events(waiting, spec)]


def _render(
    settings: Settings, brief: Brief, fmt: str, render_pdf: PdfRenderer | None
) -> tuple[bytes, int]:
    if fmt == "html":
        html = render_html(
            brief, template_dir=settings.template_dir, author=settings.author, for_screen=True
        )
        return html.encode(), 0
    if render_pdf is None:
        from briefing.document.pdf import render_pdf as render_in_process

        render_pdf = render_in_process
    pdf = render_pdf(brief, template_dir=settings.template_dir, author=settings.author)
    return pdf.data, pdf.pages


def _archive(settings, store, brief: Brief, data: bytes, pages: int, fmt: str, slot) -> Edition:
    placed = write_edition_file(settings.output_dir, brief.name, brief.edition_date, data, fmt)
    edition = Edition(
        brief=brief.name,
        title=brief.title,
        slot=slot,
        window_start=brief.window.start,
        window_end=brief.window.end,
        timezone=str(brief.window.zone),
        format=fmt,
        path=placed.relative,
        sha256=placed.sha256,
        size=placed.size,
        pages=pages,
        event_ids=[event.id for event in brief.events],
        pending_event_ids=list(brief.pending_review),
        content=brief_content(brief),
    )
    try:
        with store.session() as session:
            session.add(edition)
    except IntegrityError:
        placed.path.unlink(missing_ok=True)
        if slot is None:
            raise
        with store.session() as session:
            made_elsewhere = edition_for_slot(session, brief.name, slot)
        if made_elsewhere is None:
            raise  # refused for another reason than the slot being taken
        log.info("edition for %s at %s was made by another process", brief.name, slot)
        return made_elsewhere
    except BaseException:
        placed.path.unlink(missing_ok=True)
        raise
    log.info(
        "edition %s of %s: %s (%d events, %d awaiting review left out)",
        edition.id,
        brief.name,
        placed.path,
        len(brief.events),
        len(brief.pending_review),
    )
    return edition


def edition_file(settings: Settings, edition: Edition) -> Path:
    return settings.output_dir / edition.path


@cache
def _brief_adapter() -> TypeAdapter[Brief]:
    return TypeAdapter(Brief)


def brief_content(brief: Brief) -> dict[str, Any]:
    """The composed brief as JSON, kept with its edition: every field of compose's dataclasses
    and of the events, whatever fields they gain, read from their type hints."""
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
        brief = _compose(
            session, settings, name, spec, window, edition.created_at, events, edition.id
        )
    return replace(brief, pending_review=tuple(edition.pending_event_ids or ()))


def edition_to_send(
    settings: Settings, store: Store, brief: str | None = None, *, dry_run: bool = False
) -> Edition:
    """The brief's latest PDF edition, generated first when none covers its newest slot.

    The newest slot is the latest time the brief's schedule fell due (within a week); an
    edition whose window reaches it is current. Without a recent slot any edition is current.
    A dry run never generates one (it changes nothing): it refuses instead.
    """
    from briefing.schedule.slots import parse_schedule

    name, spec = settings.brief(brief)
    schedule = parse_schedule(spec.schedule, settings.brief_zone(spec), f"briefs.{name}.schedule")
    slot = schedule.latest(datetime.now(UTC), timedelta(days=7))
    with store.session() as session:
        edition = latest_edition(session, name, fmt="pdf")
    if edition is None or (slot is not None and edition.window_end < slot):
        if dry_run:
            raise BriefingError(
                f"no PDF edition of {name} covers its latest slot, and a dry run makes none: "
                "run `briefing generate` first, or pass --edition ID"
            )
        log.info("no PDF edition of %s for the slot %s; generating one", name, slot)
        edition = generate_edition(settings, store, name, fmt="pdf")
    return edition
