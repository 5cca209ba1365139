"""Stored events, their review state, and the queries that select them.

The review state lives beside the event, not in it: an `Event` is what happened, the review is
what the desk decided about publishing it. Ingested events are held `pending` until a person or
a brief's rule lets them through; events the desk made itself are `approved` from the start.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache
from itertools import chain
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic_core import to_json
from sqlalchemy import JSON, Connection, Integer, String, Text, cast, func, literal, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from briefing.event import Event, FigureNote, Location, Source, rank
from briefing.process import cycle_collector_paused
from briefing.store.db import Base, UTCDateTime, json_text, now

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
REVIEW_STATES = (PENDING, APPROVED, REJECTED)
ID_BATCH = 10_000


class EventRow(Base):
    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    category: Mapped[str] = mapped_column(String(50), index=True)
    subtype: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text, default="")
    country: Mapped[str | None] = mapped_column(String(100))
    place: Mapped[str | None] = mapped_column(String(200))
    actors: Mapped[list[str]] = mapped_column(JSON, default=list)
    figures: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    figure_notes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    sources: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    importance: Mapped[int] = mapped_column(Integer, default=3)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    classification: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
    # Events stored before the review gate existed had been published: they count as approved.
    review_state: Mapped[str] = mapped_column(
        String(10), default=APPROVED, server_default=APPROVED, index=True
    )
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_reason: Mapped[str | None] = mapped_column(Text)

    def to_event(self) -> Event:
        return _stored_event(self, [getattr(self, name) for name in _JSON_FIELDS])


_JSON_FIELDS = ("actors", "figures", "figure_notes", "sources", "tags", "classification")


def _stored_event(row: Any, json_values: Sequence[Any]) -> Event:
    """The event of a stored row and its JSON columns' values (in `_JSON_FIELDS` order).

    Events are validated when they are written; reading them back trusts the store and builds
    the models directly, as validating every row again cost most of the time of a brief over
    100,000 events.
    """
    actors, figures, notes, sources, tags, classification = json_values
    return _trusted(
        Event,
        {
            "id": row.id,
            "occurred_at": row.occurred_at,
            "category": row.category,
            "subtype": row.subtype,
            "title": row.title,
            "summary": row.summary or "",
            "location": _stored_location(row.country, row.place),
            "actors": actors or [],
            "figures": {name: float(value) for name, value in (figures or {}).items()},
            "figure_notes": {
                name: FigureNote.model_validate(note) for name, note in (notes or {}).items()
            },
            "sources": [
                _stored_source(
                    source["name"], source.get("url"), source.get("title"), source.get("published")
                )
                for source in sources or []
            ],
            "importance": row.importance,
            "tags": tags or [],
            "classification": classification,
        },
    )


@lru_cache(maxsize=4096)
def _stored_source(name: str, url: str | None, title: str | None, published: str | None) -> Source:
    """One model for each distinct source read back: many events cite the same outlet and
    article, and the models are frozen, so they are shared rather than built again."""
    day = None if published is None else date.fromisoformat(published)
    return _trusted(Source, {"name": name, "url": url, "title": title, "published": day})


@lru_cache(maxsize=4096)
def _stored_location(country: str | None, place: str | None) -> Location:
    """One model for each distinct place read back, shared as `_stored_source` shares sources."""
    return _trusted(Location, {"country": country, "place": place})


def _read_event(row: Any) -> Event:
    """The event of a row selected with `_READ_COLUMNS`."""
    return _stored_event(row, json.loads(row.json_fields))


Model = TypeVar("Model", bound=BaseModel)


def _trusted(model: type[Model], values: dict[str, Any]) -> Model:
    """A model of values validated before, set as `BaseModel.model_construct` sets them but
    without its loop over every field's defaults and aliases, which cost more than the read.
    tests/test_store_read.py pins that such a model equals a validated one in every use."""
    built = model.__new__(model)
    object.__setattr__(built, "__dict__", values)
    object.__setattr__(built, "__pydantic_fields_set__", set(values))
    object.__setattr__(built, "__pydantic_extra__", None)
    object.__setattr__(built, "__pydantic_private__", None)
    return built


def _json_fields_as_one_array() -> Any:
    """The JSON columns as the text of one JSON array, read by one json.loads: decoding six
    values a row, one by one, was a third of reading 100,000 events."""
    table = EventRow.__table__
    joined: Any = literal("[", Text)
    for index, name in enumerate(_JSON_FIELDS):
        text = func.coalesce(cast(table.c[name], Text), literal("null", Text))
        joined = joined + text if index == 0 else joined + literal(",", Text) + text
    return (joined + literal("]", Text)).label("json_fields")


_READ_COLUMNS = [
    *(
        column
        for column in EventRow.__table__.columns
        if column.name not in (*_JSON_FIELDS, "created_at", "updated_at")
    ),
    _json_fields_as_one_array(),
]
_PLAIN_FIELDS = ("id", "occurred_at", "category", "subtype", "title", "summary", "country",
                 "place", "importance", "review_state")  # fmt: skip
# Where StoredEvent finds its columns: by position, as a row's attributes cost 5 times more.
_ID, _AT, _CATEGORY, _COUNTRY, _IMPORTANCE, _STATE, _FIGURES = (
    [*_PLAIN_FIELDS, *_JSON_FIELDS].index(name)
    for name in (
        "id",
        "occurred_at",
        "category",
        "country",
        "importance",
        "review_state",
        "figures",
    )
)


def _columns(event: Event) -> dict[str, Any]:
    data = event.model_dump(mode="json", exclude={"location", "occurred_at"})
    return {
        **data,
        "occurred_at": event.occurred_at,
        "country": event.location.country,
        "place": event.location.place,
    }


@dataclass(frozen=True)
class UpsertCounts:
    added: int
    updated: int


def upsert_events(session: Session, events: Iterable[Event]) -> UpsertCounts:
    """Store events; an event whose id is already stored replaces the stored one."""
    events = list(events)
    ids = [event.id for event in events]
    existing = {
        row.id: row for row in session.scalars(select(EventRow).where(EventRow.id.in_(ids)))
    }
    for event in events:
        row = existing.get(event.id)
        if row is None:
            session.add(EventRow(**_columns(event)))
        else:
            for key, value in _columns(event).items():
                setattr(row, key, value)
    session.flush()
    _refresh_statistics(session.connection())
    updated = sum(1 for event_id in set(ids) if event_id in existing)
    return UpsertCounts(added=len(set(ids)) - updated, updated=updated)


def import_events(
    session: Session, chunks: Iterable[Sequence[Event]], *, review: Review | None = None
) -> UpsertCounts:
    """Store chunks of events in the session's transaction; a stored id is replaced.

    Each chunk is one INSERT … ON CONFLICT of multi-row VALUES, without loading rows: imports
    of any size take memory for a few chunks. Columns that are not the event's own (created_at,
    and the review unless `review` is given) are kept. The ids of a chunk are distinct.

    The database writes each chunk in a thread of its own while this one reads the next and
    prepares its rows (both cost about as much, and the GIL is free while the database works),
    so `chunks` must not use the session. At most two chunks wait to be written.
    """
    connection = session.connection()
    time_type = EventRow.__table__.c.occurred_at.type.dialect_impl(connection.dialect)
    stored_time = time_type.bind_processor(connection.dialect) or (lambda moment: moment)
    counts = [0, 0]  # added, updated: changed by the writer only

    def write(ids: list[str], columns: list[str], rows: list[tuple]) -> None:
        stored = connection.execute(select(func.count()).where(EventRow.id.in_(ids))).scalar_one()
        _insert_or_replace(connection, columns, rows)
        counts[0] += len(ids) - stored
        counts[1] += stored

    with cycle_collector_paused(), _larger_page_cache(connection):
        writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        written: deque[Future[None]] = deque()
        try:
            for chunk in chunks:
                if len(written) == _WAITING_CHUNKS:
                    written.popleft().result()
                common = _written_values(stored_time(now()), review, stored_time)
                columns = [*_EVENT_COLUMNS, *_WRITTEN_COLUMNS[: len(common)]]
                rows = [(*_stored_values(event, stored_time), *common) for event in chunk]
                written.append(writer.submit(write, [e.id for e in chunk], columns, rows))
            while written:
                written.popleft().result()
            _refresh_statistics(connection)
        finally:
            # On an error, what is still queued is dropped and what runs is waited for, so
            # nothing else meets a statement in flight (the page cache, the rollback).
            writer.shutdown(wait=True, cancel_futures=True)
    return UpsertCounts(added=counts[0], updated=counts[1])


_WAITING_CHUNKS = 2


def _refresh_statistics(connection: Connection) -> None:
    """On SQLite, sample the events' indexes after events are written (a few milliseconds):
    without statistics the planner read a brief's window through the review-state or category
    index, i.e. every stored event, instead of through the time index."""
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA analysis_limit = 400")
        connection.exec_driver_sql("ANALYZE events")


_IMPORT_CACHE_KIB = 32 * 1024


@contextmanager
def _larger_page_cache(connection: Connection) -> Iterator[None]:
    """On SQLite, a page cache of 32 MiB while importing (2 MiB by default): the indexes'
    pages are written again and again, and reading them back cost a tenth of a large import.
    Durability is unchanged."""
    if connection.dialect.name != "sqlite":
        yield
        return
    before = connection.exec_driver_sql("PRAGMA cache_size").scalar()
    connection.exec_driver_sql(f"PRAGMA cache_size = -{_IMPORT_CACHE_KIB}")
    try:
        yield
    finally:
        connection.exec_driver_sql(f"PRAGMA cache_size = {int(before or 0)}")


_EVENT_COLUMNS = (
    "id",
    "occurred_at",
    "category",
    "subtype",
    "title",
    "summary",
    "country",
    "place",
    "actors",
    "figures",
    "figure_notes",
    "sources",
    "importance",
    "tags",
    "classification",
)
"""The columns an event fills, in the order of `_stored_values`."""
_WRITTEN_COLUMNS = ("created_at", "updated_at", "review_state", "reviewed_by", "reviewed_at",
                    "review_reason")  # fmt: skip


def _written_values(stamp: Any, review: Review | None, stored_time: Callable) -> tuple:
    """The values of `_WRITTEN_COLUMNS` for rows written at `stamp`: the review's only when
    one is given (else a stored row keeps its own)."""
    if review is None:
        return (stamp, stamp)
    reviewed_at = stored_time(review.at) if review.at else stamp
    return (stamp, stamp, review.state, review.by, reviewed_at, review.reason)


def _stored_values(event: Event, stored_time: Callable[[datetime], Any]) -> tuple[Any, ...]:
    """The values of `_EVENT_COLUMNS` as the database takes them: JSON columns as JSON text,
    the time as `stored_time` gives it. The rows an import writes are the ones `_columns`
    gives the ORM (tests/test_store.py compares them)."""
    location = event.location
    return (
        event.id,
        stored_time(event.occurred_at),
        event.category,
        event.subtype,
        event.title,
        event.summary,
        location.country,
        location.place,
        json_text(event.actors),
        json_text(event.figures),
        json_text(event.figure_notes),
        json_text(event.sources),
        event.importance,
        json_text(event.tags),
        json_text(event.classification),
    )


def _insert_or_replace(connection: Connection, columns: list[str], rows: list[tuple]) -> None:
    """Insert rows of `columns` into events, replacing a stored row of the same id (all but its
    created_at).

    The values are bound as they are, without SQLAlchemy's processing per value, which cost more
    than the database's own work. SQLite gets multi-row VALUES, as few statements as its limit
    on parameters allows: its full-text index writes out its pending terms at the end of each
    statement. PostgreSQL gets the one-row statement for every row, which psycopg prepares once
    and pipelines (it parses a statement's text for placeholders in Python, slowly).
    """
    mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
    group = "(" + ", ".join([mark] * len(columns)) + ")"
    replaced = ", ".join(
        f"{name} = excluded.{name}" for name in columns if name not in ("id", "created_at")
    )

    def insert(values: str) -> str:
        return (
            f"INSERT INTO events ({', '.join(columns)}) VALUES {values}"
            f" ON CONFLICT (id) DO UPDATE SET {replaced}"
        )

    if connection.dialect.name != "sqlite":
        connection.exec_driver_sql(insert(group), rows)
        return
    per_statement = connection.dialect.insertmanyvalues_max_parameters // len(columns)
    for start in range(0, len(rows), per_statement):
        batch = rows[start : start + per_statement]
        connection.exec_driver_sql(
            insert(", ".join([group] * len(batch))), tuple(chain.from_iterable(batch))
        )


def events_between(
    session: Session,
    start: datetime | None = None,
    end: datetime | None = None,
    categories: Sequence[str] | None = None,
) -> list[Event]:
    """Events with start <= occurred_at < end, oldest first (plain rows: no ORM objects)."""
    with cycle_collector_paused():
        return [_read_event(row) for row in session.execute(_window_query(start, end, categories))]


def _window_query(
    start: datetime | None,
    end: datetime | None,
    categories: Sequence[str] | None,
    states: Sequence[str] | None = None,
    columns: Sequence[Any] = _READ_COLUMNS,
) -> Any:
    query = select(*columns).order_by(EventRow.occurred_at, EventRow.id)
    if states:
        query = query.where(EventRow.review_state.in_(list(states)))
    if start is not None:
        query = query.where(EventRow.occurred_at >= start)
    if end is not None:
        query = query.where(EventRow.occurred_at < end)
    if categories:
        query = query.where(EventRow.category.in_(list(categories)))
    return query


_STORED_COLUMNS = [  # in the order `StoredEvent.as_json` unpacks them
    *(EventRow.__table__.c[name] for name in _PLAIN_FIELDS),
    *(cast(EventRow.__table__.c[name], Text).label(name) for name in _JSON_FIELDS),
]


class StoredEvent:
    """An event of a window as the store holds it: its plain columns, and its JSON columns as
    text, decoded when first read. A brief reads a few of them for every event (figures only
    where there are some) and builds only its shown items whole (`whole()`); its attached
    data takes each event's JSON from the stored text (`as_json()`). Satisfies `Development`.
    """

    __slots__ = ("_decoded", "_row")

    def __init__(self, row: Any) -> None:
        self._row = row
        self._decoded: dict[str, Any] = {}

    def _json(self, name: str) -> Any:
        if name not in self._decoded:
            text = getattr(self._row, name)
            self._decoded[name] = None if text is None else json.loads(text)
        return self._decoded[name]

    @property
    def id(self) -> str:
        return self._row[_ID]

    @property
    def occurred_at(self) -> datetime:
        return self._row[_AT]

    @property
    def category(self) -> str:
        return self._row[_CATEGORY]

    @property
    def importance(self) -> int:
        return self._row[_IMPORTANCE]

    @property
    def country(self) -> str | None:
        return self._row[_COUNTRY]

    @property
    def review_state(self) -> str:
        return self._row[_STATE]

    @property
    def sort_key(self) -> tuple[int, float]:
        return rank(self._row[_IMPORTANCE], self._row[_AT])

    @property
    def tags(self) -> list[str]:
        return self._json("tags") or []

    @property
    def actors(self) -> list[str]:
        return self._json("actors") or []

    @property
    def figures(self) -> dict[str, float]:
        if self._row[_FIGURES] in (None, "{}"):
            return {}
        if "floats" not in self._decoded:
            stored = self._json("figures") or {}
            self._decoded["floats"] = {name: float(value) for name, value in stored.items()}
        return self._decoded["floats"]

    @property
    def figure_notes(self) -> dict[str, FigureNote]:
        if "notes" not in self._decoded:
            notes = self._json("figure_notes") or {}
            self._decoded["notes"] = {n: FigureNote.model_validate(v) for n, v in notes.items()}
        return self._decoded["notes"]

    @property
    def source_names(self) -> frozenset[str]:
        if "names" not in self._decoded:
            names = frozenset(source["name"] for source in self._json("sources") or [])
            self._decoded["names"] = names
        return self._decoded["names"]

    @property
    def confidence(self) -> float | None:
        return confidence_of(self._json("classification"))

    def whole(self) -> Event:
        return _stored_event(self._row, [self._json(name) for name in _JSON_FIELDS])

    def as_json(self) -> str:
        """The event's JSON as `Event.model_dump_json` gives it (in its own order, times in
        UTC with a Z), its JSON columns pasted in as stored: 100,000 events in a sixth of the
        time of building and dumping them."""
        (id_, moment, category, subtype, title, summary, country, place, importance, _,
         actors, figures, notes, sources, tags, classification) = self._row  # fmt: skip
        at = moment.astimezone(UTC).isoformat().removesuffix("+00:00")
        return (
            f'{{"id":{_quoted(id_)},"occurred_at":"{at}Z","category":{_quoted(category)}'
            f',"subtype":{_quoted(subtype)},"title":{_quoted(title)}'
            f',"summary":{_quoted(summary or "")}'
            f',"location":{{"country":{_quoted(country)},"place":{_quoted(place)}}}'
            f',"actors":{actors or "[]"},"figures":{figures or "{}"}'
            f',"figure_notes":{notes or "{}"},"sources":{sources or "[]"}'
            f',"importance":{importance},"tags":{tags or "[]"}'
            f',"classification":{classification or "null"}}}'
        )


def _quoted(text: str | None) -> str:
    return to_json(text).decode()


def stored_events_between(
    session: Session,
    start: datetime,
    end: datetime,
    categories: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
) -> list[StoredEvent]:
    """The events of a window in review `states`, oldest first, as read (not built): a brief's
    window may hold 100,000 events. Read through the session's connection, not the ORM, which
    only adds its own pass over the rows (a tenth of a second for 100,000)."""
    query = _window_query(start, end, categories, states, _STORED_COLUMNS)
    with cycle_collector_paused():
        return [StoredEvent(row) for row in session.connection().execute(query)]


def events_by_id(session: Session, ids: Sequence[str]) -> list[Event]:
    """The stored events of these ids, asked in batches: a statement's parameters are bounded
    (32,766 on SQLite), and an edition may hold 100,000 events."""
    table = EventRow.__table__
    events: list[Event] = []
    with cycle_collector_paused():
        for start in range(0, len(ids), ID_BATCH):
            batch = list(ids[start : start + ID_BATCH])
            query = select(*_READ_COLUMNS).where(table.c.id.in_(batch))
            events.extend(_read_event(row) for row in session.execute(query))
    return events


def get_event(session: Session, event_id: str) -> Event | None:
    row = session.get(EventRow, event_id)
    return row.to_event() if row else None


@dataclass(frozen=True)
class Review:
    """Where an event stands: pending, approved or rejected, and who decided, when and why."""

    state: str
    by: str | None = None
    at: datetime | None = None
    reason: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "by": self.by,
            "at": self.at.isoformat() if self.at else None,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ReviewedEvent:
    """An event with its review."""

    event: Event
    review: Review

    @property
    def review_state(self) -> str:
        return self.review.state

    @property
    def confidence(self) -> float | None:
        """The ingestion's confidence in what it read, when it gave one."""
        return confidence_of(self.event.classification)

    @property
    def reasons(self) -> list[str]:
        return list((self.event.classification or {}).get("reasons") or [])


def confidence_of(classification: dict[str, Any] | None) -> float | None:
    """The ingestion's confidence in what it read, when its classification gives one."""
    value = (classification or {}).get("confidence")
    return float(value) if isinstance(value, int | float) else None


def _reviewed(row: Any) -> ReviewedEvent:
    """An EventRow, or a row selected with `_READ_COLUMNS`, as an event with its review."""
    review = Review(row.review_state, row.reviewed_by, row.reviewed_at, row.review_reason)
    event = row.to_event() if isinstance(row, EventRow) else _read_event(row)
    return ReviewedEvent(event, review)


def reviewed_events_between(
    session: Session,
    start: datetime | None = None,
    end: datetime | None = None,
    categories: Sequence[str] | None = None,
    states: Sequence[str] | None = None,
) -> list[ReviewedEvent]:
    """Events with start <= occurred_at < end and their reviews, oldest first (plain rows)."""
    query = _window_query(start, end, categories, states)
    with cycle_collector_paused():
        return [_reviewed(row) for row in session.execute(query)]


def reviewed_events_by_id(session: Session, ids: Sequence[str]) -> list[ReviewedEvent]:
    """The stored ones of `ids` with their reviews, in the order asked."""
    rows = {row.id: row for row in session.scalars(select(EventRow).where(EventRow.id.in_(ids)))}
    return [_reviewed(rows[event_id]) for event_id in dict.fromkeys(ids) if event_id in rows]


def hold_for_review(session: Session, ids: Sequence[str]) -> None:
    """Mark newly ingested events pending: a machine wrote them, a person or a rule decides."""
    if ids:
        session.execute(
            update(EventRow)
            .where(EventRow.id.in_(list(ids)))
            .values(review_state=PENDING, reviewed_by=None, reviewed_at=None, review_reason=None)
        )


def set_review(
    session: Session,
    ids: Sequence[str],
    state: str,
    *,
    by: str,
    reason: str | None = None,
    at: datetime | None = None,
) -> None:
    """Record a decision on events already stored (the caller checks they exist)."""
    if state not in REVIEW_STATES:
        raise ValueError(f"unknown review state {state!r}")
    session.execute(
        update(EventRow)
        .where(EventRow.id.in_(list(ids)))
        .values(review_state=state, reviewed_by=by, reviewed_at=at or now(), review_reason=reason)
    )


def save_reviewed_edit(session: Session, event: Event, *, by: str, reason: str | None) -> None:
    """Store a reviewer's corrected event; its review state stays as it was."""
    row = session.get(EventRow, event.id)
    if row is None:
        raise LookupError(event.id)
    for key, value in _columns(event).items():
        setattr(row, key, value)
    row.reviewed_by, row.reviewed_at, row.review_reason = by, now(), reason
    session.flush()
