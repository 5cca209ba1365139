"""A scheduled edition's slot makes generation idempotent; any other refusal still surfaces.

When the database refuses the new edition, `generate_edition` with a slot looks for the edition
another process made for that slot. If there is none, the refusal was about something else, and
it must reach the caller as an error, with no file left behind in the archive.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from briefing.pipeline import generate_edition

SLOT = datetime(2024, 10, 26, 5, 0, tzinfo=UTC)


def test_an_edition_the_database_refuses_is_an_error_not_a_missing_edition(settings, store):
    with store.engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TRIGGER refuse_editions BEFORE INSERT ON editions "
                "BEGIN SELECT RAISE(ABORT, 'editions are read-only here'); END"
            )
        )

    with pytest.raises(IntegrityError, match="read-only here"):
        generate_edition(settings, store, slot=SLOT, fmt="html", now=SLOT)

    assert list(settings.output_dir.rglob("*.html")) == []
