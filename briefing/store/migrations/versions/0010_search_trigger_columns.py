"""The full-text index re-indexes an event only when an indexed column is set.

Before, every update of an event re-indexed it, so an import's review decision indexed each
stored row a second time. Only the SQLite triggers change; PostgreSQL's index is untouched.
"""

from alembic import op
from sqlalchemy import text

from briefing.store.search import create_search_triggers

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_search_triggers(op.get_bind())


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        return
    connection.execute(text("DROP TRIGGER IF EXISTS events_fts_update"))
    connection.execute(
        text(
            "CREATE TRIGGER events_fts_update AFTER UPDATE ON events BEGIN"
            " DELETE FROM events_fts WHERE rowid = old.rowid;"
            " INSERT INTO events_fts(rowid, event_id, title, summary, place, actors)"
            " VALUES (new.rowid, new.id, new.title, new.summary, coalesce(new.place, ''),"
            " new.actors); END"
        )
    )
