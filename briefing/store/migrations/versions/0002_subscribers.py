"""Subscribers, their briefs, and the delivery ledger."""

import sqlalchemy as sa
from alembic import op

from briefing.store.db import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "subscribers",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("name", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint("email", name="uq_subscribers_email"),
        sa.UniqueConstraint("token", name="uq_subscribers_token"),
    )
    op.create_table(
        "subscriptions",
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey(
                "subscribers.id",
                ondelete="CASCADE",
                name="fk_subscriptions_subscriber_id_subscribers",
            ),
            primary_key=True,
        ),
        sa.Column("brief", sa.String(100), primary_key=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_subscriptions_brief", "subscriptions", ["brief"])
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "edition_id",
            sa.Integer(),
            sa.ForeignKey(
                "editions.id", ondelete="CASCADE", name="fk_deliveries_edition_id_editions"
            ),
            nullable=False,
        ),
        sa.Column(
            "subscriber_id",
            sa.Integer(),
            sa.ForeignKey(
                "subscribers.id",
                ondelete="CASCADE",
                name="fk_deliveries_subscriber_id_subscribers",
            ),
            nullable=False,
        ),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text()),
        sa.Column("smtp_response", sa.Text()),
        sa.Column("message_id", sa.String(255)),
        sa.Column("next_attempt_at", UTCDateTime()),
        sa.Column("claimed_by", sa.String(200)),
        sa.Column("claimed_until", UTCDateTime()),
        sa.Column("sent_at", UTCDateTime()),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.UniqueConstraint(
            "edition_id", "subscriber_id", name="uq_deliveries_edition_id_subscriber_id"
        ),
    )
    op.create_index("ix_deliveries_edition_id_status", "deliveries", ["edition_id", "status"])


def downgrade() -> None:
    op.drop_table("deliveries")
    op.drop_table("subscriptions")
    op.drop_table("subscribers")
