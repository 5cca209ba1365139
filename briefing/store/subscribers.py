"""Subscribers and the briefs they receive; what was sent to them is in deliveries.py.

Unsubscribe tokens are random, one per message, and only their SHA-256 is stored
(`unsubscribe_tokens`): a copy of the database cannot unsubscribe anyone, and a message needs
no secret key to be made. A token names the brief its message was for, so following it stops
that brief. Messages sent before per-message tokens carried one token per subscriber; its hash
is kept as `legacy_token_hash`, and such a token stops all mail, as it always did.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable, Sequence
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
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class Subscriber(Base):
    """A person receiving briefs; the tokens in their messages unsubscribe them without login."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default=ACTIVE)
    legacy_token_hash: Mapped[str] = mapped_column(
        "token", String(64), unique=True, default=lambda: token_hash(new_token())
    )
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


class UnsubscribeToken(Base):
    """The SHA-256 of a token sent in one message; `brief` None stops every brief."""

    __tablename__ = "unsubscribe_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    brief: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=now)


def new_token() -> str:
    """A random unsubscribe token: URL-safe, TOKEN_LENGTH characters."""
    return secrets.token_urlsafe(TOKEN_LENGTH * 3 // 4)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# --- subscribers -------------------------------------------------------------------------


def find_subscriber(session: Session, *, email: str) -> Subscriber | None:
    """The subscriber with this address, in any letter case, or None."""
    condition = func.lower(Subscriber.email) == email.lower()
    return session.scalars(select(Subscriber).where(condition)).first()


def get_subscriber(session: Session, *, email: str) -> Subscriber:
    found = find_subscriber(session, email=email)
    if found is None:
        raise NotFoundError(f"no subscriber with address {email}")
    return found


# --- unsubscribe tokens ---------------------------------------------------------------------


def issue_unsubscribe_tokens(
    session: Session | Connection, recipients: Sequence[tuple[int, str | None]]
) -> list[str]:
    """A fresh token for each (subscriber id, brief); only the tokens' hashes are stored."""
    tokens = [new_token() for _ in recipients]
    if tokens:
        moment = now()
        session.execute(
            Base.metadata.tables[UnsubscribeToken.__tablename__].insert(),
            [
                {"token_hash": token_hash(token), "subscriber_id": sid, "brief": brief}
                | {"created_at": moment}
                for token, (sid, brief) in zip(tokens, recipients, strict=True)
            ],
        )
    return tokens


def find_by_token(session: Session, token: str) -> tuple[Subscriber, str | None] | None:
    """The subscriber and brief a token was issued for, or None for an unknown or malformed one.

    Looked up by the token's hash, then compared in constant time, so neither the lookup nor
    the comparison tells an attacker how much of a guess was right.
    """
    if not _TOKEN_SHAPE.fullmatch(token):
        return None
    digest = token_hash(token)
    row = session.get(UnsubscribeToken, digest)
    if row is not None and hmac.compare_digest(row.token_hash, digest):
        subscriber = session.get(Subscriber, row.subscriber_id)
        return None if subscriber is None else (subscriber, row.brief)
    query = select(Subscriber).where(Subscriber.legacy_token_hash == digest)
    legacy = session.scalars(query).first()
    if legacy is not None and hmac.compare_digest(legacy.legacy_token_hash, digest):
        return legacy, None
    return None


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
        subscriber = Subscriber(email=email, name=name, status=ACTIVE)
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
    """Stop one brief (`brief`, or the token's), or all mail to the subscriber; history is kept."""
    if token is not None:
        found = find_by_token(session, token)
        if found is None:
            raise NotFoundError("no subscriber with that unsubscribe token")
        subscriber, brief = found[0], brief or found[1]
    elif email is not None:
        subscriber = get_subscriber(session, email=email)
    else:
        raise ValueError("unsubscribe needs an email address or a token")
    return _stop(session, subscriber, brief)


def _stop(session: Session, subscriber: Subscriber, brief: str | None) -> Subscriber:
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


def unsubscribe_by_token(session: Session, token: str) -> Subscriber | None:
    """One-click unsubscribe: stop the token's brief at once; repeating it changes nothing.

    None for an unknown token.
    """
    found = find_by_token(session, token)
    if found is None:
        return None
    subscriber, brief = found
    if brief is not None and brief not in subscriber.briefs:
        return subscriber
    return _stop(session, subscriber, brief)


def confirm_subscription(
    session: Session, email: str, *, name: str | None, brief: str, requested_at: datetime
) -> str:
    """Make a confirmed (double opt-in) subscription active: 'subscribed' or 'withdrawn'.

    A subscriber who was not active restarts with this brief only, not with the briefs they
    once left. A link requested before its subscriber unsubscribed no longer works
    ('withdrawn'), so an old confirmation mail cannot undo a later unsubscribe.
    """
    subscriber = find_subscriber(session, email=email)
    if subscriber is not None and subscriber.status != ACTIVE:
        if subscriber.updated_at > requested_at:
            return "withdrawn"
        subscriber.subscriptions = [s for s in subscriber.subscriptions if s.brief == brief]
    save_subscriber(session, email, name=name, briefs=[brief], reactivate=True)
    return "subscribed"


def is_subscribed(session: Session, email: str, brief: str) -> bool:
    """Whether the address is active and receives the brief."""
    subscriber = find_subscriber(session, email=email)
    return bool(subscriber and subscriber.status == ACTIVE and brief in subscriber.briefs)


def mark_subscriber_bounced(session: Session | Connection, subscriber_id: int) -> None:
    session.execute(
        update(Subscriber)
        .where(Subscriber.id == subscriber_id, Subscriber.status == ACTIVE)
        .values(status=BOUNCED, updated_at=now())
    )
