"""The review gate: each event's review state; each edition's events left out as pending."""

import sqlalchemy as sa
from alembic import op

from briefing.store.db import UTCDateTime

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        # Events stored before the gate had been published already: they count as approved.
        batch.add_column(
            sa.Column("review_state", sa.String(10), nullable=False, server_default="approved")
        )
        batch.add_column(sa.Column("reviewed_by", sa.String(200), nullable=True))
        batch.add_column(sa.Column("reviewed_at", UTCDateTime(), nullable=True))
        batch.add_column(sa.Column("review_reason", sa.Text(), nullable=True))
        batch.create_index("ix_events_review_state", ["review_state"])
    with op.batch_alter_table("editions") as batch:
        batch.add_column(sa.Column("pending_event_ids", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("pending_notice_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("editions") as batch:
        batch.drop_column("pending_notice_at")
        batch.drop_column("pending_event_ids")
    with op.batch_alter_table("events") as batch:
        batch.drop_index("ix_events_review_state")
        batch.drop_column("review_reason")
        batch.drop_column("reviewed_at")
        batch.drop_column("reviewed_by")
        batch.drop_column("review_state")
