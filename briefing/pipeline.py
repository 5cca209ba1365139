"""The conductor: stored events → brief → document → archived edition → (admins' notice) →
mail. Only it knows every step and their order; the CLI's `send` and the scheduler's runs both
publish through `publish`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from briefing.archive import write_edition_file
from briefing.brief.compose import Brief
from briefing.brief.window import DEFAULT_SPAN, Window, resolve_window
from briefing.config import Settings
from briefing.document.page import RenderedPdf
from briefing.edition_brief import Composed, brief_content, compose_window
from briefing.errors import BriefingError, one_line
from briefing.process import cycle_collector_paused, free_in_background
from briefing.schedule.slots import brief_schedule
from briefing.store import Store
from briefing.store.db import now as utc_now
from briefing.store.editions import (
    Edition,
    claim_pending_notice,
    edition_for_slot,
    get_edition,
    latest_edition,
    release_pending_notice,
)
from briefing.store.events import ReviewedEvent, reviewed_events_by_id

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from sqlalchemy.orm import Session

    from briefing.config import BriefSpec
    from briefing.deliver import DeliveryCounts
    from briefing.deliver.mailing import MailingProgress

# _DELIVERY_LOADED_LATE: delivery (yagmail, email-validator: ~150 ms) is imported where mail
# is sent, so `briefing generate`, which never sends, does not pay for it at start-up.
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
    with cycle_collector_paused():
        with store.session() as session:
            if slot is not None and (existing := edition_for_slot(session, name, slot)):
                return existing
            window = _window_for(session, name, spec, zone, since, until, day, slot, now)
            composed = compose_window(session, settings, name, spec, window, now)
        data, pages = _render(settings, composed, fmt, render_pdf)
        return _archive(settings, store, composed.brief, data, pages, fmt, slot)


def _window_for(
    session: Session,
    name: str,
    spec: BriefSpec,
    zone: ZoneInfo,
    since: str | date | datetime | None,
    until: str | date | datetime | None,
    day: date | None,
    slot: datetime | None,
    now: datetime,
) -> Window:
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


def _render(
    settings: Settings, composed: Composed, fmt: str, render_pdf: PdfRenderer | None
) -> tuple[bytes, int]:
    """The templates are imported here, for HTML: a PDF renderer fills them itself (in its own
    process, for `briefing generate`, which thus never loads jinja2 or Babel)."""
    if fmt == "html":
        from briefing.document.render import render_html

        html = render_html(
            composed.brief,
            template_dir=settings.template_dir,
            author=settings.author,
            for_screen=True,
        )
        return html.encode(), 0
    if render_pdf is None:
        from briefing.document.pdf import render_pdf as render_in_process

        render_pdf = render_in_process
    pdf = render_pdf(
        composed.brief,
        events_json=partial(_events_json_then_free, composed),
        template_dir=settings.template_dir,
        author=settings.author,
    )
    return pdf.data, pdf.pages


def _events_json_then_free(composed: Composed) -> Iterator[bytes]:
    """The events' JSON; once it is read, the events are freed (`composed.events` emptied)
    while the renderer writes the PDF."""
    yield from composed.events_json()
    free_in_background(composed.events)


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
        event_ids=list(brief.event_ids),
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
        len(brief.event_ids),
        len(brief.pending_review),
    )
    return edition


def edition_to_send(
    settings: Settings, store: Store, brief: str | None = None, *, dry_run: bool = False
) -> Edition:
    """The brief's latest PDF edition, generated first when none covers its newest slot.

    The newest slot is the latest time the brief's schedule fell due (within a week); an
    edition whose window reaches it is current. Without a recent slot any edition is current.
    A dry run never generates one (it changes nothing): it refuses instead.
    """
    name, _ = settings.brief(brief)
    slot = brief_schedule(settings, name).latest(datetime.now(UTC), timedelta(days=7))
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


@dataclass
class Publication:
    """What `publish` did: the edition it chose or made, and what went out of it.

    `sent` is None when a stop came before any mail was begun."""

    edition: Edition
    sent: DeliveryCounts | None


Sending = tuple["MailingProgress | None", threading.Event]


@contextmanager
def _unwatched(edition: Edition) -> Iterator[Sending]:
    yield None, threading.Event()


def publish(
    settings: Settings,
    store: Store,
    brief: str | None = None,
    *,
    edition_id: int | None = None,
    slot: datetime | None = None,
    dry_run: bool = False,
    watch: Callable[[Edition], AbstractContextManager[Sending]] = _unwatched,
) -> Publication:
    """Choose or make the edition, tell the admins what it leaves out, and mail it.

    The edition is the one asked for (`edition_id`), the one of a scheduled `slot` (made
    once, however often this is called), or else `edition_to_send`'s. Only a scheduled
    edition tells the admins of events awaiting review. `watch` is entered with the edition
    before anything is mailed and yields the mailing's progress callback and its stop signal:
    the caller's way to show, record or stop the work; a stop set before sending mails nothing.
    """
    if edition_id is not None:
        with store.session() as session:
            edition = get_edition(session, edition_id)
    elif slot is not None:
        edition = generate_edition(settings, store, brief, slot=slot)
    else:
        edition = edition_to_send(settings, store, brief, dry_run=dry_run)
    with watch(edition) as (progress, stop):
        if slot is not None:
            _tell_admins_of_pending(settings, store, edition, slot)
        if stop.is_set():
            return Publication(edition, None)
        from briefing.deliver import send_edition  # see _DELIVERY_LOADED_LATE

        sent = send_edition(
            settings, store, edition.id, dry_run=dry_run, progress=progress, stop=stop
        )
    return Publication(edition, sent)


def _tell_admins_of_pending(
    settings: Settings, store: Store, edition: Edition, slot: datetime
) -> None:
    """Once per slot, mail the admins what of the window still waits for review.

    The brief does not wait: it goes out with what was approved. A notice that cannot be
    sent is logged and left for the slot's next attempt, if there is one.
    """
    if not edition.pending_event_ids or not settings.admins:
        return
    with store.session() as session:
        if not claim_pending_notice(session, edition.id, utc_now()):
            return
        waiting = reviewed_events_by_id(session, edition.pending_event_ids)
    when = brief_schedule(settings, edition.brief).local_time(slot)
    subject, text = pending_notice(edition.brief, when, waiting)
    try:
        from briefing.deliver import send_notice  # see _DELIVERY_LOADED_LATE

        send_notice(settings, settings.admins, subject, text)
    except Exception as exc:
        with store.session() as session:
            release_pending_notice(session, edition.id)
        log.error(
            "could not mail the admins about events awaiting review: %s",
            one_line(exc),
            extra={"event": "notice_failed", "brief": edition.brief},
        )


def pending_notice(
    brief: str, when: str, waiting: list[ReviewedEvent], shown: int = 20
) -> tuple[str, str]:
    """Subject and text of the admins' notice: the events a slot's brief goes out without."""
    lines = [
        f"- {item.event.category}, confidence "
        f"{'-' if item.confidence is None else f'{item.confidence:.2f}'}: "
        f"{item.event.title} [{item.event.id}]"
        for item in waiting[:shown]
    ]
    if len(waiting) > shown:
        lines.append(f"… and {len(waiting) - shown} more")
    subject = f"briefing: {len(waiting)} events await review for the {brief} brief"
    text = (
        f"The {brief} brief of {when} goes out without {len(waiting)} ingested events "
        "that are still waiting for review:\n\n" + "\n".join(lines) + "\n\n"
        "Review them with `briefing events review`. This edition is made; to publish events "
        "approved now, generate an edition covering their time (`briefing generate --since`).\n"
    )
    return subject, text
