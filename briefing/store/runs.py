"""Scheduled runs: one row per (brief, slot), claimed by one scheduler process at a time.

The unique (brief, slot) key is the claim: whoever inserts the row runs the slot. A failed run,
or a `running` one whose process died, is taken over with a compare-and-set on `attempts`, so
two processes can never both believe they own the same attempt.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ColumnElement,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Update,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from briefing.store.db import (
    Base,
    UTCDateTime,
    changed_rows,
    insert_ignoring_duplicates,
    iso_or_none,
)

RUNNING = "running"
SUCCEEDED = "succeeded"
FAILED = "failed"
SKIPPED = "skipped"


@dataclass(frozen=True)
class Owner:
    """The scheduler process working on a run; `token` tells apart two lives of one pid."""

    host: str
    pid: int
    token: str


class ScheduleRun(Base):
    """One scheduled slot of one brief and what became of it."""

    __tablename__ = "schedule_runs"
    __table_args__ = (UniqueConstraint("brief", "slot"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    brief: Mapped[str] = mapped_column(String(100))
    slot: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    owner_host: Mapped[str | None] = mapped_column(String(255))
    owner_pid: Mapped[int | None] = mapped_column(Integer)
    owner_token: Mapped[str | None] = mapped_column(String(32))
    edition_id: Mapped[int | None] = mapped_column(Integer)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)

    def as_dict(self) -> dict[str, Any]:
        return {
            "brief": self.brief,
            "slot": iso_or_none(self.slot),
            "status": self.status,
            "attempts": self.attempts,
            "started_at": iso_or_none(self.started_at),
            "finished_at": iso_or_none(self.finished_at),
            "heartbeat_at": iso_or_none(self.heartbeat_at),
            "retry_at": iso_or_none(self.retry_at),
            "owner": f"{self.owner_pid}@{self.owner_host}" if self.owner_pid else None,
            "edition_id": self.edition_id,
            "counts": self.counts or {},
            "error": self.error,
        }


def add_run(session: Session, brief: str, slot: datetime, owner: Owner, now: datetime) -> int:
    """Insert a `running` row: the claim. Raises IntegrityError if the slot is taken."""
    run = ScheduleRun(
        brief=brief,
        slot=slot,
        status=RUNNING,
        attempts=1,
        started_at=now,
        heartbeat_at=now,
        owner_host=owner.host,
        owner_pid=owner.pid,
        owner_token=owner.token,
        counts={},
    )
    session.add(run)
    session.flush()
    return run.id


def _unchanged(run: ScheduleRun) -> tuple[ColumnElement[bool], ...]:
    """Compare-and-set: the row is still at the attempt `run` was read at."""
    return ScheduleRun.id == run.id, ScheduleRun.attempts == run.attempts


def _mine(run_id: int, attempt: int, owner: Owner) -> tuple[ColumnElement[bool], ...]:
    """The row is still our attempt, running."""
    return (
        ScheduleRun.id == run_id,
        ScheduleRun.attempts == attempt,
        ScheduleRun.owner_token == owner.token,
        ScheduleRun.status == RUNNING,
    )


def _updated_one(session: Session, statement: Update) -> bool:
    """Whether a guarded update took effect; no row means another process changed it first."""
    return changed_rows(session.execute(statement)) == 1


def take_over(session: Session, run: ScheduleRun, owner: Owner, now: datetime) -> bool:
    """Claim a failed or orphaned run for a new attempt; False if another process was first."""
    return _updated_one(
        session,
        update(ScheduleRun)
        .where(*_unchanged(run), ScheduleRun.status.in_((FAILED, RUNNING)))
        .values(
            status=RUNNING,
            attempts=run.attempts + 1,
            started_at=now,
            finished_at=None,
            heartbeat_at=now,
            retry_at=None,
            owner_host=owner.host,
            owner_pid=owner.pid,
            owner_token=owner.token,
            error=None,
        ),
    )


def beat(session: Session, run_id: int, attempt: int, owner: Owner, now: datetime) -> bool:
    """Refresh the heartbeat; False when the run is no longer ours (taken over)."""
    return _updated_one(
        session, update(ScheduleRun).where(*_mine(run_id, attempt, owner)).values(heartbeat_at=now)
    )


def finish(
    session: Session,
    run_id: int,
    attempt: int,
    owner: Owner,
    *,
    status: str,
    now: datetime,
    counts: dict[str, Any],
    error: str | None = None,
    retry_at: datetime | None = None,
    edition_id: int | None = None,
) -> bool:
    """Record how our attempt ended; False if it was taken over meanwhile (nothing written)."""
    return _updated_one(
        session,
        update(ScheduleRun)
        .where(*_mine(run_id, attempt, owner))
        .values(
            status=status,
            finished_at=now,
            heartbeat_at=now,
            counts=counts,
            error=error,
            retry_at=retry_at,
            edition_id=edition_id,
        ),
    )


def mark_orphaned(session: Session, run: ScheduleRun, now: datetime, error: str) -> bool:
    """A `running` run whose process is gone becomes `failed`, due for retry at once."""
    return _updated_one(
        session,
        update(ScheduleRun)
        .where(*_unchanged(run), ScheduleRun.status == RUNNING)
        .values(status=FAILED, finished_at=now, retry_at=now, error=error),
    )


def stop_retrying(session: Session, run: ScheduleRun) -> bool:
    """A failed run whose slot left the catch-up window will not be tried again."""
    return _updated_one(session, update(ScheduleRun).where(*_unchanged(run)).values(retry_at=None))


def add_skipped(
    session: Session, brief: str, slots: list[datetime], now: datetime, reason: str
) -> None:
    """Record slots that were never run; a slot someone else recorded meanwhile is kept."""
    if not slots:
        return
    rows = [
        {
            "brief": brief,
            "slot": slot,
            "status": SKIPPED,
            "attempts": 0,
            "started_at": now,
            "finished_at": now,
            "counts": {},
            "error": reason,
        }
        for slot in slots
    ]
    session.execute(insert_ignoring_duplicates(session, ScheduleRun).values(rows))


def open_runs(session: Session, brief: str) -> list[ScheduleRun]:
    """Runs that may still need work: `running` ones and failed ones with a retry pending."""
    query = (
        select(ScheduleRun)
        .where(
            ScheduleRun.brief == brief,
            (ScheduleRun.status == RUNNING)
            | ((ScheduleRun.status == FAILED) & ScheduleRun.retry_at.is_not(None)),
        )
        .order_by(ScheduleRun.slot)
    )
    return list(session.scalars(query))


def newest_slot(session: Session, brief: str) -> datetime | None:
    """The newest slot of a brief with any recorded run."""
    runs = recent_runs(session, brief, limit=1)
    return runs[0].slot if runs else None


def recent_runs(session: Session, brief: str, limit: int = 5) -> list[ScheduleRun]:
    """A brief's runs, newest slot first."""
    query = (
        select(ScheduleRun)
        .where(ScheduleRun.brief == brief)
        .order_by(ScheduleRun.slot.desc())
        .limit(limit)
    )
    return list(session.scalars(query))
