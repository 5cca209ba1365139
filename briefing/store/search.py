"""Full-text search of events, and the editions each found event appears in.

SQLite: an FTS5 table `events_fts` (porter stemming, accents folded) kept in step with
`events` by triggers; its rowid is the event row's rowid. PostgreSQL: a GIN index on the same
text's `tsvector`, queried with `plainto_tsquery`. Both answer through `search_events`, with
the matched words marked in the title and in a snippet of the summary.

A migration that rebuilds `events` on SQLite (Alembic's batch mode copies the table, which
drops its triggers and renumbers rowids) must call `create_search_index` again afterwards.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from briefing.store.editions import Edition
from briefing.store.events import EventRow

START, STOP = "\x02", "\x03"
MAX_QUERY_WORDS = 12
_CANDIDATES = 200
_WORD = re.compile(r"\w+")
_PG_TEXT = "coalesce(title, '') || ' ' || coalesce(summary, '') || ' ' || coalesce(place, '')"
_PG_VECTOR = f"to_tsvector('english', {_PG_TEXT})"
_SQLITE_INDEXED = "title, summary, place, actors"
_SQLITE_COLUMNS = f"event_id, {_SQLITE_INDEXED}"
_SQLITE_VALUES = "new.id, new.title, new.summary, coalesce(new.place, ''), new.actors"

Segments = list[tuple[str, bool]]


@dataclass(frozen=True)
class EditionRef:
    id: int
    brief: str
    window_start: datetime
    window_end: datetime
    timezone: str


@dataclass(frozen=True)
class EventHit:
    """One event found: its title and a snippet as (text, matched) pieces, and its editions."""

    event_id: str
    occurred_at: datetime
    category: str
    title: Segments
    snippet: Segments
    editions: list[EditionRef]

    def as_dict(self) -> dict:
        return {
            "event_id": self.event_id,
            "occurred_at": self.occurred_at.isoformat(),
            "category": self.category,
            "title": plain(self.title),
            "snippet": plain(self.snippet),
            "highlights": sorted({piece for piece, hit in self.title + self.snippet if hit}),
            "editions": [
                {"edition_id": e.id, "brief": e.brief, "window_end": e.window_end.isoformat()}
                for e in self.editions
            ],
        }


def plain(segments: Segments) -> str:
    return "".join(piece for piece, _ in segments)


def segments(marked: str) -> Segments:
    """'a \\x02b\\x03 c' → [('a ', False), ('b', True), (' c', False)]."""
    pieces: Segments = []
    for number, part in enumerate(re.split(f"[{START}{STOP}]", marked or "")):
        if part:
            pieces.append((part, number % 2 == 1))
    return pieces


def query_words(query: str) -> list[str]:
    """The words searched for: punctuation and operators in a query are never syntax."""
    return _WORD.findall(query)[:MAX_QUERY_WORDS]


def search_events(
    session: Session, query: str, *, briefs: Collection[str] | None = None, limit: int = 20
) -> list[EventHit]:
    """Events matching every word of `query`, best first, each with the editions holding it.

    With `briefs`, only events in an edition of one of those briefs are found (a private
    brief's events never show through a public search).
    """
    words = query_words(query)
    if not words:
        return []
    if session.get_bind().dialect.name == "postgresql":
        rows = _postgres_matches(session, " ".join(words))
    else:
        rows = _sqlite_matches(session, " ".join(f'"{word}"' for word in words))
    found = [(event_id, segments(title), segments(snippet)) for event_id, title, snippet in rows]
    events = _events(session, [event_id for event_id, _, _ in found])
    containing = _editions_containing(session, list(events.values()), briefs)
    hits = []
    for event_id, title, snippet in found:
        event = events.get(event_id)
        editions = containing.get(event_id, [])
        if event is None or (briefs is not None and not editions):
            continue
        hits.append(EventHit(event_id, event.occurred_at, event.category, title, snippet, editions))
        if len(hits) == limit:
            break
    return hits


def _sqlite_matches(session: Session, match: str) -> list[tuple[str, str, str]]:
    statement = text(
        "SELECT event_id, highlight(events_fts, 1, :start, :stop),"
        " snippet(events_fts, 2, :start, :stop, '…', 24)"
        " FROM events_fts WHERE events_fts MATCH :match ORDER BY rank LIMIT :limit"
    )
    parameters = {"match": match, "start": START, "stop": STOP, "limit": _CANDIDATES}
    return [tuple(row) for row in session.execute(statement, parameters)]


def _postgres_matches(session: Session, words: str) -> list[tuple[str, str, str]]:
    options = f'StartSel="{START}", StopSel="{STOP}", MaxWords=30, MinWords=12'
    statement = text(
        "SELECT id, ts_headline('english', title, q, 'HighlightAll=true, "
        + options
        + "'), ts_headline('english', coalesce(summary, ''), q, '"
        + options
        + f"') FROM events, plainto_tsquery('english', :words) AS q WHERE {_PG_VECTOR} @@ q"
        f" ORDER BY ts_rank({_PG_VECTOR}, q) DESC, occurred_at DESC LIMIT :limit"
    )
    return [
        tuple(row) for row in session.execute(statement, {"words": words, "limit": _CANDIDATES})
    ]


def _events(session: Session, ids: list[str]) -> dict[str, EventRow]:
    if not ids:
        return {}
    return {row.id: row for row in session.scalars(select(EventRow).where(EventRow.id.in_(ids)))}


def _editions_containing(
    session: Session, events: list[EventRow], briefs: Collection[str] | None
) -> dict[str, list[EditionRef]]:
    """For each event, the editions (newest first) whose recorded events include it."""
    if not events:
        return {}
    query = (
        select(
            Edition.id,
            Edition.brief,
            Edition.window_start,
            Edition.window_end,
            Edition.timezone,
            Edition.event_ids,
        )
        .where(Edition.window_start <= max(e.occurred_at for e in events))
        .where(Edition.window_end > min(e.occurred_at for e in events))
        .order_by(Edition.window_end.desc(), Edition.id.desc())
    )
    if briefs is not None:
        query = query.where(Edition.brief.in_(list(briefs)))
    wanted = {event.id for event in events}
    containing: dict[str, list[EditionRef]] = {}
    for edition_id, brief, start, end, timezone, event_ids in session.execute(query):
        edition = EditionRef(edition_id, brief, start, end, timezone)
        for event_id in wanted.intersection(event_ids or ()):
            containing.setdefault(event_id, []).append(edition)
    return containing


# --- the index, created by migration 0008 ----------------------------------------------------


def create_search_index(connection: Connection) -> None:
    """The search table and triggers (SQLite) or index (PostgreSQL), filled from `events`."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            text(f"CREATE INDEX IF NOT EXISTS ix_events_fts ON events USING gin ({_PG_VECTOR})")
        )
        return
    drop_search_index(connection)
    connection.execute(
        text(
            "CREATE VIRTUAL TABLE events_fts USING fts5(event_id UNINDEXED, title, summary,"
            " place, actors, tokenize = 'porter unicode61 remove_diacritics 2')"
        )
    )
    create_search_triggers(connection)
    connection.execute(
        text(
            f"INSERT INTO events_fts(rowid, {_SQLITE_COLUMNS})"
            " SELECT rowid, id, title, summary, coalesce(place, ''), actors FROM events"
        )
    )


def create_search_triggers(connection: Connection) -> None:
    """The triggers keeping `events_fts` in step with `events` (SQLite), replacing any older.

    An update re-indexes a row only when it sets an indexed column: a review decision, set on
    every row an import stores, would otherwise index each row twice.
    """
    if connection.dialect.name == "postgresql":
        return
    insert = (
        f"INSERT INTO events_fts(rowid, {_SQLITE_COLUMNS}) VALUES (new.rowid, {_SQLITE_VALUES});"
    )
    delete = "DELETE FROM events_fts WHERE rowid = old.rowid;"
    for name, when, body in (
        ("events_fts_insert", "AFTER INSERT", insert),
        ("events_fts_update", f"AFTER UPDATE OF id, {_SQLITE_INDEXED}", delete + " " + insert),
        ("events_fts_delete", "AFTER DELETE", delete),
    ):
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
        connection.execute(text(f"CREATE TRIGGER {name} {when} ON events BEGIN {body} END"))


def drop_search_index(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("DROP INDEX IF EXISTS ix_events_fts"))
        return
    for name in ("events_fts_insert", "events_fts_update", "events_fts_delete"):
        connection.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    connection.execute(text("DROP TABLE IF EXISTS events_fts"))
