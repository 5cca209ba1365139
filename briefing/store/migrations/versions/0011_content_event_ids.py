"""An edition's kept brief lists its events by id, not whole.

The events were kept twice (in the PDF's attached data and in the brief): for a window of
100,000 events that was 100 MB more to write for every edition. What the brief shows is kept
whole in its items; the events of the window are listed in `event_ids`.
"""

from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

_editions = sa.table("editions", sa.column("id", sa.Integer), sa.column("content", sa.JSON))


def _kept_briefs() -> Iterator[tuple[int, dict[str, Any]]]:
    """Each edition's kept brief, one at a time: one may be 100 MB."""
    connection = op.get_bind()
    kept = connection.execute(sa.select(_editions.c.id).where(_editions.c.content.is_not(None)))
    for (edition_id,) in kept.all():
        query = sa.select(_editions.c.content).where(_editions.c.id == edition_id)
        yield edition_id, connection.scalar(query) or {}


def _keep(edition_id: int, content: dict[str, Any] | None) -> None:
    op.get_bind().execute(
        sa.update(_editions).where(_editions.c.id == edition_id).values(content=content)
    )


def upgrade() -> None:
    for edition_id, content in _kept_briefs():
        if "events" in content:
            content["event_ids"] = [event["id"] for event in content.pop("events")]
            _keep(edition_id, content)


def downgrade() -> None:
    """Briefs kept by id are dropped: the code before recomposes such an edition's brief from
    the events it lists, as they are stored now."""
    for edition_id, content in _kept_briefs():
        if "event_ids" in content:
            _keep(edition_id, None)
