"""Shared fixtures: real databases (SQLite; PostgreSQL when configured) and the CLI in-process."""

from __future__ import annotations

import io
import logging
import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from briefing.config import Settings, load_settings
from briefing.store import Store

POSTGRES_URL = os.environ.get("BRIEFING_TEST_DATABASE_URL")
ROOT = Path(__file__).resolve().parent.parent
DEMO_EVENTS = ROOT / "examples" / "ukraine-2024-10-26.json"
# Tests that spend seconds waiting on a browser, daemons and slots; the longest first.
WAITING = ("test_web_browser.py", "test_schedule_daemon.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Spread the waiting tests through the first three quarters of the run: each of several
    workers (`make test`, which hands each a block of the list) then waits while others compute,
    and no long test is left to end the run."""
    waiting = sorted(
        (item for item in items if item.path.name in WAITING),
        key=lambda item: WAITING.index(item.path.name),
    )
    others = [item for item in items if item.path.name not in WAITING]
    step = max(1, len(others) * 3 // 4 // max(1, len(waiting)))
    ordered: list[pytest.Item] = []
    for index, item in enumerate(others):
        if waiting and index % step == 0:
            ordered.append(waiting.pop(0))
        ordered.append(item)
    items[:] = ordered + waiting


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the repository's briefing.toml or the caller's BRIEFING_* settings."""
    for name in list(os.environ):
        if name.startswith("BRIEFING_") and name != "BRIEFING_TEST_DATABASE_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not POSTGRES_URL:
        pytest.skip("BRIEFING_TEST_DATABASE_URL is not set")
    from sqlalchemy import create_engine, text

    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each store test runs on a SQLite file and, when configured, on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'briefing.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def demo_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The web tests' demo archive (database and PDFs), rendered once per test process."""
    from tests.web_fixtures import archive_demo, web_settings

    folder = tmp_path_factory.mktemp("demo-archive")
    settings = web_settings(folder)
    store = Store(settings.db_url)
    archive_demo(settings, store)
    store.dispose()
    return settings.output_dir


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return load_settings(
        None, {"BRIEFING_OUTPUT_DIR": str(tmp_path / "output"), "BRIEFING_TIMEZONE": "Europe/Kyiv"}
    )


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    opened = Store(settings.db_url)
    yield opened
    opened.dispose()


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """Run `briefing ARGS…` in-process; returns exit code, stdout and stderr."""
    from briefing.cli import main

    def run(*args: str, stdin: str | None = None) -> Result:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            with _logging_restored():
                main([str(arg) for arg in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@contextmanager
def _logging_restored() -> Iterator[None]:
    """A daemon command run in-process (`serve`, `schedule run`) sets up logging to stderr;
    undo it, or every later command of the test process would print its log lines."""
    loggers = [logging.getLogger(name) for name in (None, "briefing", "weasyprint")]
    saved = [(logger, list(logger.handlers), logger.level) for logger in loggers]
    try:
        yield
    finally:
        for logger, handlers, level in saved:
            logger.handlers[:] = handlers
            logger.setLevel(level)


@pytest.fixture
def mailbox():
    """What a loopback SMTP server received (delivery tests)."""
    from tests.smtp_fixtures import Mailbox

    return Mailbox()


@pytest.fixture
def server(mailbox):
    """A real SMTP server on a free loopback port, filling `mailbox`."""
    from tests.deliver_fixtures import running_server

    yield from running_server(mailbox)
