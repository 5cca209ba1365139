"""One working scheduler per database: the lock dies with its process, on SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from briefing.schedule.leader import AdvisoryLock, FileLock, scheduler_lock
from tests.conftest import POSTGRES_URL
from tests.schedule_fixtures import ROOT, briefing, write_config

HOLD = """
import sys, time
from briefing.schedule.leader import scheduler_lock
lock = scheduler_lock(sys.argv[1])
assert lock.acquire()
print("held", flush=True)
time.sleep(120)
"""


@contextmanager
def lock_held_elsewhere(url: str) -> Iterator[subprocess.Popen]:
    """Another process holding the scheduler lock of `url`, killed when the block ends."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLD, url], stdout=subprocess.PIPE, text=True, cwd=ROOT
    ) as process:
        try:
            assert process.stdout.readline().strip() == "held"
            yield process
        finally:
            process.kill()


def test_sqlite_uses_a_lock_file_next_to_the_database(tmp_path: Path):
    lock = scheduler_lock(f"sqlite:///{tmp_path / 'data' / 'briefing.db'}")
    assert isinstance(lock, FileLock)
    assert lock.path == tmp_path / "data" / "briefing.db.scheduler.lock"


def test_the_lock_is_exclusive_and_dies_with_its_process(database_url: str):
    lock = scheduler_lock(database_url)
    try:
        with lock_held_elsewhere(database_url) as holder:
            assert not lock.acquire()
            assert f"pid {holder.pid}" in lock.holder()
            holder.kill()
            holder.wait()
            # PostgreSQL frees the lock when the server notices the client's socket closed:
            # soon, but not at once; wait for that, not for a fixed time.
            deadline = time.monotonic() + 10
            while not lock.acquire() and time.monotonic() < deadline:
                time.sleep(0.05)
            assert lock.check(), "the lock of a killed process must be free"
            assert lock.check()
            assert f"pid {holder.pid}" not in (lock.holder() or "")
    finally:
        lock.release()
    assert scheduler_lock(database_url).holder() is None


def test_a_deleted_lock_file_counts_as_lost(tmp_path: Path):
    lock = FileLock(tmp_path / "briefing.db.scheduler.lock")
    assert lock.acquire()
    lock.path.unlink()
    assert not lock.check()
    lock.release()


@pytest.mark.postgres
def test_schemas_of_one_postgres_database_have_separate_locks(postgres_url: str):
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    first, second = (
        AdvisoryLock(postgres_url),
        AdvisoryLock(f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"),
    )
    try:
        assert first.acquire()
        assert second.acquire()
    finally:
        first.release()
        second.release()
        with admin.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_without_standby_a_second_scheduler_exits_with_a_clear_message(
    database_url: str, tmp_path: Path
):
    config = write_config(tmp_path, database_url, 2525)
    with lock_held_elsewhere(database_url) as holder:
        result = briefing(config, "schedule", "run", "--no-standby", check=False)
    assert result.returncode == 1
    assert f"error: another scheduler is running on this database (pid {holder.pid}" in (
        result.stderr
    )
    assert "--standby" in result.stderr
