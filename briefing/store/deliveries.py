"""The delivery ledger: one row per (edition, subscriber), and the batch claims of senders.

Every send is recorded per (edition, subscriber) so a rerun sends only what is not yet `sent`,
and several senders can share one edition: each claims small batches of pending deliveries
(`SELECT … FOR UPDATE SKIP LOCKED` on PostgreSQL; one atomic UPDATE under SQLite's write lock).
A delivery goes out only while its subscriber is active and still receives the edition's brief;
one who left meanwhile has the delivery `cancelled`, never retried.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    bindparam,
    func,
    literal,
    or_,
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
    now,
)
from briefing.store.editions import Edition
from briefing.store.subscribers import (
    ACTIVE,
    Subscriber,
    Subscription,
    issue_unsubscribe_tokens,
)

PENDING, SENDING, SENT, FAILED, BOUNCED = "pending", "sending", "sent", "failed", "bounced"
CANCELLED = "cancelled"
DELIVERY_STATUSES = (PENDING, SENDING, SENT, FAILED, BOUNCED, CANCELLED)
LEFT = "the subscriber no longer receives this brief"


class Delivery(Base):
    """The ledger row of one edition for one subscriber; `sent` only once the server accepted."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("edition_id", "subscriber_id"),
        Index("ix_deliveries_edition_id_status", "edition_id", "status"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    edition_id: Mapped[int] = mapped_column(ForeignKey("editions.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id", ondelete="CASCADE"))
    address: Mapped[str] = mapped_column(String(320))
    status: Mapped[str] = mapped_column(String(20), default=PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    smtp_response: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(255))
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "edition_id": self.edition_id,
            "subscriber_id": self.subscriber_id,
            "address": self.address,
            "status": self.status,
            "attempts": self.attempts,
            "last_error": self.last_error,
            "smtp_response": self.smtp_response,
            "message_id": self.message_id,
            "sent_at": iso_or_none(self.sent_at),
            "updated_at": iso_or_none(self.updated_at),
        }


@dataclass(frozen=True)
class ClaimedDelivery:
    """What a sender needs to build one message, read once at claim time."""

    id: int
    subscriber_id: int
    address: str
    name: str | None
    token: str
    attempts: int


def ensure_deliveries(session: Session, edition_id: int, brief: str) -> int:
    """A pending ledger row for each active subscriber of the brief who has none; how many new.

    Safe to run from several senders at once: existing rows are left alone (ON CONFLICT).
    """
    moment = now()
    chosen = (
        select(
            literal(edition_id),
            Subscriber.id,
            Subscriber.email,
            literal(PENDING),
            literal(0),
            literal(moment, UTCDateTime),
            literal(moment, UTCDateTime),
        )
        .join(Subscription, Subscription.subscriber_id == Subscriber.id)
        .where(Subscription.brief == brief, Subscriber.status == ACTIVE)
        .where(
            ~select(Delivery.id)
            .where(Delivery.edition_id == edition_id, Delivery.subscriber_id == Subscriber.id)
            .exists()
        )
    )
    columns = [
        "edition_id",
        "subscriber_id",
        "address",
        "status",
        "attempts",
        "created_at",
        "updated_at",
    ]
    statement = insert_ignoring_duplicates(session, Delivery).from_select(columns, chosen)
    # An INSERT's row count is kept only on request (PostgreSQL would report -1).
    return changed_rows(session.execute(statement.execution_options(preserve_rowcount=True)))


def _still_wanted(edition_id: int):
    """The delivery's subscriber is active and still receives the edition's brief (a
    condition on the enclosing query's Delivery row)."""
    brief = select(Edition.brief).where(Edition.id == edition_id).scalar_subquery()
    return (
        select(Subscription.subscriber_id)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(
            Subscription.subscriber_id == Delivery.subscriber_id,
            Subscription.brief == brief,
            Subscriber.status == ACTIVE,
        )
        .exists()
    )


def cancel_unwanted(session: Session, edition_id: int) -> int:
    """Cancel the deliveries not yet made to anyone who has since unsubscribed, bounced or left
    the brief: waiting, failed, or claimed by a sender whose claim ran out; how many.

    Cancelled rather than deleted: the ledger keeps showing that this edition was meant for
    them and why it never went.
    """
    open_ = or_(
        Delivery.status.in_((PENDING, FAILED)),
        and_(Delivery.status == SENDING, Delivery.claimed_until < now()),
    )
    result = session.execute(
        update(Delivery)
        .where(Delivery.edition_id == edition_id, open_, ~_still_wanted(edition_id))
        .values(
            status=CANCELLED,
            last_error=LEFT,
            next_attempt_at=None,
            claimed_by=None,
            claimed_until=None,
            updated_at=now(),
        )
        .execution_options(synchronize_session=False)
    )
    return changed_rows(result)


def requeue_failed(session: Session, edition_id: int) -> int:
    """Give deliveries left `failed` by an earlier run a fresh round of attempts, for those who
    still receive the brief."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.edition_id == edition_id,
            Delivery.status == FAILED,
            _still_wanted(edition_id),
        )
        .values(status=PENDING, attempts=0, next_attempt_at=None, updated_at=now())
        .execution_options(synchronize_session=False)
    )
    return changed_rows(result)


def claimed_workers(session: Session, edition_id: int) -> list[str]:
    """The senders holding claims on this edition right now."""
    query = (
        select(Delivery.claimed_by)
        .where(Delivery.edition_id == edition_id, Delivery.status == SENDING)
        .distinct()
    )
    return [worker for worker in session.scalars(query) if worker]


def release_claims(
    session: Session,
    edition_id: int,
    *,
    workers: Sequence[str] = (),
    ids: Sequence[int] = (),
) -> int:
    """Return claims to the pool: all of the given (dead) workers, or the given deliveries."""
    if not workers and not ids:
        return 0
    which = Delivery.claimed_by.in_(workers) if workers else Delivery.id.in_(ids)
    result = session.execute(
        update(Delivery)
        .where(Delivery.edition_id == edition_id, Delivery.status == SENDING, which)
        .values(status=PENDING, claimed_by=None, claimed_until=None, updated_at=now())
    )
    return changed_rows(result)


def _claimable(edition_id: int, moment: datetime):
    """Ready or abandoned, and still wanted: no one who left is mailed, even on a retry."""
    ready = and_(
        Delivery.status == PENDING,
        or_(Delivery.next_attempt_at.is_(None), Delivery.next_attempt_at <= moment),
    )
    abandoned = and_(Delivery.status == SENDING, Delivery.claimed_until < moment)
    return and_(Delivery.edition_id == edition_id, or_(ready, abandoned), _still_wanted(edition_id))


def claim_deliveries(
    session: Session, edition_id: int, *, worker: str, limit: int, until: datetime
) -> list[ClaimedDelivery]:
    """Take up to `limit` ready deliveries for `worker` until `until`; no row goes to two workers.

    One UPDATE whose subquery skips rows other transactions have locked (PostgreSQL); SQLite
    runs the same statement under its single write lock, so it is atomic there too. Claims
    that expired (their worker died) are taken back.
    """
    moment = now()
    chosen = (
        select(Delivery.id)
        .where(_claimable(edition_id, moment))
        .order_by(Delivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = session.execute(
        update(Delivery)
        .where(Delivery.id.in_(chosen.scalar_subquery()))
        .values(status=SENDING, claimed_by=worker, claimed_until=until, updated_at=moment)
        .returning(Delivery.id)
        .execution_options(synchronize_session=False)
    )
    ids = [row[0] for row in claimed]
    if not ids:
        return []
    rows = session.execute(
        select(
            Delivery.id,
            Delivery.subscriber_id,
            Delivery.address,
            Subscriber.name,
            Delivery.attempts,
            Edition.brief,
        )
        .join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .join(Edition, Edition.id == Delivery.edition_id)
        .where(Delivery.id.in_(ids))
        .order_by(Delivery.id)
    ).all()
    tokens = issue_unsubscribe_tokens(session, [(row[1], row[5]) for row in rows])
    return [
        ClaimedDelivery(row_id, subscriber_id, address, name, token, attempts)
        for (row_id, subscriber_id, address, name, attempts, _), token in zip(
            rows, tokens, strict=True
        )
    ]


# The ledger as a Table (what Core's UPDATE takes), for the statements built once below.
_LEDGER = Base.metadata.tables[Delivery.__tablename__]


def _row_update(**values):
    """An UPDATE of one ledger row by its id that also counts the attempt and ends the claim.

    Built once at import with bound parameters: per message only the parameters change, so
    each call is served from SQLAlchemy's compiled-statement cache.
    """
    table = _LEDGER
    return (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(attempts=table.c.attempts + 1, claimed_by=None, claimed_until=None, **values)
    )


def _moment():
    return bindparam("moment", type_=UTCDateTime())


_RECORD_SENT = _row_update(
    status=SENT,
    message_id=bindparam("message"),
    smtp_response=bindparam("response"),
    last_error=None,
    sent_at=_moment(),
    next_attempt_at=None,
    updated_at=_moment(),
)
_RECORD_BOUNCE = _row_update(
    status=BOUNCED,
    message_id=bindparam("message"),
    last_error=bindparam("error"),
    smtp_response=bindparam("response"),
    updated_at=_moment(),
)
_RECORD_RETRY = _row_update(
    status=bindparam("new_status"),
    last_error=bindparam("error"),
    smtp_response=bindparam("response"),
    next_attempt_at=bindparam("retry_at", type_=UTCDateTime()),
    updated_at=_moment(),
)


_RECORD_REQUEUE = (
    update(_LEDGER)
    .where(_LEDGER.c.id == bindparam("row_id"))
    .values(
        status=PENDING,
        claimed_by=None,
        claimed_until=None,
        last_error=bindparam("error"),
        smtp_response=bindparam("response"),
        next_attempt_at=None,
        updated_at=_moment(),
    )
)


def record_sent(
    session: Session | Connection, delivery_id: int, *, message_id: str | None, response: str
) -> None:
    session.execute(
        _RECORD_SENT,
        {"row_id": delivery_id, "message": message_id, "response": response, "moment": now()},
    )


def record_bounce(
    session: Session | Connection,
    delivery_id: int,
    *,
    message_id: str | None,
    error: str,
    response: str,
) -> None:
    values = {"message": message_id, "error": error, "response": response, "moment": now()}
    session.execute(_RECORD_BOUNCE, {"row_id": delivery_id, **values})


def record_retry(
    session: Session | Connection,
    delivery_id: int,
    *,
    error: str,
    response: str | None,
    retry_at: datetime | None,
) -> None:
    """A temporary failure: back to the pool at `retry_at`, or `failed` when there is none."""
    values = {"error": error, "response": response, "retry_at": retry_at, "moment": now()}
    status = PENDING if retry_at else FAILED
    session.execute(_RECORD_RETRY, {"row_id": delivery_id, "new_status": status, **values})


def record_requeue(
    session: Session | Connection, delivery_id: int, *, error: str, response: str | None
) -> None:
    """Back to the pool without counting an attempt: the server said nothing about this
    recipient (the session failed: 421, dropped connection, or the sender was refused)."""
    values = {"error": error, "response": response, "moment": now()}
    session.execute(_RECORD_REQUEUE, {"row_id": delivery_id, **values})


def note_untried(session: Session, edition_id: int, *, reason: str) -> int:
    """Say on each pending delivery never tried why it was not (sending stopped); how many."""
    result = session.execute(
        update(Delivery)
        .where(
            Delivery.edition_id == edition_id,
            Delivery.status == PENDING,
            Delivery.last_error.is_(None),
        )
        .values(last_error=reason, updated_at=now())
    )
    return changed_rows(result)


def fail_pending(session: Session, edition_id: int, *, error: str) -> int:
    """Give up on every unclaimed pending delivery of an edition (the server stayed down)."""
    result = session.execute(
        update(Delivery)
        .where(Delivery.edition_id == edition_id, Delivery.status == PENDING)
        .values(status=FAILED, last_error=error, next_attempt_at=None, updated_at=now())
    )
    return changed_rows(result)


def delivery_counts(session: Session, edition_id: int) -> dict[str, int]:
    """How many deliveries of the edition are in each status."""
    rows = session.execute(
        select(Delivery.status, func.count())
        .where(Delivery.edition_id == edition_id)
        .group_by(Delivery.status)
    )
    counts = dict.fromkeys(DELIVERY_STATUSES, 0)
    counts.update({status: count for status, count in rows})
    return counts


def next_retry_at(session: Session, edition_id: int) -> datetime | None:
    """When the earliest delivery put back after a temporary failure may be tried again."""
    return session.scalar(
        select(func.min(Delivery.next_attempt_at)).where(
            Delivery.edition_id == edition_id,
            Delivery.status == PENDING,
            _still_wanted(edition_id),
        )
    )


def sent_subscriber_ids(session: Session, edition_id: int) -> set[int]:
    query = select(Delivery.subscriber_id).where(
        Delivery.edition_id == edition_id, Delivery.status.in_((SENT, BOUNCED))
    )
    return set(session.scalars(query))


def list_deliveries(
    session: Session,
    *,
    edition_id: int | None = None,
    status: str | None = None,
    limit: int | None = None,
) -> list[Delivery]:
    query = select(Delivery).order_by(Delivery.edition_id.desc(), Delivery.id)
    if edition_id is not None:
        query = query.where(Delivery.edition_id == edition_id)
    if status:
        query = query.where(Delivery.status == status)
    if limit:
        query = query.limit(limit)
    return list(session.scalars(query))
