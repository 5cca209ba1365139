"""`briefing db`: the database schema."""

from __future__ import annotations

import click

from briefing.cli.app import App, pass_app


@click.group()
def db() -> None:
    """Database schema commands."""


@db.command()
@pass_app
def upgrade(app: App) -> None:
    """Apply pending migrations (also done automatically on first use)."""
    from briefing.store.db import applied_heads, apply_migrations, create_db_engine

    engine = create_db_engine(app.settings.db_url)
    try:
        apply_migrations(engine)
        app.say(f"database at revision {', '.join(sorted(applied_heads(engine)))}")
    finally:
        engine.dispose()
