"""The web side: per-message unsubscribe tokens stored hashed, and full-text search of events.

Each subscriber's one clear-text token is replaced by its SHA-256 (the column keeps its name,
`token`, mapped as `legacy_token_hash`), so links in mail already sent keep working. A
downgrade cannot bring the clear tokens back: those links stop working after it.
"""

import hashlib

import sqlalchemy as sa
from alembic import op

from briefing.store.db import UTCDateTime
from briefing.store.search import create_search_index, drop_search_index

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "unsubscribe_tokens",
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey(
                "subscribers.id",
                ondelete="CASCADE",
                name="fk_unsubscribe_tokens_subscriber_id_subscribers",
            ),
            nullable=False,
        ),
        sa.Column("brief", sa.String(100)),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("token_hash", name="pk_unsubscribe_tokens"),
    )
    op.create_index("ix_unsubscribe_tokens_subscriber_id", "unsubscribe_tokens", ["subscriber_id"])
    connection = op.get_bind()
    subscribers = sa.table("subscribers", sa.column("id", sa.Integer), sa.column("token"))
    for subscriber_id, token in connection.execute(sa.select(subscribers)).all():
        connection.execute(
            subscribers.update()
            .where(subscribers.c.id == subscriber_id)
            .values(token=hashlib.sha256(token.encode()).hexdigest())
        )
    create_search_index(connection)


def downgrade() -> None:
    drop_search_index(op.get_bind())
    op.drop_index("ix_unsubscribe_tokens_subscriber_id", "unsubscribe_tokens")
    op.drop_table("unsubscribe_tokens")
