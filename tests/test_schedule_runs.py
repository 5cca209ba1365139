"""The scheduled job in-process, with a controlled clock: failures, retries, catch-up, races."""

from __future__ import annotations

import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import time_machine

from briefing.config import Settings
from briefing.schedule.runs import Runner
from briefing.store import Store
from briefing.store.runs import Owner, add_run
from briefing.store.subscribers import save_subscriber
from tests.ingest_fixtures import article_html, rss, web
from tests.schedule_fixtures import (
    ADMIN,
    SUBSCRIBERS,
    assert_once_per_subscriber,
    inbox,
    settings_for,
    snapshot,
    store_of,
    write_config,
)

__all__ = ["inbox", "web"]  # fixtures

KYIV = ZoneInfo("Europe/Kyiv")
SLOT = datetime(2024, 10, 26, 7, 0, tzinfo=KYIV)  # "0 7 * * *" in Kyiv


def daily_config(tmp_path: Path, database_url: str, port: int, extra: str = "") -> Path:
    """A daily 07:00 Kyiv brief, caught up for six hours."""
    return write_config(
        tmp_path, database_url, port, schedule="0 7 * * *", catch_up="6h", extra=extra
    )


@pytest.fixture
def setup(database_url: str, tmp_path: Path, inbox) -> Iterator[tuple[Path, Store]]:
    """The daily brief with two subscribers; the config and its store."""
    config = daily_config(tmp_path, database_url, inbox[1])
    with store_of(config) as store:
        with store.session() as session:
            for address in SUBSCRIBERS:
                save_subscriber(session, address, name=None, briefs=["daily"], reactivate=True)
        yield config, store


def runner(settings: Settings, store: Store, host: str | None = None) -> Runner:
    owner = Owner(host or socket.gethostname(), 4242, f"test{id(settings)}{host}")
    return Runner(settings, store, threading.Event(), owner)


def at(moment: datetime):
    return time_machine.travel(moment, tick=True)


def broken_settings(config: Path, tmp_path: Path) -> Settings:
    """The same settings with a custom template that fails to render."""
    folder = tmp_path / "broken-templates"
    folder.mkdir()
    (folder / "brief.html").write_text("{{ no_such_value }}")
    return settings_for(config).model_copy(update={"template_dir": folder})


def test_a_failed_run_tells_the_admins_and_is_retried_later(setup, tmp_path: Path, inbox):
    config, store = setup
    server, _ = inbox
    with at(SLOT + timedelta(minutes=1)):
        (outcome,) = runner(broken_settings(config, tmp_path), store).run_due("daily")
    assert outcome.status == "failed"
    assert "no_such_value" in outcome.error
    (notice,) = server.to(ADMIN)
    assert "daily" in notice.message["Subject"]
    assert "failed" in notice.message["Subject"]
    assert "no_such_value" in notice.message.get_content()
    (run,) = snapshot(config).runs
    assert (run.status, run.attempts) == ("failed", 1)
    assert timedelta(0) <= run.retry_at - (SLOT + timedelta(minutes=6)) < timedelta(seconds=30)
    assert snapshot(config).editions == []

    fixed = runner(settings_for(config), store)
    with at(SLOT + timedelta(minutes=4)):
        assert fixed.run_due("daily") == [], "not before its retry time"
    with at(SLOT + timedelta(minutes=7)):
        (outcome,) = fixed.run_due("daily")
    assert (outcome.status, outcome.attempt, outcome.counts["sent"]) == ("succeeded", 2, 2)
    state = snapshot(config)
    assert [(run.status, run.attempts, run.error) for run in state.runs] == [("succeeded", 2, None)]
    assert_once_per_subscriber(state, server)


def test_a_late_start_inside_catch_up_makes_the_slot_and_outside_skips_it(
    setup, inbox, caplog: pytest.LogCaptureFixture
):
    config, store = setup
    settings = settings_for(config)
    with at(SLOT - timedelta(days=1) + timedelta(minutes=1)):
        assert [o.status for o in runner(settings, store).run_due("daily")] == ["succeeded"]
    with at(SLOT + timedelta(hours=7)), caplog.at_level(logging.WARNING, "briefing"):
        assert runner(settings, store).run_due("daily") == []
    assert "older than catch_up" in caplog.text
    with at(SLOT + timedelta(days=1, hours=5, minutes=59)):
        (late,) = runner(settings, store).run_due("daily")

    state = snapshot(config)
    assert [(run.slot.astimezone(KYIV).day, run.status) for run in state.runs] == [
        (25, "succeeded"),
        (26, "skipped"),
        (27, "succeeded"),
    ]
    assert "older than catch_up" in state.runs[1].error
    first_edition, late_edition = sorted(state.editions, key=lambda edition: edition.slot)
    assert late_edition.window_start == first_edition.window_end, "the skipped day is covered"
    assert late.counts["sent"] == 2


def test_two_processes_racing_for_a_slot_make_one_edition(setup, inbox):
    config, store = setup
    settings = settings_for(config)
    racers = [runner(settings, store, host=f"host-{n}") for n in range(2)]
    outcomes: list = []
    start = threading.Barrier(2)

    def race(racer: Runner) -> None:
        start.wait()
        outcomes.extend(racer.run_due("daily"))

    with at(SLOT + timedelta(minutes=1)):
        threads = [threading.Thread(target=race, args=(racer,)) for racer in racers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    assert [outcome.status for outcome in outcomes] == ["succeeded"]
    state = snapshot(config)
    assert len(state.runs) == len(state.editions) == 1
    assert_once_per_subscriber(state, inbox[0])


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_run_left_running_by_a_dead_process_is_failed_and_retried(setup, inbox, caplog):
    config, store = setup
    ghost = Owner(socket.gethostname(), dead_pid(), "ghost")
    with at(SLOT + timedelta(minutes=1)):
        with store.session() as session:
            add_run(session, "daily", SLOT.astimezone(UTC), ghost, datetime.now(UTC))
        with caplog.at_level(logging.WARNING, "briefing"):
            (outcome,) = runner(settings_for(config), store).run_due("daily")
    assert f"left running by pid {ghost.pid}" in caplog.text
    assert (outcome.status, outcome.attempt) == ("succeeded", 2)
    assert_once_per_subscriber(snapshot(config), inbox[0])


def test_a_run_of_another_host_counts_as_dead_only_when_its_heartbeat_stops(setup):
    config, store = setup
    elsewhere = Owner("another-host", 1, "elsewhere")
    settings = settings_for(config)
    with at(SLOT + timedelta(minutes=1)):
        with store.session() as session:
            add_run(session, "daily", SLOT.astimezone(UTC), elsewhere, datetime.now(UTC))
        assert runner(settings, store).run_due("daily") == []
    with at(SLOT + timedelta(minutes=1, seconds=60)):
        assert runner(settings, store).run_due("daily") == [], "a minute's silence is not death"
    with at(SLOT + timedelta(minutes=3)):
        (outcome,) = runner(settings, store).run_due("daily")
    assert (outcome.status, outcome.attempt) == ("succeeded", 2)


def test_a_failed_slot_that_leaves_the_window_is_given_up(setup, tmp_path: Path, caplog):
    config, store = setup
    with at(SLOT + timedelta(hours=5, minutes=58)):
        (outcome,) = runner(broken_settings(config, tmp_path), store).run_due("daily")
    assert outcome.retry_at is None, "a retry in 5 minutes would be past catch_up"
    with at(SLOT + timedelta(hours=6, minutes=30)):
        assert runner(settings_for(config), store).run_due("daily") == []
    (run,) = snapshot(config).runs
    assert (run.status, run.retry_at) == ("failed", None)


def test_a_stopping_runner_takes_no_new_work(setup):
    config, store = setup
    stopped = runner(settings_for(config), store)
    stopped.stop.set()
    with at(SLOT + timedelta(minutes=1)):
        assert stopped.run_due("daily") == []
        assert stopped.run_due("daily", wait=True) == []
    assert snapshot(config).runs == []


def test_configured_feeds_are_polled_before_the_brief_is_made(
    database_url, tmp_path: Path, inbox, web, caplog
):
    web.expect_request("/news/drones").respond_with_data(
        article_html(
            "Overnight attack",
            "Russia launched 40 drones at Odesa overnight, the air force said.",
        ),
        content_type="text/html; charset=utf-8",
    )
    items = [{"title": "drones", "link": web.url_for("/news/drones")}]
    web.expect_request("/feed.xml").respond_with_data(rss("Wire", items))
    feeds = f"""
[feeds.wire]
url = "{web.url_for("/feed.xml")}"
[feeds.down]
url = "http://127.0.0.1:9/feed.xml"
[ingest]
allow_private_networks = true
"""
    config = daily_config(tmp_path, database_url, inbox[1], feeds)
    with (
        store_of(config) as store,
        at(SLOT + timedelta(minutes=1)),
        caplog.at_level(logging.WARNING, "briefing"),
    ):
        (outcome,) = runner(settings_for(config), store).run_due("daily")
    assert outcome.status == "succeeded", "a feed that is down does not stop the brief"
    assert outcome.counts["feed_events"] >= 1
    # Polled before the brief was composed: each ingested event is in it or awaits review.
    composed = outcome.counts["events"] + outcome.counts.get("pending_review", 0)
    assert composed == outcome.counts["feed_events"]
    assert outcome.counts["feed_errors"] == 1
    assert "127.0.0.1:9" in caplog.text


def test_several_briefs_run_on_their_own_schedules_and_zones(database_url, tmp_path, inbox, cli):
    evening = """
[briefs.evening]
title = "Evening Brief"
schedule = "0 19 * * *"
timezone = "America/New_York"
catch_up = "1h"
send_when_empty = true
"""
    config = daily_config(tmp_path, database_url, inbox[1], evening)
    with store_of(config) as store:
        sweeper = runner(settings_for(config), store)
        with at(SLOT + timedelta(minutes=1)):
            assert [o.brief for o in sweeper.sweep()] == ["daily"]
        with at(datetime(2024, 10, 26, 19, 1, tzinfo=ZoneInfo("America/New_York"))):
            assert [o.brief for o in sweeper.sweep()] == ["evening"]
            result = cli("--config", config, "schedule", "status")
    assert result.code == 0
    assert "scheduler: not running" in result.out
    assert "daily: '0 7 * * *' in Europe/Kyiv" in result.out
    # 07:00 in Kyiv on 27 October is already winter time; New York changes a week later.
    assert "next run  2024-10-27T07:00:00+02:00" in result.out
    assert "evening: '0 19 * * *' in America/New_York" in result.out
    assert "next run  2024-10-27T19:00:00-04:00" in result.out
    assert "2024-10-26T19:00:00-04:00  succeeded" in result.out


def test_an_empty_brief_is_not_mailed_and_its_run_is_recorded_skipped(
    database_url, tmp_path, inbox
):
    config = write_config(
        tmp_path, database_url, inbox[1], schedule="0 7 * * *", catch_up="6h",
        send_when_empty=False,
    )  # fmt: skip
    with store_of(config) as store:
        with store.session() as session:
            save_subscriber(session, SUBSCRIBERS[0], name=None, briefs=["daily"], reactivate=True)
        with at(SLOT + timedelta(minutes=1)):
            (outcome,) = runner(settings_for(config), store).run_due("daily")
            again = runner(settings_for(config), store).run_due("daily")

    assert outcome.status == "skipped" and "no events" in outcome.error
    (run,) = snapshot(config).runs
    assert run.status == "skipped" and "send_when_empty" in run.error
    assert again == [] and inbox[0].received == []
