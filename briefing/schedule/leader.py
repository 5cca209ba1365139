"""One working scheduler per database: a lock that dies with the process holding it.

- PostgreSQL: a session advisory lock on a dedicated connection (keyed by the database and
  schema, so stores in separate schemas are independent). If the process dies, its connection
  closes and the server releases the lock.
- SQLite: an exclusive `flock` on `<database file>.scheduler.lock`. The kernel releases it when
  the process exits, however it exits.

Decision: a second `briefing schedule run` waits as a **standby** by default, polling the lock
every couple of seconds, and takes over (catching up the slot its predecessor left) as soon as
the first process dies. `--no-standby` makes it exit with an error instead. Either way work is
never duplicated: the database's unique keys (edition per slot, delivery per subscriber, run per
slot) hold even if two processes worked at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import threading
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TextIO

from sqlalchemy import Connection, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from briefing.errors import BriefingError
from briefing.process import try_lock_file

log = logging.getLogger(__name__)

_NAMESPACE = 0x62726966  # "brif": the first key of briefing's two-part advisory lock
_APPLICATION = "briefing scheduler "  # PostgreSQL application_name of the lock's connection
# Our lock's row in pg_locks (a lock taken with two keys is listed with objsubid 2).
_LOCK_ROW = (
    "l.locktype = 'advisory' AND l.granted AND l.classid = :space AND l.objid = :key"
    " AND l.objsubid = 2"
)


def _identity() -> str:
    return f"pid {os.getpid()} on {socket.gethostname()}"


class SchedulerLock(Protocol):
    def acquire(self) -> bool:
        """Take the lock if it is free; never blocks."""

    def check(self) -> bool:
        """True while the lock is still ours (a lost database connection loses it)."""

    def holder(self) -> str | None:
        """Who holds the lock (for messages and `schedule status`), or None if it is free."""

    def release(self) -> None: ...


class FileLock:
    """An exclusive flock on a file next to the SQLite database."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._handle: TextIO | None = None

    def acquire(self) -> bool:
        handle = try_lock_file(self.path)
        if handle is None:
            return False
        handle.seek(0)
        handle.truncate()
        handle.write(_identity() + "\n")
        handle.flush()
        self._handle = handle
        return True

    def check(self) -> bool:
        """Ours while our open file is still the file at the path (not deleted or replaced)."""
        if self._handle is None:
            return False
        try:
            return os.stat(self.path).st_ino == os.fstat(self._handle.fileno()).st_ino
        except FileNotFoundError:
            return False

    def holder(self) -> str | None:
        try:
            handle = self.path.open("r")
        except FileNotFoundError:
            return None
        with handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return handle.read().strip() or "another process"
            fcntl.flock(handle, fcntl.LOCK_UN)
            return None

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None


class AdvisoryLock:
    """A PostgreSQL session advisory lock held on a connection of its own."""

    def __init__(self, url: str) -> None:
        name = f"{_APPLICATION}{_identity()}"[:63]
        self._engine = create_engine(
            url,
            poolclass=NullPool,
            isolation_level="AUTOCOMMIT",
            connect_args={"application_name": name},
        )
        self._connection: Connection | None = None
        self._key: int | None = None

    def _open(self) -> Connection:
        if self._connection is None:
            self._connection = self._engine.connect()
            where = self._connection.execute(
                text("SELECT current_database() || '/' || coalesce(current_schema(), '')")
            ).scalar_one()
            self._key = zlib.crc32(where.encode()) & 0x7FFFFFFF
        return self._connection

    def acquire(self) -> bool:
        try:
            taken = (
                self._open()
                .execute(
                    text("SELECT pg_try_advisory_lock(:space, :key)"),
                    {"space": _NAMESPACE, "key": self._key},
                )
                .scalar_one()
            )
        except DBAPIError as exc:
            self.release()
            raise BriefingError(f"database: cannot take the scheduler lock: {exc.orig}") from None
        return bool(taken)

    def check(self) -> bool:
        if self._connection is None:
            return False
        try:
            held = self._connection.execute(
                text(
                    "SELECT count(*) FROM pg_locks l"
                    f" WHERE {_LOCK_ROW} AND l.pid = pg_backend_pid()"
                ),
                {"space": _NAMESPACE, "key": self._key},
            ).scalar_one()
        except DBAPIError:
            return False
        return held == 1

    def holder(self) -> str | None:
        connection = self._open()
        return connection.execute(
            text(
                "SELECT coalesce(nullif(replace(a.application_name, :prefix, ''), ''),"
                " 'database backend ' || l.pid)"
                " FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid"
                f" WHERE {_LOCK_ROW}"
            ),
            {"space": _NAMESPACE, "key": self._key, "prefix": _APPLICATION},
        ).scalar_one_or_none()

    def release(self) -> None:
        if self._connection is not None:
            with contextlib.suppress(DBAPIError):
                self._connection.close()
            self._connection = None
        self._engine.dispose()


class ProcessLock:
    """An in-memory SQLite database lives in one process; there is nothing to share."""

    def acquire(self) -> bool:
        return True

    def check(self) -> bool:
        return True

    def holder(self) -> str | None:
        return None

    def release(self) -> None:
        return None


def scheduler_lock(url: str) -> SchedulerLock:
    """The lock that fits the database at `url`."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return AdvisoryLock(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        return FileLock(Path(f"{parsed.database}.scheduler.lock"))
    return ProcessLock()


def wait_for_leadership(
    lock: SchedulerLock,
    stop: threading.Event,
    *,
    standby: bool,
    poll: float = 2.0,
    on_busy: Callable[[str], None] | None = None,
) -> bool:
    """Take the lock, waiting as a standby if asked. False if stopped or not standing by.

    `on_busy` is told once who holds the lock, so the caller can say so.
    """
    told = False
    while not stop.is_set():
        if lock.acquire():
            return True
        if not told and on_busy is not None:
            on_busy(lock.holder() or "another process")
            told = True
        if not standby:
            return False
        stop.wait(poll)
    return False
