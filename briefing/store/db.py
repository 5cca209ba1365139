"""The database: engine, ORM base, time type, and migrations applied before first use."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic_core import to_json
from sqlalchemy import CursorResult, DateTime, Engine, MetaData, Result, create_engine, event, text
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

from briefing.errors import BriefingError
from briefing.process import lock_file

MIGRATIONS = Path(__file__).parent / "migrations"
_REVISION = re.compile(r'^revision\s*=\s*["\'](\w+)["\']', re.MULTILINE)
_DOWN = re.compile(r"^down_revision\s*=\s*(.+)$", re.MULTILINE)


class Base(DeclarativeBase):
    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(table_name)s_%(column_0_N_name)s",
            "uq": "uq_%(table_name)s_%(column_0_N_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
        }
    )


class UTCDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out, on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def insert_ignoring_duplicates(session: Session, table):
    """An INSERT that skips rows clashing with a unique key (ON CONFLICT DO NOTHING)."""
    from sqlalchemy.dialects import postgresql, sqlite

    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing()


def changed_rows(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE changed, from the result `execute` gave it."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"not the result of a data-changing statement: {type(result).__name__}")
    return result.rowcount


def json_text(value: Any) -> str:
    """A value as the store writes JSON: compact UTF-8, by pydantic's serializer.

    json.dumps, called for each of an event's six JSON columns, was a sixth of an import's time;
    this is several times faster and reads back the same.
    """
    return to_json(value).decode()


def iso_or_none(moment: datetime | None) -> str | None:
    """A stored time as ISO 8601 for `as_dict` and `--json`, or None when unset."""
    return moment.isoformat() if moment else None


def now() -> datetime:
    return datetime.now(UTC)


def create_db_engine(url: str) -> Engine:
    """An engine; a SQLite file gets its folder, foreign keys, WAL and a generous busy timeout."""
    if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, pool_pre_ping=not url.startswith("sqlite"), json_serializer=json_text
    )
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA journal_mode = WAL")
    # Under WAL, NORMAL syncs at checkpoints instead of at every commit: a committed
    # transaction survives a killed process (what the delivery ledger's "sent" marks must
    # survive: at most the message in flight goes twice after kill -9), and the file is never
    # corrupted; only a power cut or OS crash may undo the last commits. Saves an fsync per
    # ledger update, i.e. per message sent.
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.close()


def migration_heads() -> set[str]:
    """The newest revision of each migration branch, read from the files without loading Alembic."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        source = path.read_text()
        found = _REVISION.search(source)
        if found:
            revisions.add(found.group(1))
            down = _DOWN.search(source)
            parents.update(re.findall(r"\w+", down.group(1)) if down else [])
    return revisions - parents - {"None"}


def applied_heads(engine: Engine) -> set[str]:
    try:
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT version_num FROM alembic_version"))
            return {row[0] for row in rows}
    except (OperationalError, ProgrammingError):
        return set()


def apply_migrations(engine: Engine) -> None:
    """Apply every pending migration, one process at a time."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with _migration_lock(engine), engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(
                text("SELECT pg_advisory_xact_lock(hashtext('briefing-migrations'))")
            )
        config.attributes["connection"] = connection
        command.upgrade(config, "heads")


@contextmanager
def _migration_lock(engine: Engine) -> Iterator[None]:
    """On a SQLite file, a lock file beside it; PostgreSQL locks inside the transaction."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:":
        yield
        return
    with lock_file(Path(f"{database}.migrate.lock")):
        yield


def ensure_current(engine: Engine) -> None:
    """Upgrade the schema if it is behind; cheap when it is current."""
    if applied_heads(engine) != migration_heads():
        from alembic.util import CommandError

        try:
            apply_migrations(engine)
        except OperationalError as exc:
            raise BriefingError(f"database {engine.url!r}: {exc.orig}") from None
        except CommandError as exc:
            raise BriefingError(f"database {engine.url!r}: cannot migrate: {exc}") from None


class Store:
    """One database: an engine and the sessions opened on it."""

    def __init__(self, url: str, *, migrate: bool = True) -> None:
        self.engine = create_db_engine(url)
        if migrate:
            ensure_current(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
