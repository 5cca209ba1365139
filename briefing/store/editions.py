"""Edition records: every brief ever generated, where its file is, and its checksum."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Integer, String, UniqueConstraint, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from briefing.errors import NotFoundError
from briefing.store.db import Base, UTCDateTime, changed_rows, now


class Edition(Base):
    """One generated brief. `slot` is set for scheduled editions and unique per brief."""

    __tablename__ = "editions"
    __table_args__ = (UniqueConstraint("brief", "slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    brief: Mapped[str] = mapped_column(String(100), index=True)
    title: Mapped[str] = mapped_column(String(300))
    slot: Mapped[datetime | None] = mapped_column(UTCDateTime)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    window_end: Mapped[datetime] = mapped_column(UTCDateTime)
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    format: Mapped[str] = mapped_column(String(10), default="pdf")
    path: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    pages: Mapped[int] = mapped_column(Integer)
    event_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Review gate: events of the window still waiting for review, left out of this edition,
    # and when the admins were told of them (once per scheduled slot).
    pending_event_ids: Mapped[list[str] | None] = mapped_column(JSON)
    pending_notice_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The composed brief the templates rendered, as JSON: every email of the edition is built
    # from it, so an event edited later changes no copy. None for editions made before 0006.
    # Deferred: listing and verifying editions need not load every brief.
    content: Mapped[dict | None] = mapped_column(JSON, deferred=True)

    def as_dict(self) -> dict:
        return {
            "edition_id": self.id,
            "brief": self.brief,
            "title": self.title,
            "slot": self.slot.isoformat() if self.slot else None,
            "window_start": self.window_start.isoformat(),
            "window_end": self.window_end.isoformat(),
            "timezone": self.timezone,
            "created_at": self.created_at.isoformat(),
            "format": self.format,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "pages": self.pages,
            "events": len(self.event_ids),
            "pending_review": len(self.pending_event_ids or []),
        }


def edition_number(session: Session, brief: str, edition_id: int | None = None) -> int:
    """The edition's number in its brief's series: 1 for the first; the next one when no id."""
    query = select(func.count()).select_from(Edition).where(Edition.brief == brief)
    if edition_id is not None:
        return session.execute(query.where(Edition.id <= edition_id)).scalar_one()
    return session.execute(query).scalar_one() + 1


def get_edition(session: Session, edition_id: int) -> Edition:
    edition = session.get(Edition, edition_id)
    if edition is None:
        raise NotFoundError(f"no edition with id {edition_id}")
    return edition


def edition_content(session: Session, edition_id: int) -> dict | None:
    """The composed brief kept with an edition (None for one made before it was kept)."""
    return session.scalar(select(Edition.content).where(Edition.id == edition_id))


def latest_edition(session: Session, brief: str, fmt: str = "pdf") -> Edition | None:
    query = (
        select(Edition)
        .where(Edition.brief == brief, Edition.format == fmt)
        .order_by(Edition.window_end.desc(), Edition.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def edition_for_slot(session: Session, brief: str, slot: datetime) -> Edition | None:
    return session.scalars(
        select(Edition).where(Edition.brief == brief, Edition.slot == slot)
    ).first()


def list_editions(session: Session, brief: str | None = None) -> list[Edition]:
    query = select(Edition).order_by(Edition.created_at.desc(), Edition.id.desc())
    if brief:
        query = query.where(Edition.brief == brief)
    return list(session.scalars(query))


def editions_page(
    session: Session, brief: str, *, offset: int, limit: int
) -> tuple[list[Edition], int]:
    """One page of a brief's editions, newest window first, and how many there are in all."""
    query = (
        select(Edition)
        .where(Edition.brief == brief)
        .order_by(Edition.window_end.desc(), Edition.id.desc())
        .offset(offset)
        .limit(limit)
    )
    total = session.scalar(select(func.count()).select_from(Edition).where(Edition.brief == brief))
    return list(session.scalars(query)), total or 0


def claim_pending_notice(session: Session, edition_id: int, at: datetime) -> bool:
    """True for the one caller that gets to tell the admins about this edition's pending events."""
    claimed = session.execute(
        update(Edition)
        .where(Edition.id == edition_id, Edition.pending_notice_at.is_(None))
        .values(pending_notice_at=at)
    )
    return changed_rows(claimed) == 1


def release_pending_notice(session: Session, edition_id: int) -> None:
    """The notice could not be sent: let a later attempt try again."""
    session.execute(update(Edition).where(Edition.id == edition_id).values(pending_notice_at=None))
