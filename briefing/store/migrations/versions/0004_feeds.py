"""Feed entries already ingested, and when each feed was last polled."""

import sqlalchemy as sa
from alembic import op

from briefing.store.db import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feed_entries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("feed", sa.String(1000), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("entry_key", sa.Text(), nullable=False),
        sa.Column("link", sa.Text()),
        sa.Column("seen_at", UTCDateTime(), nullable=False),
        sa.Column("event_ids", sa.JSON(), nullable=False),
        sa.UniqueConstraint("feed", "entry_hash", name="uq_feed_entries_feed_entry_hash"),
    )
    op.create_table(
        "feed_polls",
        sa.Column("feed", sa.String(1000), primary_key=True),
        sa.Column("polled_at", UTCDateTime(), nullable=False),
        sa.Column("error", sa.Text()),
    )


def downgrade() -> None:
    op.drop_table("feed_polls")
    op.drop_table("feed_entries")
