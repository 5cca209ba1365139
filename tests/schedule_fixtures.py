"""Real parts for scheduler tests: an SMTP server on loopback, a config, daemons as processes."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from briefing.config import Settings, load_settings
from briefing.store import Store
from briefing.store.deliveries import list_deliveries
from briefing.store.editions import list_editions
from briefing.store.runs import ScheduleRun

ROOT = Path(__file__).resolve().parent.parent
SUBSCRIBERS = ["ana@example.org", "bohdan@example.org"]
THIRD = "chrystia@example.org"
ADMIN = "admin@example.org"


@dataclass
class Received:
    recipients: list[str]
    message: Message

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]


@dataclass
class Inbox:
    """What the loopback SMTP server accepted.

    `hold` keeps the n-th message (1-based) waiting for `release`, then answers `hold_reply`:
    a 421 by default (the sender is meant to be dead by then; the message is not counted).
    """

    received: list[Received] = field(default_factory=list)
    hold: int | None = None
    hold_reply: str = "421 closing"
    holding: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    seen: int = 0

    async def handle_DATA(self, server, session, envelope) -> str:
        self.seen += 1
        if self.seen == self.hold:
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
            if not self.hold_reply.startswith("250"):
                return self.hold_reply
        self.received.append(
            Received(
                list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default)
            )
        )
        return "250 OK"

    def to(self, address: str) -> list[Received]:
        return [item for item in self.received if address in item.recipients]

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} messages after {timeout}s")
            time.sleep(0.05)


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler = Inbox()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        handler.release.set()
        controller.stop()


def write_config(
    folder: Path,
    database_url: str,
    smtp_port: int,
    *,
    schedule: str = "*/4 * * * * *",
    catch_up: str = "30s",
    extra: str = "",
    send_when_empty: bool = True,
) -> Path:
    """A settings file with one brief on `schedule`, mail to the loopback server; its
    editions are mailed even when empty (no events are stored), unless told otherwise."""
    path = folder / "briefing.toml"
    path.write_text(
        f"""
database_url = "{database_url}"
output_dir = "{folder / "output"}"
timezone = "Europe/Kyiv"
admins = ["{ADMIN}"]
{extra}

[briefs.daily]
title = "Scheduled Test Brief"
schedule = "{schedule}"
catch_up = "{catch_up}"
send_when_empty = {str(send_when_empty).lower()}

[smtp]
host = "127.0.0.1"
port = {smtp_port}
security = "none"
from_address = "briefing@example.org"
timeout = 10
max_attempts = 2
backoff = 0
claim_timeout = "3s"
"""
    )
    return path


def briefing(config: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """`briefing --config CONFIG ARGS…` as its own process."""
    result = subprocess.run(
        [sys.executable, "-m", "briefing", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=120,
    )
    if check and result.returncode:
        raise AssertionError(f"briefing {' '.join(args)}: {result.stderr}")
    return result


def _environment() -> dict[str, str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BRIEFING_")}
    environment["PYTHONPATH"] = str(ROOT)
    return environment


def add_subscribers(cli, config: Path, addresses: list[str] = SUBSCRIBERS) -> None:
    """`briefing subscribers add` for each address, in the test's process (the `cli` fixture)."""
    for address in addresses:
        result = cli("--config", config, "subscribers", "add", address, "--brief", "daily")
        assert result.code == 0, result.err


class Daemon:
    """`briefing schedule run --log-format json` as a child process."""

    def __init__(self, config: Path, log: Path, *extra: str, plain: bool = False) -> None:
        self.log = log
        self._stream = log.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "briefing", "--config", str(config), "schedule", "run",
             "--log-format", "plain" if plain else "json", *extra],
            stdout=subprocess.DEVNULL,
            stderr=self._stream,
            env=_environment(),
        )  # fmt: skip

    @property
    def pid(self) -> int:
        return self.process.pid

    def events(self) -> list[dict]:
        lines = self.log.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]

    def said(self, event: str) -> bool:
        return any(item.get("event") == event for item in self.events())

    def stop(self, timeout: float = 30) -> tuple[int, float]:
        """SIGTERM; the exit code and how many seconds the exit took."""
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        return code, time.monotonic() - started

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self._stream.close()


@pytest.fixture
def daemons(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def start(config: Path, *extra: str, plain: bool = False) -> Daemon:
        log = tmp_path / f"daemon-{len(started) + 1}.log"
        daemon = Daemon(config, log, *extra, plain=plain)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.close()


def wait_until(condition: Callable[[], bool], timeout: float = 60, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Snapshot:
    """What the database says was done."""

    runs: list[ScheduleRun]
    editions: list
    deliveries: list

    def runs_with(self, status: str) -> list[ScheduleRun]:
        return [run for run in self.runs if run.status == status]


def snapshot(config: Path) -> Snapshot:
    with store_of(config) as store, store.session() as session:
        runs = list(session.scalars(select(ScheduleRun).order_by(ScheduleRun.slot)))
        return Snapshot(runs, list_editions(session), list_deliveries(session))


def succeeded_runs(config: Path) -> int:
    return len(snapshot(config).runs_with("succeeded"))


def assert_once_per_subscriber(state: Snapshot, inbox: Inbox) -> None:
    """Every edition went to every subscriber exactly once, and nothing else was mailed."""
    slots = [edition.slot for edition in state.editions]
    assert len(slots) == len(set(slots)), "two editions for one slot"
    mails = [item for item in inbox.received if ADMIN not in item.recipients]
    for address in {delivery.address for delivery in state.deliveries}:
        assert len(inbox.to(address)) == len(state.editions), address
    by_id = {item.message_id: item for item in mails}
    assert len(by_id) == len(mails), "a Message-ID arrived twice"
    for delivery in state.deliveries:
        assert delivery.status == "sent", delivery.as_dict()
        assert by_id[delivery.message_id].recipients == [delivery.address]
    assert len(state.deliveries) == len(state.editions) * len({d.address for d in state.deliveries})


def settings_for(config: Path) -> Settings:
    return load_settings(config, {})


@contextmanager
def store_of(config: Path) -> Iterator[Store]:
    """The config's store, disposed of after use so no connection outlives the test."""
    store = Store(settings_for(config).db_url)
    try:
        yield store
    finally:
        store.dispose()
