"""Feed entries already ingested and feed poll times, so a poll only takes what is new."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import JSON, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from briefing.store.db import Base, UTCDateTime, now


class FeedEntryRow(Base):
    __tablename__ = "feed_entries"
    __table_args__ = (UniqueConstraint("feed", "entry_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    feed: Mapped[str] = mapped_column(String(1000))
    entry_hash: Mapped[str] = mapped_column(String(64))
    entry_key: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    event_ids: Mapped[list[str]] = mapped_column(JSON, default=list)


class FeedPollRow(Base):
    __tablename__ = "feed_polls"

    feed: Mapped[str] = mapped_column(String(1000), primary_key=True)
    polled_at: Mapped[datetime] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)


def entry_hash(key: str) -> str:
    """Entry ids and links can be long; the unique index holds their digest."""
    return hashlib.sha256(key.encode()).hexdigest()


def seen_entries(session: Session, feed: str, keys: Iterable[str]) -> set[str]:
    """Which of these entry keys (entry id or link) of `feed` were ingested before."""
    by_hash = {entry_hash(key): key for key in keys}
    query = select(FeedEntryRow.entry_hash).where(
        FeedEntryRow.feed == feed, FeedEntryRow.entry_hash.in_(list(by_hash))
    )
    return {by_hash[found] for found in session.scalars(query)}


def mark_entry_seen(
    session: Session, feed: str, key: str, *, link: str | None, event_ids: list[str]
) -> None:
    """Record an ingested entry; a concurrent poll that got there first makes this fail."""
    session.add(
        FeedEntryRow(
            feed=feed, entry_hash=entry_hash(key), entry_key=key, link=link, event_ids=event_ids
        )
    )
    session.flush()


def last_polled(session: Session, feed: str) -> datetime | None:
    row = session.get(FeedPollRow, feed)
    return row.polled_at if row else None


def record_poll(session: Session, feed: str, at: datetime, error: str | None = None) -> None:
    row = session.get(FeedPollRow, feed)
    if row is None:
        session.add(FeedPollRow(feed=feed, polled_at=at, error=error))
    else:
        row.polled_at, row.error = at, error
