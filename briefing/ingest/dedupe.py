"""One development, one event: fold what another source reports into the stored event.

Two reports are the same development when they fall on the same local day, share a category,
and either their titles say much the same or their figures agree. A re-run of the same article
(from the command line or through another feed) yields the same ids.

Either way the event already stored wins: a reviewer may have set its title, summary, category,
importance, tags or place, and a later report must not undo that. The later report only adds
the sources, actors and figures the event lacks. The ids of reports folded into an event are
kept in its classification, so a report re-ingested after its event was edited still finds it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from briefing.event import Event
from briefing.store.events import events_between, get_event, hold_for_review, upsert_events

TITLE_OVERLAP = 0.6
MIN_SHARED_WORDS = 3
DISTINCT_FIGURE = 10
FOLDED = "folded_reports"
FIGURES_REVIEWED = "figures_reviewed"  # set when a reviewer corrected the figures
_STOPWORDS = {
    *("a", "an", "the", "of", "to", "in", "on", "at", "by", "for", "and", "or", "with", "from"),
    *("as", "is", "are", "was", "were", "has", "have", "had", "be", "been", "that", "this"),
    *("its", "it", "his", "her", "their", "after", "over", "into", "about", "said", "says"),
}


@dataclass(frozen=True)
class StoreCounts:
    """How many events were new, re-ingested or folded into another; the ids stored."""

    added: int
    updated: int
    merged: int
    ids: list[str]


def title_words(title: str) -> set[str]:
    """Content words, lower case, plural 's' dropped, so that 'drones' meets 'drone'."""
    words = re.findall(r"[\w'’-]+", title.lower())
    return {w.removesuffix("s") if len(w) > 3 else w for w in words if w not in _STOPWORDS}


def similar_titles(first: str, second: str) -> bool:
    a, b = title_words(first), title_words(second)
    shared = len(a & b)
    return shared >= MIN_SHARED_WORDS and shared / min(len(a), len(b)) >= TITLE_OVERLAP


def same_figures(first: dict[str, float], second: dict[str, float]) -> bool:
    """Shared figures that agree and are distinctive: two or more, or one of at least 10."""
    shared = first.keys() & second.keys()
    if not shared or any(first[name] != second[name] for name in shared):
        return False
    return len(shared) >= 2 or first[next(iter(shared))] >= DISTINCT_FIGURE


def same_development(first: Event, second: Event) -> bool:
    return first.category == second.category and (
        similar_titles(first.title, second.title) or same_figures(first.figures, second.figures)
    )


def combine(kept: Event, other: Event) -> Event:
    """`kept` as it is, with the sources, actors and figures only `other` has.

    Every other field of `kept` stays, whatever `other` says: `kept` is the stored event, which
    a reviewer may have edited; `other` is a fresh extraction. Figures a reviewer corrected
    stay as they are.
    """
    sources = list(dict.fromkeys([*kept.sources, *other.sources]))
    actors = list(dict.fromkeys([*kept.actors, *other.actors]))
    reviewed = (kept.classification or {}).get(FIGURES_REVIEWED)
    figures = kept.figures if reviewed else {**other.figures, **kept.figures}
    update: dict = {"sources": sources, "actors": actors, "figures": figures}
    if other.id != kept.id and other.id not in folded(kept):
        reason = kept.classification or {}
        update["classification"] = {**reason, FOLDED: [*folded(kept), other.id]}
    return kept.model_copy(update=update)


def folded(event: Event) -> list[str]:
    """The ids of other reports folded into this event."""
    return (event.classification or {}).get(FOLDED, [])


def _day(moment: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(moment.astimezone(zone).date(), time(), zone)
    return start, start + timedelta(days=1)


def _same_day(
    session: Session, event: Event, zone: ZoneInfo, pending: dict[str, Event]
) -> list[Event]:
    """The stored events of the event's local day, as this batch has changed them so far."""
    start, end = _day(event.occurred_at, zone)
    return [pending.get(e.id, e) for e in events_between(session, start, end)]


def store_events(session: Session, events: Iterable[Event], zone: ZoneInfo) -> StoreCounts:
    """Store new events; update re-ingested ones; merge other sources' reports into one event."""
    pending: dict[str, Event] = {}
    new: list[str] = []
    ids: list[str] = []
    added = updated = merged = 0
    for event in events:
        known = pending.get(event.id) or get_event(session, event.id)
        candidates = [] if known else _same_day(session, event, zone, pending)
        known = known or next((c for c in candidates if event.id in folded(c)), None)
        if known is not None:  # this report was stored before: only add what it adds
            pending[known.id] = combine(known, event)
            ids.append(known.id)
            updated += 1
            continue
        match = next((c for c in candidates if same_development(c, event)), None)
        if match is not None:
            pending[match.id] = combine(match, event)
            ids.append(match.id)
            merged += 1
        else:
            pending[event.id] = event
            new.append(event.id)
            ids.append(event.id)
            added += 1
    upsert_events(session, pending.values())
    hold_for_review(session, new)  # a machine wrote them: a person or a brief's rule decides
    return StoreCounts(added, updated, merged, list(dict.fromkeys(ids)))
