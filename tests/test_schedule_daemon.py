"""`briefing schedule run` as real processes against a real SMTP server on loopback.

Schedules name exact seconds of each minute (a sixth, leading cron field), a few seconds after
the daemon is started, so each test knows how many slots fall due: the next ones are a minute
away. A daemon that takes longer than that to start catches its first slot up at once.
"""

from __future__ import annotations

import json
import math
import re
import signal
import time
from pathlib import Path

from briefing.schedule.daemon import SWEEP_SECONDS
from tests.schedule_fixtures import (
    SUBSCRIBERS,
    THIRD,
    add_subscribers,
    assert_once_per_subscriber,
    daemons,
    inbox,
    snapshot,
    succeeded_runs,
    wait_until,
    write_config,
)

__all__ = ["daemons", "inbox"]  # fixtures


FIRST_SLOT = 3  # seconds after a daemon is started: time enough for it to start and lead
NEXT_SLOT = 10  # the second: the daemon has started by then, even on a busy machine


def slots_from_now(*offsets: int) -> list[int]:
    """The whole seconds (Unix times) at least these many seconds from now."""
    now = time.time()
    return [math.ceil(now + offset) for offset in offsets]


def every_minute_at(*slots: int) -> str:
    """A cron expression due at these slots' seconds of every minute."""
    return f"{','.join(str(second) for second in sorted({slot % 60 for slot in slots}))} * * * * *"


def subscribed(
    cli,
    tmp_path: Path,
    database_url: str,
    port: int,
    offsets: tuple[int, ...],
    addresses=SUBSCRIBERS,
) -> Path:
    """A config with subscribers and slots `offsets` seconds after the subscribers are in."""
    config = write_config(tmp_path, database_url, port, schedule="0 7 * * *")
    add_subscribers(cli, config, addresses)
    schedule = every_minute_at(*slots_from_now(*offsets))
    return write_config(tmp_path, database_url, port, schedule=schedule)


def status_of(cli, config: Path) -> dict:
    result = cli("--config", config, "schedule", "status", "--json")
    assert result.code == 0, result.err
    return json.loads(result.out)


def test_two_slots_then_sigterm(cli, database_url, tmp_path: Path, inbox, daemons):
    server, port = inbox
    config = subscribed(cli, tmp_path, database_url, port, (FIRST_SLOT, NEXT_SLOT))
    daemon = daemons(config)
    wait_until(lambda: succeeded_runs(config) == 2, what="two succeeded runs")
    code, took = daemon.stop()

    assert code == 0
    assert took < 10, f"exit took {took:.1f}s"
    state = snapshot(config)
    assert [run.status for run in state.runs] == ["succeeded", "succeeded"]
    assert len(state.editions) == 2
    assert {run.edition_id for run in state.runs} == {edition.id for edition in state.editions}
    assert [run.counts["sent"] for run in state.runs] == [2, 2]
    assert_once_per_subscriber(state, server)
    lines = daemon.log.read_text().splitlines()
    assert len(daemon.events()) == len(lines), "every log line is one JSON object"
    events = [item["event"] for item in daemon.events() if "event" in item]
    for expected in ("leading", "next_run", "run_begun", "run_finished", "stopping", "stopped"):
        assert expected in events
    finished = [item for item in daemon.events() if item.get("event") == "run_finished"]
    assert [item["counts"]["sent"] for item in finished] == [2, 2]

    status = status_of(cli, config)
    assert status["scheduler"] is None
    (brief,) = status["briefs"]
    assert brief["timezone"] == "Europe/Kyiv"
    assert brief["next_run"].endswith(("+02:00", "+03:00"))
    assert [run["status"] for run in brief["runs"]] == ["succeeded", "succeeded"]


def test_a_slot_due_while_the_last_run_is_sending_starts_as_that_run_ends(
    cli, database_url, tmp_path: Path, inbox, daemons
):
    server, port = inbox
    config = write_config(tmp_path, database_url, port, schedule="0 7 * * *")
    add_subscribers(cli, config)
    first, second = slots_from_now(NEXT_SLOT - 2, NEXT_SLOT)  # the daemon leads before both
    write_config(tmp_path, database_url, port, schedule=every_minute_at(first, second))
    server.hold, server.hold_reply = 1, "250 OK"  # the first slot's first message waits
    daemons(config)
    assert server.holding.wait(60), "no run reached its first message"
    wait_until(lambda: time.time() > second + 1, what="the second slot to fall due")
    server.release.set()
    wait_until(
        lambda: succeeded_runs(config) == 2,
        timeout=SWEEP_SECONDS / 2,
        what="the second slot's run, started by its own wake-up and not by the next sweep",
    )

    state = snapshot(config)
    assert [run.slot.timestamp() for run in state.runs] == [first, second]
    assert_once_per_subscriber(state, server)


def test_two_daemons_at_once_make_one_edition_and_one_mail_per_slot(
    cli, database_url, tmp_path: Path, inbox, daemons
):
    server, port = inbox
    config = subscribed(cli, tmp_path, database_url, port, (FIRST_SLOT, NEXT_SLOT))
    first, second = daemons(config), daemons(config)
    wait_until(lambda: succeeded_runs(config) == 2, what="two succeeded runs")
    codes = [first.stop()[0], second.stop()[0]]

    assert codes == [0, 0]
    state = snapshot(config)
    assert len(state.editions) == 2
    assert len(server.received) == 2 * len(SUBSCRIBERS)
    assert_once_per_subscriber(state, server)
    standby = [daemon for daemon in (first, second) if daemon.said("standby")]
    assert len(standby) == 1, "exactly one of the two waits as a standby"
    leader = first if standby[0] is second else second
    assert {run.owner_pid for run in state.runs} == {leader.pid}


def killed_mid_run(config: Path, server, daemons, count: int) -> tuple[list, int]:
    """Start `count` daemons, SIGKILL the one working once it is mid-send; its pid."""
    server.hold = 2  # the second message of the slot is in flight when its sender dies
    started = [daemons(config) for _ in range(count)]
    assert server.holding.wait(60), "no run reached its second message"
    (running,) = snapshot(config).runs_with("running")
    (victim,) = [daemon for daemon in started if daemon.pid == running.owner_pid]
    victim.kill()
    server.release.set()
    assert len(server.received) == 1
    return [daemon for daemon in started if daemon is not victim], victim.pid


def test_sigkill_mid_run_the_standby_completes_the_slot(
    cli, database_url, tmp_path: Path, inbox, daemons
):
    server, port = inbox
    config = subscribed(cli, tmp_path, database_url, port, (FIRST_SLOT,))
    (survivor,), victim = killed_mid_run(config, server, daemons, 2)
    wait_until(lambda: succeeded_runs(config) == 1, what="the survivor to finish the slot")
    assert survivor.stop()[0] == 0

    state = snapshot(config)
    (run,) = state.runs
    assert (run.status, run.attempts, run.owner_pid) == ("succeeded", 2, survivor.pid)
    assert len(state.editions) == 1
    assert_once_per_subscriber(state, server)
    orphaned = [item for item in survivor.events() if item.get("event") == "run_orphaned"]
    assert orphaned and f"pid {victim}" in orphaned[0]["message"]


def test_sigkill_mid_run_the_next_start_completes_the_slot(
    cli, database_url, tmp_path: Path, inbox, daemons
):
    server, port = inbox
    config = subscribed(cli, tmp_path, database_url, port, (FIRST_SLOT,))
    killed_mid_run(config, server, daemons, 1)
    assert snapshot(config).runs_with("running"), "the killed run is still marked running"

    restarted = daemons(config, plain=True)
    wait_until(lambda: succeeded_runs(config) == 1, what="the restart to finish the slot")
    assert restarted.stop()[0] == 0
    state = snapshot(config)
    assert [(run.status, run.attempts) for run in state.runs] == [("succeeded", 2)]
    assert_once_per_subscriber(state, server)
    lines = restarted.log.read_text().splitlines()
    plain = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d (INFO|WARNING|ERROR) \S")
    assert all(plain.match(line) for line in lines), lines
    assert any("marked failed" in line for line in lines)
    assert any("run succeeded" in line and "sent 1" in line for line in lines)


def test_two_daemons_on_a_new_database_one_leads_and_a_standby_stops_at_once(
    cli, database_url, tmp_path: Path, inbox, daemons
):
    _, port = inbox
    config = write_config(tmp_path, database_url, port, schedule="0 7 * * *")
    pair = [daemons(config), daemons(config)]
    wait_until(
        lambda: any(d.said("leading") for d in pair) and any(d.said("standby") for d in pair),
        what="one daemon to lead and one to stand by",
    )
    leader, standby = sorted(pair, key=lambda daemon: not daemon.said("leading"))
    status = status_of(cli, config)
    assert status["scheduler"].startswith(f"pid {leader.pid} on ")
    assert standby.stop()[0] == 0
    assert leader.stop()[0] == 0
    assert not any(d.said("error") or d.said("database_error") for d in pair)


def test_sigterm_mid_send_finishes_the_message_in_flight_and_says_the_run_is_unfinished(
    cli, database_url, tmp_path: Path, inbox, daemons
):
    server, port = inbox
    config = subscribed(cli, tmp_path, database_url, port, (FIRST_SLOT,), [*SUBSCRIBERS, THIRD])
    server.hold, server.hold_reply = 2, "250 OK"
    daemon = daemons(config)
    assert server.holding.wait(60), "no run reached its second message"
    daemon.process.send_signal(signal.SIGTERM)
    wait_until(lambda: daemon.said("stopping"), what="the daemon to take the signal")
    server.release.set()  # the message in flight is accepted after the signal
    assert daemon.process.wait(30) == 0

    state = snapshot(config)
    (run,) = state.runs
    assert run.status == "failed"
    assert "interrupted by shutdown" in run.error
    assert (run.counts["sent"], run.counts["remaining"]) == (2, 1)
    assert len(server.received) == 2, "the message in flight went out; no new one was begun"

    restarted = daemons(config)
    wait_until(lambda: succeeded_runs(config) == 1, what="the restart to finish the slot")
    assert restarted.stop()[0] == 0
    state = snapshot(config)
    assert [(run.status, run.attempts) for run in state.runs] == [("succeeded", 2)]
    assert len(server.received) == 3
    assert_once_per_subscriber(state, server)
