"""The review gate's decisions: a person approves, corrects or rejects what ingestion wrote.

Nothing here decides what a brief publishes (the conductor applies each brief's `review`
setting); this records what people decided, all or nothing: a command naming an unknown
event or an invalid correction changes no event.
"""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import ValidationError
from sqlalchemy.orm import Session

from briefing.brief.compose import select_events
from briefing.config import BriefSpec, Settings
from briefing.errors import InputError, NotFoundError, validation_problems
from briefing.event import Event
from briefing.ingest.dedupe import FIGURES_REVIEWED
from briefing.store import Store
from briefing.store.events import (
    APPROVED,
    PENDING,
    ReviewedEvent,
    reviewed_events_between,
    reviewed_events_by_id,
    save_reviewed_edit,
    set_review,
)


class Reviewable(Protocol):
    """An event with its review state: a `ReviewedEvent`, or a window's `StoredEvent`."""

    @property
    def review_state(self) -> str: ...
    @property
    def confidence(self) -> float | None: ...


def publishable(item: Reviewable, spec: BriefSpec) -> bool:
    """Whether a brief may publish the event: approved, or pending and confident enough under
    `review = "auto"`. Rejected events never are. The confidence is read only when it
    decides (for a stored event it means decoding its classification)."""
    state = item.review_state
    if state == APPROVED:
        return True
    confidence = item.confidence
    return (
        state == PENDING
        and spec.review == "auto"
        and confidence is not None
        and confidence >= spec.auto_approve_above
    )


def auto_briefs(item: ReviewedEvent, settings: Settings) -> list[str]:
    """The briefs whose `auto` rule lets this pending event through without a person."""
    if item.review.state != PENDING:
        return []
    specs = [settings.brief(name) for name in settings.brief_names]
    return [
        name
        for name, spec in specs
        if publishable(item, spec) and select_events([item.event], spec)
    ]


def reviewer_name(given: str | None = None) -> str:
    """Who decided: the name given, else the login name of the person at the terminal."""
    if given and given.strip():
        return " ".join(given.split())
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def pending_events(
    store: Store, start: datetime | None = None, end: datetime | None = None
) -> list[ReviewedEvent]:
    """Events waiting for a person, oldest first."""
    with store.session() as session:
        return reviewed_events_between(session, start, end, states=(PENDING,))


def decide(
    store: Store, ids: list[str], state: str, *, by: str, reason: str | None = None
) -> list[ReviewedEvent]:
    """Approve or reject events; an unknown id changes nothing."""
    with store.session() as session:
        _check_known(session, ids)
        set_review(session, ids, state, by=by, reason=reason)
        return reviewed_events_by_id(session, ids)


@dataclass(frozen=True)
class Correction:
    """What a reviewer changes; None leaves a field as it is. A figure set to None is removed."""

    title: str | None = None
    summary: str | None = None
    category: str | None = None
    importance: int | None = None
    place: str | None = None
    figures: dict[str, float | None] = field(default_factory=dict)

    def is_empty(self) -> bool:
        return self == Correction()

    def apply(self, event: Event, settings: Settings) -> Event:
        """The corrected event, validated as an imported one would be."""
        data = event.model_dump(mode="json")
        for name in ("title", "summary", "category", "importance"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.place is not None:
            data["location"] = {**data["location"], "place": self.place.strip() or None}
        if self.figures:
            data["figures"] = _corrected_figures(data["figures"], self.figures)
            data["figure_notes"] = {
                name: note for name, note in data["figure_notes"].items() if name in data["figures"]
            }
            # Re-ingesting the article must not bring back a figure the reviewer took out.
            data["classification"] = {**(data["classification"] or {}), FIGURES_REVIEWED: True}
        context = {"zone": ZoneInfo(settings.timezone), "categories": settings.categories}
        try:
            return Event.model_validate(data, context=context)
        except ValidationError as exc:
            where, message = validation_problems(exc)[0]
            raise InputError(f"{event.id}: {where}: {message}") from None


def _corrected_figures(
    figures: dict[str, float], changes: dict[str, float | None]
) -> dict[str, float]:
    corrected = dict(figures)
    for name, value in changes.items():
        if value is None:
            corrected.pop(name, None)
        else:
            corrected[name] = value
    return corrected


def correct(
    store: Store,
    settings: Settings,
    ids: list[str],
    correction: Correction,
    *,
    by: str,
    reason: str | None = None,
    approve: bool = False,
) -> list[ReviewedEvent]:
    """Correct events (and approve them with `approve`); one invalid correction changes none."""
    with store.session() as session:
        found = _check_known(session, ids)
        corrected = [correction.apply(item.event, settings) for item in found]
        for event in corrected:
            save_reviewed_edit(session, event, by=by, reason=reason)
        if approve:
            set_review(session, ids, APPROVED, by=by, reason=reason)
        return reviewed_events_by_id(session, ids)


def approve_as_author(session: Session, ids: list[str], how: str) -> None:
    """Events the desk made itself (imported, added by hand) are approved by their author."""
    set_review(session, list(dict.fromkeys(ids)), APPROVED, by=reviewer_name(), reason=how)


def _check_known(session: Session, ids: list[str]) -> list[ReviewedEvent]:
    found = reviewed_events_by_id(session, ids)
    missing = sorted(set(ids) - {item.event.id for item in found})
    if missing:
        raise NotFoundError(f"no event with id {', '.join(missing)}; nothing was changed")
    return found


def as_record(item: ReviewedEvent, settings: Settings) -> dict[str, Any]:
    """An event with its review, confidence, reasons, and the briefs whose rule lets it through."""
    return {
        **item.event.model_dump(mode="json"),
        "review": item.review.as_dict(),
        "confidence": item.confidence,
        "reasons": item.reasons,
        "auto_approved_in": auto_briefs(item, settings),
    }
