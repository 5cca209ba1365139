"""The scheduled job: for each due (brief, slot), claim a run, make the edition, send it, record.

Exactly-once comes from the database, not from the scheduler: a run row is unique per
(brief, slot), an edition per (brief, slot) and a delivery per (edition, subscriber), and every
step skips what is already done. So a restart, a re-run or a second process yields no second
edition and no second email (at most the one message in flight when a process was killed).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, is_dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError

from briefing.config import Settings
from briefing.errors import BriefingError
from briefing.leader import scheduler_lock
from briefing.pipeline import generate_edition
from briefing.slots import DuePlan, Schedule, in_catch_up, parse_schedule, plan_slots
from briefing.store import Store
from briefing.store.db import now as utc_now
from briefing.store.runs import (
    FAILED,
    RUNNING,
    SUCCEEDED,
    Owner,
    ScheduleRun,
    add_run,
    add_skipped,
    beat,
    finish,
    mark_orphaned,
    newest_slot,
    open_runs,
    recent_runs,
    stop_retrying,
    take_over,
)

log = logging.getLogger(__name__)

HEARTBEAT_EVERY = timedelta(seconds=10)
ORPHAN_AFTER = timedelta(seconds=90)  # no heartbeat for this long: the owner is gone
FIRST_RETRY = timedelta(minutes=5)
LONGEST_RETRY = timedelta(hours=2)


def current_owner() -> Owner:
    return Owner(socket.gethostname(), os.getpid(), uuid.uuid4().hex)


def brief_schedule(settings: Settings, name: str) -> Schedule:
    """The parsed schedule of a configured brief (a ConfigError names the bad setting)."""
    name, spec = settings.brief(name)
    return parse_schedule(spec.schedule, settings.brief_zone(spec), f"briefs.{name}.schedule")


def retry_delay(attempt: int) -> timedelta:
    """5 min, 15 min, 45 min, then every 2 h: few admin notices, yet a fix is soon noticed."""
    return min(FIRST_RETRY * 3 ** (attempt - 1), LONGEST_RETRY)


def local(moment: datetime, schedule: Schedule) -> str:
    """A moment as people in the brief's zone read it, for log lines."""
    return moment.astimezone(schedule.zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def local_iso(moment: datetime, schedule: Schedule) -> str:
    return moment.astimezone(schedule.zone).isoformat(timespec="seconds")


@dataclass
class Outcome:
    """How one attempt at a slot ended."""

    brief: str
    slot: datetime
    status: str
    attempt: int
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    edition_id: int | None = None
    retry_at: datetime | None = None
    notify: bool = False


class Runner:
    """Does the scheduled work of one process; safe to call from several threads."""

    def __init__(
        self, settings: Settings, store: Store, stop: threading.Event, owner: Owner | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.stop = stop
        self.owner = owner or current_owner()
        self.schedules = {name: brief_schedule(settings, name) for name in settings.brief_names}
        self._busy = {name: threading.Lock() for name in self.schedules}
        self._active: dict[int, threading.Event] = {}  # run id → that run's stop signal
        self._idle = threading.Condition()
        threading.Thread(target=self._relay_stop, name="stop-relay", daemon=True).start()

    def sweep(self, now: datetime | None = None) -> list[Outcome]:
        """Every brief: reap dead runs, retry failed ones, catch up a missed slot."""
        return [outcome for name in self.schedules for outcome in self.run_due(name, now)]

    def run_due(self, brief: str, now: datetime | None = None, wait: bool = False) -> list[Outcome]:
        """Do what is due for one brief at `now` (default: the time it gets its turn).

        One thread of a process works on a brief at a time: with `wait` (a slot's own wake-up)
        the call waits its turn, so a slot is not lost to a sweep that happened to be running;
        without (the periodic sweep) it returns at once if the brief is busy.
        """
        busy = self._busy[brief]
        while not busy.acquire(timeout=0.5 if wait else 0):
            if not wait or self.stop.is_set():
                return []
        try:
            return [] if self.stop.is_set() else self._run_due(brief, now or utc_now())
        finally:
            busy.release()

    def next_run(self, brief: str, now: datetime | None = None) -> datetime | None:
        return self.schedules[brief].next_after(now or utc_now())

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no run is in progress; False if one still is after `timeout` seconds."""
        with self._idle:
            return self._idle.wait_for(lambda: not self._active, timeout)

    def _run_due(self, brief: str, now: datetime) -> list[Outcome]:
        _, spec = self.settings.brief(brief)
        self._reap(brief, now, spec.catch_up)
        with self.store.session() as session:
            since = newest_slot(session, brief)
            retries = [
                run
                for run in open_runs(session, brief)
                if run.status == FAILED and run.retry_at and run.retry_at <= now
            ]
        plan = plan_slots(self.schedules[brief], now, spec.catch_up, since)
        self._skip_missed(brief, plan, since, now, spec.catch_up)
        outcomes = []
        for run in retries:
            if not self.stop.is_set() and (outcome := self._attempt(brief, run.slot, run)):
                outcomes.append(outcome)
        if plan.due and not self.stop.is_set() and (outcome := self._attempt(brief, plan.due)):
            outcomes.append(outcome)
        return outcomes

    def _skip_missed(
        self, brief: str, plan: DuePlan, since: datetime | None, now: datetime, catch_up
    ) -> None:
        """Record never-attempted slots as skipped, and say why in the log."""
        if not plan.missed_total:
            return
        schedule = self.schedules[brief]
        covered = f"covered by the edition of {local(plan.due, schedule)}" if plan.due else ""
        with self.store.session() as session:
            add_skipped(session, brief, plan.superseded, now, f"not run in time; {covered}")
            add_skipped(session, brief, plan.expired, now, f"older than catch_up ({catch_up})")
        log.warning(
            "brief %s: %s slot(s) after %s were not run in time and are skipped%s",
            brief,
            plan.missed_total,
            local(since, schedule),
            f"; {covered}" if covered else f" (older than catch_up, {catch_up})",
            extra={"event": "slots_skipped", "brief": brief, "count": plan.missed_total},
        )

    def _reap(self, brief: str, now: datetime, catch_up: timedelta) -> None:
        """Runs of dead processes become failed; failed runs out of the window stop retrying."""
        with self.store.session() as session:
            runs = open_runs(session, brief)
        for run in runs:
            if run.status == RUNNING and self._orphaned(run, now):
                error = f"left running by pid {run.owner_pid} on {run.owner_host}, which is gone"
                with self.store.session() as session:
                    if mark_orphaned(session, run, now, error):
                        run.status, run.retry_at = FAILED, now
                        log.warning(
                            "brief %s, slot %s: run %s; marked failed",
                            brief,
                            local(run.slot, self.schedules[brief]),
                            error,
                            extra={"event": "run_orphaned", "brief": brief, "slot": run.slot},
                        )
            if run.status == FAILED and not in_catch_up(run.slot, now, catch_up):
                with self.store.session() as session:
                    if stop_retrying(session, run):
                        log.warning(
                            "brief %s, slot %s: giving up after %s attempt(s); "
                            "the slot is older than catch_up (%s)",
                            brief,
                            local(run.slot, self.schedules[brief]),
                            run.attempts,
                            catch_up,
                            extra={"event": "run_abandoned", "brief": brief, "slot": run.slot},
                        )

    def _orphaned(self, run: ScheduleRun, now: datetime) -> bool:
        if run.owner_token == self.owner.token:
            return run.id not in self._active
        if run.owner_host == self.owner.host and run.owner_pid and not _alive(run.owner_pid):
            return True
        return run.heartbeat_at is None or now - run.heartbeat_at > ORPHAN_AFTER

    def _claim(self, brief: str, slot: datetime, run: ScheduleRun | None) -> tuple[int, int] | None:
        """(run id, attempt) if this process won the slot, else None."""
        now = utc_now()
        if run is None:
            try:
                with self.store.session() as session:
                    return add_run(session, brief, slot, self.owner, now), 1
            except IntegrityError:
                return None
        with self.store.session() as session:
            return (run.id, run.attempts + 1) if take_over(session, run, self.owner, now) else None

    def _attempt(
        self, brief: str, slot: datetime, run: ScheduleRun | None = None
    ) -> Outcome | None:
        claim = self._claim(brief, slot, run)
        if claim is None:
            return None
        run_id, attempt = claim
        schedule = self.schedules[brief]
        log.info(
            "brief %s, slot %s: run begun (attempt %s)",
            brief,
            local(slot, schedule),
            attempt,
            extra={"event": "run_begun", "brief": brief, "slot": slot, "attempt": attempt},
        )
        with self._tracking(run_id) as stop:
            with _Heartbeat(self, run_id, attempt, stop) as heartbeat:
                outcome = self._execute(brief, slot, attempt, stop)
            if not heartbeat.lost:
                self._record(run_id, outcome)
        return outcome

    @contextmanager
    def _tracking(self, run_id: int) -> Iterator[threading.Event]:
        """Count the run as in progress; yields its stop signal (set on shutdown)."""
        stop = threading.Event()
        with self._idle:
            self._active[run_id] = stop
            if self.stop.is_set():
                stop.set()
        try:
            yield stop
        finally:
            with self._idle:
                del self._active[run_id]
                self._idle.notify_all()

    def _relay_stop(self) -> None:
        """Shutdown reaches every run at once, so no new message is begun after it."""
        self.stop.wait()
        with self._idle:
            for stop in self._active.values():
                stop.set()

    def _execute(self, brief: str, slot: datetime, attempt: int, stop) -> Outcome:
        outcome = Outcome(brief, slot, RUNNING, attempt)
        try:
            self._poll_feeds(outcome)
            edition = generate_edition(self.settings, self.store, brief, slot=slot)
            outcome.edition_id = edition.id
            outcome.counts["events"] = len(edition.event_ids)
            if stop.is_set():
                return self._interrupted(outcome, "before sending")
            outcome.counts.update(self._send(edition.id, stop))
        except Exception as exc:  # a failed run must never stop the daemon
            return self._failed(outcome, exc)
        unsent = outcome.counts.get("failed", 0) + outcome.counts.get("remaining", 0)
        if unsent and stop.is_set():
            return self._interrupted(outcome, f"with {unsent} deliveries not yet sent")
        if unsent:
            return self._failed(outcome, BriefingError(f"{unsent} deliveries were not sent"))
        outcome.status = SUCCEEDED
        return outcome

    def _poll_feeds(self, outcome: Outcome) -> None:
        """Fresh news first; a feed that fails is logged, and the brief is made regardless."""
        if not self.settings.feeds:
            return
        from briefing.ingest.feeds import poll_feeds

        try:
            report = poll_feeds(self.settings, self.store)
            errors = report.errors
            outcome.counts["feed_events"] = report.added + report.updated
        except Exception as exc:
            errors = [_one_line(exc)]
        for error in errors:
            log.warning(
                "brief %s: feed: %s; the brief is made from the events stored",
                outcome.brief,
                error,
                extra={"event": "feed_failed", "brief": outcome.brief},
            )
        if errors:
            outcome.counts["feed_errors"] = len(errors)

    def _send(self, edition_id: int, stop: threading.Event) -> dict[str, Any]:
        from briefing.deliver import send_edition

        return _plain(send_edition(self.settings, self.store, edition_id, stop=stop))

    def _interrupted(self, outcome: Outcome, when: str) -> Outcome:
        outcome.status = FAILED
        outcome.error = f"interrupted by shutdown {when}; will be resumed"
        outcome.retry_at = utc_now()
        return outcome

    def _failed(self, outcome: Outcome, exc: Exception) -> Outcome:
        outcome.status = FAILED
        outcome.error = _one_line(exc)
        outcome.notify = True
        if not isinstance(exc, BriefingError):
            log.error("unexpected error in a scheduled run", exc_info=exc)
        _, spec = self.settings.brief(outcome.brief)
        retry_at = utc_now() + retry_delay(outcome.attempt)
        if in_catch_up(outcome.slot, retry_at, spec.catch_up):
            outcome.retry_at = retry_at
        return outcome

    def _record(self, run_id: int, outcome: Outcome) -> None:
        with self.store.session() as session:
            finish(
                session,
                run_id,
                outcome.attempt,
                self.owner,
                status=outcome.status,
                now=utc_now(),
                counts=outcome.counts,
                error=outcome.error,
                retry_at=outcome.retry_at,
                edition_id=outcome.edition_id,
            )
        self._report(outcome)

    def _report(self, outcome: Outcome) -> None:
        schedule = self.schedules[outcome.brief]
        fields = {
            "event": "run_finished",
            "brief": outcome.brief,
            "slot": outcome.slot,
            "status": outcome.status,
            "attempt": outcome.attempt,
            "edition_id": outcome.edition_id,
            "counts": outcome.counts,
            "error": outcome.error,
            "retry_at": outcome.retry_at,
        }
        counts = ", ".join(f"{key} {value}" for key, value in outcome.counts.items())
        where = f"brief {outcome.brief}, slot {local(outcome.slot, schedule)}"
        if outcome.status == SUCCEEDED:
            log.info("%s: run succeeded: edition %s; %s", where, outcome.edition_id, counts,
                     extra=fields)  # fmt: skip
            return
        retry = f"retry at {local(outcome.retry_at, schedule)}" if outcome.retry_at else "no retry"
        log.error("%s: run failed: %s (%s); %s", where, outcome.error, retry, counts, extra=fields)
        if outcome.notify:
            self._notify_admins(outcome, retry)

    def _notify_admins(self, outcome: Outcome, retry: str) -> None:
        if not self.settings.admins:
            return
        from briefing.deliver import send_notice

        schedule = self.schedules[outcome.brief]
        subject = f"briefing: scheduled {outcome.brief} brief failed"
        text = (
            f"The scheduled run of brief {outcome.brief!r} for {local(outcome.slot, schedule)} "
            f"failed (attempt {outcome.attempt}) on {self.owner.host}:\n\n{outcome.error}\n\n"
            f"Next: {retry}.\nCounts: {outcome.counts}\n"
        )
        try:
            send_notice(self.settings, self.settings.admins, subject, text)
        except Exception as exc:
            log.error(
                "could not mail the admins about the failed run: %s",
                _one_line(exc),
                extra={"event": "notice_failed", "brief": outcome.brief},
            )


class _Heartbeat:
    """Keeps a claimed run's heartbeat fresh while it works, in a thread of its own.

    If another process has taken the run over, it sets the run's `stop` and `lost`: this
    process then finishes the message in flight and records nothing.
    """

    def __init__(self, runner: Runner, run_id: int, attempt: int, stop: threading.Event) -> None:
        self._runner = runner
        self._run_id = run_id
        self._attempt = attempt
        self.stop = stop
        self.lost = False
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._done.set()
        self._thread.join()

    def _loop(self) -> None:
        while not self._done.wait(HEARTBEAT_EVERY.total_seconds()):
            self._beat()

    def _beat(self) -> None:
        runner = self._runner
        try:
            with runner.store.session() as session:
                mine = beat(session, self._run_id, self._attempt, runner.owner, utc_now())
        except Exception as exc:
            log.warning("heartbeat failed: %s", _one_line(exc), extra={"event": "heartbeat"})
            return
        if not mine:
            self.lost = True
            self.stop.set()
            log.error(
                "run %s was taken over by another process; stopping it here",
                self._run_id,
                extra={"event": "run_lost", "run_id": self._run_id},
            )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _plain(result: Any) -> dict[str, Any]:
    """Counts from a core function's result, as JSON-ready numbers."""
    if result is None:
        return {}
    if is_dataclass(result):
        result = asdict(result)
    elif hasattr(result, "_asdict"):
        result = result._asdict()
    elif not isinstance(result, dict):
        result = vars(result)
    return {key: value for key, value in result.items() if isinstance(value, int | float | str)}


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    text = lines[0] if lines else ""
    if isinstance(exc, BriefingError):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def schedule_status(settings: Settings, store: Store, runs: int = 5) -> dict[str, Any]:
    """Who holds the scheduler lock, and per brief its schedule, next run and last runs."""
    lock = scheduler_lock(settings.db_url)
    try:
        holder = lock.holder()
    finally:
        lock.release()
    now = utc_now()
    briefs = []
    with store.session() as session:
        for name in settings.brief_names:
            _, spec = settings.brief(name)
            schedule = brief_schedule(settings, name)
            upcoming = schedule.next_after(now)
            briefs.append(
                {
                    "brief": name,
                    "schedule": spec.schedule,
                    "timezone": str(schedule.zone),
                    "catch_up_seconds": int(spec.catch_up.total_seconds()),
                    "next_run": upcoming.astimezone(schedule.zone).isoformat()
                    if upcoming
                    else None,
                    "runs": [_local_run(run, schedule) for run in recent_runs(session, name, runs)],
                }
            )
    return {"scheduler": holder, "briefs": briefs}


def _local_run(run: ScheduleRun, schedule: Schedule) -> dict[str, Any]:
    """A run's record with its times in the brief's zone."""
    data = run.as_dict()
    for key in ("slot", "started_at", "finished_at", "heartbeat_at", "retry_at"):
        moment = getattr(run, key)
        data[key] = moment and moment.astimezone(schedule.zone).isoformat(timespec="seconds")
    return data
