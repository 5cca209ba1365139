"""The migrations build exactly the tables the models declare, on every backend we support."""

from __future__ import annotations

import importlib
import pkgutil

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

import briefing.store
from briefing.store import Store
from briefing.store.db import Base

for _module in pkgutil.iter_modules(briefing.store.__path__):
    importlib.import_module(f"briefing.store.{_module.name}")  # each registers its tables


def differences(store: Store) -> list:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return [
            diff for diff in compare_metadata(context, Base.metadata) if not _is_bookkeeping(diff)
        ]


def _is_bookkeeping(diff) -> bool:
    """Alembic's own version table and full-text index tables are not models."""
    table = getattr(diff[1], "name", "") if isinstance(diff, tuple) and len(diff) > 1 else ""
    return table == "alembic_version" or str(table).endswith("_fts") or "_fts_" in str(table)


def test_migrations_produce_exactly_the_models(database_url):
    store = Store(database_url)
    try:
        assert differences(store) == []
    finally:
        store.dispose()
