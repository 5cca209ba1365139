"""Scheduled runs: one row per (brief, slot)."""

import sqlalchemy as sa
from alembic import op

from briefing.store.db import UTCDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "schedule_runs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("brief", sa.String(100), nullable=False),
        sa.Column("slot", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime()),
        sa.Column("heartbeat_at", UTCDateTime()),
        sa.Column("retry_at", UTCDateTime()),
        sa.Column("owner_host", sa.String(255)),
        sa.Column("owner_pid", sa.Integer()),
        sa.Column("owner_token", sa.String(32)),
        sa.Column("edition_id", sa.Integer()),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text()),
        sa.UniqueConstraint("brief", "slot", name="uq_schedule_runs_brief_slot"),
    )
    op.create_index("ix_schedule_runs_status", "schedule_runs", ["status"])


def downgrade() -> None:
    op.drop_table("schedule_runs")
