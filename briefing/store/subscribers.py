"""Subscribers and the briefs they receive; what was sent to them is in deliveries.py."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import (
    Connection,
    ForeignKey,
    Integer,
    String,
    func,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from briefing.errors import NotFoundError
from briefing.store.db import Base, UTCDateTime, now

ACTIVE, UNSUBSCRIBED, BOUNCED = "active", "unsubscribed", "bounced"
SUBSCRIBER_STATUSES = (ACTIVE, UNSUBSCRIBED, BOUNCED)
TOKEN_LENGTH = 32


class Subscriber(Base):
    """A person receiving briefs; `token` lets them unsubscribe without an account."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=ACTIVE)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=lambda: new_token())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now, onupdate=now)
    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy="selectin",
    )

    @property
    def briefs(self) -> list[str]:
        return sorted(s.brief for s in self.subscriptions)

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "email": self.email,
            "name": self.name,
            "status": self.status,
            "briefs": self.briefs,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


class Subscription(Base):
    """One brief a subscriber receives."""

    __tablename__ = "subscriptions"

    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True
    )
    brief: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)
    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")


def new_token() -> str:
    """A random unsubscribe token: URL-safe, TOKEN_LENGTH characters."""
    return secrets.token_urlsafe(TOKEN_LENGTH * 3 // 4)


# --- subscribers -------------------------------------------------------------------------


def find_subscriber(session: Session, *, email: str | None = None, token: str | None = None):
    """The subscriber with this address (in any letter case) or unsubscribe token, or None."""
    if email is not None:
        condition = func.lower(Subscriber.email) == email.lower()
    else:
        condition = Subscriber.token == token
    return session.scalars(select(Subscriber).where(condition)).first()


def get_subscriber(session: Session, *, email: str | None = None, token: str | None = None):
    found = find_subscriber(session, email=email, token=token)
    if found is None:
        what = f"address {email}" if email is not None else "that unsubscribe token"
        raise NotFoundError(f"no subscriber with {what}")
    return found


def save_subscriber(
    session: Session,
    email: str,
    *,
    name: str | None,
    briefs: Iterable[str],
    reactivate: bool,
) -> str:
    """Add a subscriber or merge into an existing one: 'added', 'updated' or 'unchanged'.

    Briefs are added, never taken away. An unsubscribed or bounced subscriber becomes active
    again only with `reactivate` (an explicit `subscribers add`, never a bulk import).
    """
    subscriber = find_subscriber(session, email=email)
    if subscriber is None:
        subscriber = Subscriber(email=email, name=name, status=ACTIVE, token=new_token())
        subscriber.subscriptions = [Subscription(brief=b) for b in sorted(set(briefs))]
        session.add(subscriber)
        session.flush()
        return "added"
    changed = False
    if name and name != subscriber.name:
        subscriber.name, changed = name, True
    for brief in sorted(set(briefs) - set(subscriber.briefs)):
        subscriber.subscriptions.append(Subscription(brief=brief))
        changed = True
    if reactivate and subscriber.status != ACTIVE:
        subscriber.status, changed = ACTIVE, True
    if changed:
        subscriber.updated_at = now()
    session.flush()
    return "updated" if changed else "unchanged"


def list_subscribers(
    session: Session, *, brief: str | None = None, status: str | None = None
) -> list[Subscriber]:
    query = select(Subscriber).order_by(Subscriber.email)
    if brief:
        query = query.where(
            Subscriber.id.in_(select(Subscription.subscriber_id).where(Subscription.brief == brief))
        )
    if status:
        query = query.where(Subscriber.status == status)
    return list(session.scalars(query))


def subscribers_for(session: Session, brief: str) -> list[Subscriber]:
    """The active subscribers of a brief: who an edition of it goes to."""
    return list_subscribers(session, brief=brief, status=ACTIVE)


def remove_subscriber(session: Session, email: str) -> None:
    """Delete a subscriber with their subscriptions and delivery history (ON DELETE CASCADE)."""
    subscriber = get_subscriber(session, email=email)
    session.delete(subscriber)
    session.flush()


def unsubscribe(
    session: Session,
    *,
    email: str | None = None,
    token: str | None = None,
    brief: str | None = None,
) -> Subscriber:
    """Stop one brief (`brief`), or all mail to the subscriber; their history is kept."""
    subscriber = get_subscriber(session, email=email, token=token)
    if brief is None:
        subscriber.status = UNSUBSCRIBED
    else:
        if brief not in subscriber.briefs:
            raise NotFoundError(f"{subscriber.email} does not receive the brief {brief!r}")
        subscriber.subscriptions = [s for s in subscriber.subscriptions if s.brief != brief]
        if not subscriber.subscriptions:
            subscriber.status = UNSUBSCRIBED
    subscriber.updated_at = now()
    session.flush()
    return subscriber


def mark_subscriber_bounced(session: Session | Connection, subscriber_id: int) -> None:
    session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, Subscriber.status == ACTIVE)
        .values(status=BOUNCED, updated_at=now())
    )
